//! Training runs: the data, base model, settings and folder of each run, owned by the process
//! running it like evaluations, and their metric series written point by point as they arrive.

use citrus_host::owner::Owner;
use rusqlite::{params, OptionalExtension, Row};

pub use citrus_types::training::{
    DataSource, NewTrainRun, PointKind, TrainPoint, TrainRunRecord, TrainRunSummary,
};

use super::runs::{finish, parse_status, take_over};
use super::{now, RunStatus, Store, StoreError, StoreResult};

const RUN_COLUMNS: &str = "r.id, r.source_json, r.dataset_name, r.dataset_hash, r.model_path,
     r.model_name, r.out_dir, r.choices_json, r.total_steps, r.status, r.error, r.started_at,
     r.finished_at,
     (SELECT MAX(step) FROM train_points p WHERE p.run_id = r.id AND p.kind = 'train'),
     (SELECT loss FROM train_points p WHERE p.run_id = r.id AND p.kind = 'train'
        ORDER BY step DESC LIMIT 1),
     (SELECT loss FROM train_points p WHERE p.run_id = r.id AND p.kind = 'validation'
        ORDER BY step DESC LIMIT 1)";

/// A row as stored: the summary, its status and the JSON columns still to read.
type RawRun = (TrainRunSummary, String, String, String);

fn read_run(row: &Row) -> rusqlite::Result<RawRun> {
    let total: i64 = row.get(8)?;
    let step: Option<i64> = row.get(13)?;
    Ok((
        TrainRunSummary {
            id: row.get(0)?,
            spec: NewTrainRun {
                source: DataSource::Reviews,
                dataset_name: row.get(2)?,
                dataset_hash: row.get(3)?,
                model_path: row.get(4)?,
                model_name: row.get(5)?,
                out_dir: row.get::<_, String>(6)?.into(),
                choices: Default::default(),
                total_steps: total as usize,
            },
            status: RunStatus::Running,
            step: step.unwrap_or(0) as usize,
            loss: row.get(14)?,
            validation_loss: row.get(15)?,
            error: row.get(10)?,
            started_at: row.get(11)?,
            finished_at: row.get(12)?,
        },
        row.get(9)?,
        row.get(1)?,
        row.get(7)?,
    ))
}

/// The summary with its status and JSON columns read.
fn complete((mut run, status, source, choices): RawRun) -> StoreResult<TrainRunSummary> {
    let corrupt = |what: &'static str| {
        move |e: serde_json::Error| StoreError::Corrupt {
            what,
            detail: e.to_string(),
        }
    };
    run.status = parse_status(&status)?;
    run.spec.source = serde_json::from_str(&source).map_err(corrupt("training data source"))?;
    run.spec.choices = serde_json::from_str(&choices).map_err(corrupt("training settings"))?;
    Ok(run)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Store {
    /// Records a new training run, owned by this process, and returns its id.
    pub fn start_train_run(&self, run: &NewTrainRun) -> StoreResult<i64> {
        let owner = Owner::current();
        self.conn.execute(
            "INSERT INTO train_runs (source_json, dataset_name, dataset_hash, model_path, model_name,
                                     out_dir, choices_json, total_steps, status, owner_pid,
                                     owner_start, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9, ?10, ?11)",
            params![
                to_json(&run.source),
                run.dataset_name,
                run.dataset_hash,
                run.model_path,
                run.model_name,
                run.out_dir.display().to_string(),
                to_json(&run.choices),
                run.total_steps as i64,
                owner.pid,
                owner.start,
                now()
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Takes over a paused, interrupted or failed run to continue it from its checkpoint at
    /// `step`: refused while another live process runs it, or once it is done. Points after the
    /// checkpoint (and the validation at it, which runs again) are dropped, so the series stays
    /// one unbroken curve.
    pub fn resume_train_run(&self, id: i64, step: usize) -> StoreResult<TrainRunSummary> {
        let run = self.train_run(id)?;
        take_over(
            &self.conn,
            "train_runs",
            id,
            run.status,
            &format!("training run {id}"),
        )?;
        self.conn.execute(
            "DELETE FROM train_points WHERE run_id = ?1
               AND (step > ?2 OR (step = ?2 AND kind = 'validation'))",
            params![id, step as i64],
        )?;
        self.train_run(id)
    }

    /// Records (or replaces) one point of run `id`'s series.
    pub fn record_train_point(&self, id: i64, point: &TrainPoint) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO train_points (run_id, step, kind, loss, learning_rate,
                                                  tokens_per_second, eta_seconds,
                                                  preference_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                point.step as i64,
                point.kind.as_str(),
                point.loss,
                point.learning_rate,
                point.tokens_per_second,
                point.eta_seconds,
                point
                    .preference
                    .map(|p| serde_json::to_string(&p).unwrap_or_default())
            ],
        )?;
        Ok(())
    }

    /// Sets the folder of run `id` (the window's runs are named after their id).
    pub fn set_train_dir(&self, id: i64, dir: &std::path::Path) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE train_runs SET out_dir = ?2 WHERE id = ?1",
            params![id, dir.display().to_string()],
        )?;
        Ok(())
    }

    /// Sets the steps a run takes (known once its data is tokenized).
    pub fn set_train_total(&self, id: i64, total_steps: usize) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE train_runs SET total_steps = ?2 WHERE id = ?1",
            params![id, total_steps as i64],
        )?;
        Ok(())
    }

    /// Ends a run (done, paused, cancelled or failed).
    pub fn finish_train_run(
        &self,
        id: i64,
        status: RunStatus,
        error: Option<&str>,
    ) -> StoreResult<()> {
        finish(&self.conn, "train_runs", id, status, error)
    }

    /// One run.
    pub fn train_run(&self, id: i64) -> StoreResult<TrainRunSummary> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM train_runs r WHERE r.id = ?1");
        let found = self.conn.query_row(&sql, [id], read_run).optional()?;
        complete(found.ok_or(StoreError::NotFound {
            kind: "training run",
            id,
        })?)
    }

    /// The latest run whose folder is `dir`, if any.
    pub fn train_run_in(&self, dir: &std::path::Path) -> StoreResult<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM train_runs WHERE out_dir = ?1 ORDER BY id DESC LIMIT 1",
                [dir.display().to_string()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Every run, newest first.
    pub fn train_runs(&self) -> StoreResult<Vec<TrainRunSummary>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM train_runs r ORDER BY r.id DESC");
        let mut query = self.conn.prepare(&sql)?;
        let rows: Vec<RawRun> = query.query_map([], read_run)?.collect::<Result<_, _>>()?;
        rows.into_iter().map(complete).collect()
    }

    /// One run with its metric series in step order (validation after training at a step).
    pub fn train_run_record(&self, id: i64) -> StoreResult<TrainRunRecord> {
        let run = self.train_run(id)?;
        let mut query = self.conn.prepare(
            "SELECT step, kind, loss, learning_rate, tokens_per_second, eta_seconds,
                    preference_json
               FROM train_points WHERE run_id = ?1 ORDER BY step, kind",
        )?;
        let rows: Vec<(TrainPoint, String)> = query
            .query_map([id], |row| {
                let step: i64 = row.get(0)?;
                let point = TrainPoint {
                    step: step as usize,
                    kind: PointKind::Train,
                    loss: row.get(2)?,
                    learning_rate: row.get(3)?,
                    tokens_per_second: row.get(4)?,
                    eta_seconds: row.get(5)?,
                    preference: row
                        .get::<_, Option<String>>(6)?
                        .and_then(|json| serde_json::from_str(&json).ok()),
                };
                Ok((point, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let points = rows
            .into_iter()
            .map(|(mut point, kind)| {
                point.kind = PointKind::parse(&kind).ok_or(StoreError::Corrupt {
                    what: "metric kind",
                    detail: kind,
                })?;
                Ok(point)
            })
            .collect::<StoreResult<_>>()?;
        Ok(TrainRunRecord { run, points })
    }
}
