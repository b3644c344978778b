//! The Training screen: choose data (a file or the reviewed cases) and check it, set the
//! run's settings, see the pre-flight estimate, then train with a live chart; pause, resume,
//! cancel; browse past runs. Everything goes through the same library functions as
//! `citrus train`.

mod chart;
mod data;
mod form;
mod live;
mod runs;
mod screen;

use crate::state::use_app;
use leptos::prelude::*;
use screen::TrainScreen;

use crate::live::job::JobPhase;

/// The Training screen.
#[component]
pub fn TrainingView() -> impl IntoView {
    let screen = TrainScreen::provide(use_app(), false);
    // The list follows the live job: a run recorded, ended, paused (also after leaving and
    // coming back to this screen while it ran).
    let app = screen.app;
    Effect::new(move |previous: Option<Option<(Option<i64>, JobPhase)>>| {
        let now = app
            .training
            .with(|t| t.as_ref().map(|t| (t.train_id, t.job.phase)));
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
