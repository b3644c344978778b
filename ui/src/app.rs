//! The window's frame: sidebar navigation, the current screen, the error banner and the note.

use leptos::prelude::*;

use crate::errors;
use crate::state::{use_app, AppState, Screen, NAV};
use crate::views::{
    audit::AuditView, case::CaseView, cases::CasesView, evaluations::EvaluationView,
    models::ModelsView, review::ReviewView, training::TrainingView,
};

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    let app = AppState::provide();
    app.refresh_engine();
    let screen = Memo::new(move |_| app.screen.get());
    let nonce = Memo::new(move |_| app.case.with(|c| c.nonce));
    view! {
        <div class="frame">
            <Sidebar/>
            <main class="main">
                <ErrorBanner/>
                <div class="screen">
                    {move || match screen.get() {
                        Screen::Cases => view! { <CasesView/> }.into_any(),
                        Screen::Case => {
                            nonce.track();
                            view! { <CaseView/> }.into_any()
                        }
                        Screen::Review => view! { <ReviewView/> }.into_any(),
                        Screen::Models => view! { <ModelsView/> }.into_any(),
                        Screen::Evaluation => view! { <EvaluationView/> }.into_any(),
                        Screen::Training => view! { <TrainingView/> }.into_any(),
                        Screen::Audit => view! { <AuditView/> }.into_any(),
                    }}
                </div>
                <footer id="decision-support-note" role="note">
                    "Decision support only — not a diagnosis. A clinician must confirm every finding."
                </footer>
            </main>
        </div>
    }
}

/// The left navigation with the active model's name.
#[component]
fn Sidebar() -> impl IntoView {
    let app = use_app();
    let active_name = move || {
        app.engine
            .get()
            .and_then(|s| s.model)
            .map(|m| m.name)
            .unwrap_or_else(|| "No model".to_string())
    };
    view! {
        <nav class="sidebar" aria-label="Main">
            <div class="brand">"Citrus Workstation"</div>
            <ul class="nav-list">
                {NAV
                    .iter()
                    .map(|entry| {
                        let target = entry.screen;
                        let current = move || {
                            let screen = app.screen.get();
                            screen == target || (screen == Screen::Case && target == Screen::Cases)
                        };
                        view! {
                            <li>
                                <button
                                    id=entry.id
                                    class="nav-item"
                                    class:current=current
                                    aria-current=move || current().then_some("page")
                                    on:click=move |_| app.screen.set(target)
                                >
                                    {entry.label}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <div class="sidebar-model" title="Active model">
                <span class="label">"Model"</span>
                <span id="sidebar-model-name">{active_name}</span>
            </div>
        </nav>
    }
}

/// The dismissable error banner.
#[component]
fn ErrorBanner() -> impl IntoView {
    let app = use_app();
    let _esc = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && app.error.get_untracked().is_some() {
            app.error.set(None);
        }
    });
    move || {
        app.error.get().map(|error| {
            view! {
                <div id="error-banner" class="banner" role="alert" data-code=error.code.clone()>
                    <span class="banner-text">
                        {errors::describe(&error)}
                        {errors::detail(&error).map(|detail| view! { <span class="banner-detail">{detail}</span> })}
                    </span>
                    <button class="banner-close" aria-label="Dismiss" on:click=move |_| app.error.set(None)>
                        "×"
                    </button>
                </div>
            }
        })
    }
}
