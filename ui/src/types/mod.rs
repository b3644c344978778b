//! The shell's data types, as the window reads them (lenient: missing fields take defaults).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One row of the case list.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct CaseSummary {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub runs: u32,
    pub updated_at: String,
    pub reviewed: bool,
    pub confirmed_diagnosis: Option<String>,
}

/// A stored case with its raw input.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct CaseRecord {
    pub id: i64,
    pub title: String,
    pub input: Value,
    pub created_at: String,
    pub updated_at: String,
}

/// One completed reasoning step.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    pub stage: String,
    pub title: Option<String>,
    pub text: String,
}

/// A diagnosis the model considered.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct DifferentialEntry {
    pub name: String,
    pub mentions: u32,
    pub ruled_out: bool,
}

/// One run in a case's run list.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct RunSummary {
    pub id: i64,
    pub case_id: i64,
    pub model_name: String,
    pub mode: String,
    pub status: String,
    pub answer: Option<String>,
    pub generated_tokens: u64,
    pub started_at: String,
}

/// A full run: settings, text, steps, differential and outcome.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct RunRecord {
    pub id: i64,
    pub case_id: i64,
    pub model_name: String,
    pub mode: String,
    pub status: String,
    pub answer: Option<String>,
    pub generated_tokens: u64,
    pub started_at: String,
    pub model_path: String,
    pub adapter: Option<String>,
    pub settings_json: String,
    pub raw_text: String,
    pub steps: Vec<Step>,
    pub differential: Vec<DifferentialEntry>,
    pub option: Option<String>,
    pub correct: Option<bool>,
    pub structured: Option<bool>,
    pub error: Option<String>,
    pub seconds: Option<f64>,
    pub finished_at: Option<String>,
}

/// A reviewer's verdict on one step.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StepReview {
    pub position: usize,
    pub verdict: String,
    pub comment: Option<String>,
}

/// A clinician's review of one run.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Review {
    pub run_id: i64,
    pub reviewer: String,
    pub confirmed_diagnosis: Option<String>,
    pub comment: Option<String>,
    pub steps: Vec<StepReview>,
}

/// One entry of the review queue.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct QueueItem {
    pub case_id: i64,
    pub run_id: i64,
    pub title: String,
}

/// A model known to the app.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ModelEntry {
    pub id: i64,
    pub path: String,
    pub name: String,
    pub format: String,
    pub architecture: String,
    pub quantization: String,
    pub parameter_count: u64,
    pub file_bytes: u64,
    pub copied: bool,
    pub active: bool,
}

/// Memory a model needs once loaded.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct MemoryEstimate {
    pub weights_bytes: u64,
    pub kv_cache_bytes: u64,
    pub working_bytes: u64,
}

/// The parts of a model's configuration the window shows.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    pub num_layers: u64,
    pub num_heads: u64,
    pub num_kv_heads: u64,
    pub hidden_size: u64,
    pub vocab_size: u64,
}

/// What inspecting a model reports.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ModelInfo {
    pub path: String,
    pub format: String,
    pub name: String,
    pub architecture: String,
    pub parameter_count: u64,
    pub quantization: String,
    pub requantized_to: Option<String>,
    pub file_bytes: u64,
    pub config: ModelConfig,
    pub tokenizer: String,
    pub has_chat_template: bool,
    pub context_length: u64,
    pub memory: MemoryEstimate,
    pub device: String,
    pub available_bytes: Option<u64>,
    pub fits: bool,
}

/// How the engine runs a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineSettings {
    pub device: String,
    pub threads: Option<u32>,
    pub requantize: Option<String>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            device: "cpu".into(),
            threads: None,
            requantize: Some("q8_0".into()),
        }
    }
}

/// The engine's state: active model, settings, load and queue.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct EngineStatus {
    pub model: Option<ModelEntry>,
    pub settings: Option<EngineSettings>,
    pub loaded: bool,
    pub busy: bool,
    pub queued: u32,
}

mod evaluation;
pub use evaluation::*;
