//! The settings of a training run, with defaults and validation.

use std::path::PathBuf;

use citrus_engine::lora::LoraTarget;
use citrus_types::training::TrainChoices;
use serde::{Deserialize, Serialize};

use crate::dataset::Overlong;
use crate::error::{Result, TrainError};
use crate::preference::PreferenceSettings;

/// The LoRA adapter's shape: what PEFT's `LoraConfig` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraSettings {
    /// Rank `r`.
    pub rank: usize,
    /// `lora_alpha`.
    pub alpha: f64,
    /// rsLoRA: scale `alpha / √r` instead of `alpha / r`.
    pub rslora: bool,
    /// Dropout on the delta's input while training.
    pub dropout: f32,
    /// The projections that carry a delta.
    pub targets: Vec<LoraTarget>,
}

impl Default for LoraSettings {
    /// The shape [`TrainChoices::default`] chooses (rank 8, alpha 16 on q, k, v, o).
    fn default() -> Self {
        TrainConfig::default().lora
    }
}

impl LoraSettings {
    /// The delta's scale: `alpha / r`, or `alpha / √r` with rsLoRA.
    pub fn scale(&self) -> f64 {
        lora_scale(self.alpha, self.rank, self.rslora)
    }

    /// Parses a comma-separated target list (`q,k,v,o`, `all`, or Hugging Face names).
    pub fn parse_targets(list: &str) -> Result<Vec<LoraTarget>> {
        if list.trim() == "all" {
            return Ok(LoraTarget::ALL.to_vec());
        }
        let mut targets = Vec::new();
        for name in list.split(',').filter(|n| !n.trim().is_empty()) {
            let target = LoraTarget::parse(name).ok_or_else(|| {
                TrainError::setting(
                    "targets",
                    format!("`{name}` is not one of q, k, v, o, gate, up, down, all"),
                )
            })?;
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        Ok(targets)
    }
}

/// `alpha / r`, or `alpha / √r` with rsLoRA.
pub fn lora_scale(alpha: f64, rank: usize, rslora: bool) -> f64 {
    if rslora {
        alpha / (rank as f64).sqrt()
    } else {
        alpha / rank as f64
    }
}

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// Passes over the training set.
    Epochs(usize),
    /// Optimizer steps.
    Steps(usize),
}

/// Every setting that shapes a run's numbers (a changed one makes a resume a different run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The adapter.
    pub lora: LoraSettings,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Share of the steps spent warming the learning rate up (then cosine to zero).
    pub warmup_ratio: f64,
    /// Epochs or steps.
    pub duration: Duration,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Gradient clipping: the largest global L2 norm (0 = off).
    pub max_grad_norm: f64,
    /// Longest sequence in tokens.
    pub max_len: usize,
    /// What to do with longer examples.
    pub overlong: Overlong,
    /// Share of the examples held out for validation.
    pub val_split: f64,
    /// Seed of the split, data order, initialisation and dropout.
    pub seed: u64,
    /// Keep the base weights quantized (QLoRA-style) instead of dequantizing them to f32.
    pub quantized_base: bool,
    /// The preference loss of a run on pairs (None: SFT on examples).
    #[serde(default)]
    pub preference: Option<PreferenceSettings>,
    /// The adapter the run starts from (None: a fresh one).
    #[serde(default)]
    pub start_adapter: Option<PathBuf>,
}

impl Default for TrainConfig {
    /// The configuration [`TrainChoices::default`] gives: the window's form and the CLI's
    /// flags start from the same choices.
    fn default() -> Self {
        Self::from_choices(&TrainChoices::default())
            .expect("the default training choices are valid")
    }
}

impl TrainConfig {
    /// The configuration a person's `choices` give, checked.
    pub fn from_choices(choices: &TrainChoices) -> Result<Self> {
        let config = Self {
            lora: LoraSettings {
                rank: choices.rank,
                alpha: choices.alpha,
                rslora: choices.rslora,
                dropout: choices.dropout,
                targets: LoraSettings::parse_targets(&choices.targets)?,
            },
            learning_rate: choices.learning_rate,
            weight_decay: choices.weight_decay,
            warmup_ratio: choices.warmup_ratio,
            duration: match choices.steps {
                Some(steps) => Duration::Steps(steps),
                None => Duration::Epochs(choices.epochs),
            },
            batch_size: choices.batch_size,
            grad_accum: choices.grad_accum,
            max_grad_norm: choices.max_grad_norm,
            max_len: choices.max_len,
            overlong: choices.overlong,
            val_split: choices.val_split,
            seed: choices.seed,
            quantized_base: choices.quantized_base,
            preference: PreferenceSettings::from_choices(choices),
            start_adapter: choices.start_adapter.clone(),
        };
        config.validate()?;
        Ok(config)
    }
}

impl TrainConfig {
    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, name: &'static str, detail: &str| {
            if ok {
                Ok(())
            } else {
                Err(TrainError::setting(name, detail))
            }
        };
        check(
            (1..=4096).contains(&self.lora.rank),
            "rank",
            "must be 1 to 4096",
        )?;
        check(self.lora.alpha > 0.0, "alpha", "must be positive")?;
        check(
            (0.0..1.0).contains(&self.lora.dropout),
            "dropout",
            "must be in [0, 1)",
        )?;
        check(
            !self.lora.targets.is_empty(),
            "targets",
            "name at least one of q, k, v, o, gate, up, down",
        )?;
        check(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "lr",
            "must be positive",
        )?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            "must not be negative",
        )?;
        check(
            (0.0..1.0).contains(&self.warmup_ratio),
            "warmup",
            "must be in [0, 1)",
        )?;
        let positive_duration = match self.duration {
            Duration::Epochs(n) | Duration::Steps(n) => n > 0,
        };
        check(positive_duration, "epochs/steps", "must be at least 1")?;
        check(self.batch_size >= 1, "batch", "must be at least 1")?;
        check(self.grad_accum >= 1, "grad_accum", "must be at least 1")?;
        check(
            self.max_grad_norm >= 0.0,
            "max_grad_norm",
            "must not be negative",
        )?;
        check(self.max_len >= 2, "max_len", "must be at least 2")?;
        check(
            (0.0..1.0).contains(&self.val_split),
            "val_split",
            "must be in [0, 1)",
        )?;
        if let Some(preference) = &self.preference {
            check(
                preference.beta > 0.0 && preference.beta.is_finite(),
                "pref_beta",
                "must be positive",
            )?;
            check(
                preference.gamma >= 0.0 && preference.gamma.is_finite(),
                "pref_gamma",
                "must not be negative",
            )?;
            check(
                preference.alpha >= 0.0 && preference.alpha.is_finite(),
                "pref_alpha",
                "must not be negative",
            )?;
        }
        Ok(())
    }

    /// Sequences per optimizer step.
    pub fn sequences_per_step(&self) -> usize {
        self.batch_size * self.grad_accum
    }

    /// The settings that differ from `other`, as `name: old → new` lines.
    pub fn differences(&self, other: &TrainConfig) -> Vec<String> {
        let (Ok(a), Ok(b)) = (serde_json::to_value(self), serde_json::to_value(other)) else {
            return vec!["settings unreadable".into()];
        };
        let mut out = Vec::new();
        diff_values("", &a, &b, &mut out);
        out
    }
}

fn diff_values(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            for (key, value) in x {
                let name = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_values(
                    &name,
                    value,
                    y.get(key).unwrap_or(&serde_json::Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(format!("{path}: {a} → {b}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_targets() {
        assert_eq!(lora_scale(16.0, 8, false), 2.0);
        assert_eq!(lora_scale(16.0, 16, true), 4.0);
        assert_eq!(LoraSettings::parse_targets("all").unwrap().len(), 7);
        assert_eq!(
            LoraSettings::parse_targets("q,v_proj,ffn_down,q").unwrap(),
            vec![LoraTarget::Q, LoraTarget::V, LoraTarget::Down]
        );
        let err = LoraSettings::parse_targets("q,lm_head").unwrap_err();
        assert!(err.to_string().contains("lm_head"), "{err}");
    }

    #[test]
    fn validation_and_differences_name_the_setting() {
        assert!(TrainConfig::default().validate().is_ok());
        let mut bad = TrainConfig::default();
        bad.lora.rank = 0;
        assert!(bad.validate().unwrap_err().to_string().contains("`rank`"));
        let other = TrainConfig {
            learning_rate: 1e-3,
            lora: LoraSettings {
                rank: 16,
                ..LoraSettings::default()
            },
            ..TrainConfig::default()
        };
        let diffs = TrainConfig::default().differences(&other);
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(diffs
            .iter()
            .any(|d| d.starts_with("learning_rate: 0.0002 → 0.001")));
        assert!(diffs.iter().any(|d| d.starts_with("lora.rank: 8 → 16")));
    }
}
