//! Evaluation runs: one model (and adapter) on a benchmark file, each item written as it
//! finishes, so a stopped or killed run continues where it stopped. A run is owned by the
//! process running it (pid and start time); only a gone owner's run is interrupted.

use citrus_host::owner::Owner;
use citrus_runner::evaluation::item::Outcome;
use citrus_runner::evaluation::report::ItemRecord;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

pub use citrus_types::evaluation::{EvalRunSummary, NewEvalRun};

use super::runs::{finish, parse_status, take_over};
use super::{now, RunStatus, Store, StoreError, StoreResult};

/// One item's stored result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvalItem {
    /// Its numbers for the report.
    pub record: ItemRecord,
    /// Its index among the benchmark file's usable items.
    pub source: usize,
    /// Why no option was read (unmatched).
    pub unmatched_reason: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// The model's text.
    pub raw_text: String,
    /// The reasoning steps as JSON.
    pub steps_json: String,
    /// The option scores as JSON (likelihood).
    pub scores_json: Option<String>,
}

const RUN_COLUMNS: &str =
    "r.id, r.bench_path, r.bench_hash, r.model_path, r.model_name, r.adapter, r.mode,
     r.settings_json, r.planned, r.status, r.error, r.started_at, r.finished_at,
     (SELECT COUNT(*) FROM eval_items i WHERE i.run_id = r.id),
     (SELECT COUNT(*) FROM eval_items i WHERE i.run_id = r.id AND i.outcome = 'correct'),
     r.engine";

fn read_run(row: &Row) -> rusqlite::Result<(EvalRunSummary, String)> {
    let planned: i64 = row.get(8)?;
    let done: i64 = row.get(13)?;
    let correct: i64 = row.get(14)?;
    Ok((
        EvalRunSummary {
            id: row.get(0)?,
            spec: NewEvalRun {
                bench_path: row.get(1)?,
                bench_hash: row.get(2)?,
                engine: row.get(15)?,
                model_path: row.get(3)?,
                model_name: row.get(4)?,
                adapter: row.get(5)?,
                mode: row.get(6)?,
                settings_json: row.get(7)?,
                planned: planned as usize,
            },
            done: done as usize,
            correct: correct as usize,
            status: RunStatus::Running,
            error: row.get(10)?,
            started_at: row.get(11)?,
            finished_at: row.get(12)?,
        },
        row.get(9)?,
    ))
}

impl Store {
    /// Records a new evaluation run, owned by this process, and returns its id.
    pub fn start_eval_run(&self, run: &NewEvalRun) -> StoreResult<i64> {
        let owner = Owner::current();
        self.conn.execute(
            "INSERT INTO eval_runs (bench_path, bench_hash, model_path, model_name, adapter, mode,
                                    settings_json, planned, status, owner_pid, owner_start, started_at,
                                    engine)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9, ?10, ?11, ?12)",
            params![
                run.bench_path,
                run.bench_hash,
                run.model_path,
                run.model_name,
                run.adapter,
                run.mode,
                run.settings_json,
                run.planned as i64,
                owner.pid,
                owner.start,
                now(),
                run.engine,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Takes over an unfinished run to continue it: refused while another live process runs
    /// it, or when it is done.
    pub fn resume_eval_run(&self, id: i64) -> StoreResult<EvalRunSummary> {
        let run = self.eval_run(id)?;
        take_over(
            &self.conn,
            "eval_runs",
            id,
            run.status,
            &format!("evaluation {id}"),
        )?;
        self.eval_run(id)
    }

    /// Records one finished item.
    pub fn record_eval_item(&self, run_id: i64, item: &StoredEvalItem) -> StoreResult<()> {
        let r = &item.record;
        self.conn.execute(
            "INSERT INTO eval_items (run_id, position, source, item_id, exam_name, options, answer_key,
                                     predicted, outcome, unmatched_reason, prompt, raw_text, steps_json,
                                     scores_json, tokens, seconds)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                run_id,
                r.position as i64,
                item.source as i64,
                r.item_id,
                r.exam_name,
                r.options as i64,
                r.key,
                r.predicted,
                r.outcome.as_str(),
                item.unmatched_reason,
                item.prompt,
                item.raw_text,
                item.steps_json,
                item.scores_json,
                r.tokens as i64,
                r.seconds
            ],
        )?;
        Ok(())
    }

    /// Ends a run.
    pub fn finish_eval_run(
        &self,
        id: i64,
        status: RunStatus,
        error: Option<&str>,
    ) -> StoreResult<()> {
        finish(&self.conn, "eval_runs", id, status, error)
    }

    /// One run.
    pub fn eval_run(&self, id: i64) -> StoreResult<EvalRunSummary> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM eval_runs r WHERE r.id = ?1");
        let found = self.conn.query_row(&sql, [id], read_run).optional()?;
        let (mut run, status) = found.ok_or(StoreError::NotFound {
            kind: "evaluation",
            id,
        })?;
        run.status = parse_status(&status)?;
        Ok(run)
    }

    /// Every run, newest first.
    pub fn eval_runs(&self) -> StoreResult<Vec<EvalRunSummary>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM eval_runs r ORDER BY r.id DESC");
        let mut query = self.conn.prepare(&sql)?;
        let rows: Vec<(EvalRunSummary, String)> =
            query.query_map([], read_run)?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(mut run, status)| {
                run.status = parse_status(&status)?;
                Ok(run)
            })
            .collect()
    }

    /// A run's items, in position order.
    pub fn eval_items(&self, run_id: i64) -> StoreResult<Vec<StoredEvalItem>> {
        self.query_eval_items("run_id = ?1", params![run_id])
    }

    /// The item at `position` of run `run_id`, with its prompt, text, steps and scores.
    pub fn eval_item(&self, run_id: i64, position: usize) -> StoreResult<StoredEvalItem> {
        self.query_eval_items(
            "run_id = ?1 AND position = ?2",
            params![run_id, position as i64],
        )?
        .pop()
        .ok_or(StoreError::NotFound {
            kind: "evaluation item",
            id: position as i64,
        })
    }

    fn query_eval_items(
        &self,
        filter: &str,
        values: impl rusqlite::Params,
    ) -> StoreResult<Vec<StoredEvalItem>> {
        let mut query = self.conn.prepare(&format!(
            "SELECT position, source, item_id, exam_name, options, answer_key, predicted, outcome,
                    unmatched_reason, prompt, raw_text, steps_json, scores_json, tokens, seconds
             FROM eval_items WHERE {filter} ORDER BY position"
        ))?;
        let rows = query.query_map(values, |row| {
            let outcome: String = row.get(7)?;
            Ok((
                StoredEvalItem {
                    record: ItemRecord {
                        position: row.get::<_, i64>(0)? as usize,
                        item_id: row.get(2)?,
                        exam_name: row.get(3)?,
                        options: row.get::<_, i64>(4)? as usize,
                        key: row.get(5)?,
                        predicted: row.get(6)?,
                        outcome: Outcome::Wrong,
                        tokens: row.get::<_, i64>(13)? as usize,
                        seconds: row.get(14)?,
                    },
                    source: row.get::<_, i64>(1)? as usize,
                    unmatched_reason: row.get(8)?,
                    prompt: row.get(9)?,
                    raw_text: row.get(10)?,
                    steps_json: row.get(11)?,
                    scores_json: row.get(12)?,
                },
                outcome,
            ))
        })?;
        rows.map(|row| {
            let (mut item, outcome) = row?;
            item.record.outcome = Outcome::parse(&outcome).ok_or(StoreError::Corrupt {
                what: "evaluation outcome",
                detail: outcome,
            })?;
            Ok(item)
        })
        .collect()
    }
}
