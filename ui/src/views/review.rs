//! The Review screen: the queue of unreviewed runs and starting a review session.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::state::{use_app, Session, Tab};
use crate::types::QueuedReview;

/// The Review screen.
#[component]
pub fn ReviewView() -> impl IntoView {
    let app = use_app();
    let queue = RwSignal::new(Vec::<QueuedReview>::new());
    let loaded = RwSignal::new(false);
    spawn_local(async move {
        match api::reviews::queue().await {
            Ok(list) => {
                queue.try_set(list);
                loaded.try_set(true);
            }
            Err(err) => app.report(err),
        }
    });
    let start_at = move |index: usize| {
        let list = queue.get_untracked();
        let Some(item) = list.get(index).cloned() else {
            return;
        };
        app.session.set(Some(Session { queue: list, index }));
        app.open_case(Some(item.case_id), "clinical", Tab::Review);
    };
    view! {
        <section id="view-review" class="view">
            <header class="view-header">
                <h1>"Review"</h1>
                <div class="actions">
                    <button id="start-session" disabled=move || queue.with(Vec::is_empty) on:click=move |_| start_at(0)>
                        "Start review session"
                    </button>
                </div>
            </header>
            <p class="muted">"The latest finished, unreviewed run of each case."</p>
            <div class="queue" role="list">
                {move || queue.get().into_iter().enumerate().map(|(index, item)| view! {
                    <div
                        class="queue-row"
                        role="listitem"
                        tabindex="0"
                        data-case-id=item.case_id
                        data-run-id=item.run_id
                        on:click=move |_| start_at(index)
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" {
                                start_at(index);
                            }
                        }
                    >
                        <span class="case-title">{item.title}</span>
                        <span class="muted">{format!("Run #{}", item.run_id)}</span>
                    </div>
                }).collect_view()}
            </div>
            <Show when=move || loaded.get() && queue.with(Vec::is_empty)>
                <p class="empty">"Nothing waits for review."</p>
            </Show>
        </section>
    }
}
