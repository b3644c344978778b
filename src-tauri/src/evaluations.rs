//! Evaluations on benchmark files, recorded in the case store as they go: the functions the
//! CLI (`citrus eval`) and the window share. Each item is written when it finishes, so a run
//! stopped, cancelled or killed continues where it stopped without repeating or losing items.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use citrus_engine::generation::CancelToken;
use citrus_formats::identity::sha256_hex;
use citrus_reasoning::{read_benchmark_jsonl, ExamItem};
use citrus_runner::engine::{EngineOrigin, TextEngine};
use citrus_runner::evaluation::item::{evaluate_item, EvalMode, Outcome};
use citrus_runner::evaluation::likelihood::ScoredContinuation;
use citrus_runner::evaluation::plan::plan;
use citrus_runner::evaluation::report::{summarize, to_csv, to_markdown, ItemRecord};
use citrus_runner::evaluation::stats::paired;
use serde::{Deserialize, Serialize};

pub use citrus_types::evaluation::{BenchmarkInfo, Comparison, EvalItemDetail, EvalReport};

use crate::error::{AppError, AppResult};
use crate::reasoning::{reason_options, with_vocabulary};
use crate::store::{EvalRunSummary, NewEvalRun, RunStatus, Store, StoredEvalItem};
pub use citrus_types::evaluation::{EvalChoices, EvalRequest, Scoring, Selection};
pub use citrus_types::job::EvalProgress;
use citrus_types::run::RunSettings;

/// Everything that decides which items run and how (stored with the run, so it can continue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Generation or likelihood, with their settings.
    pub mode: EvalMode,
    /// Limit, sample, option shuffling, seed.
    pub selection: Selection,
}

/// The settings an evaluation with `choices` runs with.
pub fn eval_settings(choices: &EvalChoices) -> EvalSettings {
    let mode = match choices.scoring {
        Scoring::Generate => EvalMode::Generate {
            options: reason_options(&RunSettings {
                mode: choices.reasoning,
                max_new_tokens: choices.max_new_tokens,
                temperature: choices.temperature,
                seed: choices.selection.seed,
                engine: None,
            }),
        },
        Scoring::Likelihood => EvalMode::Likelihood {
            continuation: if choices.score_text {
                ScoredContinuation::Text
            } else {
                ScoredContinuation::Letter
            },
        },
    };
    EvalSettings {
        mode,
        selection: choices.selection.clone(),
    }
}

/// A benchmark file read for evaluation.
#[derive(Debug, Clone)]
pub struct Benchmark {
    /// The file.
    pub path: PathBuf,
    /// Its content hash.
    pub hash: String,
    /// The usable items, in file order.
    pub items: Vec<ExamItem>,
    /// The unusable lines, each as `line N: reason`.
    pub unusable: Vec<String>,
}

/// Reads a benchmark file: items that cannot be scored (broken JSON, no options, a key that is
/// not an option, no key at all, one option only) are listed with their line and reason.
pub fn read_benchmark(path: &Path) -> AppResult<Benchmark> {
    let bytes = std::fs::read(path).map_err(|e| AppError::io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut items = Vec::new();
    let mut unusable = Vec::new();
    for (index, result) in read_benchmark_jsonl(&text).into_iter().enumerate() {
        match result {
            Ok(item) if item.answer_key.is_none() => unusable.push(format!(
                "item {} ({}): no answer key `A`",
                index + 1,
                item.id.as_deref().unwrap_or("no id")
            )),
            Ok(item) if item.options.len() < 2 => unusable.push(format!(
                "item {} ({}): only one option",
                index + 1,
                item.id.as_deref().unwrap_or("no id")
            )),
            Ok(item) => items.push(item),
            Err(error) => unusable.push(error.to_string()),
        }
    }
    if items.is_empty() {
        let detail = unusable
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        return Err(AppError::NoUsableItems {
            path: path.to_path_buf(),
            detail: if detail.is_empty() {
                "the file is empty".into()
            } else {
                detail
            },
        });
    }
    Ok(Benchmark {
        path: path.to_path_buf(),
        hash: sha256_hex(&bytes),
        items,
        unusable,
    })
}

impl Benchmark {
    /// What the file holds.
    pub fn info(&self) -> BenchmarkInfo {
        let mut exams: Vec<(String, usize)> = Vec::new();
        for item in &self.items {
            let name = item.exam_name.as_deref().unwrap_or("(no exam name)");
            match exams.iter_mut().find(|(n, _)| n == name) {
                Some((_, count)) => *count += 1,
                None => exams.push((name.to_string(), 1)),
            }
        }
        let counts = self.items.iter().map(|i| i.options.len());
        BenchmarkInfo {
            path: self.path.clone(),
            items: self.items.len(),
            unusable: self.unusable.clone(),
            exams,
            options: (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0)),
        }
    }
}

/// Records a new evaluation on `engine` (a local model with its attached adapter, or a
/// server) on `bench`; returns its id.
pub fn start_evaluation(
    store: &Store,
    engine: &dyn TextEngine,
    bench: &Benchmark,
    settings: &EvalSettings,
) -> AppResult<i64> {
    let planned = plan(&bench.items, &settings.selection).len();
    let origin = engine.origin();
    let adapter = match &origin {
        EngineOrigin::Local { adapter, .. } => adapter.clone(),
        EngineOrigin::Remote { .. } => None,
    };
    Ok(store.start_eval_run(&NewEvalRun {
        bench_path: bench.path.display().to_string(),
        bench_hash: bench.hash.clone(),
        engine: origin.engine().to_string(),
        model_path: origin.location().to_string(),
        model_name: origin.model_name().to_string(),
        adapter,
        mode: settings.mode.name().into(),
        settings_json: serde_json::to_string(settings).unwrap_or_default(),
        planned,
    })?)
}

/// Takes over the unfinished run `id` to continue it: its settings, and its benchmark read
/// again (refused if the file changed since).
pub fn resume_evaluation(
    store: &Store,
    id: i64,
) -> AppResult<(EvalRunSummary, EvalSettings, Benchmark)> {
    let run = store.resume_eval_run(id)?;
    let settings: EvalSettings = serde_json::from_str(&run.spec.settings_json).map_err(|e| {
        AppError::EvalMismatch(format!("evaluation {id} has unreadable settings: {e}"))
    })?;
    let bench = read_benchmark(Path::new(&run.spec.bench_path))?;
    if bench.hash != run.spec.bench_hash {
        return Err(AppError::EvalMismatch(format!(
            "{} changed since evaluation {id} started: start a new evaluation",
            run.spec.bench_path
        )));
    }
    Ok((run, settings, bench))
}

/// `settings` ready to run: guided reasoning gets its diagnosis vocabulary.
fn ready_to_run(settings: &EvalSettings) -> AppResult<EvalSettings> {
    let mut settings = settings.clone();
    if let EvalMode::Generate { options } = &mut settings.mode {
        *options = with_vocabulary(options)?;
    }
    Ok(settings)
}

/// Runs the items of run `id` not yet recorded, recording each as it finishes; ends the run
/// done, cancelled (by `cancel`; continue it later) or failed.
pub fn run_evaluation(
    store: &Store,
    engine: &mut dyn TextEngine,
    id: i64,
    bench: &Benchmark,
    settings: &EvalSettings,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(&EvalProgress),
) -> AppResult<RunStatus> {
    let settings = &ready_to_run(settings)?;
    let planned = plan(&bench.items, &settings.selection);
    let recorded = store.eval_items(id)?;
    let done: HashSet<usize> = recorded.iter().map(|i| i.record.position).collect();
    let mut correct = count(&recorded, Outcome::Correct);
    let mut unmatched = count(&recorded, Outcome::Unmatched);
    let mut finished = done.len();
    for (position, planned_item) in planned.iter().enumerate() {
        if done.contains(&position) {
            continue;
        }
        if cancel.is_cancelled() {
            store.finish_eval_run(id, RunStatus::Cancelled, None)?;
            return Ok(RunStatus::Cancelled);
        }
        let item = &planned_item.item;
        let result = match evaluate_item(engine, item, &settings.mode, cancel, &mut |_| {}) {
            Ok(Some(result)) => result,
            Ok(None) => {
                store.finish_eval_run(id, RunStatus::Cancelled, None)?;
                return Ok(RunStatus::Cancelled);
            }
            Err(error) => {
                store.finish_eval_run(id, RunStatus::Failed, Some(&error.to_string()))?;
                return Err(error.into());
            }
        };
        let record = ItemRecord {
            position,
            item_id: item.id.clone(),
            exam_name: item.exam_name.clone(),
            options: item.options.len(),
            key: item.answer_key.clone().unwrap_or_default(),
            predicted: result.predicted.clone(),
            outcome: result.outcome,
            tokens: result.tokens,
            seconds: result.seconds,
        };
        store.record_eval_item(
            id,
            &StoredEvalItem {
                record: record.clone(),
                source: planned_item.source,
                unmatched_reason: result.unmatched_reason,
                prompt: result.prompt,
                raw_text: result.raw_text,
                steps_json: serde_json::to_string(&result.steps).unwrap_or_default(),
                scores_json: result
                    .scores
                    .as_ref()
                    .map(|s| serde_json::to_string(s).unwrap_or_default()),
            },
        )?;
        finished += 1;
        match record.outcome {
            Outcome::Correct => correct += 1,
            Outcome::Unmatched => unmatched += 1,
            Outcome::Wrong => {}
        }
        on_progress(&EvalProgress {
            done: finished,
            total: planned.len(),
            correct,
            unmatched,
            last: record,
        });
    }
    store.finish_eval_run(id, RunStatus::Done, None)?;
    Ok(RunStatus::Done)
}

fn count(items: &[StoredEvalItem], outcome: Outcome) -> usize {
    items.iter().filter(|i| i.record.outcome == outcome).count()
}

/// The report of run `id` (over the items done so far).
pub fn evaluation_report(store: &Store, id: i64) -> AppResult<EvalReport> {
    let run = store.eval_run(id)?;
    let items: Vec<ItemRecord> = store
        .eval_items(id)?
        .into_iter()
        .map(|i| i.record)
        .collect();
    Ok(EvalReport {
        summary: summarize(&items),
        run,
        items,
    })
}

/// The item at `position` of run `id`.
pub fn evaluation_item(store: &Store, id: i64, position: usize) -> AppResult<EvalItemDetail> {
    let item = store.eval_item(id, position)?;
    Ok(EvalItemDetail {
        steps: serde_json::from_str(&item.steps_json).unwrap_or_default(),
        scores: item
            .scores_json
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        record: item.record,
        source: item.source,
        unmatched_reason: item.unmatched_reason,
        prompt: item.prompt,
        raw_text: item.raw_text,
    })
}

/// Writes `report` to `path`: one row per item for `.csv`, everything for `.json`, the
/// summary tables for anything else (Markdown).
pub fn write_report(report: &EvalReport, path: &Path) -> AppResult<()> {
    let title = format!(
        "Evaluation {}: {} on {}",
        report.run.id, report.run.spec.model_name, report.run.spec.bench_path
    );
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => to_csv(&report.items),
        Some("json") => serde_json::to_string_pretty(report).unwrap_or_default(),
        _ => to_markdown(&title, &report.summary),
    };
    std::fs::write(path, text).map_err(|e| AppError::io(path, e))
}

/// Compares runs `a` and `b` on the items both ran (same benchmark file, matched by item).
pub fn compare_evaluations(store: &Store, a: i64, b: i64) -> AppResult<Comparison> {
    let (run_a, run_b) = (store.eval_run(a)?, store.eval_run(b)?);
    if run_a.spec.bench_hash != run_b.spec.bench_hash {
        return Err(AppError::EvalMismatch(format!(
            "evaluations {a} and {b} ran different benchmark files ({} and {})",
            run_a.spec.bench_path, run_b.spec.bench_path
        )));
    }
    let items_b: std::collections::HashMap<usize, bool> = store
        .eval_items(b)?
        .into_iter()
        .map(|i| (i.source, i.record.outcome == Outcome::Correct))
        .collect();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for item in store.eval_items(a)? {
        if let Some(&right) = items_b.get(&item.source) {
            first.push(item.record.outcome == Outcome::Correct);
            second.push(right);
        }
    }
    if first.is_empty() {
        return Err(AppError::EvalMismatch(format!(
            "evaluations {a} and {b} have no item in common"
        )));
    }
    Ok(Comparison {
        a,
        b,
        common: first.len(),
        paired: paired(&first, &second),
    })
}
