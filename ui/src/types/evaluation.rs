//! Evaluation types: the shared definitions, plus the adapter summary the form lists.

use serde::Deserialize;

pub use citrus_types::evaluation::{
    BenchmarkInfo, Comparison, EvalItemDetail, EvalReport, EvalRunSummary, GroupSummary,
    ItemRecord, OptionScores,
};

/// One adapter in the library.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct AdapterEntry {
    pub name: String,
    pub path: String,
    pub error: Option<String>,
}
