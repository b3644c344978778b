//! Reasoning on a stored case with its run written to the store while it streams: the one
//! path both `citrus reason --save` and the window's job runner take.

use citrus_engine::generation::CancelToken;
use citrus_engine::sampling::SamplingParams;
use citrus_reasoning::CaseInput;
use citrus_runner::engine::{EngineOrigin, TextEngine};
use citrus_runner::run::{reason, ReasonEvent, ReasonOptions, ReasoningMode, ReasoningReport};
use citrus_types::defaults;
pub use citrus_types::run::RunSettings;

use crate::error::{AppError, AppResult};
use crate::store::{NewRun, RunRecorder, Store};

/// A run that was recorded, and how the reasoning ended.
#[derive(Debug)]
pub struct RecordedRun {
    /// The run's id in the store.
    pub run_id: i64,
    /// The report, or the error the reasoning failed with (the run is stored as failed).
    pub outcome: AppResult<ReasoningReport>,
}

/// The reasoning options `settings` give (with a mild repetition penalty, which
/// small models need to avoid loops).
pub fn reason_options(settings: &RunSettings) -> ReasonOptions {
    ReasonOptions {
        mode: settings.mode,
        max_new_tokens: settings.max_new_tokens,
        sampling: SamplingParams {
            temperature: settings.temperature,
            seed: settings.seed,
            repetition_penalty: defaults::REPETITION_PENALTY,
            ..SamplingParams::default()
        },
    }
}

/// The settings a run records, with the engine it runs on.
fn new_run(origin: EngineOrigin, case_id: i64, options: &ReasonOptions) -> NewRun {
    let (adapter, fingerprint) = match &origin {
        EngineOrigin::Local {
            adapter,
            fingerprint,
            ..
        } => (adapter.clone(), Some(fingerprint.clone())),
        EngineOrigin::Remote { .. } => (None, None),
    };
    NewRun {
        case_id,
        engine: origin.engine().to_string(),
        model_path: origin.location().to_string(),
        model_name: origin.model_name().to_string(),
        model_fingerprint: fingerprint,
        adapter,
        mode: match options.mode {
            ReasoningMode::Free => "free".into(),
            ReasoningMode::Guided => "guided".into(),
        },
        settings_json: serde_json::to_string(options).unwrap_or_default(),
    }
}

/// Reasons on the case `case_id` (whose content is `input`), recording the run as it streams.
/// `on_started` receives the new run's id before the model writes anything; `on_event` sees
/// every event after it is recorded.
///
/// # Errors
///
/// Store errors when the run cannot be started or finished. Errors of the reasoning itself
/// are in [`RecordedRun::outcome`] and the run is stored as failed.
pub fn reason_and_record(
    store: &Store,
    engine: &mut dyn TextEngine,
    (case_id, input): (i64, &CaseInput),
    options: &ReasonOptions,
    cancel: &CancelToken,
    on_started: &mut dyn FnMut(i64),
    on_event: &mut dyn FnMut(&ReasonEvent),
) -> AppResult<RecordedRun> {
    let mut recorder = RunRecorder::start(store, &new_run(engine.origin(), case_id, options))?;
    on_started(recorder.run_id());
    let outcome = reason(engine, input, options, cancel, &mut |event| {
        recorder.record(&event);
        on_event(&event);
    })
    .map_err(AppError::from);
    // A failed run keeps what it wrote, marked with the error and its code.
    let message = outcome
        .as_ref()
        .err()
        .map(|e| format!("{e} [{}]", e.code()));
    let run_id = recorder.finish(match &outcome {
        Ok(report) => Ok(report),
        Err(_) => Err(message.as_deref().unwrap_or_default()),
    })?;
    Ok(RecordedRun { run_id, outcome })
}
