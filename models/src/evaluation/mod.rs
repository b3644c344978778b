//! Evaluation on local benchmarks: scoring options by likelihood ([`likelihood`]) and the
//! statistics reported ([`stats`]).

pub mod likelihood;
pub mod stats;
