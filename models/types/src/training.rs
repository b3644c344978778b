//! Fine-tuning as the Training screen and `citrus train` describe it: the data (format,
//! validation report, token statistics, a preview with masked and trained text told apart), the
//! settings a person chooses, and the recorded runs with their metric series.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::RunStatus;

/// How the records of a dataset are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// Detect from the first record's fields.
    Auto,
    /// Citrus SFT: `{"input": user prompt, "target": assistant reply}`.
    Citrus,
    /// Chat: `{"messages": [{"role": "system"|"user"|"assistant", "content"}…]}`.
    Chat,
    /// Alpaca: `{"instruction", "input" (may be empty), "output"}`, optional `system`.
    Alpaca,
}

impl std::str::FromStr for DataFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "citrus" | "sft" => Ok(Self::Citrus),
            "chat" | "messages" => Ok(Self::Chat),
            "alpaca" => Ok(Self::Alpaca),
            _ => Err(format!("`{s}` is not one of auto, citrus, chat, alpaca")),
        }
    }
}

impl std::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Citrus => "citrus",
            Self::Chat => "chat",
            Self::Alpaca => "alpaca",
        })
    }
}

/// What to do with an example longer than the maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlong {
    /// Keep its first `max_len` tokens (skipped if nothing trained remains).
    #[default]
    Truncate,
    /// Leave it out and report it.
    Skip,
}

impl std::str::FromStr for Overlong {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "truncate" => Ok(Self::Truncate),
            "skip" => Ok(Self::Skip),
            _ => Err(format!("`{s}` is not one of truncate, skip")),
        }
    }
}

/// Token counts over a tokenized dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenStats {
    /// Examples kept.
    pub examples: usize,
    /// All tokens.
    pub tokens: usize,
    /// Tokens with a loss.
    pub trained_tokens: usize,
    /// Shortest example.
    pub min_tokens: usize,
    /// Mean length.
    pub mean_tokens: f64,
    /// Longest example.
    pub max_tokens: usize,
    /// Examples cut to the maximum length.
    pub truncated: usize,
}

/// A run of consecutive tokens that are all trained or all masked, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewSegment {
    /// The tokens decoded, special tokens shown.
    pub text: String,
    /// Whether these tokens are trained.
    pub trained: bool,
    /// How many tokens.
    pub tokens: usize,
}

/// An example rendered for a person: masked and trained text told apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The record's line or item number.
    pub line: usize,
    /// The runs of masked and trained tokens, in order.
    pub segments: Vec<PreviewSegment>,
}

/// A record that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRecord {
    /// Line (JSONL) or item (JSON array) number, from 1.
    pub line: usize,
    /// What is wrong, e.g. "missing field `target`".
    pub reason: String,
}

/// Where a run's examples come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    /// A JSONL file (or a JSON array) of records.
    File {
        /// The file.
        path: PathBuf,
        /// How its records are written.
        format: DataFormat,
    },
    /// The reviewed runs of the case store (what `citrus export --sft` writes).
    Reviews,
}

/// The settings a person chooses for a run, as the form and the command line offer them; the
/// shell turns them into the trainer's configuration (and refuses what is out of range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainChoices {
    /// LoRA rank: the adapter's width; higher learns more and costs more.
    pub rank: usize,
    /// LoRA alpha: the update's scale (alpha / rank).
    pub alpha: f64,
    /// Scale by alpha / √rank (rsLoRA) instead of alpha / rank.
    pub rslora: bool,
    /// Dropout on the adapter's input while training.
    pub dropout: f32,
    /// Projections that carry an adapter: `q,k,v,o,gate,up,down` or `all`.
    pub targets: String,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Share of the steps spent warming the learning rate up.
    pub warmup_ratio: f64,
    /// Passes over the training set (when `steps` is not set).
    pub epochs: usize,
    /// Optimizer steps, instead of epochs.
    pub steps: Option<usize>,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Gradient clipping: the largest global norm (0 = off).
    pub max_grad_norm: f64,
    /// Longest example in tokens.
    pub max_len: usize,
    /// What to do with longer examples.
    pub overlong: Overlong,
    /// Share of the examples held out for validation.
    pub val_split: f64,
    /// Seed of the split, data order, initialisation and dropout.
    pub seed: u64,
    /// Keep the base quantized as stored (less memory) instead of dequantizing it to f32.
    pub quantized_base: bool,
}

impl Default for TrainChoices {
    /// The trainer's defaults: rank 8, alpha 16 on q,k,v,o; 2e-4; one epoch; 1 × 4 sequences
    /// a step; 1024 tokens; 10% validation; seed 42.
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            rslora: false,
            dropout: 0.0,
            targets: "q,k,v,o".into(),
            learning_rate: 2e-4,
            weight_decay: 0.0,
            warmup_ratio: 0.05,
            epochs: 1,
            steps: None,
            batch_size: 1,
            grad_accum: 4,
            max_grad_norm: 1.0,
            max_len: 1024,
            overlong: Overlong::Truncate,
            val_split: 0.1,
            seed: 42,
            quantized_base: false,
        }
    }
}

/// What checking a dataset against a model found, before any training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetReport {
    /// The file, or a description of the source.
    pub source: String,
    /// The format its records were read as.
    pub format: DataFormat,
    /// SHA-256 of its content.
    pub hash: String,
    /// Usable examples.
    pub examples: usize,
    /// Records that cannot be used, with their reasons.
    pub bad: Vec<BadRecord>,
    /// Examples held out for validation.
    pub validation_examples: usize,
    /// Token counts of the training examples.
    pub train_tokens: TokenStats,
    /// Examples left out at tokenization (too long), with reasons.
    pub skipped: Vec<BadRecord>,
    /// The first training example, masked and trained text told apart.
    pub preview: Option<Preview>,
}

/// Which curve a metric point belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// An optimizer step.
    Train,
    /// A validation pass.
    Validation,
}

impl PointKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Validation => "validation",
        }
    }

    /// The kind a stored name means.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "train" => Some(Self::Train),
            "validation" => Some(Self::Validation),
            _ => None,
        }
    }
}

/// One point of a run's metric series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainPoint {
    /// After this optimizer step.
    pub step: usize,
    /// Training step or validation pass.
    pub kind: PointKind,
    /// Mean loss per trained token.
    pub loss: f64,
    /// The step's learning rate (training points).
    pub learning_rate: Option<f64>,
    /// Tokens per second (training points).
    pub tokens_per_second: Option<f64>,
    /// Estimated seconds to the end (training points).
    pub eta_seconds: Option<f64>,
}

/// What identifies a new run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTrainRun {
    /// The data: its source as described, and how to read it again on resume.
    pub source: DataSource,
    /// The data's description (file path or "reviewed cases in …").
    pub dataset_name: String,
    /// SHA-256 of the data when the run started.
    pub dataset_hash: String,
    /// The base model file or folder.
    pub model_path: String,
    /// The base model's name.
    pub model_name: String,
    /// The run's folder: checkpoints, metrics and the adapter.
    pub out_dir: PathBuf,
    /// The settings as chosen.
    pub choices: TrainChoices,
    /// Steps the run takes.
    pub total_steps: usize,
}

/// A run in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRunSummary {
    /// Its id.
    pub id: i64,
    /// How it was set up.
    #[serde(flatten)]
    pub spec: NewTrainRun,
    /// Where it stands.
    pub status: RunStatus,
    /// Steps done.
    pub step: usize,
    /// The last training loss.
    pub loss: Option<f64>,
    /// The last validation loss.
    pub validation_loss: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started.
    pub started_at: String,
    /// When it last ended (None while running).
    pub finished_at: Option<String>,
}

impl TrainRunSummary {
    /// Whether Resume applies: paused, interrupted or failed runs continue from their last
    /// checkpoint.
    pub fn can_resume(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Paused | RunStatus::Interrupted | RunStatus::Failed
        )
    }
}

/// A run with its metric series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRunRecord {
    /// The run.
    pub run: TrainRunSummary,
    /// Its points, in step order.
    pub points: Vec<TrainPoint>,
}

/// Where a training run's memory goes, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPlan {
    /// Base weights dequantized to f32 (a dense-base run).
    pub base_dense_bytes: u64,
    /// Base weights kept quantized (a quantized-base run), plus the largest layer dequantized
    /// during the backward pass.
    pub base_quantized_bytes: u64,
    /// The base as this run holds it.
    pub base_bytes: u64,
    /// LoRA values, gradients (and their accumulation) and AdamW moments.
    pub lora_bytes: u64,
    /// Activations of the largest micro-batch: every block's input (activation
    /// checkpointing) plus one block recomputed with its graph, and the trained logits.
    pub activation_bytes: u64,
}

impl MemoryPlan {
    /// The estimated peak.
    pub fn total_bytes(&self) -> u64 {
        self.base_bytes + self.lora_bytes + self.activation_bytes
    }
}

/// What is known before a run starts: the estimate, and after calibration steps on this
/// device, the measured peak and time per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preflight {
    /// The estimate.
    pub memory: MemoryPlan,
    /// The device.
    pub device: String,
    /// Memory the device has for the run (the loaded base included), when known.
    pub available_bytes: Option<u64>,
    /// Trainable parameters.
    pub trainable_parameters: usize,
    /// Steps the run takes (from the start, or from the checkpoint it resumes).
    pub total_steps: usize,
    /// Steps still to take.
    pub remaining_steps: usize,
    /// Peak resident memory measured over the calibration steps.
    pub measured_peak_bytes: Option<u64>,
    /// Seconds per optimizer step, from the calibration.
    pub seconds_per_step: Option<f64>,
}

impl Preflight {
    /// What the run needs: the estimate, or the measured peak when larger.
    pub fn needed_bytes(&self) -> u64 {
        self.memory
            .total_bytes()
            .max(self.measured_peak_bytes.unwrap_or(0))
    }

    /// Whether the run fits in what is available (true when that is unknown).
    pub fn fits(&self) -> bool {
        self.available_bytes
            .is_none_or(|available| self.needed_bytes() <= available)
    }

    /// Estimated seconds for the remaining steps.
    pub fn eta_seconds(&self) -> Option<f64> {
        self.seconds_per_step
            .map(|s| s * self.remaining_steps as f64)
    }
}

/// What the dataset check shows before Start: the validation report and the pre-flight
/// estimate (memory and steps; time per step is measured when the run starts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetCheck {
    /// Bad records, token statistics, examples left out and the preview.
    pub report: DatasetReport,
    /// Memory, steps and whether it fits.
    pub estimate: Preflight,
}

/// What a training job runs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainStart {
    /// A new run.
    New {
        /// Its data.
        source: DataSource,
        /// The imported base model (None: the active one).
        model_id: Option<i64>,
        /// Its settings.
        choices: TrainChoices,
    },
    /// Continue a paused, interrupted or failed run from its last checkpoint.
    Resume {
        /// The run.
        id: i64,
    },
}
