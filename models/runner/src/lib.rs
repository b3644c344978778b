//! Reasoning runs of Citrus Workstation: a case or an exam item reasoned on by the engine in
//! free or guided mode ([`run`], [`guided`]), and evaluation on local benchmarks
//! ([`evaluation`]). [`RunError`] is a model error or an unusable input.
//!
//! The top of the model crates, on `citrus-engine`, `citrus-formats` and `citrus-reasoning`;
//! the app's store, job runner and window sit above it and are never imported here.

pub mod engine;
pub mod error;
pub mod evaluation;
pub mod guided;
pub mod run;

pub use error::{Result, RunError};
