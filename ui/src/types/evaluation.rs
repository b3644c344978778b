//! Evaluation types: the shared definitions, plus the two shapes whose parts are not shared
//! yet (reasoning steps, adapter summaries).

use serde::Deserialize;

pub use citrus_types::evaluation::{
    BenchmarkInfo, Comparison, EvalReport, EvalRunSummary, GroupSummary, ItemRecord, OptionScores,
};
pub use citrus_types::RunStatus;

use super::Step;

/// One item opened: prompt, text, steps, scores.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct EvalItemDetail {
    pub record: ItemRecord,
    pub unmatched_reason: Option<String>,
    pub prompt: String,
    pub raw_text: String,
    pub steps: Vec<Step>,
    pub scores: Option<OptionScores>,
}

/// One adapter in the library.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct AdapterEntry {
    pub name: String,
    pub path: String,
    pub error: Option<String>,
}
