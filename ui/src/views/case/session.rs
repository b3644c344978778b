//! The review-session bar shown above a case while walking the review queue.

use leptos::prelude::*;

use crate::state::{use_app, AppState, Screen, Tab};

/// Moves the session to its next case, or ends it after the last.
pub fn next_in_queue(app: AppState) {
    let Some(mut session) = app.session.get_untracked() else {
        return;
    };
    session.index += 1;
    match session.queue.get(session.index).cloned() {
        Some(item) => {
            app.session.set(Some(session));
            app.open_case(Some(item.case_id), "clinical", Tab::Review);
        }
        None => {
            app.session.set(None);
            app.screen.set(Screen::Review);
        }
    }
}

/// Progress through the queue with Next and End.
#[component]
pub fn SessionBar() -> impl IntoView {
    let app = use_app();
    move || {
        app.session.get().map(|session| {
            let total = session.queue.len();
            let position = session.index + 1;
            view! {
                <div class="session-bar" role="region" aria-label="Review session">
                    <span class="label">"Review session"</span>
                    <span id="session-progress">{format!("{position} of {total}")}</span>
                    <span class="spacer"></span>
                    <button id="next-in-queue" on:click=move |_| next_in_queue(app)>
                        {if position < total { "Next case" } else { "Finish" }}
                    </button>
                    <button
                        id="end-session"
                        class="secondary"
                        on:click=move |_| {
                            app.session.set(None);
                            app.screen.set(Screen::Review);
                        }
                    >
                        "End session"
                    </button>
                </div>
            }
        })
    }
}
