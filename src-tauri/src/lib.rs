//! Citrus Workstation's shell: the case store, the model library, the job runner, the
//! headless `citrus` command line and (with the `desktop` feature) the window's commands.

#[cfg(feature = "desktop")]
pub mod adapters;
pub mod app;
pub mod cli;
pub mod completion;
pub mod deid;
pub mod engine;
pub mod engines;
pub mod error;
pub mod evaluations;
pub mod library;
pub mod reasoning;
pub mod review_pairs;
pub mod reviewed_accuracy;
pub mod server;
pub mod store;
pub mod training;
pub mod vocabulary;
