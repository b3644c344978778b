//! LoRA adapters in the Hugging Face PEFT layout, with Citrus' own metadata beside them, and
//! attaching them to a loaded model (no reload of the base).
//!
//! Files: `adapter_config.json` (PEFT's `LoraConfig`), `adapter_model.safetensors` (tensors
//! `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` `[r, in]` and
//! `…lora_B.weight` `[out, r]`, q/k rows in Hugging Face order) and `citrus_adapter.json`
//! (base model identity and fingerprint, chat-template hash, dataset, settings, metrics).
//! GGUF llama bases hold q/k rows permuted for interleaved RoPE: B's rows are moved between
//! the two orders at save and attach, A is untouched.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use citrus_models::config::{Architecture, TransformerConfig};
use citrus_models::lora::{LoraDelta, LoraTarget};
use citrus_models::model::Model;
use citrus_models::weights::{gguf_qk_rows_to_hf, hf_qk_rows_to_gguf};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{lora_scale, LoraSettings, TrainConfig};
use crate::error::{Result, TrainError};

/// PEFT's config file.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// PEFT's weights file.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// Citrus' metadata file.
pub const META_FILE: &str = "citrus_adapter.json";

/// The model an adapter was trained on, and with which template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseIdentity {
    /// The model's name.
    pub name: String,
    /// Where it was loaded from.
    pub path: String,
    /// Its content fingerprint ([`citrus_models::identity::model_fingerprint`]).
    pub fingerprint: String,
    /// Its family.
    pub architecture: Architecture,
    /// SHA-256 of the chat template used for training.
    pub template_hash: String,
}

impl BaseIdentity {
    /// The identity of a loaded model.
    pub fn of(model: &Model) -> Self {
        let info = model.info();
        Self {
            name: info.name.clone(),
            path: info.path.display().to_string(),
            fingerprint: model.fingerprint().to_string(),
            architecture: info.architecture,
            template_hash: model.template().hash().to_string(),
        }
    }
}

/// What Citrus records beside the PEFT files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterMeta {
    /// The base model.
    pub base: BaseIdentity,
    /// The dataset's source and content hash.
    pub dataset_source: Option<String>,
    /// The dataset's content hash.
    pub dataset_hash: Option<String>,
    /// The training settings.
    pub training: Option<TrainConfig>,
    /// Final metrics (loss, validation loss, steps, tokens…).
    pub metrics: Value,
}

/// One projection's low-rank delta.
#[derive(Debug, Clone)]
pub struct LoraModule {
    /// `A`, `(r, in)`.
    pub a: Tensor,
    /// `B`, `(out, r)`, rows in Hugging Face order.
    pub b: Tensor,
    /// The scale applied to `B·A`.
    pub scale: f64,
}

/// A LoRA adapter: settings, one delta per (layer, projection), and metadata.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// Rank, alpha, rsLoRA, dropout, targets.
    pub settings: LoraSettings,
    /// The deltas, keyed by (layer, projection).
    pub modules: BTreeMap<(usize, LoraTarget), LoraModule>,
    /// Citrus' metadata, when the adapter has it.
    pub meta: Option<AdapterMeta>,
}

/// The PEFT tensor name of `target`'s `A` or `B` in `layer`.
pub fn peft_tensor_name(layer: usize, target: LoraTarget, matrix: char) -> String {
    format!(
        "base_model.model.model.layers.{layer}.{}.{}.lora_{matrix}.weight",
        target.hf_parent(),
        target.hf_name()
    )
}

/// Parses a PEFT tensor name into (layer, target, 'A' or 'B').
fn parse_peft_name(name: &str) -> Option<(usize, LoraTarget, char)> {
    let rest = name.strip_prefix("base_model.model.")?;
    let rest = rest.strip_prefix("model.").unwrap_or(rest);
    let rest = rest.strip_prefix("layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer = layer.parse().ok()?;
    let mut parts = rest.split('.');
    let _parent = parts.next()?;
    let target = LoraTarget::parse(parts.next()?)?;
    let matrix = match parts.next()? {
        "lora_A" => 'A',
        "lora_B" => 'B',
        _ => return None,
    };
    let tail: Vec<&str> = parts.collect();
    // PEFT writes `.weight`; some trainers keep the adapter name (`.default.weight`).
    matches!(tail.as_slice(), ["weight"] | ["default", "weight"]).then_some((layer, target, matrix))
}

/// Moves B's q/k rows between the model's order and Hugging Face's: only GGUF llama models
/// (interleaved RoPE) differ.
fn b_rows(
    b: &Tensor,
    target: LoraTarget,
    config: &TransformerConfig,
    to_hf: bool,
) -> Result<Tensor> {
    let heads = match target {
        LoraTarget::Q => config.num_heads,
        LoraTarget::K => config.num_kv_heads,
        _ => return Ok(b.clone()),
    };
    if !config.rope_interleaved {
        return Ok(b.clone());
    }
    Ok(if to_hf {
        gguf_qk_rows_to_hf(b, heads)?
    } else {
        hf_qk_rows_to_gguf(b, heads)?
    })
}

impl LoraAdapter {
    /// An adapter from deltas in the model's own row order (as training holds them).
    pub fn from_model_order(
        settings: LoraSettings,
        deltas: Vec<(usize, LoraTarget, Tensor, Tensor)>,
        config: &TransformerConfig,
        meta: Option<AdapterMeta>,
    ) -> Result<Self> {
        let scale = settings.scale();
        let mut modules = BTreeMap::new();
        for (layer, target, a, b) in deltas {
            let b = b_rows(&b.to_device(&Device::Cpu)?, target, config, true)?;
            let a = a.to_device(&Device::Cpu)?;
            modules.insert((layer, target), LoraModule { a, b, scale });
        }
        Ok(Self {
            settings,
            modules,
            meta,
        })
    }

    /// Writes the adapter into `dir` (created if missing).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let s = &self.settings;
        let config = json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": s.rank,
            "lora_alpha": s.alpha,
            "lora_dropout": s.dropout,
            "use_rslora": s.rslora,
            "target_modules": s.targets.iter().map(|t| t.hf_name()).collect::<Vec<_>>(),
            "bias": "none",
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "use_dora": false,
            "modules_to_save": Value::Null,
            "rank_pattern": {},
            "alpha_pattern": {},
            "base_model_name_or_path": self.meta.as_ref().map(|m| m.base.name.clone()),
            "revision": Value::Null,
        });
        write_json(&dir.join(CONFIG_FILE), &config)?;
        let mut tensors = Vec::new();
        for ((layer, target), module) in &self.modules {
            tensors.push((peft_tensor_name(*layer, *target, 'A'), module.a.clone()));
            tensors.push((peft_tensor_name(*layer, *target, 'B'), module.b.clone()));
        }
        write_safetensors(&dir.join(WEIGHTS_FILE), &tensors)?;
        if let Some(meta) = &self.meta {
            let value = serde_json::to_value(meta).unwrap_or(Value::Null);
            write_json(&dir.join(META_FILE), &value)?;
        }
        Ok(())
    }

    /// Reads a PEFT adapter folder (Citrus' metadata when present). DoRA, `modules_to_save`,
    /// and tensors that are not LoRA deltas of q…down are refused, naming what is wrong.
    pub fn load(dir: &Path) -> Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| TrainError::io(&config_path, e))?;
        let config: Value = serde_json::from_str(&text)
            .map_err(|e| TrainError::adapter(&config_path, format!("invalid JSON: {e}")))?;
        let peft = PeftConfig::read(&config, &config_path)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        if !weights_path.exists() {
            return Err(TrainError::adapter(
                dir,
                format!("no {WEIGHTS_FILE} in the folder"),
            ));
        }
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| TrainError::adapter(&weights_path, e.to_string()))?;
        let modules = peft.modules(tensors, &weights_path)?;
        let meta_path = dir.join(META_FILE);
        let meta =
            match std::fs::read_to_string(&meta_path) {
                Ok(text) => Some(serde_json::from_str(&text).map_err(|e| {
                    TrainError::adapter(&meta_path, format!("invalid metadata: {e}"))
                })?),
                Err(_) => None,
            };
        Ok(Self {
            settings: peft.settings,
            modules,
            meta,
        })
    }

    /// Attaches the adapter to `model` under `label` (its folder, recorded with each run),
    /// replacing any attached one, without reloading the base. Everything is checked before
    /// anything changes; returns warnings (another base file or chat template than the adapter
    /// was trained with).
    pub fn attach(&self, model: &mut Model, label: &str) -> Result<Vec<String>> {
        let config = model.info().config.clone();
        let mut warnings = Vec::new();
        if let Some(meta) = &self.meta {
            if meta.base.architecture != config.architecture {
                return Err(TrainError::adapter(
                    Path::new(&meta.base.path),
                    format!(
                        "the adapter was trained on a {} model; this model is {}",
                        meta.base.architecture.as_str(),
                        config.architecture.as_str()
                    ),
                ));
            }
            if meta.base.fingerprint != model.fingerprint() {
                warnings.push(format!(
                    "the adapter was trained on `{}` ({}), not on this model file",
                    meta.base.name, meta.base.path
                ));
            }
            if meta.base.template_hash != model.template().hash() {
                warnings.push(
                    "the adapter was trained with another chat template than this model's: \
                     its replies may be malformed"
                        .into(),
                );
            }
        }
        let device = model.transformer().device().clone();
        let mut deltas = Vec::with_capacity(self.modules.len());
        for (&(layer, target), module) in &self.modules {
            let name = peft_tensor_name(layer, target, 'A');
            let linear = model
                .transformer_mut()
                .linear_mut(layer, target)
                .ok_or_else(|| {
                    TrainError::adapter(
                        Path::new(&name),
                        format!(
                            "layer {layer} does not exist: the model has {} layers",
                            config.num_layers
                        ),
                    )
                })?;
            let rank = module.a.dim(0)?;
            let (out, inp) = (linear.out_features(), linear.in_features());
            if module.a.dims() != [rank, inp] || module.b.dims() != [out, rank] {
                return Err(TrainError::adapter(
                    Path::new(&name),
                    format!(
                        "A {:?} and B {:?} do not fit this model's {out}×{inp} projection",
                        module.a.dims(),
                        module.b.dims()
                    ),
                ));
            }
            let dtype = DType::F32;
            let b = b_rows(&module.b, target, &config, false)?;
            deltas.push((
                layer,
                target,
                LoraDelta {
                    a: module.a.to_dtype(dtype)?.to_device(&device)?,
                    b: b.to_dtype(dtype)?.to_device(&device)?,
                    scale: module.scale,
                },
            ));
        }
        model.set_adapter(None);
        for (layer, target, delta) in deltas {
            if let Some(linear) = model.transformer_mut().linear_mut(layer, target) {
                linear.set_lora(Some(delta))?;
            }
        }
        model.set_adapter(Some(label.to_string()));
        Ok(warnings)
    }

    /// Reads the adapter in `dir` and attaches it to `model` (see [`LoraAdapter::attach`]).
    pub fn attach_dir(dir: &Path, model: &mut Model) -> Result<Vec<String>> {
        Self::load(dir)?.attach(model, &dir.display().to_string())
    }
}

/// Removes any attached adapter: the model is its base again.
pub fn detach(model: &mut Model) {
    model.set_adapter(None);
}

/// The fields of PEFT's `LoraConfig` this reader honours.
struct PeftConfig {
    settings: LoraSettings,
    rank_pattern: HashMap<String, usize>,
    alpha_pattern: HashMap<String, f64>,
}

impl PeftConfig {
    fn read(config: &Value, path: &Path) -> Result<Self> {
        let bad = |detail: String| TrainError::adapter(path, detail);
        let peft_type = config
            .get("peft_type")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !peft_type.eq_ignore_ascii_case("lora") {
            return Err(bad(format!("peft_type `{peft_type}` is not LORA")));
        }
        if config.get("use_dora").and_then(Value::as_bool) == Some(true) {
            return Err(bad("DoRA adapters (`use_dora`) are not supported: retrain without DoRA or merge it into the base elsewhere".into()));
        }
        if let Some(modules) = config.get("modules_to_save").filter(|v| !v.is_null()) {
            if modules.as_array().is_none_or(|list| !list.is_empty()) {
                return Err(bad(format!(
                    "`modules_to_save` {modules} replaces whole modules (e.g. lm_head, embeddings): only LoRA deltas can be attached"
                )));
            }
        }
        let rank = config
            .get("r")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("missing `r`".into()))? as usize;
        let alpha = config
            .get("lora_alpha")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("missing `lora_alpha`".into()))?;
        let targets = match config.get("target_modules") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(|name| {
                    LoraTarget::parse(name).ok_or_else(|| {
                        bad(format!(
                            "target module `{name}` is not one of q_proj…down_proj"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            Some(Value::String(s)) if s == "all-linear" => LoraTarget::ALL.to_vec(),
            other => {
                return Err(bad(format!(
                    "unsupported `target_modules`: {}",
                    other.unwrap_or(&Value::Null)
                )))
            }
        };
        let pattern = |key: &str| -> HashMap<String, f64> {
            config
                .get(key)
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Self {
            settings: LoraSettings {
                rank,
                alpha,
                rslora: config
                    .get("use_rslora")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                dropout: config
                    .get("lora_dropout")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0) as f32,
                targets,
            },
            rank_pattern: pattern("rank_pattern")
                .into_iter()
                .map(|(k, v)| (k, v as usize))
                .collect(),
            alpha_pattern: pattern("alpha_pattern"),
        })
    }

    /// The value of the longest pattern key that names this module (PEFT matches a key as a
    /// dotted suffix of the module's name).
    fn lookup<T: Copy>(patterns: &HashMap<String, T>, module: &str) -> Option<T> {
        patterns
            .iter()
            .filter(|(key, _)| module == key.as_str() || module.ends_with(&format!(".{key}")))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, v)| *v)
    }

    fn modules(
        &self,
        tensors: HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<BTreeMap<(usize, LoraTarget), LoraModule>> {
        let mut halves: BTreeMap<(usize, LoraTarget), (Option<Tensor>, Option<Tensor>)> =
            BTreeMap::new();
        for (name, tensor) in tensors {
            let (layer, target, matrix) = parse_peft_name(&name).ok_or_else(|| {
                TrainError::adapter(
                    path,
                    format!(
                        "tensor `{name}` is not a LoRA delta of a q/k/v/o/gate/up/down projection"
                    ),
                )
            })?;
            let entry = halves.entry((layer, target)).or_default();
            let tensor = tensor.to_dtype(DType::F32)?;
            if matrix == 'A' {
                entry.0 = Some(tensor);
            } else {
                entry.1 = Some(tensor);
            }
        }
        let mut modules = BTreeMap::new();
        for ((layer, target), pair) in halves {
            let (Some(a), Some(b)) = pair else {
                return Err(TrainError::adapter(
                    path,
                    format!(
                        "{} has only one of lora_A and lora_B",
                        peft_tensor_name(layer, target, 'A').trim_end_matches(".lora_A.weight")
                    ),
                ));
            };
            let module_name = format!(
                "model.layers.{layer}.{}.{}",
                target.hf_parent(),
                target.hf_name()
            );
            let rank = a.dim(0)?;
            let expected_rank =
                Self::lookup(&self.rank_pattern, &module_name).unwrap_or(self.settings.rank);
            if rank != expected_rank || b.dim(1)? != rank {
                return Err(TrainError::adapter(
                    path,
                    format!(
                        "{module_name}: A {:?} and B {:?} do not have the rank {expected_rank} the config declares",
                        a.dims(),
                        b.dims()
                    ),
                ));
            }
            let alpha =
                Self::lookup(&self.alpha_pattern, &module_name).unwrap_or(self.settings.alpha);
            let scale = lora_scale(alpha, rank, self.settings.rslora);
            modules.insert((layer, target), LoraModule { a, b, scale });
        }
        if modules.is_empty() {
            return Err(TrainError::adapter(
                path,
                "the adapter holds no LoRA tensors",
            ));
        }
        Ok(modules)
    }
}

/// Writes `tensors` as f32 safetensors with PEFT's `{"format": "pt"}` metadata.
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let values = tensor
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name.clone(), tensor.dims().to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| TrainError::adapter(path, e.to_string()))?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), path)
        .map_err(|e| TrainError::adapter(path, e.to_string()))
}

/// Writes pretty JSON.
pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text).map_err(|e| TrainError::io(path, e))
}

/// What `citrus adapters inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterSummary {
    /// The folder.
    pub path: PathBuf,
    /// Rank, alpha, rsLoRA, dropout, targets.
    pub settings: LoraSettings,
    /// Layers that carry deltas.
    pub layers: usize,
    /// Delta tensors (A and B counted separately).
    pub tensors: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Citrus' metadata, when present.
    pub meta: Option<AdapterMeta>,
}

impl LoraAdapter {
    /// A summary for display.
    pub fn summary(&self, path: &Path) -> AdapterSummary {
        let mut layers: Vec<usize> = self.modules.keys().map(|(l, _)| *l).collect();
        layers.dedup();
        AdapterSummary {
            path: path.to_path_buf(),
            settings: self.settings.clone(),
            layers: layers.len(),
            tensors: self.modules.len() * 2,
            parameters: self
                .modules
                .values()
                .map(|m| m.a.elem_count() + m.b.elem_count())
                .sum(),
            meta: self.meta.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peft_names_round_trip() {
        let name = peft_tensor_name(3, LoraTarget::Down, 'B');
        assert_eq!(
            name,
            "base_model.model.model.layers.3.mlp.down_proj.lora_B.weight"
        );
        assert_eq!(parse_peft_name(&name), Some((3, LoraTarget::Down, 'B')));
        assert_eq!(
            parse_peft_name(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"
            ),
            Some((0, LoraTarget::Q, 'A'))
        );
        assert_eq!(parse_peft_name("base_model.model.lm_head.weight"), None);
        assert_eq!(
            parse_peft_name(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"
            ),
            None
        );
    }

    #[test]
    fn patterns_match_dotted_suffixes() {
        let patterns = HashMap::from([
            ("q_proj".to_string(), 4usize),
            ("layers.1.self_attn.q_proj".to_string(), 2),
        ]);
        assert_eq!(
            PeftConfig::lookup(&patterns, "model.layers.0.self_attn.q_proj"),
            Some(4)
        );
        assert_eq!(
            PeftConfig::lookup(&patterns, "model.layers.1.self_attn.q_proj"),
            Some(2)
        );
        assert_eq!(
            PeftConfig::lookup(&patterns, "model.layers.1.self_attn.k_proj"),
            None
        );
    }
}
