//! The Evaluation screen: run a model (and adapter) on a benchmark file, watch it, browse its
//! items, and compare two runs with paired statistics. Everything goes through the same
//! library functions as `citrus eval`.

mod compare;
mod form;
mod item;
mod progress;
mod report;
mod runs;

use crate::state::use_app;
use crate::types::EvalRunSummary;
use crate::views::run_list::RunList;
use leptos::prelude::*;

/// What the screen's parts share: the recorded runs and the one open.
pub(crate) type EvalScreen = RunList<EvalRunSummary>;

fn use_screen() -> EvalScreen {
    expect_context::<EvalScreen>()
}

/// The Evaluation screen.
#[component]
pub fn EvaluationView() -> impl IntoView {
    EvalScreen::provide(use_app(), "list_evaluations", true);
    view! {
        <section id="view-evaluation" class="view">
            <header class="view-header">
                <h1>"Evaluation"</h1>
                <p class="muted">"Benchmarks run on this machine; nothing leaves it."</p>
            </header>
            <form::NewEvaluation/>
            <progress::LiveEvaluation/>
            <runs::EvaluationRuns/>
            <report::EvaluationReport/>
            <compare::CompareRuns/>
        </section>
    }
}
