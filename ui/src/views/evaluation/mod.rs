//! The Evaluation screen: run a model (and adapter) on a benchmark file, watch it, browse its
//! items, and compare two runs with paired statistics. Everything goes through the same
//! library functions as `citrus eval`.

mod compare;
mod form;
mod item;
mod progress;
mod report;
mod runs;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::api;
use crate::state::{use_app, AppState};
use crate::types::EvalRunSummary;

/// What the screen's parts share: the recorded runs and the one open.
#[derive(Clone, Copy)]
pub(crate) struct EvalScreen {
    /// The app.
    pub app: AppState,
    /// Every recorded evaluation, newest first.
    pub runs: RwSignal<Vec<EvalRunSummary>>,
    /// Whether the list has loaded once.
    pub loaded: RwSignal<bool>,
    /// The run whose report is open.
    pub selected: RwSignal<Option<i64>>,
    /// Bumped to reload the open report.
    pub revision: RwSignal<u32>,
}

impl EvalScreen {
    /// Reloads the list of runs (and, through `revision`, the open report).
    pub fn reload(self) {
        let app = self.app;
        spawn_local(async move {
            match api::call::<Vec<EvalRunSummary>>("list_evaluations", json!({})).await {
                Ok(list) => {
                    if self.selected.get_untracked().is_none() {
                        self.selected.try_set(list.first().map(|r| r.id));
                    }
                    self.runs.try_set(list);
                    self.loaded.try_set(true);
                    self.revision.try_update(|r| *r += 1);
                }
                Err(err) => app.report(err),
            }
        });
    }
}

fn use_screen() -> EvalScreen {
    expect_context::<EvalScreen>()
}

/// The Evaluation screen.
#[component]
pub fn EvaluationView() -> impl IntoView {
    let screen = EvalScreen {
        app: use_app(),
        runs: RwSignal::new(Vec::new()),
        loaded: RwSignal::new(false),
        selected: RwSignal::new(None),
        revision: RwSignal::new(0),
    };
    provide_context(screen);
    screen.reload();
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
