//! Citrus Workstation's shell: the headless `citrus` command line over the model core.

pub mod cli;
pub mod error;
pub mod store;
