//! The facade: open a model file or folder, inspect it without loading, load it with a
//! memory-fit check and progress, and chat with it.

use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use serde::Serialize;

use crate::constraint::{ConstraintFactory, TokenConstraint};
use crate::device::DeviceChoice;
use crate::estimate::estimate_memory;
use crate::generation::{
    generate_constrained, generate_observed, CancelToken, GenerationOutput, GenerationRequest,
    TokenObserver, PREFILL_CHUNK,
};
use crate::sampling::SamplingParams;
use crate::transformer::{BuildOptions, Transformer};
use citrus_formats::chat_template::{template_from_tokenizer_config, ChatMessage, ChatTemplate};
use citrus_formats::config::TransformerConfig;
use citrus_formats::error::{ModelError, Result};
use citrus_formats::gguf::GgufFile;
use citrus_formats::identity::model_fingerprint;
use citrus_formats::tokenizer::{GgufVocab, TextTokenizer};
use citrus_formats::weights::{SafetensorsFolder, WeightSource};
use citrus_host::memory::{available_system_memory, mib};

/// Context length used when the caller sets none (Citrus answers in up to 4096 tokens).
pub const DEFAULT_CONTEXT_LENGTH: usize = 8192;

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Device to run on.
    pub device: DeviceChoice,
    /// Re-quantize linear weights while loading (e.g. `Q8_0`, much faster than Q4_1 on CPU).
    pub requantize: Option<GgmlDType>,
    /// Longest prompt + answer to support; default [`DEFAULT_CONTEXT_LENGTH`] capped at the
    /// model's own context length.
    pub context_length: Option<usize>,
    /// Memory the model may use, in bytes; default: what the device has available now.
    pub memory_limit: Option<u64>,
}

impl LoadOptions {
    fn context_for(&self, config: &TransformerConfig) -> usize {
        self.context_length
            .unwrap_or(DEFAULT_CONTEXT_LENGTH)
            .min(config.context_length)
            .max(1)
    }
}

pub use citrus_types::model::ModelFormat;

/// What `citrus models inspect` shows (the shared shape with this core's full configuration).
pub type ModelInfo = citrus_types::model::ModelInfo<TransformerConfig>;

/// Fails with `model.too_large` when `info`'s estimate exceeds the available memory.
fn check_fits(info: &ModelInfo) -> Result<()> {
    match info.available_bytes {
        Some(available) if !info.fits() => Err(ModelError::TooLarge {
            path: info.path.clone(),
            needed_mib: mib(info.memory.total_bytes()),
            weights_mib: mib(info.memory.weights_bytes),
            cache_mib: mib(info.memory.kv_cache_bytes + info.memory.working_bytes),
            available_mib: available >> 20,
            device: info.device.clone(),
        }),
        _ => Ok(()),
    }
}

/// Load progress, in bytes of weights read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    /// Bytes read so far.
    pub loaded_bytes: u64,
    /// Bytes to read in all.
    pub total_bytes: u64,
}

/// A model file or folder opened far enough to describe it, weights not yet read.
struct OpenedModel {
    path: PathBuf,
    format: ModelFormat,
    name: String,
    source: Box<dyn WeightSource>,
    config: TransformerConfig,
    tokenizer: TextTokenizer,
    template: Option<String>,
    quantization: String,
    file_bytes: u64,
}

impl OpenedModel {
    fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(ModelError::NotFound {
                path: path.to_path_buf(),
            });
        }
        if path.is_dir() {
            Self::open_folder(path)
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            || is_gguf(path)
        {
            Self::open_gguf(path)
        } else {
            Err(ModelError::NotAModel {
                path: path.to_path_buf(),
            })
        }
    }

    fn open_gguf(path: &Path) -> Result<Self> {
        let mut file = GgufFile::open(path)?;
        let config = TransformerConfig::from_gguf(&mut file)?;
        let vocab = GgufVocab::from_gguf(&file)?;
        let tokenizer = TextTokenizer::from_gguf_vocab(&vocab, path)?;
        let template = file
            .string_opt("tokenizer.chat_template")
            .map(str::to_string);
        let name = file
            .string_opt("general.name")
            .map(str::to_string)
            .unwrap_or_else(|| file_stem(path));
        let quantization = dominant_gguf_dtype(&file);
        let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            path: path.to_path_buf(),
            format: ModelFormat::Gguf,
            name,
            source: Box::new(file),
            config,
            tokenizer,
            template,
            quantization,
            file_bytes,
        })
    }

    fn open_folder(folder: &Path) -> Result<Self> {
        let config_path = folder.join("config.json");
        if !config_path.exists() {
            return Err(ModelError::MissingConfig {
                path: folder.to_path_buf(),
            });
        }
        let config = TransformerConfig::from_hf_config(&config_path)?;
        let tokenizer = TextTokenizer::from_hf_folder(folder)?;
        let weights = SafetensorsFolder::open(folder)?;
        let quantization = weights
            .dominant_dtype()
            .map(|d| format!("{d:?}").to_uppercase())
            .unwrap_or_else(|| "unknown".into());
        let template = read_hf_template(folder)?;
        let file_bytes = folder_bytes(folder);
        Ok(Self {
            path: folder.to_path_buf(),
            format: ModelFormat::Safetensors,
            name: file_stem(folder),
            source: Box::new(weights),
            config,
            tokenizer,
            template,
            quantization,
            file_bytes,
        })
    }

    /// GGUF names of every tensor the transformer reads.
    fn tensor_names(&self) -> Vec<String> {
        let c = &self.config;
        let mut names = vec!["token_embd.weight".to_string(), "output_norm.weight".into()];
        if self.source.has("output.weight") {
            names.push("output.weight".into());
        }
        let mut per_layer = vec![
            "attn_norm.weight",
            "ffn_norm.weight",
            "attn_q.weight",
            "attn_k.weight",
            "attn_v.weight",
            "attn_output.weight",
            "ffn_gate.weight",
            "ffn_up.weight",
            "ffn_down.weight",
        ];
        if c.attention_bias {
            per_layer.extend(["attn_q.bias", "attn_k.bias", "attn_v.bias"]);
        }
        if c.qk_norm {
            per_layer.extend(["attn_q_norm.weight", "attn_k_norm.weight"]);
        }
        for layer in 0..c.num_layers {
            names.extend(per_layer.iter().map(|n| format!("blk.{layer}.{n}")));
        }
        names
    }

    fn info(&self, options: &LoadOptions) -> Result<ModelInfo> {
        let names = self.tensor_names();
        let mut weights_bytes: u64 = names
            .iter()
            .map(|n| {
                let is_linear =
                    n.starts_with("blk.") && n.ends_with(".weight") && !n.contains("norm");
                let requant = options
                    .requantize
                    .filter(|_| is_linear || n == "output.weight");
                self.source.loaded_bytes(n, requant)
            })
            .sum();
        if self.config.tie_embeddings && options.requantize.is_some() {
            weights_bytes += self
                .source
                .loaded_bytes("token_embd.weight", options.requantize);
        }
        let context = options.context_for(&self.config);
        let available = match options.memory_limit {
            Some(limit) => Some(limit),
            None if options.device == DeviceChoice::Cpu => available_system_memory(),
            None => None,
        };
        Ok(ModelInfo {
            path: self.path.clone(),
            format: self.format,
            name: self.name.clone(),
            architecture: self.config.architecture,
            parameter_count: self.config.parameter_count(),
            quantization: self.quantization.clone(),
            requantized_to: options.requantize.map(|d| quantization_name(d).to_string()),
            file_bytes: self.file_bytes,
            config: self.config.clone(),
            tokenizer: self.tokenizer.kind().to_string(),
            has_chat_template: self.template.is_some(),
            context_length: context,
            memory: estimate_memory(&self.config, weights_bytes, context),
            device: options.device.to_string(),
            available_bytes: available,
        })
    }
}

/// Describes a model without loading its weights.
pub fn inspect(path: &Path, options: &LoadOptions) -> Result<ModelInfo> {
    OpenedModel::open(path)?.info(options)
}

/// A loaded model: transformer, tokenizer and chat template.
pub struct Model {
    transformer: Transformer,
    tokenizer: TextTokenizer,
    template: ChatTemplate,
    info: ModelInfo,
    fingerprint: String,
    adapter: Option<String>,
    constraints: Option<ConstraintFactory>,
}

/// Settings for one chat generation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ChatSettings {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// Sampling settings.
    pub sampling: SamplingParams,
    /// Extra stop strings.
    pub stop_strings: Vec<String>,
    /// Reuse a cached prompt prefix (see [`GenerationRequest::reuse_prefix`]).
    #[serde(default)]
    pub reuse_prefix: bool,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            max_new_tokens: 1024,
            sampling: SamplingParams::default(),
            stop_strings: Vec::new(),
            reuse_prefix: false,
        }
    }
}

impl Model {
    /// Loads the model at `path` (a .gguf file or a Hugging Face folder), refusing up front if
    /// it would not fit in memory; `progress` is called as weights are read.
    pub fn load(
        path: &Path,
        options: &LoadOptions,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Self> {
        let mut opened = OpenedModel::open(path)?;
        let info = opened.info(options)?;
        check_fits(&info)?;
        let total_bytes = opened
            .tensor_names()
            .iter()
            .map(|n| opened.source.stored_bytes(n))
            .sum();
        let build = BuildOptions {
            device: options.device.open()?,
            requantize: options.requantize,
            context_length: info.context_length,
        };
        let mut loaded_bytes = 0;
        progress(LoadProgress {
            loaded_bytes,
            total_bytes,
        });
        let transformer = Transformer::load(
            opened.config.clone(),
            opened.source.as_mut(),
            &build,
            &mut |bytes| {
                loaded_bytes += bytes;
                progress(LoadProgress {
                    loaded_bytes,
                    total_bytes,
                });
            },
        )?;
        let template = ChatTemplate::new(
            opened.template.as_deref(),
            opened.tokenizer.bos_token(),
            opened.tokenizer.eos_token(),
        )?;
        Ok(Self {
            transformer,
            tokenizer: opened.tokenizer,
            template,
            info,
            fingerprint: model_fingerprint(path)?,
            adapter: None,
            constraints: None,
        })
    }

    /// The constrained-decoding factory for this model's tokenizer, built on first use.
    pub fn constraint_factory(&mut self) -> Result<ConstraintFactory> {
        if let Some(factory) = &self.constraints {
            return Ok(factory.clone());
        }
        let factory = ConstraintFactory::new(&self.tokenizer)?;
        self.constraints = Some(factory.clone());
        Ok(factory)
    }

    /// What the model is.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The chat template.
    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// The content fingerprint of the model file or folder ([`model_fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The label (folder) of the LoRA adapter attached for inference, if any.
    pub fn adapter(&self) -> Option<&str> {
        self.adapter.as_deref()
    }

    /// Records which adapter the LoRA deltas now in the transformer come from (`None`: the
    /// deltas are removed and the model is its base again).
    pub fn set_adapter(&mut self, label: Option<String>) {
        if label.is_none() {
            self.transformer.clear_lora();
        }
        self.adapter = label;
    }

    /// The transformer (for training passes).
    pub fn transformer(&self) -> &Transformer {
        &self.transformer
    }

    /// The transformer (for LoRA hooks and direct forward passes).
    pub fn transformer_mut(&mut self) -> &mut Transformer {
        &mut self.transformer
    }

    /// Uses `template` from now on (a reasoning model's own template, or one chosen by hand)
    /// and returns the one it replaces.
    pub fn replace_template(&mut self, template: ChatTemplate) -> ChatTemplate {
        std::mem::replace(&mut self.template, template)
    }

    /// Renders `messages` with the chat template (generation prompt added) and tokenizes.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>> {
        let text = self.template.render(messages, true)?;
        self.tokenizer.encode_prompt(&text)
    }

    /// Whether the chat template opens a `<think>` section itself at the end of the prompt
    /// (DeepSeek-R1 and Qwen3-style templates), so the reply starts inside it.
    pub fn prompt_opens_think(&self, messages: &[ChatMessage]) -> Result<bool> {
        let text = self.template.render(messages, true)?;
        let opened = text.rfind("<think>");
        Ok(opened.is_some_and(|at| !text[at..].contains("</think>")))
    }

    /// Continues a reply to `messages` that stopped: the `written` tokens and then the `forced`
    /// text (e.g. `</think><answer>`) follow the prompt, and generation goes on from there,
    /// reusing the cached keys and values of everything already computed.
    pub fn continue_reply(
        &mut self,
        messages: &[ChatMessage],
        written: &[u32],
        forced: &str,
        settings: &ChatSettings,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput> {
        let mut prompt_tokens = self.chat_prompt(messages)?;
        prompt_tokens.extend_from_slice(written);
        prompt_tokens.extend(self.tokenizer.encode(forced)?);
        let request = GenerationRequest {
            prompt_tokens,
            max_new_tokens: settings.max_new_tokens,
            stop_strings: settings.stop_strings.clone(),
            sampling: settings.sampling.clone(),
            reuse_prefix: true,
        };
        generate_constrained(
            &mut self.transformer,
            &self.tokenizer,
            &request,
            None,
            cancel,
            on_text,
        )
    }

    /// Generates the assistant's reply to `messages`, streaming text to `on_text`.
    pub fn chat(
        &mut self,
        messages: &[ChatMessage],
        settings: &ChatSettings,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput> {
        self.chat_constrained(messages, settings, None, cancel, on_text)
    }

    /// Generates after `prompt_tokens` (a prompt already rendered and tokenized), with the reply
    /// held to `constraint` when one is given and every token shown to `observer`.
    pub fn generate_tokens(
        &mut self,
        prompt_tokens: Vec<u32>,
        settings: &ChatSettings,
        constraint: Option<&mut dyn TokenConstraint>,
        observer: Option<TokenObserver<'_>>,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput> {
        let request = GenerationRequest {
            prompt_tokens,
            max_new_tokens: settings.max_new_tokens,
            stop_strings: settings.stop_strings.clone(),
            sampling: settings.sampling.clone(),
            reuse_prefix: settings.reuse_prefix,
        };
        generate_observed(
            &mut self.transformer,
            &self.tokenizer,
            &request,
            constraint,
            observer,
            cancel,
            on_text,
        )
    }

    /// The logits at every position of `tokens` from an empty cache (row `i` predicts token
    /// `i + 1`), for scoring a text the model did not write.
    pub fn position_logits(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let transformer = &mut self.transformer;
        transformer.clear_cache();
        let mut rows = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(PREFILL_CHUNK) {
            let logits = transformer.forward(chunk, true)?;
            rows.extend(logits.to_vec2::<f32>()?);
        }
        transformer.clear_cache();
        Ok(rows)
    }

    /// [`Model::chat`] with the reply held to `constraint` (e.g. a JSON schema).
    pub fn chat_constrained(
        &mut self,
        messages: &[ChatMessage],
        settings: &ChatSettings,
        constraint: Option<&mut dyn TokenConstraint>,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput> {
        let request = GenerationRequest {
            prompt_tokens: self.chat_prompt(messages)?,
            max_new_tokens: settings.max_new_tokens,
            stop_strings: settings.stop_strings.clone(),
            sampling: settings.sampling.clone(),
            reuse_prefix: settings.reuse_prefix,
        };
        generate_constrained(
            &mut self.transformer,
            &self.tokenizer,
            &request,
            constraint,
            cancel,
            on_text,
        )
    }
}

/// Parses a quantization name such as `q8_0`, `Q4_K` or `f32`.
pub fn parse_quantization(name: &str) -> Result<GgmlDType> {
    let normalized = name.to_ascii_uppercase().replace('-', "_");
    QUANTIZATIONS
        .iter()
        .find(|(_, n)| *n == normalized || n.replace('_', "") == normalized)
        .map(|(d, _)| *d)
        .ok_or_else(|| {
            let known: Vec<&str> = QUANTIZATIONS.iter().map(|(_, n)| *n).collect();
            ModelError::invalid_setting(
                "quantization",
                format!("`{name}` is not one of {}", known.join(", ")),
            )
        })
}

/// The conventional name of a GGML storage type, e.g. `Q4_K`.
pub fn quantization_name(dtype: GgmlDType) -> &'static str {
    QUANTIZATIONS
        .iter()
        .find(|(d, _)| *d == dtype)
        .map_or("unknown", |(_, n)| n)
}

const QUANTIZATIONS: [(GgmlDType, &str); 15] = [
    (GgmlDType::F32, "F32"),
    (GgmlDType::F16, "F16"),
    (GgmlDType::BF16, "BF16"),
    (GgmlDType::Q4_0, "Q4_0"),
    (GgmlDType::Q4_1, "Q4_1"),
    (GgmlDType::Q5_0, "Q5_0"),
    (GgmlDType::Q5_1, "Q5_1"),
    (GgmlDType::Q8_0, "Q8_0"),
    (GgmlDType::Q8_1, "Q8_1"),
    (GgmlDType::Q2K, "Q2_K"),
    (GgmlDType::Q3K, "Q3_K"),
    (GgmlDType::Q4K, "Q4_K"),
    (GgmlDType::Q5K, "Q5_K"),
    (GgmlDType::Q6K, "Q6_K"),
    (GgmlDType::Q8K, "Q8_K"),
];

fn dominant_gguf_dtype(file: &GgufFile) -> String {
    let mut bytes_by_type: Vec<(GgmlDType, u64)> = Vec::new();
    for name in file.tensor_names() {
        if let Some((_, dtype)) = file.tensor_info(name) {
            let bytes = file.tensor_bytes(name);
            match bytes_by_type.iter_mut().find(|(d, _)| *d == dtype) {
                Some(entry) => entry.1 += bytes,
                None => bytes_by_type.push((dtype, bytes)),
            }
        }
    }
    bytes_by_type
        .into_iter()
        .max_by_key(|(_, b)| *b)
        .map_or("unknown", |(d, _)| quantization_name(d))
        .to_string()
}

/// A model's chat template as it will be used, read without loading the weights.
pub struct TemplateInfo {
    /// The template's source (None: the model has none and ChatML is used).
    pub source: Option<String>,
    /// The compiled template, with the model's BOS and EOS tokens.
    pub template: ChatTemplate,
    /// The end-of-sequence token's text.
    pub eos_token: Option<String>,
}

/// Reads the chat template and tokens of the GGUF file or Hugging Face folder at `path`.
pub fn read_template(path: &Path) -> Result<TemplateInfo> {
    let opened = OpenedModel::open(path)?;
    let eos_token = opened.tokenizer.eos_token();
    let template = ChatTemplate::new(
        opened.template.as_deref(),
        opened.tokenizer.bos_token(),
        eos_token.clone(),
    )?;
    Ok(TemplateInfo {
        source: opened.template,
        template,
        eos_token,
    })
}

fn read_hf_template(folder: &Path) -> Result<Option<String>> {
    let jinja = folder.join("chat_template.jinja");
    if jinja.exists() {
        return std::fs::read_to_string(&jinja)
            .map(Some)
            .map_err(|e| ModelError::io(&jinja, e));
    }
    let config = folder.join("tokenizer_config.json");
    if !config.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&config).map_err(|e| ModelError::io(&config, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
        path: config.clone(),
        detail: format!("invalid JSON: {e}"),
    })?;
    Ok(json
        .get("chat_template")
        .and_then(template_from_tokenizer_config))
}

fn is_gguf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"GGUF"
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .or_else(|| path.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn folder_bytes(folder: &Path) -> u64 {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
