//! The Evaluation screen: run a model (and adapter) on a benchmark file, watch it, browse its
//! items, and compare two runs with paired statistics. Everything goes through the same
//! library functions as `citrus eval`.

mod compare;
mod form;
mod item;
mod progress;
mod report;
mod reviewed;
mod runs;
mod screen;

use crate::state::use_app;
use leptos::prelude::*;
use screen::EvalScreen;

/// The Evaluation screen.
#[component]
pub fn EvaluationView() -> impl IntoView {
    EvalScreen::provide(use_app(), true);
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
            <reviewed::ReviewedCases/>
        </section>
    }
}
