//! Runs: one reasoning of the model on a case, written while it streams.

use std::time::{Duration, Instant};

use citrus_host::owner::Owner;
use citrus_reasoning::{Stage, Step};
use citrus_runner::guided::GuidedEvent;
use citrus_runner::run::{ReasonEvent, ReasoningReport};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{now, AuditEvent, Store, StoreError, StoreResult};
use citrus_types::protection::AuditAction;

pub use citrus_types::run::{RunRecord, RunSummary};
pub use citrus_types::RunStatus;

/// A stored status read back (an unknown name means the file was changed by hand).
pub(super) fn parse_status(text: &str) -> StoreResult<RunStatus> {
    RunStatus::parse(text).ok_or_else(|| StoreError::Corrupt {
        what: "run status",
        detail: text.to_string(),
    })
}

/// What identifies a new run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRun {
    /// The case reasoned on.
    pub case_id: i64,
    /// The engine (`local`, or a remote engine's name).
    pub engine: String,
    /// The model file or folder, or the server's URL.
    pub model_path: String,
    /// The model's name (its id on a server).
    pub model_name: String,
    /// The local model file's fingerprint.
    pub model_fingerprint: Option<String>,
    /// The LoRA adapter applied, if any.
    pub adapter: Option<String>,
    /// `free` or `guided`.
    pub mode: String,
    /// Sampling and other settings, as JSON.
    pub settings_json: String,
}

/// Takes over run `id` of `table` (`eval_runs`, `train_runs`) for this process to continue it:
/// refused while another live process runs it, or once it is done. `what` names it in errors.
pub(super) fn take_over(
    conn: &Connection,
    table: &str,
    id: i64,
    status: RunStatus,
    what: &str,
) -> StoreResult<()> {
    let (pid, start): (Option<u32>, Option<String>) = conn.query_row(
        &format!("SELECT owner_pid, owner_start FROM {table} WHERE id = ?1"),
        [id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let owner = pid.map(|pid| Owner {
        pid,
        start: start.unwrap_or_default(),
    });
    let me = Owner::current();
    if status == RunStatus::Running
        && owner
            .as_ref()
            .is_some_and(|owner| *owner != me && owner.is_alive())
    {
        return Err(StoreError::Busy {
            what: what.to_string(),
            pid: owner.map_or(0, |o| o.pid),
        });
    }
    if status == RunStatus::Done {
        return Err(StoreError::Finished {
            what: what.to_string(),
        });
    }
    conn.execute(
        &format!(
            "UPDATE {table} SET status = 'running', error = NULL, finished_at = NULL,
                                owner_pid = ?2, owner_start = ?3 WHERE id = ?1"
        ),
        params![id, me.pid, me.start],
    )?;
    Ok(())
}

/// Ends run `id` of `table` (`eval_runs`, `train_runs`) with `status` and its error, if any.
pub(super) fn finish(
    conn: &Connection,
    table: &str,
    id: i64,
    status: RunStatus,
    error: Option<&str>,
) -> StoreResult<()> {
    conn.execute(
        &format!("UPDATE {table} SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1"),
        params![id, status.as_str(), error, now()],
    )?;
    Ok(())
}

/// Marks work left `running` (reasoning and evaluation runs) by a process that is gone as
/// interrupted; returns how many. Work whose owner still runs (another terminal, another
/// window) is left alone.
pub(super) fn mark_interrupted(conn: &Connection) -> StoreResult<usize> {
    let mut marked = 0;
    for table in ["runs", "eval_runs", "train_runs"] {
        let mut query = conn.prepare(&format!(
            "SELECT id, owner_pid, owner_start FROM {table} WHERE status = 'running'"
        ))?;
        let running: Vec<(i64, Option<u32>, Option<String>)> = query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (id, pid, start) in running {
            let owner = pid.map(|pid| Owner {
                pid,
                start: start.unwrap_or_default(),
            });
            if owner.is_some_and(|owner| owner.is_alive()) {
                continue;
            }
            marked += conn.execute(
                &format!(
                    "UPDATE {table} SET status = 'interrupted', finished_at = ?2 WHERE id = ?1 AND status = 'running'"
                ),
                params![id, now()],
            )?;
        }
    }
    Ok(marked)
}

fn parse_stage(name: &str) -> StoreResult<Stage> {
    Stage::parse(name).ok_or_else(|| StoreError::Corrupt {
        what: "step stage",
        detail: name.to_string(),
    })
}

const SUMMARY_COLUMNS: &str =
    "id, case_id, model_name, mode, status, answer, generated_tokens, started_at, adapter, engine";
/// How many columns [`SUMMARY_COLUMNS`] names: a query's further columns come after them.
const SUMMARY_WIDTH: usize = 10;

fn read_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<(RunSummary, String)> {
    let status: String = row.get(4)?;
    Ok((
        RunSummary {
            id: row.get(0)?,
            case_id: row.get(1)?,
            model_name: row.get(2)?,
            mode: row.get(3)?,
            status: RunStatus::Running,
            answer: row.get(5)?,
            generated_tokens: row.get(6)?,
            started_at: row.get(7)?,
            adapter: row.get(8)?,
            engine: row.get(9)?,
        },
        status,
    ))
}

fn with_status((mut summary, status): (RunSummary, String)) -> StoreResult<RunSummary> {
    summary.status = parse_status(&status)?;
    Ok(summary)
}

impl Store {
    /// Records the start of a run (status `running`, owned by this process) and returns its
    /// id.
    pub fn start_run(&self, run: &NewRun) -> StoreResult<i64> {
        let owner = Owner::current();
        self.audited_with(|conn| {
            conn.execute(
                "INSERT INTO runs (case_id, model_path, model_name, adapter, mode, settings_json, status, started_at, owner_pid, owner_start,
                                   engine, model_fingerprint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10, ?11)",
                params![run.case_id, run.model_path, run.model_name, run.adapter, run.mode, run.settings_json, now(), owner.pid, owner.start,
                        run.engine, run.model_fingerprint],
            )?;
            let id = conn.last_insert_rowid();
            let engine = if run.engine == "local" {
                String::new()
            } else {
                format!(" on engine {}", run.engine)
            };
            let event = AuditEvent::new(AuditAction::CaseRun, [run.case_id])
                .detail(format!("run {id}: {} ({}){engine}", run.model_name, run.mode));
            Ok((id, event))
        })
    }

    /// Reads a run for someone to see, recording that they did.
    pub fn view_run(&self, id: i64) -> StoreResult<RunRecord> {
        let run = self.run(id)?;
        self.audit(
            AuditEvent::new(AuditAction::RunViewed, [run.summary.case_id])
                .detail(format!("run {id}")),
        )?;
        Ok(run)
    }

    /// Appends generated text to a running run.
    pub fn append_run_text(&self, run_id: i64, text: &str, tokens: i64) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE runs SET raw_text = raw_text || ?2, generated_tokens = generated_tokens + ?3 WHERE id = ?1",
            params![run_id, text, tokens],
        )?;
        Ok(())
    }

    /// Records a completed step at `position` (0-based).
    pub fn add_step(&self, run_id: i64, position: usize, step: &Step) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO steps (run_id, position, stage, title, text, mentions_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run_id,
                position as i64,
                step.stage.as_str(),
                step.title,
                step.text,
                serde_json::to_string(&step.mentions).unwrap_or_else(|_| "[]".into())
            ],
        )?;
        Ok(())
    }

    /// Records how a run ended.
    pub fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        report: Option<&ReasoningReport>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let differential = report
            .map(|r| serde_json::to_string(&r.differential).unwrap_or_else(|_| "[]".into()))
            .unwrap_or_else(|| "[]".into());
        let coded = report
            .map(|r| serde_json::to_string(&r.coded).unwrap_or_else(|_| "[]".into()))
            .unwrap_or_else(|| "[]".into());
        self.conn.execute(
            "UPDATE runs SET status = ?2, error = ?3, answer = ?4, option = ?5, correct = ?6, structured = ?7,
                             seconds = ?8, finished_at = ?9, differential_json = ?10, coded_json = ?11
             WHERE id = ?1",
            params![
                run_id,
                status.as_str(),
                error,
                report.and_then(|r| r.answer.clone()),
                report.and_then(|r| r.option.clone()),
                report.and_then(|r| r.correct),
                report.map(|r| r.structured),
                report.map(|r| r.seconds),
                now(),
                differential,
                coded,
            ],
        )?;
        Ok(())
    }

    /// The runs of a case, oldest first.
    pub fn runs_of_case(&self, case_id: i64) -> StoreResult<Vec<RunSummary>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM runs WHERE case_id = ?1 ORDER BY started_at, id"
        ))?;
        let rows = statement.query_map([case_id], read_summary)?;
        rows.map(|row| with_status(row?)).collect()
    }

    /// A run with its text and steps.
    pub fn run(&self, id: i64) -> StoreResult<RunRecord> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, model_path, settings_json, raw_text, option, correct,
                    structured, error, seconds, finished_at, differential_json, coded_json
             FROM runs WHERE id = ?1"
        );
        let (mut record, status, differential, coded) = self
            .conn
            .query_row(&sql, [id], |row| {
                let (summary, status) = read_summary(row)?;
                let record = RunRecord {
                    summary,
                    model_path: row.get(SUMMARY_WIDTH)?,
                    settings_json: row.get(SUMMARY_WIDTH + 1)?,
                    raw_text: row.get(SUMMARY_WIDTH + 2)?,
                    steps: Vec::new(),
                    differential: Vec::new(),
                    coded: Vec::new(),
                    option: row.get(SUMMARY_WIDTH + 3)?,
                    correct: row.get(SUMMARY_WIDTH + 4)?,
                    structured: row.get(SUMMARY_WIDTH + 5)?,
                    error: row.get(SUMMARY_WIDTH + 6)?,
                    seconds: row.get(SUMMARY_WIDTH + 7)?,
                    finished_at: row.get(SUMMARY_WIDTH + 8)?,
                };
                Ok((
                    record,
                    status,
                    row.get::<_, String>(SUMMARY_WIDTH + 9)?,
                    row.get::<_, String>(SUMMARY_WIDTH + 10)?,
                ))
            })
            .optional()?
            .ok_or(StoreError::NotFound { kind: "run", id })?;
        record.summary.status = parse_status(&status)?;
        record.differential =
            serde_json::from_str(&differential).map_err(|e| StoreError::Corrupt {
                what: "run differential",
                detail: e.to_string(),
            })?;
        record.coded = serde_json::from_str(&coded).map_err(|e| StoreError::Corrupt {
            what: "run's coded diagnoses",
            detail: e.to_string(),
        })?;
        record.steps = self.steps_of_run(id)?;
        Ok(record)
    }

    fn steps_of_run(&self, run_id: i64) -> StoreResult<Vec<Step>> {
        let mut statement = self
            .conn
            .prepare("SELECT stage, title, text, mentions_json FROM steps WHERE run_id = ?1 ORDER BY position")?;
        let rows = statement.query_map([run_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (stage, title, text, mentions) = row?;
            Ok(Step {
                stage: parse_stage(&stage)?,
                title,
                text,
                mentions: serde_json::from_str(&mentions).unwrap_or_default(),
            })
        })
        .collect()
    }
}

/// How often streamed text is written while a run generates.
const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// Writes a run to the store as its events arrive: text in small batches, each step as soon
/// as it completes. A write error is kept and reported by [`RunRecorder::finish`] so the
/// reasoning itself is never interrupted by the store.
pub struct RunRecorder<'a> {
    store: &'a Store,
    run_id: i64,
    pending: String,
    pending_tokens: i64,
    last_flush: Instant,
    steps: usize,
    error: Option<StoreError>,
}

impl<'a> RunRecorder<'a> {
    /// Starts recording a new run.
    pub fn start(store: &'a Store, run: &NewRun) -> StoreResult<Self> {
        Ok(Self {
            run_id: store.start_run(run)?,
            store,
            pending: String::new(),
            pending_tokens: 0,
            last_flush: Instant::now(),
            steps: 0,
            error: None,
        })
    }

    /// The run's id.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Records one event of the reasoning.
    pub fn record(&mut self, event: &ReasonEvent) {
        match event {
            ReasonEvent::Raw(text) | ReasonEvent::Guided(GuidedEvent::Text(text)) => {
                self.pending.push_str(text);
                self.pending_tokens += 1;
                if self.last_flush.elapsed() >= FLUSH_INTERVAL {
                    self.flush();
                }
            }
            ReasonEvent::Step(step) => {
                self.flush();
                let result = self.store.add_step(self.run_id, self.steps, step);
                self.keep(result);
                self.steps += 1;
            }
            _ => {}
        }
    }

    /// Writes the text gathered since the last write.
    pub fn flush(&mut self) {
        if self.pending.is_empty() && self.pending_tokens == 0 {
            return;
        }
        let result = self
            .store
            .append_run_text(self.run_id, &self.pending, self.pending_tokens);
        self.keep(result);
        self.pending.clear();
        self.pending_tokens = 0;
        self.last_flush = Instant::now();
    }

    fn keep(&mut self, result: StoreResult<()>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    /// Records the end of the run: done or cancelled with its report, or failed with its error.
    pub fn finish(mut self, outcome: Result<&ReasoningReport, &str>) -> StoreResult<i64> {
        self.flush();
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let (status, report, error) = match outcome {
            Ok(report) if report.cancelled => (RunStatus::Cancelled, Some(report), None),
            Ok(report) => (RunStatus::Done, Some(report), None),
            Err(message) => (RunStatus::Failed, None, Some(message)),
        };
        self.store.finish_run(self.run_id, status, report, error)?;
        Ok(self.run_id)
    }
}
