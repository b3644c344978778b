//! Evaluations: item outcomes, the report's numbers, option scores, recorded runs and their
//! comparison.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::run::ReasoningMode;

use crate::run::Step;
use crate::RunStatus;

/// The outcome of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The keyed option.
    Correct,
    /// Another option.
    Wrong,
    /// No single option could be read from the answer.
    Unmatched,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Correct => "correct",
            Self::Wrong => "wrong",
            Self::Unmatched => "unmatched",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "correct" => Some(Self::Correct),
            "wrong" => Some(Self::Wrong),
            "unmatched" => Some(Self::Unmatched),
            _ => None,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the report needs of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Its position in the run.
    pub position: usize,
    /// Its identifier in the benchmark.
    pub item_id: Option<String>,
    /// Its benchmark.
    pub exam_name: Option<String>,
    /// How many options it had.
    pub options: usize,
    /// The keyed letter (after any shuffle).
    pub key: String,
    /// The option chosen.
    pub predicted: Option<String>,
    /// Correct, wrong or unmatched.
    pub outcome: Outcome,
    /// Tokens generated or fed.
    pub tokens: usize,
    /// Seconds.
    pub seconds: f64,
}

/// A proportion with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Successes.
    pub successes: usize,
    /// Trials.
    pub n: usize,
    /// successes / n (0 when n is 0).
    pub value: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

/// The numbers for one group of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// `all` or the exam's name.
    pub name: String,
    /// Items.
    pub n: usize,
    /// Correct out of n, with its 95% Wilson interval.
    pub accuracy: Proportion,
    /// Unmatched out of n.
    pub unmatched: Proportion,
    /// The accuracy of guessing (mean 1/k).
    pub chance: f64,
    /// The accuracy of always answering the most frequent key.
    pub majority_key: f64,
    /// That key.
    pub majority_letter: Option<String>,
    /// Mean tokens per item.
    pub mean_tokens: f64,
    /// Mean seconds per item.
    pub mean_seconds: f64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Every item.
    pub overall: GroupSummary,
    /// Per exam, by name (only when the run mixes several).
    pub exams: Vec<GroupSummary>,
}

/// Two runs compared item by item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Items both got right.
    pub both_right: usize,
    /// Items only the first got right.
    pub only_first: usize,
    /// Items only the second got right.
    pub only_second: usize,
    /// Items both got wrong (unmatched counts as wrong).
    pub both_wrong: usize,
    /// Accuracy of the first minus accuracy of the second.
    pub difference: f64,
    /// The difference's 95% interval, lower end (Newcombe's method 10).
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Exact McNemar p-value.
    pub p_value: f64,
}

/// Each option's score and the best one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionScores {
    /// The options' letters, in the item's order.
    pub letters: Vec<String>,
    /// Their log-probabilities (per token for option texts). Minus infinity (`null` in JSON)
    /// for an option that could not be scored: a remote server's letter outside its most
    /// likely alternatives.
    #[serde(deserialize_with = "scores_or_minus_infinity")]
    pub scores: Vec<f32>,
    /// The index of the highest score.
    pub best: usize,
    /// Tokens fed to the model.
    pub tokens: usize,
}

/// Reads scores, `null` (how JSON writes minus infinity) as minus infinity.
fn scores_or_minus_infinity<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<f32>, D::Error> {
    let scores: Vec<Option<f32>> = Deserialize::deserialize(deserializer)?;
    Ok(scores
        .into_iter()
        .map(|s| s.unwrap_or(f32::NEG_INFINITY))
        .collect())
}

impl OptionScores {
    /// The scores of options `letters` (in order), the best chosen; `tokens` fed to score them.
    pub fn new(letters: Vec<String>, scores: Vec<f32>, tokens: usize) -> Self {
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        Self {
            letters,
            scores,
            best,
            tokens,
        }
    }

    /// The letter of the highest score.
    pub fn best_letter(&self) -> &str {
        &self.letters[self.best]
    }
}

/// What identifies a new evaluation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvalRun {
    /// The benchmark file.
    pub bench_path: String,
    /// Its content hash (a resume refuses a changed file).
    pub bench_hash: String,
    /// The engine: `local`, or a remote engine's name (whose URL is then the model path).
    #[serde(default = "crate::run::local_engine")]
    pub engine: String,
    /// The model file or folder, or the server's URL.
    pub model_path: String,
    /// The model's name.
    pub model_name: String,
    /// The adapter, if any.
    pub adapter: Option<String>,
    /// `generate` or `likelihood`.
    pub mode: String,
    /// Everything needed to plan and run it again, as JSON.
    pub settings_json: String,
    /// How many items it runs.
    pub planned: usize,
}

/// An evaluation run with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRunSummary {
    /// Its id.
    pub id: i64,
    /// What it runs.
    #[serde(flatten)]
    pub spec: NewEvalRun,
    /// Items done.
    pub done: usize,
    /// Items correct.
    pub correct: usize,
    /// Where it stands.
    pub status: RunStatus,
    /// The error of a failed run.
    pub error: Option<String>,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
}

/// A run with its report and items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The run.
    pub run: EvalRunSummary,
    /// Its numbers.
    pub summary: EvalSummary,
    /// Its items.
    pub items: Vec<ItemRecord>,
}

/// What a benchmark file holds, shown before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkInfo {
    /// The file.
    pub path: PathBuf,
    /// Usable items.
    pub items: usize,
    /// Unusable lines, each with its line and reason.
    pub unusable: Vec<String>,
    /// Items per exam, in order of first appearance.
    pub exams: Vec<(String, usize)>,
    /// The fewest and most options an item has.
    pub options: (usize, usize),
}

/// Two runs compared on the items both ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The first run.
    pub a: i64,
    /// The second run.
    pub b: i64,
    /// Items both ran.
    pub common: usize,
    /// The paired difference (first minus second), its interval and McNemar's p.
    pub paired: PairedComparison,
}

impl EvalRunSummary {
    /// The benchmark's file name.
    pub fn bench_name(&self) -> &str {
        file_name(&self.spec.bench_path)
    }

    /// The model, with its adapter's name when one was attached.
    pub fn model_label(&self) -> String {
        match &self.spec.adapter {
            Some(adapter) => format!("{} + {}", self.spec.model_name, file_name(adapter)),
            None => self.spec.model_name.clone(),
        }
    }

    /// Whether it can be continued (stopped, interrupted or failed before its end).
    pub fn can_continue(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Cancelled | RunStatus::Interrupted | RunStatus::Failed
        )
    }
}

/// The last part of a path (the whole text when it has no separator).
fn file_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// One item of a run as the window opens it: its record, prompt and text, with its steps and
/// option scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalItemDetail {
    /// Its numbers for the report.
    pub record: ItemRecord,
    /// Its index among the benchmark file's usable items.
    pub source: usize,
    /// Why no option was read (unmatched).
    pub unmatched_reason: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// The model's text.
    pub raw_text: String,
    /// Its reasoning steps (generation).
    pub steps: Vec<Step>,
    /// Its option scores (likelihood).
    pub scores: Option<OptionScores>,
}

/// How items are chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Selection {
    /// Only the first N items (after sampling).
    pub limit: Option<usize>,
    /// A random sample of N items, drawn with `seed`, kept in file order.
    pub sample: Option<usize>,
    /// Shuffle each item's options (seeded by `seed` and the item's position in the file).
    pub shuffle_options: bool,
    /// The seed of the sample and the shuffles.
    pub seed: u64,
}

/// How items are scored, as a user chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// The model reasons and its answer is matched to an option.
    Generate,
    /// Each option is scored by its log-probability; no generation.
    Likelihood,
}

/// What a user chooses for an evaluation (the CLI's flags, the window's form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalChoices {
    /// Generation or likelihood.
    pub scoring: Scoring,
    /// Generation: the free Citrus prompt or the guided pathway.
    pub reasoning: ReasoningMode,
    /// Likelihood: score the option texts (per token) instead of their letters.
    pub score_text: bool,
    /// Generation: most tokens per item.
    pub max_new_tokens: usize,
    /// Generation: temperature (0 = greedy).
    pub temperature: f32,
    /// Which items, and whether their options are shuffled; its seed also seeds sampling.
    pub selection: Selection,
}

/// What an evaluation job runs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvalRequest {
    /// A new evaluation.
    New {
        /// The benchmark file.
        bench_path: PathBuf,
        /// The imported model (None: the active one).
        model_id: Option<i64>,
        /// An adapter: a name from the library, a PEFT folder or a GGUF LoRA file.
        adapter: Option<String>,
        /// Scoring mode, generation settings, subset.
        choices: EvalChoices,
        /// A remote engine to run on instead of a local model (None: local).
        #[serde(default)]
        engine: Option<String>,
    },
    /// Continue a stopped or interrupted evaluation with its own model, adapter and settings.
    Resume {
        /// The evaluation.
        id: i64,
    },
}

/// How often one model, adapter, engine and mode put the confirmed diagnosis of the hospital's
/// reviewed cases in its differential: the confirmed code's ICD-10-CM category first, in the
/// first three, or anywhere (each with its 95% Wilson interval). Each case counts once per group,
/// with that group's latest finished run on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewedAccuracy {
    /// `local` or a remote engine's name.
    pub engine: String,
    /// The model's name.
    pub model_name: String,
    /// The adapter, if any.
    pub adapter: Option<String>,
    /// `free` or `guided`.
    pub mode: String,
    /// The confirmed category first in the differential.
    pub first: Proportion,
    /// In the first three.
    pub top3: Proportion,
    /// Anywhere in it.
    pub anywhere: Proportion,
}
