//! Starting a streaming job: its channel kept open until the job ends, its events folded by
//! the caller, the shell's answer (the job's id, or a refusal) handed back.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use citrus_types::api::Streaming;
use citrus_types::job::{JobEvent, JobId};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::job::{Ended, JobState};
use crate::api::{ApiError, Stream};
use crate::state::AppState;

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
pub struct JobHooks<E, A, R> {
    /// Folds one event into state; true when the job ended.
    pub on_event: E,
    /// The shell accepted the job with this id; true when Stop was pressed meanwhile.
    pub on_accepted: A,
    /// The shell refused the job.
    pub on_refused: R,
}

/// A job the window keeps in one app-wide signal (an evaluation, a training run).
pub trait LiveJob: Default + Send + Sync + 'static {
    /// Its common state.
    fn job(&self) -> &JobState;
    /// Its common state, to change.
    fn job_mut(&mut self) -> &mut JobState;
    /// Folds one event in; true when the job ended.
    fn apply(&mut self, event: JobEvent) -> Ended;
    /// Whether Stop was pressed before the shell answered.
    fn stop_pending(&self) -> bool;
}

/// Starts `request` as the job kept in `live` (nothing while one is active); calls `stop`
/// when Stop was pressed before the shell returned the job's id.
pub fn launch_into<C, J>(
    app: AppState,
    live: RwSignal<Option<J>>,
    request: C,
    stop: impl FnOnce() + 'static,
) where
    C: Streaming<Response = JobId> + 'static,
    J: LiveJob,
{
    if live.with_untracked(|j| j.as_ref().is_some_and(|j| j.job().active())) {
        return;
    }
    live.set(Some(J::default()));
    let hooks = JobHooks {
        on_event: move |event: JobEvent| {
            live.try_update(|j| j.as_mut().is_some_and(|j| j.apply(event)))
                .unwrap_or(false)
        },
        on_accepted: move |id| {
            live.try_update(|j| {
                j.as_mut().is_some_and(|j| {
                    j.job_mut().id = Some(id);
                    j.stop_pending()
                })
            })
            .unwrap_or(false)
        },
        on_refused: move |error| {
            live.try_update(|j| {
                if let Some(j) = j.as_mut() {
                    j.job_mut().fail(error);
                }
            });
        },
    };
    launch(app, request, hooks, stop);
}

/// Starts a job: sends `request` with a channel as its `events`, and hands every event to
/// the hooks until the job ends (then the engine status is refreshed). Calls `stop` when
/// Stop was pressed before the shell returned the job's id.
pub fn launch<C, E, A, R>(
    app: AppState,
    request: C,
    hooks: JobHooks<E, A, R>,
    stop: impl FnOnce() + 'static,
) where
    C: Streaming<Response = JobId> + 'static,
    E: FnMut(JobEvent) -> Ended + 'static,
    A: FnOnce(JobId) -> bool + 'static,
    R: FnOnce(ApiError) + 'static,
{
    let JobHooks {
        mut on_event,
        on_accepted,
        on_refused,
    } = hooks;
    let key_cell = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let key_for_handler = key_cell.clone();
    let stream = Stream::open(move |event| match event {
        Ok(event) => {
            if on_event(event) {
                release(key_for_handler.get());
                app.refresh_engine();
            }
        }
        Err(error) => app.report(error),
    });
    let bound = match stream.bind(&request) {
        Ok(bound) => bound,
        Err(error) => {
            on_refused(error.clone());
            app.report(error);
            return;
        }
    };
    let key = keep(stream);
    key_cell.set(key);
    spawn_local(async move {
        match bound.send().await {
            Ok(id) => {
                if on_accepted(id) {
                    stop();
                }
            }
            Err(error) => {
                release(key);
                on_refused(error.clone());
                app.report(error);
            }
        }
    });
}
