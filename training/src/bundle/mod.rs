//! Hand-off bundles for when one machine is not enough: the dataset and the settings of a
//! local run, written for existing distributed trainers (LLaMA-Factory, axolotl, a Citrus
//! full-SFT recipe), with a README naming the command each one runs. The adapter they produce
//! comes back through `citrus adapters import --bundle DIR`, which checks it against the
//! manifest's base, template and settings.
//!
//! Every example is written with its system turn spelled out when the base's template would
//! insert a default one, so a trainer's own template cannot silently change it. A preference
//! run's pairs go out as a ranking dataset with the equivalent loss settings
//! ([`preference`]).

pub mod preference;

use std::path::Path;

use citrus_formats::chat_template::{ChatMessage, ChatTemplate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::adapter::base::{BaseFacts, BaseIdentity};
use crate::adapter::modelfile::{default_system, TemplateFamily};
use crate::adapter::peft::write_json;
use crate::config::{Duration, TrainConfig};
use crate::dataset::{Example, TrainingData};
use crate::error::{Result, TrainError};

/// The manifest file in a bundle.
pub const MANIFEST_FILE: &str = "citrus_bundle.json";
/// The LLaMA-Factory config in a bundle.
pub const LLAMA_FACTORY_FILE: &str = "llamafactory_lora_sft.yaml";
/// The axolotl config in a bundle.
pub const AXOLOTL_FILE: &str = "axolotl_lora.yaml";
/// Where a bundle's data lies.
pub const DATA_DIR: &str = "data";

/// What a bundle holds and what the returning adapter is checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// The base the run was prepared on.
    pub base: BaseIdentity,
    /// The Hugging Face checkpoint the cluster trains (named in the YAML files).
    pub base_model_id: String,
    /// The settings of the run.
    pub config: TrainConfig,
    /// The dataset's source.
    pub dataset_source: String,
    /// The dataset's content hash.
    pub dataset_hash: String,
    /// Examples in the training file.
    pub train_examples: usize,
    /// Examples in the validation file.
    pub validation_examples: usize,
    /// Examples left out of the Citrus-format array (more than one user turn).
    pub multi_turn_examples: usize,
    /// The files written, relative to the bundle.
    pub files: Vec<String>,
    /// How the data were de-identified before they were written (None: as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deidentification: Option<String>,
}

/// What to bundle.
pub struct BundleRequest<'a> {
    /// The examples or pairs (split as a local run would split them).
    pub data: &'a TrainingData,
    /// The run's settings.
    pub config: &'a TrainConfig,
    /// The base the run was prepared on.
    pub base: &'a BaseFacts,
    /// The base's chat template.
    pub template: &'a ChatTemplate,
    /// Its source (to know its family and default system prompt).
    pub template_source: Option<&'a str>,
    /// The Hugging Face checkpoint the cluster trains; None: guessed from the base.
    pub base_model_id: Option<String>,
    /// The label of the de-identification the dataset went through, if it did.
    pub deidentification: Option<&'a str>,
}

/// Writes the bundle into `dir` (created if missing) and returns its manifest.
pub fn export_bundle(request: &BundleRequest, dir: &Path) -> Result<BundleManifest> {
    let config = request.config;
    config.validate()?;
    let data_dir = dir.join(DATA_DIR);
    std::fs::create_dir_all(&data_dir).map_err(|e| TrainError::io(&data_dir, e))?;
    let system = default_system(request.template, request.template_source)?;
    let mut files = Vec::new();
    let mut write = |name: &str, text: String| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| TrainError::io(&path, e))?;
        files.push(name.to_string());
        Ok(())
    };
    let written = match request.data {
        TrainingData::Examples(dataset) => {
            write_examples(dataset, config, system.as_deref(), &mut write)?
        }
        TrainingData::Pairs(set) => {
            preference::write_pairs(set, config, system.as_deref(), &mut write)?
        }
    };
    let validation = written.validation > 0;
    write(
        "data/dataset_info.json",
        pretty(&dataset_info(
            validation,
            matches!(request.data, TrainingData::Pairs(_)),
        )),
    )?;
    let base_model_id = request
        .base_model_id
        .clone()
        .unwrap_or_else(|| guess_base_model_id(request.base));
    let family = request.template_source.and_then(TemplateFamily::detect);
    let mut llama_factory = llama_factory_yaml(config, &base_model_id, family, validation);
    let mut axolotl = axolotl_yaml(config, &base_model_id, validation);
    if let Some(settings) = &config.preference {
        preference::llama_factory_keys(settings, &mut llama_factory)?;
        preference::axolotl_keys(settings, validation, &mut axolotl)?;
    }
    write(LLAMA_FACTORY_FILE, yaml(&llama_factory)?)?;
    write(AXOLOTL_FILE, yaml(&axolotl)?)?;
    files.push("README.md".into());
    files.push(MANIFEST_FILE.into());
    let manifest = BundleManifest {
        base: request.base.identity(),
        base_model_id,
        config: config.clone(),
        dataset_source: request.data.source().to_string(),
        dataset_hash: request.data.hash().to_string(),
        train_examples: written.train,
        validation_examples: written.validation,
        multi_turn_examples: written.multi_turn,
        files,
        deidentification: request.deidentification.map(str::to_string),
    };
    let readme = readme(&manifest, family);
    let path = dir.join("README.md");
    std::fs::write(&path, readme).map_err(|e| TrainError::io(&path, e))?;
    write_json(
        &dir.join(MANIFEST_FILE),
        &serde_json::to_value(&manifest).unwrap_or(Value::Null),
    )?;
    Ok(manifest)
}

/// What a bundle's data files hold.
pub struct Written {
    /// Training records (examples or pairs).
    pub train: usize,
    /// Validation records.
    pub validation: usize,
    /// Examples left out of the Citrus-format array (more than one user turn).
    pub multi_turn: usize,
}

/// Writes an SFT run's examples: chat records, and Citrus' own array.
fn write_examples(
    dataset: &crate::dataset::Dataset,
    config: &TrainConfig,
    system: Option<&str>,
    write: &mut dyn FnMut(&str, String) -> Result<()>,
) -> Result<Written> {
    let (train, validation) = dataset.split(config.val_split, config.seed)?;
    write("data/train.jsonl", messages_jsonl(&train, system))?;
    if !validation.is_empty() {
        write("data/validation.jsonl", messages_jsonl(&validation, system))?;
    }
    let (pairs, multi_turn) = citrus_pairs(&train, system);
    write("data/train_citrus.json", pretty(&pairs))?;
    Ok(Written {
        train: train.len(),
        validation: validation.len(),
        multi_turn,
    })
}

/// Reads a bundle's manifest.
pub fn read_manifest(dir: &Path) -> Result<BundleManifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| TrainError::adapter(&path, format!("invalid bundle manifest: {e}")))
}

/// The Hugging Face id of the base: its folder when it is one, else the repository a GGUF
/// names, else a placeholder the README tells to replace.
fn guess_base_model_id(base: &BaseFacts) -> String {
    if base.path.is_dir() {
        return base.path.display().to_string();
    }
    let repo = citrus_formats::gguf::GgufFile::open(&base.path)
        .ok()
        .and_then(|file| {
            ["general.source.repo_url", "general.base_model.0.repo_url"]
                .iter()
                .find_map(|key| file.string_opt(key).map(str::to_string))
        });
    match repo {
        Some(url) => url
            .trim_start_matches("https://huggingface.co/")
            .to_string(),
        None => format!(
            "REPLACE-with-the-Hugging-Face-checkpoint-of-{}",
            base.name.replace(' ', "-")
        ),
    }
}

/// Whether `id` is the placeholder [`guess_base_model_id`] writes.
pub fn is_placeholder_id(id: &str) -> bool {
    id.starts_with("REPLACE-")
}

/// The examples' messages, the system turn spelled out where the template would add one.
fn with_system(example: &Example, system: Option<&str>) -> Vec<ChatMessage> {
    spell_out_system(example.messages.clone(), system)
}

/// `messages` with the template's default system turn first, where it has none.
pub(crate) fn spell_out_system(
    messages: Vec<ChatMessage>,
    system: Option<&str>,
) -> Vec<ChatMessage> {
    let mut messages = messages;
    if let Some(system) = system {
        if messages.first().is_none_or(|m| m.role != "system") {
            messages.insert(0, ChatMessage::system(system));
        }
    }
    messages
}

fn messages_jsonl(examples: &[Example], system: Option<&str>) -> String {
    let mut text = String::new();
    for example in examples {
        let messages = message_values(&with_system(example, system));
        text.push_str(&json!({ "messages": messages }).to_string());
        text.push('\n');
    }
    text
}

/// Citrus' own `{"input", "target"}` array (with `system` when there is one) for single-turn
/// examples; returns how many multi-turn examples it left out.
fn citrus_pairs(examples: &[Example], system: Option<&str>) -> (Value, usize) {
    let mut pairs = Vec::new();
    let mut left_out = 0;
    for example in examples {
        let messages = with_system(example, system);
        let system = messages.iter().find(|m| m.role == "system");
        let turns: Vec<&ChatMessage> = messages.iter().filter(|m| m.role != "system").collect();
        match turns.as_slice() {
            [user, assistant] if user.role == "user" && assistant.role == "assistant" => {
                let mut pair = json!({"input": user.content, "target": assistant.content});
                if let Some(system) = system {
                    pair["system"] = system.content.clone().into();
                }
                pairs.push(pair);
            }
            _ => left_out += 1,
        }
    }
    (Value::Array(pairs), left_out)
}

/// LLaMA-Factory's registry of the bundle's files: sharegpt records with role/content tags;
/// `ranking` for preference pairs (`chosen` and `rejected` beside the prompt's messages).
fn dataset_info(validation: bool, ranking: bool) -> Value {
    let entry = |file: &str| {
        let mut entry = json!({
            "file_name": file,
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system"
            }
        });
        if ranking {
            entry["ranking"] = true.into();
            entry["columns"]["chosen"] = "chosen".into();
            entry["columns"]["rejected"] = "rejected".into();
        }
        entry
    };
    let mut info = json!({ "citrus_train": entry("train.jsonl") });
    if validation {
        info["citrus_validation"] = entry("validation.jsonl");
    }
    info
}

/// LLaMA-Factory's template for a family (its `template:` key).
fn llama_factory_template(family: Option<TemplateFamily>) -> &'static str {
    match family {
        Some(TemplateFamily::ChatMl) => "qwen",
        Some(TemplateFamily::Llama3) => "llama3",
        Some(TemplateFamily::DeepSeek) => "deepseekr1",
        None => "default",
    }
}

fn duration_keys(
    config: &TrainConfig,
    epochs_key: &str,
    value: &mut serde_json::Map<String, Value>,
) {
    match config.duration {
        Duration::Epochs(n) => value.insert(epochs_key.into(), n.into()),
        Duration::Steps(n) => value.insert("max_steps".into(), n.into()),
    };
}

fn target_names(config: &TrainConfig) -> Vec<&'static str> {
    config.lora.targets.iter().map(|t| t.hf_name()).collect()
}

fn llama_factory_yaml(
    config: &TrainConfig,
    base_model_id: &str,
    family: Option<TemplateFamily>,
    validation: bool,
) -> Value {
    let lora = &config.lora;
    let mut value = json!({
        "model_name_or_path": base_model_id,
        "stage": "sft",
        "do_train": true,
        "finetuning_type": "lora",
        "lora_rank": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "lora_target": target_names(config).join(","),
        "use_rslora": lora.rslora,
        "dataset_dir": DATA_DIR,
        "dataset": "citrus_train",
        "template": llama_factory_template(family),
        "cutoff_len": config.max_len,
        "overwrite_cache": true,
        "output_dir": "output/llamafactory",
        "logging_steps": 1,
        "save_steps": 100,
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": config.warmup_ratio,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "seed": config.seed,
        "bf16": true,
    });
    if let Some(map) = value.as_object_mut() {
        duration_keys(config, "num_train_epochs", map);
        if validation {
            map.insert("eval_dataset".into(), "citrus_validation".into());
            map.insert("eval_strategy".into(), "epoch".into());
            map.insert(
                "per_device_eval_batch_size".into(),
                config.batch_size.into(),
            );
        }
    }
    value
}

fn axolotl_yaml(config: &TrainConfig, base_model_id: &str, validation: bool) -> Value {
    let lora = &config.lora;
    let dataset = |file: &str| {
        json!({
            "path": format!("{DATA_DIR}/{file}"),
            "ds_type": "json",
            "type": "chat_template",
            "chat_template": "tokenizer_default",
            "field_messages": "messages",
            "roles_to_train": ["assistant"],
            "split": "train",
        })
    };
    let mut value = json!({
        "base_model": base_model_id,
        "datasets": [dataset("train.jsonl")],
        "adapter": "lora",
        "lora_r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "lora_target_modules": target_names(config),
        "peft_use_rslora": lora.rslora,
        "sequence_len": config.max_len,
        "train_on_inputs": false,
        "micro_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "optimizer": "adamw_torch",
        "learning_rate": config.learning_rate,
        "lr_scheduler": "cosine",
        "warmup_ratio": config.warmup_ratio,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "seed": config.seed,
        "bf16": "auto",
        "gradient_checkpointing": true,
        "output_dir": "output/axolotl",
    });
    if let Some(map) = value.as_object_mut() {
        duration_keys(config, "num_epochs", map);
        if validation {
            map.insert("test_datasets".into(), json!([dataset("validation.jsonl")]));
        }
    }
    value
}

pub(crate) fn message_values(messages: &[ChatMessage]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect()
}

fn yaml(value: &Value) -> Result<String> {
    serde_yaml::to_string(value).map_err(|e| TrainError::setting("bundle", e.to_string()))
}

pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn readme(manifest: &BundleManifest, family: Option<TemplateFamily>) -> String {
    let c = &manifest.config;
    let duration = match c.duration {
        Duration::Epochs(n) => format!("{n} epoch(s)"),
        Duration::Steps(n) => format!("{n} optimizer step(s)"),
    };
    let placeholder = if is_placeholder_id(&manifest.base_model_id) {
        "\n**Before you run anything:** the base was a GGUF file that names no Hugging Face \
         repository. Replace `model_name_or_path` / `base_model` in both YAML files with the \
         Hugging Face checkpoint of that model (or export it with `citrus` and point there).\n"
    } else {
        ""
    };
    let template_note = match family {
        Some(_) => format!(
            "LLaMA-Factory uses its `{}` template; axolotl uses the tokenizer's own chat template \
             (the one Citrus trains with).",
            llama_factory_template(family)
        ),
        None => {
            "This base's chat template is not one Citrus maps to a LLaMA-Factory template: \
                 prefer axolotl (it uses the tokenizer's own template), or set `template:` by hand."
                .to_string()
        }
    };
    format!(
        "# Citrus hand-off bundle\n\n{deid}\
         A LoRA run prepared on `{base}` ({arch}), for trainers that spread the work over several \
         GPUs or machines. Dataset `{source}` (sha256 {hash}): {train} training and {val} \
         validation example(s), split as Citrus splits it (seed {seed}).\n{placeholder}\n\
         Settings: LoRA rank {rank}, alpha {alpha}{rs}, dropout {dropout}, targets {targets}; \
         learning rate {lr}, cosine with {warmup} warm-up, {duration}, batch {batch} × \
         accumulation {accum} per device, sequences up to {max_len} tokens, gradient clipping \
         {clip}, weight decay {wd}.{loss}\n\n\
         ## Files\n\n\
         {data_files}         - `data/dataset_info.json`: the dataset registry LLaMA-Factory reads.\n\
         - `{lf}`, `{ax}`: the same run for each trainer.\n\
         - `{manifest}`: what the adapter is checked against when it comes back.\n\n\
         {template_note}\n\n\
         ## Commands\n\n\
         LLaMA-Factory (one node; for several, set `FORCE_TORCHRUN=1 NNODES=… NODE_RANK=… \
         MASTER_ADDR=…`, and add a `deepspeed:` line to the YAML for ZeRO-3):\n\n\
         ```sh\ncd {dir_hint}\nllamafactory-cli train {lf}\n```\n\n\
         axolotl:\n\n\
         ```sh\ncd {dir_hint}\naxolotl train {ax}\n# or: accelerate launch -m axolotl.cli.train {ax}\n```\n\n\
         ## Bring the adapter back\n\n\
         Copy the output folder (`output/llamafactory` or `output/axolotl`: \
         `adapter_config.json` + `adapter_model.safetensors`) to the workstation, then:\n\n\
         ```sh\ncitrus adapters import output/llamafactory --bundle {dir_hint}\n```\n\n\
         The import checks the adapter's tensors against the base, and its settings against \
         this bundle.\n",
        deid = match &manifest.deidentification {
            Some(label) => format!("> The data were de-identified before they were written. {label}\n\n"),
            None => "> The data were written as given, NOT de-identified.\n\n".into(),
        },
        base = manifest.base.name,
        arch = manifest.base.architecture.as_str(),
        source = manifest.dataset_source,
        hash = &manifest.dataset_hash[..16.min(manifest.dataset_hash.len())],
        train = manifest.train_examples,
        val = manifest.validation_examples,
        seed = c.seed,
        rank = c.lora.rank,
        alpha = c.lora.alpha,
        rs = if c.lora.rslora { " (rsLoRA)" } else { "" },
        dropout = c.lora.dropout,
        targets = target_names(c).join(", "),
        lr = c.learning_rate,
        warmup = c.warmup_ratio,
        batch = c.batch_size,
        accum = c.grad_accum,
        max_len = c.max_len,
        clip = c.max_grad_norm,
        wd = c.weight_decay,
        loss = c.preference.map_or(String::new(), |p| format!(
            " Loss: {}, α weighing the chosen reply's likelihood, on preference pairs split \
             by case.",
            p.method.method().describe(p.beta, p.gamma, p.alpha)
        )),
        data_files = data_files(manifest),
        lf = LLAMA_FACTORY_FILE,
        ax = AXOLOTL_FILE,
        manifest = MANIFEST_FILE,
        dir_hint = "<this bundle>",
    )
}

/// The README's lines on the data files.
fn data_files(manifest: &BundleManifest) -> String {
    if manifest.config.preference.is_some() {
        return "- `data/train.jsonl`, `data/validation.jsonl`: one pair per line, \
                `{\"messages\": [prompt…], \"chosen\": reply, \"rejected\": reply}` (system \
                turn spelled out): LLaMA-Factory's sharegpt ranking form and axolotl's \
                `chat_template.default`.\n\
                - `data/train_citrus_dpo.jsonl`: Citrus' own `{\"chosen\": [messages], \
                \"rejected\": [messages]}` form.\n"
            .into();
    }
    format!(
        "- `data/train.jsonl`, `data/validation.jsonl`: `{{\"messages\": [...]}}` records \
         (system turn spelled out), only assistant turns trained.\n\
         - `data/train_citrus.json`: Citrus' `{{\"input\", \"target\"}}` array (single-turn \
         examples; {} multi-turn example(s) left out), for the Citrus full-SFT recipe.\n",
        manifest.multi_turn_examples
    )
}

/// The differences between an adapter's settings and the bundle's (rank, alpha, rsLoRA,
/// targets), as `name: bundle → adapter` lines.
pub fn settings_differences(
    manifest: &BundleManifest,
    settings: &crate::config::LoraSettings,
) -> Vec<String> {
    let b = &manifest.config.lora;
    let mut lines = Vec::new();
    if b.rank != settings.rank {
        lines.push(format!("rank: {} → {}", b.rank, settings.rank));
    }
    if (b.alpha - settings.alpha).abs() > 1e-9 {
        lines.push(format!("alpha: {} → {}", b.alpha, settings.alpha));
    }
    if b.rslora != settings.rslora {
        lines.push(format!("use_rslora: {} → {}", b.rslora, settings.rslora));
    }
    let mut ours = b.targets.clone();
    let mut theirs = settings.targets.clone();
    ours.sort();
    theirs.sort();
    if ours != theirs {
        let names = |t: &[citrus_engine::lora::LoraTarget]| {
            t.iter().map(|t| t.hf_name()).collect::<Vec<_>>().join(",")
        };
        lines.push(format!("targets: {} → {}", names(&ours), names(&theirs)));
    }
    lines
}
