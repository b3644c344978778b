//! Evaluation on local benchmarks: which items run and how ([`plan`]), one item in either
//! scoring mode ([`item`], [`likelihood`]), the statistics ([`stats`]) and the report
//! ([`report`]). The app's store and the CLI drive these; nothing here knows about them.

pub mod item;
pub mod likelihood;
pub mod plan;
pub mod report;
pub mod stats;
