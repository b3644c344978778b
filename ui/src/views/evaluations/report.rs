//! The open evaluation: accuracy with its interval beside the chance and majority-key
//! baselines, overall and per exam; its items, filtered by outcome and exam; export.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::item::ItemDetail;
use super::screen::use_screen;
use crate::api;
use crate::format;
use crate::types::{EvalReport, GroupSummary, ItemRecord};

/// The report of the selected run.
#[component]
pub fn EvaluationReport() -> impl IntoView {
    let screen = use_screen();
    let app = screen.app;
    let report = RwSignal::new(None::<EvalReport>);
    let opened = RwSignal::new(None::<usize>);
    Effect::new(move |_| {
        let id = screen.selected.get();
        screen.revision.track();
        let Some(id) = id else {
            report.set(None);
            return;
        };
        spawn_local(async move {
            match api::evaluations::get(id).await {
                Ok(found) => {
                    if report.with_untracked(|r| r.as_ref().map(|r| r.run.id)) != Some(id) {
                        opened.try_set(None);
                    }
                    report.try_set(Some(found));
                }
                Err(err) => app.report(err),
            }
        });
    });
    let export = move |_| {
        let Some(id) = screen.selected.get_untracked() else {
            return;
        };
        spawn_local(async move {
            if let Err(err) = api::evaluations::export(id).await {
                app.report(err);
            }
        });
    };
    move || {
        report.get().map(|report| {
            let run = report.run.clone();
            let groups: Vec<GroupSummary> = std::iter::once(report.summary.overall.clone())
                .chain(report.summary.exams.iter().cloned())
                .collect();
            let exams: Vec<String> = report.summary.exams.iter().map(|g| g.name.clone()).collect();
            let items = report.items.clone();
            view! {
                <div id="eval-report" class="eval-report" data-eval-id=run.id>
                    <div class="view-header">
                        <h3>
                            {format!("Evaluation {}: {} on {}", run.id, run.model_label(), run.bench_name())}
                            <span class="muted">{format!(" · {} · {} of {} items · {}", run.spec.mode, run.done, run.spec.planned, run.status)}</span>
                        </h3>
                        <button id="export-eval" class="secondary" on:click=export>"Export report…"</button>
                    </div>
                    {run.error.clone().map(|e| view! { <p class="run-error">{e}</p> })}
                    <SummaryTable groups=groups/>
                    <ItemBrowser items=items exams=exams opened=opened run_id=run.id/>
                </div>
            }
        })
    }
}

/// Accuracy and baselines, all items first, then each exam.
#[component]
fn SummaryTable(groups: Vec<GroupSummary>) -> impl IntoView {
    view! {
        <table class="run-table summary-table" id="eval-summary">
            <thead>
                <tr>
                    <th>"Items"</th>
                    <th>"n"</th>
                    <th>"Accuracy"</th>
                    <th>"95% interval"</th>
                    <th>"Unmatched"</th>
                    <th title="Mean of 1/k over the items">"Chance"</th>
                    <th title="Always answering the most common key">"Majority key"</th>
                    <th>"Tokens / item"</th>
                    <th>"Seconds / item"</th>
                </tr>
            </thead>
            <tbody>
                {groups.into_iter().enumerate().map(|(index, g)| {
                    let beats_chance = g.accuracy.low > g.chance.max(g.majority_key);
                    view! {
                        <tr class="summary-row" class:overall=index == 0 data-group=g.name.clone()>
                            <td>{g.name.clone()}</td>
                            <td class="num">{g.n}</td>
                            <td class="num accuracy" class:good-text=beats_chance>{format::percent(g.accuracy.value)}</td>
                            <td class="num">{format::interval(g.accuracy.low, g.accuracy.high)}</td>
                            <td class="num">{format::percent(g.unmatched.value)}</td>
                            <td class="num">{format::percent(g.chance)}</td>
                            <td class="num">
                                {format::percent(g.majority_key)}
                                {g.majority_letter.map(|l| format!(" ({l})"))}
                            </td>
                            <td class="num">{format!("{:.0}", g.mean_tokens)}</td>
                            <td class="num">{format!("{:.2}", g.mean_seconds)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <p class="muted small">
            "Accuracy is green only when its whole 95% interval lies above both baselines."
        </p>
    }
}

/// The items, filtered by outcome and exam; click one to open it.
#[component]
fn ItemBrowser(
    items: Vec<ItemRecord>,
    exams: Vec<String>,
    opened: RwSignal<Option<usize>>,
    run_id: i64,
) -> impl IntoView {
    let outcome = RwSignal::new(String::from("all"));
    let exam = RwSignal::new(String::new());
    let items = StoredValue::new(items);
    let shown = move || {
        let outcome = outcome.get();
        let exam = exam.get();
        items.with_value(|items| {
            items
                .iter()
                .filter(|i| outcome == "all" || i.outcome.as_str() == outcome)
                .filter(|i| exam.is_empty() || i.exam_name.as_deref() == Some(exam.as_str()))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div class="filters">
            <label>
                "Show"
                <select id="item-filter" on:change=move |ev| outcome.set(event_target_value(&ev))>
                    <option value="all">"All items"</option>
                    <option value="wrong">"Wrong"</option>
                    <option value="unmatched">"Unmatched"</option>
                    <option value="correct">"Correct"</option>
                </select>
            </label>
            <label>
                "Exam"
                <select id="item-exam" on:change=move |ev| exam.set(event_target_value(&ev))>
                    <option value="">"Every exam"</option>
                    {exams.into_iter().map(|e| view! { <option value=e.clone()>{e.clone()}</option> }).collect_view()}
                </select>
            </label>
            <span class="muted" id="item-count">{move || format!("{} item(s)", shown().len())}</span>
        </div>
        <div class="item-browser">
            <div class="item-list">
                <table class="run-table">
                    <thead>
                        <tr><th>"#"</th><th>"Exam"</th><th>"Key"</th><th>"Answer"</th><th>"Outcome"</th><th>"Tokens"</th></tr>
                    </thead>
                    <tbody>
                        {move || shown().into_iter().map(|item| {
                            let position = item.position;
                            view! {
                                <tr
                                    class="eval-item-row"
                                    class:selected=move || opened.get() == Some(position)
                                    tabindex="0"
                                    data-position=position
                                    data-outcome=item.outcome.as_str()
                                    on:click=move |_| opened.set(Some(position))
                                    on:keydown=move |ev| { if ev.key() == "Enter" { opened.set(Some(position)) } }
                                >
                                    <td>{position + 1}{item.item_id.map(|id| format!(" ({id})"))}</td>
                                    <td>{item.exam_name.unwrap_or_default()}</td>
                                    <td>{item.key}</td>
                                    <td>{item.predicted.unwrap_or_else(|| "–".into())}</td>
                                    <td><span class=format!("outcome outcome-{}", item.outcome)>{item.outcome.as_str()}</span></td>
                                    <td class="num">{item.tokens}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <ItemDetail run_id=run_id opened=opened/>
        </div>
    }
}
