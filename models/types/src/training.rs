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
    /// A JSONL file of preference pairs: Citrus' `{"chosen": [messages], "rejected":
    /// [messages]}` or TRL's `{"prompt", "chosen", "rejected"}`.
    Pairs {
        /// The file.
        path: PathBuf,
    },
    /// Pairs of reviewed runs of one case, the better run chosen over the worse.
    ReviewPairs,
}

impl DataSource {
    /// Whether the source gives preference pairs rather than examples.
    pub fn is_pairs(&self) -> bool {
        matches!(self, Self::Pairs { .. } | Self::ReviewPairs)
    }
}

impl TrainChoices {
    /// β, γ and α of a preference run: the ones chosen, else the method's defaults; None for
    /// SFT.
    pub fn preference(&self) -> Option<(f64, f64, f64)> {
        let (beta, gamma, alpha) = self.method.preference_defaults()?;
        Some((
            self.pref_beta.unwrap_or(beta),
            self.pref_gamma.unwrap_or(gamma),
            self.pref_alpha.unwrap_or(alpha),
        ))
    }

    /// The method with its settings in words ("cpo-simpo (β 10, γ 5.4, α 0.05)"), or "sft".
    pub fn describe_method(&self) -> String {
        match self.preference() {
            Some((beta, gamma, alpha)) => self.method.describe(beta, gamma, alpha),
            None => self.method.to_string(),
        }
    }
}

/// What a run learns from, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainMethod {
    /// Supervised fine-tuning: the likelihood of the reference answers.
    #[default]
    Sft,
    /// Citrus' last stage: SimPO plus a likelihood term on the chosen answer.
    CpoSimpo,
    /// Length-normalised margin with a target margin, no reference model.
    Simpo,
    /// Summed log-probability margin plus the chosen answer's likelihood.
    Cpo,
    /// Direct preference optimisation against the starting adapter.
    Dpo,
}

impl TrainMethod {
    /// Every method, in the order the form lists them.
    pub const ALL: [Self; 5] = [Self::Sft, Self::CpoSimpo, Self::Simpo, Self::Cpo, Self::Dpo];

    /// Whether the method learns from preference pairs.
    pub fn is_preference(self) -> bool {
        self != Self::Sft
    }

    /// The name the command line and the stored record use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sft => "sft",
            Self::CpoSimpo => "cpo-simpo",
            Self::Simpo => "simpo",
            Self::Cpo => "cpo",
            Self::Dpo => "dpo",
        }
    }

    /// The method with its settings in words: "cpo-simpo (β 10, γ 5.4, α 0.05)".
    pub fn describe(self, beta: f64, gamma: f64, alpha: f64) -> String {
        format!("{self} (β {beta}, γ {gamma}, α {alpha})")
    }

    /// The defaults (β, γ, α) of a preference method; None for SFT.
    pub fn preference_defaults(self) -> Option<(f64, f64, f64)> {
        match self {
            Self::Sft => None,
            Self::CpoSimpo => Some((10.0, 5.4, 0.05)),
            Self::Simpo => Some((10.0, 5.4, 0.0)),
            Self::Cpo => Some((0.1, 0.0, 1.0)),
            Self::Dpo => Some((0.1, 0.0, 0.0)),
        }
    }
}

impl std::str::FromStr for TrainMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| {
                m.as_str().eq_ignore_ascii_case(s) || (s == "cpo_simpo" && *m == Self::CpoSimpo)
            })
            .ok_or_else(|| format!("`{s}` is not one of sft, cpo-simpo, simpo, cpo, dpo"))
    }
}

impl std::fmt::Display for TrainMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// SFT, or a preference loss (which needs pairs).
    pub method: TrainMethod,
    /// β of a preference loss: how sharply the margin is scored (None: the method's default).
    pub pref_beta: Option<f64>,
    /// γ of SimPO and CPO-SimPO: the target margin (None: the method's default).
    pub pref_gamma: Option<f64>,
    /// α: the weight of the chosen answer's likelihood added to a preference loss (None: the
    /// method's default).
    pub pref_alpha: Option<f64>,
    /// An adapter (PEFT folder) the run starts from instead of a fresh one: an SFT adapter
    /// for a preference run, whose LoRA settings the run takes.
    pub start_adapter: Option<PathBuf>,
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
            method: TrainMethod::Sft,
            pref_beta: None,
            pref_gamma: None,
            pref_alpha: None,
            start_adapter: None,
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
    /// The first training example, masked and trained text told apart (for pairs: the first
    /// pair's chosen answer).
    pub preview: Option<Preview>,
    /// Whether the records are preference pairs (then "examples" count pairs).
    #[serde(default)]
    pub pairs: bool,
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
    /// A preference run's rewards and log-probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceStats>,
}

/// Whether the chosen answers' log-probability fell at each of the last three points of
/// `series` (held-out validations): SimPO and DPO can widen the margin by pushing both
/// answers down, which the likelihood term (α) is there to prevent.
pub fn chosen_keeps_falling(series: &[f64]) -> bool {
    series.len() >= 4 && series[series.len() - 4..].windows(2).all(|w| w[1] < w[0])
}

/// How a preference run stands on a set of pairs (a step's pairs, or the held-out ones).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PreferenceStats {
    /// Share of the pairs whose chosen answer is rewarded above the rejected one.
    pub reward_accuracy: f64,
    /// Mean reward of the chosen answer minus that of the rejected one.
    pub margin: f64,
    /// Mean per-token log-probability of the chosen answers.
    pub chosen_logp: f64,
    /// Mean per-token log-probability of the rejected answers.
    pub rejected_logp: f64,
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
    /// Pairs built from reviewed runs: each with its reason, and the cases that gave none.
    #[serde(default)]
    pub review_pairs: Option<ReviewPairsPreview>,
}

/// One preference pair built from a case's reviewed runs, as the pair builder lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairPreview {
    /// The case.
    pub case_id: i64,
    /// The chosen run.
    pub chosen_run: i64,
    /// The rejected run.
    pub rejected_run: i64,
    /// Why, in words.
    pub reason: String,
}

/// A case with reviewed runs that gave no pair, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseWithoutPairs {
    /// The case.
    pub case_id: i64,
    /// Why, in words.
    pub reason: String,
}

/// What the pair builder found in the reviews.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewPairsPreview {
    /// Every pair with the reason it was made.
    pub pairs: Vec<PairPreview>,
    /// Every case that gave none.
    pub without: Vec<CaseWithoutPairs>,
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
        /// Its settings (boxed: the other variant is an id).
        choices: Box<TrainChoices>,
    },
    /// Continue a paused, interrupted or failed run from its last checkpoint.
    Resume {
        /// The run.
        id: i64,
    },
}
