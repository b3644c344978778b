//! Evaluation types, as the window reads them.

use serde::Deserialize;

use super::Step;

/// What a benchmark file holds.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct BenchmarkInfo {
    pub path: String,
    pub items: usize,
    pub unusable: Vec<String>,
    pub exams: Vec<(String, usize)>,
    pub options: (usize, usize),
}

/// One recorded evaluation.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct EvalRunSummary {
    pub id: i64,
    pub bench_path: String,
    pub model_name: String,
    pub adapter: Option<String>,
    pub mode: String,
    pub settings_json: String,
    pub planned: usize,
    pub done: usize,
    pub correct: usize,
    pub status: String,
    pub error: Option<String>,
    pub started_at: String,
}

impl EvalRunSummary {
    /// The benchmark's file name.
    pub fn bench_name(&self) -> &str {
        self.bench_path
            .rsplit('/')
            .next()
            .unwrap_or(&self.bench_path)
    }

    /// The model, with its adapter when one was attached.
    pub fn model_label(&self) -> String {
        match &self.adapter {
            Some(adapter) => format!(
                "{} + {}",
                self.model_name,
                adapter.rsplit('/').next().unwrap_or(adapter)
            ),
            None => self.model_name.clone(),
        }
    }

    /// Whether it can be continued (stopped, interrupted or failed before its end).
    pub fn can_continue(&self) -> bool {
        matches!(self.status.as_str(), "cancelled" | "interrupted" | "failed")
    }
}

/// A proportion with its 95% Wilson interval.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Proportion {
    pub successes: usize,
    pub n: usize,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// The numbers of one group of items (all, or one exam).
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct GroupSummary {
    pub name: String,
    pub n: usize,
    pub accuracy: Proportion,
    pub unmatched: Proportion,
    pub chance: f64,
    pub majority_key: f64,
    pub majority_letter: Option<String>,
    pub mean_tokens: f64,
    pub mean_seconds: f64,
}

/// All items, then each exam.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct EvalSummary {
    pub overall: GroupSummary,
    pub exams: Vec<GroupSummary>,
}

/// One item's result.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ItemRecord {
    pub position: usize,
    pub item_id: Option<String>,
    pub exam_name: Option<String>,
    pub options: usize,
    pub key: String,
    pub predicted: Option<String>,
    pub outcome: String,
    pub tokens: usize,
    pub seconds: f64,
}

/// A run with its numbers and items.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct EvalReport {
    pub run: EvalRunSummary,
    pub summary: EvalSummary,
    pub items: Vec<ItemRecord>,
}

/// Each option's log-probability (likelihood mode).
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct OptionScores {
    pub letters: Vec<String>,
    pub scores: Vec<f32>,
    pub best: usize,
}

/// One item opened: prompt, text, steps, scores.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct EvalItemDetail {
    pub record: ItemRecord,
    pub unmatched_reason: Option<String>,
    pub prompt: String,
    pub raw_text: String,
    pub steps: Vec<Step>,
    pub scores: Option<OptionScores>,
}

/// Two runs compared item by item.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct PairedComparison {
    pub both_right: usize,
    pub only_first: usize,
    pub only_second: usize,
    pub both_wrong: usize,
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    pub p_value: f64,
}

/// A comparison on the items two runs share.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Comparison {
    pub a: i64,
    pub b: i64,
    pub common: usize,
    pub paired: PairedComparison,
}

/// One adapter in the library.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct AdapterEntry {
    pub name: String,
    pub path: String,
    pub error: Option<String>,
}
