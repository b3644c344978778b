//! Evaluation on local benchmarks: the statistics reported ([`stats`]).

pub mod stats;
