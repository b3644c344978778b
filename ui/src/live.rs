//! Live reasoning runs: starting, stopping, and folding channel messages into state.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use crate::api::{self, ApiError, Stream};
use crate::state::AppState;
use crate::types::{RunRecord, Step};

/// A run as it streams in (and, once finished, its stored record).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveRun {
    /// The job id, once the shell accepted the job.
    pub job_id: Option<i64>,
    /// starting, queued, loading, running, done, cancelled, failed or interrupted.
    pub status: String,
    /// Jobs ahead while queued.
    pub queued_ahead: u32,
    /// Model loading message and fraction.
    pub loading: Option<(String, f64)>,
    /// The stored run's id, once started.
    pub run_id: Option<i64>,
    /// The model producing the run.
    pub model_name: String,
    /// The adapter applied, if any.
    pub adapter: Option<String>,
    /// Whether the run is in guided mode.
    pub guided: bool,
    /// The guided stage now running.
    pub stage: Option<String>,
    /// All raw text so far.
    pub raw: String,
    /// How much of `raw` is covered by completed steps.
    pub consumed: usize,
    /// Completed steps.
    pub steps: Vec<Step>,
    /// Generated tokens so far.
    pub tokens: u64,
    /// Seconds since generation began.
    pub seconds: f64,
    /// The final record, once finished.
    pub record: Option<RunRecord>,
    /// Why the run failed.
    pub error: Option<ApiError>,
    /// Stop was pressed before the shell returned the job id.
    pub stop_requested: bool,
}

impl LiveRun {
    /// Whether the job is still queued, loading or running.
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "starting" | "queued" | "loading" | "running"
        )
    }

    /// Folds one channel message into the state; returns true when the run ended.
    fn apply(&mut self, msg: &Value) -> bool {
        let text = |key: &str| msg.get(key).and_then(Value::as_str).unwrap_or_default();
        match text("kind") {
            "queued" => {
                self.status = "queued".into();
                self.queued_ahead = msg.get("position").and_then(Value::as_u64).unwrap_or(0) as u32;
            }
            "loading" => {
                self.status = "loading".into();
                let fraction = msg.get("fraction").and_then(Value::as_f64).unwrap_or(0.0);
                self.loading = Some((text("message").to_string(), fraction));
            }
            "started" => {
                self.status = "running".into();
                self.loading = None;
                self.run_id = msg.get("run_id").and_then(Value::as_i64);
                self.model_name = text("model_name").to_string();
                self.adapter = msg
                    .get("adapter")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            "text" => self.raw.push_str(text("text")),
            "stage" => self.stage = Some(text("stage").to_string()),
            "step" => {
                if let Ok(step) = serde_json::from_value::<Step>(msg["step"].clone()) {
                    self.steps.push(step);
                    self.consumed = self.raw.len();
                }
            }
            "progress" => {
                self.tokens = msg
                    .get("tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(self.tokens);
                self.seconds = msg
                    .get("seconds")
                    .and_then(Value::as_f64)
                    .unwrap_or(self.seconds);
            }
            "finished" => {
                if let Ok(run) = serde_json::from_value::<RunRecord>(msg["run"].clone()) {
                    self.finish(run);
                } else {
                    self.status = "done".into();
                }
                return true;
            }
            "failed" => {
                self.status = "failed".into();
                self.run_id = msg.get("run_id").and_then(Value::as_i64).or(self.run_id);
                self.error = serde_json::from_value(msg["error"].clone()).ok();
                return true;
            }
            _ => {}
        }
        false
    }

    fn finish(&mut self, run: RunRecord) {
        self.status = run.summary.status.to_string();
        self.run_id = Some(run.summary.id);
        self.model_name = run.summary.model_name.clone();
        self.steps = run.steps.clone();
        self.raw = run.raw_text.clone();
        self.consumed = self.raw.len();
        self.tokens = run.summary.generated_tokens.max(0) as u64;
        self.seconds = run.seconds.unwrap_or(self.seconds);
        self.stage = None;
        self.record = Some(run);
    }
}

/// Reasoning options chosen in the Reasoning tab.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    /// Guided (staged) rather than free reasoning.
    pub guided: bool,
    /// The token limit.
    pub max_new_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
    /// Sampling seed.
    pub seed: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            guided: false,
            max_new_tokens: 512,
            temperature: 0.7,
            seed: 42,
        }
    }
}

thread_local! {
    static STREAMS: RefCell<(u32, HashMap<u32, Stream>)> = RefCell::new((0, HashMap::new()));
}

/// Keeps a stream alive until [`release`] is called with the returned key.
fn keep(stream: Stream) -> u32 {
    STREAMS.with(|s| {
        let mut s = s.borrow_mut();
        s.0 += 1;
        let key = s.0;
        s.1.insert(key, stream);
        key
    })
}

/// Drops a stream soon (not inside its own handler).
fn release(key: u32) {
    set_timeout(
        move || {
            STREAMS.with(|s| s.borrow_mut().1.remove(&key));
        },
        Duration::from_millis(0),
    );
}

/// How a started job talks back to the window.
pub(crate) struct JobHooks<M, A, R> {
    /// Folds one message into state; true when the job ended.
    pub on_message: M,
    /// The shell accepted the job with this id; true when Stop was pressed meanwhile.
    pub on_accepted: A,
    /// The shell refused the job.
    pub on_refused: R,
}

/// A job the window keeps in one app-wide signal (an evaluation, a training run).
pub(crate) trait LiveJob: Send + Sync + 'static {
    /// The state before the shell answers.
    fn starting() -> Self;
    /// Whether it is still queued, loading or running.
    fn active(&self) -> bool;
    /// Folds one channel message in; true when the job ended.
    fn apply(&mut self, msg: &Value) -> bool;
    /// The shell accepted it as `job`; true when Stop was pressed meanwhile.
    fn accepted(&mut self, job: i64) -> bool;
    /// The shell refused it.
    fn refused(&mut self, error: ApiError);
}

/// Starts `command` with `args` as the job kept in `live` (nothing while one is active);
/// calls `stop` when Stop was pressed before the shell returned the job's id.
pub(crate) fn launch_into<J: LiveJob>(
    app: AppState,
    live: RwSignal<Option<J>>,
    command: &'static str,
    args: Value,
    stop: impl FnOnce() + 'static,
) {
    if live.with_untracked(|j| j.as_ref().is_some_and(J::active)) {
        return;
    }
    live.set(Some(J::starting()));
    let hooks = JobHooks {
        on_message: move |msg: &Value| {
            live.try_update(|j| j.as_mut().is_some_and(|j| j.apply(msg)))
                .unwrap_or(false)
        },
        on_accepted: move |job| {
            live.try_update(|j| j.as_mut().is_some_and(|j| j.accepted(job)))
                .unwrap_or(false)
        },
        on_refused: move |error| {
            live.try_update(|j| {
                if let Some(j) = j.as_mut() {
                    j.refused(error);
                }
            });
        },
    };
    launch(app, command, args, hooks, stop);
}

/// Starts a job: calls `command` with `args` plus a channel as `events`, and hands every
/// message to the hooks until the job ends (then the engine status is refreshed). Calls `stop`
/// when Stop was pressed before the shell returned the job's id.
pub(crate) fn launch<M, A, R>(
    app: AppState,
    command: &'static str,
    args: Value,
    hooks: JobHooks<M, A, R>,
    stop: impl FnOnce() + 'static,
) where
    M: FnMut(&Value) -> bool + 'static,
    A: FnOnce(i64) -> bool + 'static,
    R: FnOnce(ApiError) + 'static,
{
    let JobHooks {
        mut on_message,
        on_accepted,
        on_refused,
    } = hooks;
    let key_cell = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let key_for_handler = key_cell.clone();
    let stream = Stream::open(move |msg| {
        if on_message(&msg) {
            release(key_for_handler.get());
            app.refresh_engine();
        }
    });
    let js_args = stream.args_with(&args, "events");
    let key = keep(stream);
    key_cell.set(key);
    spawn_local(async move {
        match api::call_js::<i64>(command, js_args).await {
            Ok(job) => {
                if on_accepted(job) {
                    stop();
                }
            }
            Err(err) => {
                release(key);
                on_refused(err.clone());
                app.report(err);
            }
        }
    });
}

/// Starts reasoning on a saved case; progress lands in `app.live[case_id]`.
pub fn start(app: AppState, case_id: i64, options: RunOptions) {
    let busy = app
        .live
        .with_untracked(|m| m.get(&case_id).is_some_and(LiveRun::active));
    if busy {
        return;
    }
    let live = app.live;
    live.update(|m| {
        m.insert(
            case_id,
            LiveRun {
                status: "starting".into(),
                guided: options.guided,
                ..LiveRun::default()
            },
        );
    });
    let args = json!({
        "caseId": case_id,
        "options": {
            "mode": if options.guided { "guided" } else { "free" },
            "max_new_tokens": options.max_new_tokens,
            "temperature": options.temperature,
            "seed": options.seed,
        },
    });
    let hooks = JobHooks {
        on_message: move |msg: &Value| {
            live.try_update(|m| m.get_mut(&case_id).is_some_and(|run| run.apply(msg)))
                .unwrap_or(false)
        },
        on_accepted: move |job| {
            live.try_update(|m| {
                m.get_mut(&case_id).is_some_and(|run| {
                    run.job_id = Some(job);
                    run.stop_requested
                })
            })
            .unwrap_or(false)
        },
        on_refused: move |err| {
            live.try_update(|m| {
                if let Some(run) = m.get_mut(&case_id) {
                    run.status = "failed".into();
                    run.error = Some(err);
                }
            });
        },
    };
    launch(app, "start_reasoning", args, hooks, move || {
        stop(app, case_id)
    });
}

/// Asks the shell to stop the case's queued or running job.
pub fn stop(app: AppState, case_id: i64) {
    let job = app
        .live
        .try_update(|m| {
            let run = m.get_mut(&case_id)?;
            run.stop_requested = run.job_id.is_none();
            run.job_id
        })
        .flatten();
    let Some(job) = job else { return };
    spawn_local(async move {
        if let Err(err) = api::call::<Value>("stop_job", json!({ "jobId": job })).await {
            app.report(err);
        }
    });
}
