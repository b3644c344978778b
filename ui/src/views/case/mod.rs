//! The case screen: header, review-session bar, tabs and their panels.

mod autosave;
mod context;
mod editor;
mod reasoning;
mod review;
mod runs;
mod session;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::draft::Draft;
use crate::live::reasoning::RunOptions;
use crate::state::{use_app, Tab};
use autosave::Autosave;
use context::CaseCtx;

const TABS: [(Tab, &str, &str); 4] = [
    (Tab::Case, "tab-case", "Case"),
    (Tab::Reasoning, "tab-reasoning", "Reasoning"),
    (Tab::Runs, "tab-runs", "Runs"),
    (Tab::Review, "tab-review", "Review"),
];

/// The case screen for the case in `AppState::case`.
#[component]
pub fn CaseView() -> impl IntoView {
    let app = use_app();
    let open = app.case.get_untracked();
    let draft = RwSignal::new(Draft::new(&open.kind));
    let new_title = if open.kind == "exam" {
        "New exam item"
    } else {
        "New clinical case"
    };
    let title = RwSignal::new(new_title.to_string());
    let ctx = CaseCtx {
        id: Memo::new(move |_| app.case.with(|c| c.id)),
        draft,
        loaded: RwSignal::new(open.id.is_none()),
        title,
        save: Autosave::new(app, open.nonce, open.id, draft, title),
        options: RwSignal::new(RunOptions::default()),
    };
    provide_context(ctx);
    if let Some(id) = open.id {
        spawn_local(async move {
            match api::cases::get(id).await {
                Ok(case) => {
                    ctx.draft.try_set(Draft::from_input(&case.input));
                    ctx.title.try_set(case.title);
                    ctx.loaded.try_set(true);
                }
                Err(err) => app.report(err),
            }
        });
    }
    let save = ctx.save;
    on_cleanup(move || save.flush());
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            reasoning::reason_now(app, ctx);
        }
    });
    on_cleanup(move || keys.remove());

    let tab = Memo::new(move |_| app.case.with(|c| c.tab));
    let kind_label = move || {
        if draft.with(|d| d.kind == "exam") {
            "Exam item"
        } else {
            "Clinical case"
        }
    };
    view! {
        <section id="view-case" class="view">
            <session::SessionBar/>
            <header class="view-header case-header">
                <div>
                    <button class="link back" on:click=move |_| app.screen.set(crate::state::Screen::Cases)>
                        "← Cases"
                    </button>
                    <h1 id="case-title">{move || title.get()}</h1>
                    <span class="muted">{kind_label}</span>
                </div>
            </header>
            <div class="tabs" role="tablist">
                {TABS
                    .iter()
                    .map(|&(target, id, label)| {
                        let needs_saved = target != Tab::Case;
                        view! {
                            <button
                                id=id
                                role="tab"
                                class="tab"
                                aria-selected=move || (tab.get() == target).to_string()
                                disabled=move || needs_saved && ctx.id.get().is_none()
                                on:click=move |_| app.case.update(|c| c.tab = target)
                            >
                                {label}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <div class="tab-panel" role="tabpanel">
                {move || match tab.get() {
                    Tab::Case => view! { <editor::Editor/> }.into_any(),
                    Tab::Reasoning => view! { <reasoning::ReasoningTab/> }.into_any(),
                    Tab::Runs => view! { <runs::RunsTab/> }.into_any(),
                    Tab::Review => view! { <review::ReviewTab/> }.into_any(),
                }}
            </div>
        </section>
    }
}
