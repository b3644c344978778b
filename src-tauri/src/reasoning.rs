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
use crate::store::{AuditEvent, NewRun, RunRecorder, Store, StoreError};
use crate::vocabulary::{code_free_run, diagnosis_vocabulary, Vocabulary};
use citrus_types::protection::AuditAction;

/// The case as it is sent to `origin`: de-identified when it goes to a remote engine added
/// with de-identification on (recorded in the audit trail for a stored case), else as typed.
pub fn outgoing_input(
    store: &Store,
    origin: &EngineOrigin,
    case_id: Option<i64>,
    input: &CaseInput,
) -> AppResult<CaseInput> {
    let EngineOrigin::Remote { engine, .. } = origin else {
        return Ok(input.clone());
    };
    if !store.engine(engine)?.deidentify {
        return Ok(input.clone());
    }
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        what: "case",
        detail: e.to_string(),
    };
    let mut values = vec![serde_json::to_value(input).map_err(corrupt)?];
    let hits = crate::deid::deidentify_values(&mut values, &Default::default());
    let outgoing = serde_json::from_value(values.remove(0)).map_err(corrupt)?;
    if let Some(id) = case_id {
        store.audit(
            AuditEvent::new(AuditAction::CaseDeidentified, [id]).detail(format!(
                "{} identifier(s) replaced before the case was sent to engine {engine}",
                hits.len()
            )),
        )?;
    }
    Ok(outgoing)
}

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
        vocabulary: None,
    }
}

/// `options` ready to run: a guided run gets the vocabulary its diagnoses are named from (the
/// installed ICD-10-CM; not part of the settings a run or an evaluation stores).
///
/// # Errors
///
/// [`AppError::VocabularyMissing`] for a guided run when the vocabulary is not installed.
pub fn with_vocabulary(options: &ReasonOptions) -> AppResult<ReasonOptions> {
    let mut options = options.clone();
    if options.mode == ReasoningMode::Guided && options.vocabulary.is_none() {
        options.vocabulary = Some(diagnosis_vocabulary()?);
    }
    Ok(options)
}

/// `report` with its diagnoses coded: a guided run's are already; a free run's are mapped to
/// the installed ICD-10-CM (left uncoded when it is not installed).
pub fn with_codes(mut report: ReasoningReport) -> ReasoningReport {
    if report.mode == ReasoningMode::Free && report.coded.is_empty() {
        if let Ok(vocabulary) = Vocabulary::open_installed() {
            report.coded = code_free_run(&vocabulary, &report);
        }
    }
    report
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
    let options = &with_vocabulary(options)?;
    let origin = engine.origin();
    let outgoing = outgoing_input(store, &origin, Some(case_id), input)?;
    let mut recorder = RunRecorder::start(store, &new_run(origin, case_id, options))?;
    on_started(recorder.run_id());
    let outcome = reason(engine, &outgoing, options, cancel, &mut |event| {
        recorder.record(&event);
        on_event(&event);
    })
    .map(with_codes)
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
