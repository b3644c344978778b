//! The recorded evaluations: one row each (the live one counting up), click to open its
//! report, and Continue for one that stopped before its end.

use leptos::prelude::*;

use super::screen::use_screen;
use crate::format;
use crate::live::evaluations::LiveEval;
use crate::live::start;
use crate::types::{EvalRunSummary, RunStatus};
use citrus_types::evaluation::EvalRequest;

/// The table of runs.
#[component]
pub fn EvaluationRuns() -> impl IntoView {
    let screen = use_screen();
    view! {
        <h3>"Evaluations"</h3>
        <table class="run-table eval-runs">
            <thead>
                <tr>
                    <th>"#"</th>
                    <th>"Model"</th>
                    <th>"Benchmark"</th>
                    <th>"Mode"</th>
                    <th>"Items"</th>
                    <th>"Accuracy"</th>
                    <th>"Status"</th>
                    <th>"Started"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {move || screen.runs.get().into_iter().map(|run| view! { <RunRow run=run/> }).collect_view()}
            </tbody>
        </table>
        <Show when=move || screen.loaded.get() && screen.runs.with(Vec::is_empty)>
            <p class="empty">"No evaluations yet. Choose a benchmark file above and run one."</p>
        </Show>
    }
}

/// One run; its numbers follow the live job when it is the one running.
#[component]
fn RunRow(run: EvalRunSummary) -> impl IntoView {
    let screen = use_screen();
    let app = screen.app;
    let id = run.id;
    let live = move || {
        app.evaluation
            .get()
            .filter(|e| e.eval_id == Some(id) && e.active())
    };
    let done = {
        let done = run.done;
        move || live().map_or(done, |e| e.done)
    };
    let correct = {
        let correct = run.correct;
        move || live().map_or(correct, |e| e.correct)
    };
    let status = {
        let status = run.status;
        Signal::derive(move || live().map_or(status, |_| RunStatus::Running).as_str())
    };
    let planned = run.spec.planned;
    let can_continue = run.can_continue();
    let busy = move || {
        app.evaluation
            .with(|e| e.as_ref().is_some_and(LiveEval::active))
    };
    let resume = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        screen.selected.set(Some(id));
        start::evaluation(app, EvalRequest::Resume { id });
    };
    view! {
        <tr
            class="eval-row"
            class:selected=move || screen.selected.get() == Some(id)
            tabindex="0"
            data-eval-id=id
            data-status=status
            on:click=move |_| screen.selected.set(Some(id))
            on:keydown=move |ev| {
                if ev.key() == "Enter" {
                    screen.selected.set(Some(id));
                }
            }
        >
            <td>{id}</td>
            <td>{run.model_label()}</td>
            <td title=run.spec.bench_path.clone()>{run.bench_name().to_string()}</td>
            <td>{run.spec.mode.clone()}</td>
            <td class="num">{move || format!("{} / {planned}", done())}</td>
            <td class="num">
                {move || {
                    let done = done();
                    (done > 0).then(|| format::percent(correct() as f64 / done as f64))
                }}
            </td>
            <td>
                {move || {
                    let status = status.get();
                    view! { <span class=format!("status-pill status-{status}")>{status}</span> }
                }}
            </td>
            <td>{format::timestamp(&run.started_at)}</td>
            <td>
                <Show when=move || can_continue && live().is_none()>
                    <button class="secondary small continue-eval" disabled=busy on:click=resume>"Continue"</button>
                </Show>
            </td>
        </tr>
    }
}
