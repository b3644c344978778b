//! The evaluation job running in the window: starting (new or continued), stopping, and
//! folding its channel messages into state. One at a time; it survives leaving the screen.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use crate::api::{self, ApiError};
use crate::live::{launch_into, LiveJob};
use crate::state::AppState;
use crate::types::ItemRecord;

/// An evaluation job as it streams in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveEval {
    /// The job id, once the shell accepted the job.
    pub job_id: Option<i64>,
    /// starting, queued, loading, running, done, cancelled or failed.
    pub status: String,
    /// Jobs ahead while queued.
    pub queued_ahead: u64,
    /// Model loading message and fraction.
    pub loading: Option<(String, f64)>,
    /// The evaluation's id, once recorded.
    pub eval_id: Option<i64>,
    /// The model's name.
    pub model_name: String,
    /// Items done (including those done before a continue).
    pub done: usize,
    /// Items done when this job began.
    pub done_at_start: usize,
    /// Items planned.
    pub total: usize,
    /// Items correct so far.
    pub correct: usize,
    /// Items unmatched so far.
    pub unmatched: usize,
    /// Seconds this job has spent on items.
    pub seconds: f64,
    /// The item just finished.
    pub last: Option<ItemRecord>,
    /// Warnings (an adapter made for another file, say).
    pub warnings: Vec<String>,
    /// Why the job failed.
    pub error: Option<ApiError>,
    /// Stop was pressed before the shell returned the job id.
    pub stop_requested: bool,
}

impl LiveJob for LiveEval {
    fn starting() -> Self {
        Self {
            status: "starting".into(),
            ..Self::default()
        }
    }

    fn active(&self) -> bool {
        LiveEval::active(self)
    }

    fn apply(&mut self, msg: &Value) -> bool {
        LiveEval::apply(self, msg)
    }

    fn accepted(&mut self, job: i64) -> bool {
        self.job_id = Some(job);
        self.stop_requested
    }

    fn refused(&mut self, error: ApiError) {
        self.status = "failed".into();
        self.error = Some(error);
    }
}

impl LiveEval {
    /// Whether the job is still queued, loading or running.
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "starting" | "queued" | "loading" | "running"
        )
    }

    /// Seconds left, estimated from this job's pace (None before its first item).
    pub fn eta_seconds(&self) -> Option<f64> {
        let finished_here = self.done.checked_sub(self.done_at_start)?;
        (finished_here > 0).then(|| {
            self.seconds / finished_here as f64 * self.total.saturating_sub(self.done) as f64
        })
    }

    /// Folds one channel message into the state; returns true when the job ended.
    fn apply(&mut self, msg: &Value) -> bool {
        let text = |key: &str| msg.get(key).and_then(Value::as_str).unwrap_or_default();
        let count = |value: &Value| value.as_u64().unwrap_or(0) as usize;
        match text("kind") {
            "queued" => {
                self.status = "queued".into();
                self.queued_ahead = msg.get("position").and_then(Value::as_u64).unwrap_or(0);
            }
            "loading" => {
                self.status = "loading".into();
                let fraction = msg.get("fraction").and_then(Value::as_f64).unwrap_or(0.0);
                self.loading = Some((text("message").to_string(), fraction));
            }
            "warning" => self.warnings.push(text("message").to_string()),
            "eval_started" => {
                self.status = "running".into();
                self.loading = None;
                self.eval_id = msg.get("eval_id").and_then(Value::as_i64);
                self.model_name = text("model_name").to_string();
                self.done = count(&msg["done"]);
                self.done_at_start = self.done;
                self.total = count(&msg["total"]);
            }
            "eval_item" => {
                let progress = &msg["progress"];
                self.done = count(&progress["done"]);
                self.total = count(&progress["total"]);
                self.correct = count(&progress["correct"]);
                self.unmatched = count(&progress["unmatched"]);
                self.last = serde_json::from_value(progress["last"].clone()).ok();
                self.seconds = msg.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
            }
            "eval_ended" => {
                self.status = text("status").to_string();
                self.eval_id = msg.get("eval_id").and_then(Value::as_i64).or(self.eval_id);
                return true;
            }
            "failed" => {
                self.status = "failed".into();
                self.error = serde_json::from_value(msg["error"].clone()).ok();
                return true;
            }
            _ => {}
        }
        false
    }
}

/// Starts an evaluation job for `request` (`{"kind": "new", …}` or `{"kind": "resume",
/// "id": N}`); progress lands in `app.evaluation`. Does nothing while one is active.
pub fn start(app: AppState, request: Value) {
    let args = json!({ "request": request });
    launch_into(app, app.evaluation, "start_evaluation", args, move || {
        stop(app)
    });
}

/// Asks the shell to stop the evaluation job; it ends cancelled and can be continued.
pub fn stop(app: AppState) {
    let job = app
        .evaluation
        .try_update(|e| {
            let e = e.as_mut()?;
            e.stop_requested = e.job_id.is_none();
            e.job_id
        })
        .flatten();
    let Some(job) = job else { return };
    spawn_local(async move {
        if let Err(err) = api::call::<Value>("stop_job", json!({ "jobId": job })).await {
            app.report(err);
        }
    });
}
