//! The training job of this window, live: where it stands (queued behind other work, loading,
//! calibrating, training), the chart, loss, learning rate, tokens/s and ETA; Pause, Cancel,
//! Resume; once done, the installed adapter and a button to reason with it.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::chart::{LossChart, PreferenceCharts};
use super::screen::use_screen;
use crate::api;
use crate::format;
use crate::live::job::JobPhase;
use crate::live::start;
use crate::live::training::LiveTraining;
use crate::types::RunStatus;
use crate::types::TrainPoint;
use citrus_types::training::TrainStart;

/// The live panel (shown once a job was started from this window).
#[component]
pub fn LiveTrainingPanel() -> impl IntoView {
    let screen = use_screen();
    let app = screen.app;
    let live = app.training;
    // Points recorded before this job (a resumed run), fetched when the run is known.
    let earlier = RwSignal::new(Vec::<TrainPoint>::new());
    let fetched_for = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        let Some((id, start_step)) = live.with(|t| {
            t.as_ref()
                .and_then(|t| t.train_id.map(|id| (id, t.start_step)))
        }) else {
            return;
        };
        if fetched_for.get_untracked() == Some(id) || start_step == 0 {
            return;
        }
        fetched_for.set(Some(id));
        spawn_local(async move {
            if let Ok(record) = api::training::get(id).await {
                let kept = record
                    .points
                    .into_iter()
                    .filter(|p| p.step <= start_step)
                    .collect();
                earlier.try_set(kept);
            }
        });
    });
    let get = move |f: fn(&LiveTraining) -> String| {
        move || live.with(|t| t.as_ref().map(f).unwrap_or_default())
    };
    let status = move || live.with(|t| t.as_ref().map_or("", |t| t.job.phase.as_str()));
    let points = Signal::derive(move || {
        let mut all = earlier.get();
        live.with(|t| {
            if let Some(t) = t {
                if t.start_step == 0 {
                    all.clear();
                }
                all.extend(t.points.iter().cloned());
            }
        });
        all
    });
    let total = Signal::derive(move || live.with(|t| t.as_ref().map_or(0, |t| t.total_steps)));
    view! {
        <Show when=move || live.with(Option::is_some)>
            <div id="live-training" class="panel live-training" data-status=status>
                <div class="live-head">
                    <h3 class="first">{move || live.with(|t| match t.as_ref().and_then(|t| t.train_id) {
                        Some(id) => format!("Training run #{id}"),
                        None => "Training run".to_string(),
                    })}</h3>
                    <span class=move || format!("status-pill status-{}", status())>{status}</span>
                    <span class="muted">{get(|t| t.model_name.clone())}</span>
                </div>
                <p id="train-phase" class="muted">{get(phase)}</p>
                <Show when=move || live.with(|t| t.as_ref().is_some_and(|t| t.total_steps > 0))>
                    <progress
                        id="train-progress"
                        max=move || total.get().to_string()
                        value=move || live.with(|t| t.as_ref().and_then(LiveTraining::last_step).map_or(0, |p| p.step)).to_string()
                    ></progress>
                </Show>
                <TrainMetrics/>
                <LossChart id="live-loss-chart" points=points total_steps=total/>
                <PreferenceCharts ids=["live-reward-accuracy", "live-reward-margin", "live-logp"] points=points total_steps=total/>
                <TrainActions resume=Callback::new(move |()| {
                    let Some(id) = live.with_untracked(|t| t.as_ref().and_then(|t| t.train_id)) else {
                        return;
                    };
                    fetched_for.set(None);
                    start::training(app, TrainStart::Resume { id });
                })/>
            </div>
        </Show>
    }
}

/// Step, losses, learning rate, speed and ETA of the live job.
#[component]
fn TrainMetrics() -> impl IntoView {
    let live = use_screen().app.training;
    let get = move |f: fn(&LiveTraining) -> String| {
        move || live.with(|t| t.as_ref().map(f).unwrap_or_default())
    };
    view! {
        <dl id="train-metrics" class="metrics">
                        <dt>"Step"</dt><dd id="train-step">{get(|t| format!("{} / {}", t.last_step().map_or(t.start_step, |p| p.step), t.total_steps))}</dd>
                        <dt>"Loss"</dt><dd>{get(|t| t.last_step().map_or("–".into(), |p| format!("{:.4}", p.loss)))}</dd>
                        <dt>"Validation loss"</dt><dd>{get(last_validation)}</dd>
                        <dt>"Learning rate"</dt><dd>{get(|t| t.last_step().and_then(|p| p.learning_rate).map_or("–".into(), |lr| format!("{lr:.2e}")))}</dd>
                        <dt>"Tokens/s"</dt><dd>{get(|t| t.last_step().and_then(|p| p.tokens_per_second).map_or("–".into(), |r| format!("{r:.0}")))}</dd>
                        <dt>"ETA"</dt><dd>{get(|t| t.last_step().and_then(|p| p.eta_seconds).filter(|_| t.active()).map_or("–".into(), format::duration))}</dd>
                    </dl>
    }
}

/// Pause, Cancel, Resume, and the adapter a finished run installed.
#[component]
fn TrainActions(resume: Callback<()>) -> impl IntoView {
    let app = use_screen().app;
    let live = app.training;
    let get = move |f: fn(&LiveTraining) -> String| {
        move || live.with(|t| t.as_ref().map(f).unwrap_or_default())
    };
    let active = move || live.with(|t| t.as_ref().is_some_and(LiveTraining::active));
    let paused = move || {
        live.with(|t| {
            t.as_ref()
                .is_some_and(|t| t.job.phase == JobPhase::Ended(RunStatus::Paused))
        })
    };
    let use_adapter = move |_| {
        let Some(name) = live.with_untracked(|t| t.as_ref().and_then(|t| t.adapter.clone())) else {
            return;
        };
        spawn_local(async move {
            match api::adapters::set_active(Some(name)).await {
                Ok(()) => app.refresh_engine(),
                Err(err) => app.report(err),
            }
        });
    };
    view! {
        <div class="actions">
            <Show when=active>
                <button id="pause-training" class="secondary" on:click=move |_| start::stop_training(app, true)>"Pause"</button>
                <button id="cancel-training" class="danger" on:click=move |_| start::stop_training(app, false)>"Cancel"</button>
            </Show>
            <Show when=paused>
                <button id="resume-training" on:click=move |_| resume.run(())>"Resume"</button>
                <span class="muted">"Paused with a checkpoint; Resume continues from it."</span>
            </Show>
            <Show when=move || live.with(|t| t.as_ref().is_some_and(|t| t.adapter.is_some()))>
                <span id="installed-adapter">{get(|t| format!("Adapter “{}” installed.", t.adapter.clone().unwrap_or_default()))}</span>
                <button id="use-trained-adapter" on:click=use_adapter>"Reason with it"</button>
            </Show>
        </div>
    }
}

/// What the job is doing, in words.
fn phase(t: &LiveTraining) -> String {
    match t.job.phase {
        JobPhase::Starting => "Starting…".into(),
        JobPhase::Queued => format!(
            "Waiting: {} job(s) ahead on the engine (reasoning or an evaluation). One heavy job runs at a time.",
            t.job.queued_ahead
        ),
        JobPhase::Loading => t.job.loading.as_ref().map_or("Loading…".into(), |(message, fraction)| {
            format!("{message} ({})", format::percent(*fraction))
        }),
        JobPhase::Calibrating => "Measuring memory and time per step on this machine…".into(),
        JobPhase::Running | JobPhase::Ended(RunStatus::Running) => match &t.preflight {
            Some(p) => format!(
                "Peak memory ≈ {}{} · {} per step",
                format::bytes(p.needed_bytes()),
                p.available_bytes.map_or(String::new(), |a| format!(" of {}", format::bytes(a))),
                p.seconds_per_step.map_or("–".into(), |s| format!("{s:.2} s"))
            ),
            None => "Training…".into(),
        },
        JobPhase::Ended(RunStatus::Done) => {
            "Done: the adapter is written and installed in the library.".into()
        }
        JobPhase::Ended(RunStatus::Paused) => format!(
            "Paused at step {}.",
            t.checkpoint.or(t.last_step().map(|p| p.step)).unwrap_or(t.start_step)
        ),
        JobPhase::Ended(RunStatus::Cancelled) => "Cancelled.".into(),
        JobPhase::Ended(RunStatus::Failed) => t
            .job
            .error
            .as_ref()
            .map_or("Failed.".into(), |e| format!("Failed: {}", crate::errors::describe(e))),
        JobPhase::Ended(RunStatus::Interrupted) => "Interrupted.".into(),
    }
}

fn last_validation(t: &LiveTraining) -> String {
    t.points
        .iter()
        .rev()
        .find(|p| p.kind == crate::types::PointKind::Validation)
        .map_or("–".into(), |p| format!("{:.4}", p.loss))
}
