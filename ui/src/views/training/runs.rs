//! Past training runs: a table with status, steps and final losses; open one to see its chart
//! and settings; Resume a paused or interrupted one.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::chart::{LossChart, PreferenceCharts};
use super::screen::use_screen;
use crate::api;
use crate::format;
use crate::live::start;
use crate::live::training::LiveTraining;
use crate::types::{TrainRunRecord, TrainRunSummary};
use citrus_types::training::TrainStart;

/// The table of runs and the open one.
#[component]
pub fn TrainingRuns() -> impl IntoView {
    let screen = use_screen();
    view! {
        <div class="panel training-runs">
            <h3 class="first">"Past runs"</h3>
            <Show
                when=move || !screen.runs.with(Vec::is_empty)
                fallback=move || view! {
                    <p class="empty">{move || if screen.loaded.get() { "No training runs yet." } else { "Loading…" }}</p>
                }
            >
                <table class="run-table" id="training-runs">
                    <thead>
                        <tr>
                            <th>"#"</th><th>"Data"</th><th>"Base"</th><th>"Status"</th>
                            <th>"Steps"</th><th>"Loss"</th><th>"Validation"</th><th>"Started"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || screen.runs.get().into_iter().map(|run| view! { <RunRow run=run/> }).collect_view()}
                    </tbody>
                </table>
            </Show>
            <RunDetail/>
        </div>
    }
}

#[component]
fn RunRow(run: TrainRunSummary) -> impl IntoView {
    let screen = use_screen();
    let id = run.id;
    let dataset = std::path::Path::new(&run.spec.dataset_name)
        .file_name()
        .map_or(run.spec.dataset_name.clone(), |n| {
            n.to_string_lossy().into_owned()
        });
    view! {
        <tr
            class="run-row train-run-row"
            class:selected=move || screen.selected.get() == Some(id)
            tabindex="0"
            data-train-id=id
            data-status=run.status.as_str()
            on:click=move |_| screen.selected.set(Some(id))
            on:keydown=move |ev| if ev.key() == "Enter" { screen.selected.set(Some(id)) }
        >
            <td>{id}</td>
            <td title=run.spec.dataset_name.clone()>{dataset}</td>
            <td>{run.spec.model_name.clone()}</td>
            <td><span class=format!("status-pill status-{}", run.status)>{run.status.to_string()}</span></td>
            <td class="num">{format!("{} / {}", run.step, run.spec.total_steps)}</td>
            <td class="num">{run.loss.map_or("–".into(), |l| format!("{l:.4}"))}</td>
            <td class="num">{run.validation_loss.map_or("–".into(), |l| format!("{l:.4}"))}</td>
            <td>{format::timestamp(&run.started_at)}</td>
        </tr>
    }
}

/// The open run: its chart, settings and, when it can continue, Resume.
#[component]
fn RunDetail() -> impl IntoView {
    let screen = use_screen();
    let app = screen.app;
    let record = RwSignal::new(None::<TrainRunRecord>);
    Effect::new(move |_| {
        screen.revision.track();
        let Some(id) = screen.selected.get() else {
            record.set(None);
            return;
        };
        spawn_local(async move {
            match api::training::get(id).await {
                Ok(found) => {
                    record.try_set(Some(found));
                }
                Err(err) => app.report(err),
            }
        });
    });
    let points = Signal::derive(move || {
        record.with(|r| r.as_ref().map(|r| r.points.clone()).unwrap_or_default())
    });
    let total =
        Signal::derive(move || record.with(|r| r.as_ref().map_or(0, |r| r.run.spec.total_steps)));
    let training_now = move || {
        app.training
            .with(|t| t.as_ref().is_some_and(LiveTraining::active))
    };
    let resume = move |_| {
        let Some(id) = screen.selected.get_untracked() else {
            return;
        };
        start::training(app, TrainStart::Resume { id });
    };
    move || {
        record.get().map(|r| {
            let run = r.run.clone();
            let c = &run.spec.choices;
            let settings = format!(
                "{} · rank {} · alpha {} · {} · learning rate {:.0e} · {} · batch {} × {} · max {} tokens · validation {:.0}% · seed {}{}",
                c.describe_method(), c.rank, c.alpha, c.targets, c.learning_rate,
                c.steps.map_or(format!("{} epoch(s)", c.epochs), |s| format!("{s} steps")),
                c.batch_size, c.grad_accum, c.max_len, c.val_split * 100.0, c.seed,
                if c.quantized_base { " · quantized base" } else { "" }
            );
            let can_resume = run.can_resume();
            view! {
                <div id="train-run-detail" class="train-run-detail" data-train-id=run.id>
                    <h4>{format!("Run #{} · {}", run.id, run.status)}</h4>
                    <dl class="run-facts">
                        <dt>"Data"</dt><dd>{run.spec.dataset_name.clone()}</dd>
                        <dt>"Base"</dt><dd>{run.spec.model_name.clone()}</dd>
                        <dt>"Settings"</dt><dd class="settings">{settings}</dd>
                        <dt>"Folder"</dt><dd class="mono">{run.spec.out_dir.display().to_string()}</dd>
                        {run.error.clone().map(|e| view! { <dt>"Error"</dt><dd class="bad-text">{e}</dd> })}
                    </dl>
                    <LossChart id="run-loss-chart" points=points total_steps=total/>
                    <PreferenceCharts ids=["run-reward-accuracy", "run-reward-margin", "run-logp"] points=points total_steps=total/>
                    {can_resume.then(|| view! {
                        <div class="actions">
                            <button id="resume-run" on:click=resume disabled=training_now>"Resume from the last checkpoint"</button>
                        </div>
                    })}
                </div>
            }
        })
    }
}
