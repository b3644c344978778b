//! The Runs tab: every run of the case, and two side by side.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::context::use_case;
use crate::api;
use crate::components::run_parts::{Answer, Differential, Outcome, Timeline};
use crate::format;
use crate::state::use_app;
use crate::types::{RunRecord, RunSummary};
use citrus_types::vocabulary::CodeAgreement;

/// The Runs tab.
#[component]
pub fn RunsTab() -> impl IntoView {
    let app = use_app();
    let ctx = use_case();
    let case_id = ctx.id.get_untracked().unwrap_or_default();
    let runs = RwSignal::new(Vec::<RunSummary>::new());
    let loaded = RwSignal::new(false);
    let left = RwSignal::new(None::<i64>);
    let right = RwSignal::new(None::<i64>);
    let left_record = RwSignal::new(None::<RunRecord>);
    let right_record = RwSignal::new(None::<RunRecord>);
    spawn_local(async move {
        match api::runs::list(case_id).await {
            Ok(list) => {
                if let [.., before, last] = list.as_slice() {
                    left.try_set(Some(before.id));
                    right.try_set(Some(last.id));
                }
                runs.try_set(list);
                loaded.try_set(true);
            }
            Err(err) => app.report(err),
        }
    });
    view! {
        <div class="runs">
            <table class="run-table">
                <thead>
                    <tr>
                        <th>"#"</th>
                        <th>"Model"</th>
                        <th>"Adapter"</th>
                        <th>"Mode"</th>
                        <th>"Status"</th>
                        <th>"Answer"</th>
                        <th>"Tokens"</th>
                        <th>"Started"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || runs.get().into_iter().map(|run| view! { <RunRow run=run/> }).collect_view()}
                </tbody>
            </table>
            <Show when=move || loaded.get() && runs.with(Vec::is_empty)>
                <p class="empty">"No runs yet. Start one in the Reasoning tab."</p>
            </Show>
            <h3>"Compare two runs"</h3>
            <div class="compare-pickers">
                <RunPicker id="compare-left" label="Left" runs=runs chosen=left/>
                <RunPicker id="compare-right" label="Right" runs=runs chosen=right/>
            </div>
            <p id="compare-codes" class="compare-codes" data-same=move || {
                let (a, b) = (left_record.try_get().flatten(), right_record.try_get().flatten());
                match (a, b) {
                    (Some(a), Some(b)) => CodeAgreement::of(&a.coded, &b.coded).same_conclusion().map(|s| s.to_string()).unwrap_or_default(),
                    _ => String::new(),
                }
            }>
                {move || match (left_record.try_get().flatten(), right_record.try_get().flatten()) {
                    (Some(a), Some(b)) if !a.coded.is_empty() || !b.coded.is_empty() => CodeAgreement::of(&a.coded, &b.coded).sentence(),
                    _ => String::new(),
                }}
            </p>
            <div class="compare">
                <CompareColumn chosen=left record=left_record/>
                <CompareColumn chosen=right record=right_record/>
            </div>
        </div>
    }
}

/// One run in the table; clicking it opens it in the Reasoning tab.
#[component]
fn RunRow(run: RunSummary) -> impl IntoView {
    let app = use_app();
    let id = run.id;
    view! {
        <tr
            class="run-row"
            tabindex="0"
            data-run-id=id
            data-status=run.status.as_str()
            on:click=move |_| app.show_run(id)
            on:keydown=move |ev| {
                if ev.key() == "Enter" {
                    app.show_run(id);
                }
            }
        >
            <td>{id}</td>
            <td>{run.model_name}</td>
            <td class="adapter-cell">{run.adapter.unwrap_or_else(|| "base".into())}</td>
            <td>{run.mode}</td>
            <td><span class=format!("status-pill status-{}", run.status)>{run.status.to_string()}</span></td>
            <td class="answer-cell">{run.answer.unwrap_or_default()}</td>
            <td class="num">{run.generated_tokens}</td>
            <td>{format::timestamp(&run.started_at)}</td>
        </tr>
    }
}

/// A select choosing one run for comparison.
#[component]
fn RunPicker(
    id: &'static str,
    label: &'static str,
    runs: RwSignal<Vec<RunSummary>>,
    chosen: RwSignal<Option<i64>>,
) -> impl IntoView {
    view! {
        <label class="inline">
            {label}
            <select id=id on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                <option value="">"Choose a run"</option>
                {move || {
                    runs.get()
                        .into_iter()
                        .map(|run| {
                            view! {
                                <option value=run.id.to_string() selected=move || chosen.get() == Some(run.id)>
                                    {format!("#{} · {}{} · {} · {}", run.id, run.model_name, run.adapter.as_ref().map_or(String::new(), |a| format!(" + {a}")), run.mode, run.status)}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}

/// One side of the comparison: settings, answer, steps and differential.
#[component]
fn CompareColumn(
    chosen: RwSignal<Option<i64>>,
    record: RwSignal<Option<RunRecord>>,
) -> impl IntoView {
    let app = use_app();
    Effect::new(move |_| {
        let Some(id) = chosen.get() else {
            record.set(None);
            return;
        };
        spawn_local(async move {
            match api::runs::get(id).await {
                Ok(run) => {
                    record.try_set(Some(run));
                }
                Err(err) => app.report(err),
            }
        });
    });
    let get = move |f: fn(&RunRecord) -> String| {
        move || record.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    view! {
        <div class="compare-column" data-run-id=move || record.with(|r| r.as_ref().map(|r| r.summary.id))>
            <Show when=move || record.with(Option::is_some) fallback=|| view! { <p class="muted">"Choose a run to compare."</p> }>
                <dl class="run-facts">
                    <dt>"Run"</dt><dd>{get(|r| format!("#{} · {}", r.summary.id, r.summary.status))}</dd>
                    <dt>"Model"</dt><dd>{get(|r| r.summary.model_name.clone())}</dd>
                    <dt>"Adapter"</dt><dd class="compare-adapter">{get(|r| r.summary.adapter.clone().unwrap_or_else(|| "none (base model)".into()))}</dd>
                    <dt>"Mode"</dt><dd>{get(|r| r.summary.mode.clone())}</dd>
                    <dt>"Settings"</dt><dd class="settings">{get(settings_of)}</dd>
                    <dt>"Tokens"</dt><dd>{get(|r| format!("{} in {}", r.summary.generated_tokens, format::elapsed(r.seconds.unwrap_or(0.0))))}</dd>
                </dl>
                <Answer outcome=Signal::derive(move || record.with(|r| r.as_ref().map(Outcome::of).unwrap_or_default()))/>
                <Differential entries=Signal::derive(move || record.with(|r| r.as_ref().map(|r| r.differential.clone()).unwrap_or_default()))/>
                <Timeline steps=Signal::derive(move || record.with(|r| r.as_ref().map(|r| r.steps.clone()).unwrap_or_default()))/>
            </Show>
        </div>
    }
}

/// The sampling settings recorded in a run, in words: temperature, seed and token budget.
fn settings_of(run: &RunRecord) -> String {
    let Ok(settings) = serde_json::from_str::<serde_json::Value>(&run.settings_json) else {
        return "—".to_string();
    };
    let value = |pointer: &str| {
        settings
            .pointer(pointer)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "—".to_string())
    };
    format!(
        "temperature {} · seed {} · up to {} tokens",
        value("/sampling/temperature"),
        value("/sampling/seed"),
        value("/max_new_tokens")
    )
}
