//! Per-step metrics and the run's `metrics.jsonl`, which a resumed run continues: entries
//! after the checkpoint it resumes from are dropped, so the file is one unbroken curve.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use citrus_types::training::PreferenceStats;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Result, TrainError};

/// What one optimizer step reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Steps completed (from 1).
    pub step: usize,
    /// Steps in all.
    pub total_steps: usize,
    /// Epochs completed (fractional).
    pub epoch: f64,
    /// Mean loss per trained token.
    pub loss: f64,
    /// The learning rate of this step.
    pub learning_rate: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens processed (prompt and reply).
    pub tokens: usize,
    /// Tokens processed per second.
    pub tokens_per_second: f64,
    /// Seconds of training so far (all sessions).
    pub elapsed_seconds: f64,
    /// Estimated seconds to the end.
    pub eta_seconds: f64,
    /// A preference step's rewards and log-probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceStats>,
}

/// The run's metrics file.
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens (creating the folder) the log of `dir`, keeping only entries up to `step`.
    pub fn open(dir: &Path, step: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let path = dir.join("metrics.jsonl");
        // Entries up to the checkpoint's step stay; the validation at that step is run again
        // on resume, so its old entry goes.
        let keep = |entry: &Value| {
            let at = entry
                .get("step")
                .and_then(Value::as_u64)
                .map(|s| s as usize);
            let kind = entry.get("kind").and_then(Value::as_str);
            at.is_some_and(|at| at < step || (at == step && kind == Some("step")))
        };
        let kept: String = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|line| serde_json::from_str::<Value>(line).is_ok_and(|v| keep(&v)))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(&path, kept).map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path })
    }

    /// Reads every entry of a run's log.
    pub fn read(dir: &Path) -> Result<Vec<Value>> {
        let path = dir.join("metrics.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// Appends a step.
    pub fn step(&self, metrics: &StepMetrics) -> Result<()> {
        let mut value = serde_json::to_value(metrics).unwrap_or_default();
        value["kind"] = "step".into();
        self.append(&value)
    }

    /// Appends a validation loss (and a preference run's held-out rewards).
    pub fn validation(
        &self,
        step: usize,
        loss: f64,
        preference: Option<PreferenceStats>,
    ) -> Result<()> {
        let mut entry = json!({"kind": "validation", "step": step, "loss": loss});
        if let Some(stats) = preference {
            entry["preference"] = serde_json::to_value(stats).unwrap_or_default();
        }
        self.append(&entry)
    }

    fn append(&self, value: &Value) -> Result<()> {
        let io = |e| TrainError::io(&self.path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        writeln!(file, "{value}").map_err(io)
    }
}
