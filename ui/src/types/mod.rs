//! The shell's data types, as the window reads them: the shared definitions of `citrus-types`
//! (the very structs the shell serializes), plus the shapes only the window has.

pub use citrus_types::adapter::AdapterListing;
pub use citrus_types::case::CaseInput;
pub use citrus_types::case::CaseSummary;
pub use citrus_types::evaluation::{
    BenchmarkInfo, Comparison, EvalItemDetail, EvalReport, EvalRunSummary, GroupSummary,
    ItemRecord, OptionScores,
};
pub use citrus_types::model::{EngineSettings, EngineStatus, ListedModel, ModelShape};
pub use citrus_types::review::{QueuedReview, Review, StepReview, Verdict};
pub use citrus_types::run::{
    answer_in_differential, marked_segments, CaseQuote, DifferentialEntry, RunRecord, RunSummary,
    Step,
};
pub use citrus_types::training::{
    DatasetCheck, DatasetReport, PointKind, Preflight, TrainChoices, TrainPoint, TrainRunRecord,
    TrainRunSummary,
};
pub use citrus_types::RunStatus;

/// What inspecting a model reports, with the configuration read as its common shape.
pub type Inspection = citrus_types::model::Inspection<ModelShape>;
