//! The Hugging Face PEFT layout: `adapter_config.json` (PEFT's `LoraConfig`) and
//! `adapter_model.safetensors`, read with `use_rslora`, `rank_pattern` and `alpha_pattern`
//! honoured, written with patterns wherever a module's rank or scale differs from the config's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use citrus_engine::lora::LoraTarget;
use citrus_formats::hf_export::save_safetensors;
use serde_json::{json, Value};

use super::{LoraAdapter, LoraModule, CONFIG_FILE, META_FILE, WEIGHTS_FILE};
use crate::config::{lora_scale, LoraSettings};
use crate::error::{Result, TrainError};

/// The PEFT tensor name of `target`'s `A` or `B` in `layer`.
pub fn peft_tensor_name(layer: usize, target: LoraTarget, matrix: char) -> String {
    format!(
        "base_model.model.model.layers.{layer}.{}.{}.lora_{matrix}.weight",
        target.hf_parent(),
        target.hf_name()
    )
}

/// The module name PEFT's patterns match, e.g. `model.layers.3.self_attn.q_proj`.
pub fn peft_module_name(layer: usize, target: LoraTarget) -> String {
    format!(
        "model.layers.{layer}.{}.{}",
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

impl LoraAdapter {
    /// Writes the adapter into `dir` (created if missing).
    /// Modules whose rank or scale differ from the settings' are written as PEFT's
    /// `rank_pattern` / `alpha_pattern`, so every module keeps its exact scale.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let s = &self.settings;
        let (rank_pattern, alpha_pattern) = self.patterns()?;
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
            "rank_pattern": rank_pattern,
            "alpha_pattern": alpha_pattern,
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

    /// The per-module rank and alpha that differ from the settings, keyed by module name.
    fn patterns(&self) -> Result<(BTreeMap<String, usize>, BTreeMap<String, f64>)> {
        let s = &self.settings;
        let mut ranks = BTreeMap::new();
        let mut alphas = BTreeMap::new();
        for (&(layer, target), module) in &self.modules {
            let name = peft_module_name(layer, target);
            let rank = module.rank()?;
            if rank != s.rank {
                ranks.insert(name.clone(), rank);
            }
            let default = lora_scale(s.alpha, rank, s.rslora);
            if (default - module.scale).abs() > 1e-9 * module.scale.abs().max(1.0) {
                let root = if s.rslora {
                    (rank as f64).sqrt()
                } else {
                    rank as f64
                };
                alphas.insert(name, module.scale * root);
            }
        }
        Ok((ranks, alphas))
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
            let module_name = peft_module_name(layer, target);
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
    let f32_tensors = tensors
        .iter()
        .map(|(name, tensor)| Ok((name.clone(), tensor.to_dtype(DType::F32)?.contiguous()?)))
        .collect::<Result<Vec<_>>>()?;
    save_safetensors(path, &f32_tensors).map_err(|e| TrainError::adapter(path, e.to_string()))
}

/// Writes pretty JSON.
pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text).map_err(|e| TrainError::io(path, e))
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
