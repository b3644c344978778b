//! The Training screen: choose data (a file or the reviewed cases) and check it, set the
//! run's settings, see the pre-flight estimate, then train with a live chart; pause, resume,
//! cancel; browse past runs. Everything goes through the same library functions as
//! `citrus train`.

mod chart;
mod data;
mod form;
mod live;
mod runs;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::api;
use crate::state::{use_app, AppState};
use crate::types::TrainRunSummary;

/// What the screen's parts share: the recorded runs and the one open.
#[derive(Clone, Copy)]
pub(crate) struct TrainScreen {
    /// The app.
    pub app: AppState,
    /// Every recorded run, newest first.
    pub runs: RwSignal<Vec<TrainRunSummary>>,
    /// Whether the list has loaded once.
    pub loaded: RwSignal<bool>,
    /// The run whose chart is open.
    pub selected: RwSignal<Option<i64>>,
    /// Bumped to reload the open run.
    pub revision: RwSignal<u32>,
}

impl TrainScreen {
    /// Reloads the list of runs (and, through `revision`, the open one).
    pub fn reload(self) {
        let app = self.app;
        spawn_local(async move {
            match api::call::<Vec<TrainRunSummary>>("list_training_runs", json!({})).await {
                Ok(list) => {
                    self.runs.try_set(list);
                    self.loaded.try_set(true);
                    self.revision.try_update(|r| *r += 1);
                }
                Err(err) => app.report(err),
            }
        });
    }
}

fn use_screen() -> TrainScreen {
    expect_context::<TrainScreen>()
}

/// The Training screen.
#[component]
pub fn TrainingView() -> impl IntoView {
    let screen = TrainScreen {
        app: use_app(),
        runs: RwSignal::new(Vec::new()),
        loaded: RwSignal::new(false),
        selected: RwSignal::new(None),
        revision: RwSignal::new(0),
    };
    provide_context(screen);
    screen.reload();
    // The list follows the live job: a run recorded, ended, paused (also after leaving and
    // coming back to this screen while it ran).
    let app = screen.app;
    Effect::new(move |previous: Option<Option<(Option<i64>, String)>>| {
        let now = app
            .training
            .with(|t| t.as_ref().map(|t| (t.train_id, t.status.clone())));
        if previous.is_some_and(|previous| previous != now) {
            screen.reload();
        }
        now
    });
    view! {
        <section id="view-training" class="view">
            <header class="view-header">
                <h1>"Training"</h1>
                <p class="muted">
                    "Fine-tune a LoRA adapter on this machine's data with the model that reasons; nothing leaves it."
                </p>
            </header>
            <live::LiveTrainingPanel/>
            <form::NewTraining/>
            <runs::TrainingRuns/>
        </section>
    }
}
