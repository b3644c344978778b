//! The training job running in the window: starting (new or resumed), pausing, cancelling,
//! and folding its channel messages (pre-flight, points, checkpoints) into state. One at a
//! time; it survives leaving the screen.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use crate::api::{self, ApiError};
use crate::live::{launch_into, LiveJob};
use crate::state::AppState;
use crate::types::{PointKind, Preflight, TrainPoint};

/// A training job as it streams in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveTraining {
    /// The job id, once the shell accepted the job.
    pub job_id: Option<i64>,
    /// starting, queued, loading, calibrating, running, done, paused, cancelled or failed.
    pub status: String,
    /// Jobs ahead while queued.
    pub queued_ahead: u64,
    /// Model loading message and fraction.
    pub loading: Option<(String, f64)>,
    /// The run's id in the store, once recorded.
    pub train_id: Option<i64>,
    /// The base model's name.
    pub model_name: String,
    /// The pre-flight estimate, calibrated on this machine.
    pub preflight: Option<Preflight>,
    /// The step this job started at (a resumed run starts at its checkpoint).
    pub start_step: usize,
    /// Steps in all.
    pub total_steps: usize,
    /// Points so far (of this job; the stored run holds the earlier ones).
    pub points: Vec<TrainPoint>,
    /// The last checkpoint's step.
    pub checkpoint: Option<usize>,
    /// The library name of the adapter a finished run installed.
    pub adapter: Option<String>,
    /// Why the job failed.
    pub error: Option<ApiError>,
    /// Pause (true) or cancel (false) was pressed before the shell returned the job id.
    pub stop_requested: Option<bool>,
}

impl LiveJob for LiveTraining {
    fn starting() -> Self {
        Self {
            status: "starting".into(),
            ..Self::default()
        }
    }

    fn active(&self) -> bool {
        LiveTraining::active(self)
    }

    fn apply(&mut self, msg: &Value) -> bool {
        LiveTraining::apply(self, msg)
    }

    fn accepted(&mut self, job: i64) -> bool {
        self.job_id = Some(job);
        self.stop_requested.is_some()
    }

    fn refused(&mut self, error: ApiError) {
        self.status = "failed".into();
        self.error = Some(error);
    }
}

impl LiveTraining {
    /// Whether the job is still queued, loading or training.
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "starting" | "queued" | "loading" | "calibrating" | "running"
        )
    }

    /// The last training point.
    pub fn last_step(&self) -> Option<&TrainPoint> {
        self.points
            .iter()
            .rev()
            .find(|p| p.kind == PointKind::Train)
    }

    /// Folds one channel message into the state; returns true when the job ended.
    fn apply(&mut self, msg: &Value) -> bool {
        let text = |key: &str| msg.get(key).and_then(Value::as_str).unwrap_or_default();
        let count = |key: &str| msg.get(key).and_then(Value::as_u64).unwrap_or(0) as usize;
        match text("kind") {
            "queued" => {
                self.status = "queued".into();
                self.queued_ahead = count("position") as u64;
            }
            "loading" => {
                self.status = "loading".into();
                let fraction = msg.get("fraction").and_then(Value::as_f64).unwrap_or(0.0);
                self.loading = Some((text("message").to_string(), fraction));
            }
            "train_recorded" => {
                self.status = "calibrating".into();
                self.loading = None;
                self.train_id = msg.get("train_id").and_then(Value::as_i64);
                self.model_name = text("model_name").to_string();
            }
            "train_preflight" => {
                self.preflight = serde_json::from_value(msg["preflight"].clone()).ok();
            }
            "train_started" => {
                self.status = "running".into();
                self.start_step = count("start_step");
                self.total_steps = count("total_steps");
            }
            "train_point" => {
                if let Ok(point) = serde_json::from_value::<TrainPoint>(msg["point"].clone()) {
                    self.points.push(point);
                }
            }
            "train_checkpoint" => self.checkpoint = Some(count("step")),
            "train_ended" => {
                self.status = text("status").to_string();
                self.adapter = msg
                    .get("adapter")
                    .and_then(Value::as_str)
                    .map(str::to_string);
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

/// Starts a training job for `start` (`{"kind": "new", …}` or `{"kind": "resume", "id": N}`);
/// progress lands in `app.training`. Does nothing while one is active.
pub fn start(app: AppState, start: Value) {
    let live = app.training;
    let stop_first = move || {
        let pause = live
            .with_untracked(|t| t.as_ref().and_then(|t| t.stop_requested))
            .unwrap_or(true);
        stop(app, pause);
    };
    let args = json!({ "start": start });
    launch_into(app, live, "start_training", args, stop_first);
}

/// Asks the shell to pause the training job (`pause`: it keeps a checkpoint and can be
/// resumed) or cancel it.
pub fn stop(app: AppState, pause: bool) {
    let job = app
        .training
        .try_update(|t| {
            let t = t.as_mut()?;
            if t.job_id.is_none() {
                t.stop_requested = Some(pause);
            }
            t.job_id
        })
        .flatten();
    let Some(job) = job else { return };
    let command = if pause { "pause_training" } else { "stop_job" };
    spawn_local(async move {
        if let Err(err) = api::call::<Value>(command, json!({ "jobId": job })).await {
            app.report(err);
        }
    });
}
