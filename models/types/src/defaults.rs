//! Every default that shows in more than one place — the window's forms, the CLI's flags, the
//! engine and the trainer — defined once. Training defaults are
//! [`crate::training::TrainChoices::default`]; reasoning runs start from
//! [`crate::run::RunSettings::default`], which reads these.

/// Sampling temperature (Citrus' evaluation setting).
pub const TEMPERATURE: f32 = 0.7;
/// Nucleus sampling threshold (Citrus' evaluation setting).
pub const TOP_P: f32 = 0.95;
/// The random seed of sampling, samples, shuffles and data splits.
pub const SEED: u64 = 42;
/// The repetition penalty reasoning runs and `citrus generate` apply (small models loop
/// without it; 1 is off).
pub const REPETITION_PENALTY: f32 = 1.1;
/// Most new tokens of a reasoning run (Citrus thinks at length; its authors allowed 4096).
pub const REASONING_MAX_NEW_TOKENS: usize = 1024;
/// Most new tokens of `citrus generate`.
pub const GENERATE_MAX_NEW_TOKENS: usize = 512;
/// Most new tokens per evaluation item in generation mode.
pub const EVAL_MAX_NEW_TOKENS: usize = 1024;
/// Temperature of evaluation in generation mode (greedy: repeatable scores).
pub const EVAL_TEMPERATURE: f32 = 0.0;
/// The port of the local OpenAI-compatible API (`citrus serve` and the window's switch).
pub const SERVE_PORT: u16 = 8391;
