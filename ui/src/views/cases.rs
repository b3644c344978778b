//! The case list: search, filters, new cases and deletion.

use std::time::Duration;

use citrus_types::case::CaseQuery;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::confirm::ConfirmDialog;
use crate::format;
use crate::state::{use_app, Tab};
use crate::types::CaseSummary;

/// A text signal that follows `source` once it has been still for `delay`.
pub fn debounced(source: RwSignal<String>, delay: Duration) -> RwSignal<String> {
    let settled = RwSignal::new(source.get_untracked());
    let timer = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |_| {
        let value = source.get();
        if let Some(handle) = timer.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(
            move || {
                settled.try_maybe_update(|current| {
                    let changed = *current != value;
                    if changed {
                        *current = value;
                    }
                    (changed, ())
                });
            },
            delay,
        );
        timer.set_value(handle.ok());
    });
    settled
}

/// The list's filters as typed.
#[derive(Clone, Copy)]
struct Filters {
    search: RwSignal<String>,
    diagnosis: RwSignal<String>,
    /// `all`, `reviewed` or `unreviewed`.
    reviewed: RwSignal<String>,
}

impl Filters {
    fn new() -> Self {
        Self {
            search: RwSignal::new(String::new()),
            diagnosis: RwSignal::new(String::new()),
            reviewed: RwSignal::new(String::from("all")),
        }
    }

    /// The query the filters make, once typing has settled (tracks them).
    fn query(self) -> Signal<CaseQuery> {
        let search = debounced(self.search, Duration::from_millis(250));
        let diagnosis = debounced(self.diagnosis, Duration::from_millis(250));
        let reviewed = self.reviewed;
        Signal::derive(move || {
            let diagnosis = diagnosis.get();
            CaseQuery {
                search: search.get(),
                reviewed: match reviewed.get().as_str() {
                    "reviewed" => Some(true),
                    "unreviewed" => Some(false),
                    _ => None,
                },
                diagnosis: (!diagnosis.trim().is_empty()).then_some(diagnosis),
            }
        })
    }
}

/// The Cases screen.
#[component]
pub fn CasesView() -> impl IntoView {
    let app = use_app();
    let filters = Filters::new();
    let query = filters.query();
    let cases = RwSignal::new(Vec::<CaseSummary>::new());
    let loaded = RwSignal::new(false);
    let reload = RwSignal::new(0u32);
    let to_delete = RwSignal::new(None::<CaseSummary>);

    Effect::new(move |_| {
        reload.track();
        let query = query.get();
        spawn_local(async move {
            match api::cases::list(query).await {
                Ok(list) => {
                    cases.try_set(list);
                    loaded.try_set(true);
                }
                Err(err) => app.report(err),
            }
        });
    });

    view! {
        <section id="view-cases" class="view">
            <header class="view-header">
                <h1>"Cases"</h1>
                <div class="actions">
                    <button id="new-clinical-case" on:click=move |_| app.open_case(None, "clinical", Tab::Case)>
                        "New clinical case"
                    </button>
                    <button id="new-exam-item" class="secondary" on:click=move |_| app.open_case(None, "exam", Tab::Case)>
                        "New exam item"
                    </button>
                </div>
            </header>
            <FilterBar filters=filters/>
            <div class="case-list" role="list">
                {move || {
                    let list = cases.get();
                    if list.is_empty() && loaded.get() {
                        return view! { <p class="empty">"No cases match. Create one with “New clinical case” or “New exam item”."</p> }.into_any();
                    }
                    list.into_iter().map(|case| view! { <CaseRow case=case to_delete=to_delete/> }).collect_view().into_any()
                }}
            </div>
            <DeleteCase to_delete=to_delete reload=reload/>
        </section>
    }
}

/// Search, review filter and confirmed diagnosis.
#[component]
fn FilterBar(filters: Filters) -> impl IntoView {
    let Filters {
        search,
        diagnosis,
        reviewed,
    } = filters;
    view! {
        <div class="filters">
            <label class="grow">
                <span class="label">"Search"</span>
                <input
                    id="case-search"
                    type="search"
                    placeholder="Title, complaint, question…"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
            </label>
            <label>
                <span class="label">"Review"</span>
                <select id="filter-reviewed" on:change=move |ev| reviewed.set(event_target_value(&ev))>
                    <option value="all">"All"</option>
                    <option value="reviewed">"Reviewed"</option>
                    <option value="unreviewed">"Not reviewed"</option>
                </select>
            </label>
            <label>
                <span class="label">"Confirmed diagnosis"</span>
                <input
                    id="filter-diagnosis"
                    type="text"
                    prop:value=move || diagnosis.get()
                    on:input=move |ev| diagnosis.set(event_target_value(&ev))
                />
            </label>
        </div>
    }
}

/// The confirmation before a case is deleted, and the deletion.
#[component]
fn DeleteCase(to_delete: RwSignal<Option<CaseSummary>>, reload: RwSignal<u32>) -> impl IntoView {
    let app = use_app();
    let confirm_delete = Callback::new(move |()| {
        let Some(case) = to_delete.get_untracked() else {
            return;
        };
        to_delete.set(None);
        spawn_local(async move {
            match api::cases::delete(case.id).await {
                Ok(()) => {
                    app.live.update(|m| {
                        m.remove(&case.id);
                    });
                    reload.try_update(|n| *n += 1);
                }
                Err(err) => app.report(err),
            }
        });
    });
    let cancel_delete = Callback::new(move |()| to_delete.set(None));
    let delete_message = Signal::derive(move || {
        to_delete
            .get()
            .map(|c| {
                format!(
                    "Delete “{}” with all its runs and reviews? This cannot be undone.",
                    c.title
                )
            })
            .unwrap_or_default()
    });
    view! {
        <Show when=move || to_delete.get().is_some()>
            <ConfirmDialog
                message=delete_message
                confirm_label="Delete"
                confirm_id="confirm-delete"
                cancel_id="cancel-delete"
                on_confirm=confirm_delete
                on_cancel=cancel_delete
            />
        </Show>
    }
}

/// One case in the list; clicking it (or Enter) opens the case.
#[component]
fn CaseRow(case: CaseSummary, to_delete: RwSignal<Option<CaseSummary>>) -> impl IntoView {
    let app = use_app();
    let id = case.id;
    let kind = case.kind.clone();
    let open = move || app.open_case(Some(id), &kind, Tab::Case);
    let open_key = open.clone();
    let kind_label = if case.kind == "exam" {
        "Exam item"
    } else {
        "Clinical"
    };
    let runs = match case.runs {
        1 => "1 run".to_string(),
        n => format!("{n} runs"),
    };
    let for_delete = case.clone();
    view! {
        <div
            class="case-row"
            role="listitem"
            tabindex="0"
            data-case-id=id
            on:click=move |_| open()
            on:keydown=move |ev| {
                if ev.key() == "Enter" {
                    open_key();
                }
            }
        >
            <div class="case-main">
                <span class="case-title">{case.title.clone()}</span>
                <span class="case-meta">
                    <span class="case-kind">{kind_label}</span>
                    <span class="case-runs">{runs}</span>
                    <span class="case-updated">{format::timestamp(&case.updated_at)}</span>
                </span>
            </div>
            <div class="case-side">
                {case.confirmed_diagnosis.clone().map(|d| view! { <span class="case-diagnosis">{d}</span> })}
                {case.reviewed.then(|| view! { <span class="badge reviewed-badge">"Reviewed"</span> })}
                <button
                    class="delete-case icon-button"
                    aria-label="Delete case"
                    title="Delete case"
                    on:click=move |ev| {
                        ev.stop_propagation();
                        to_delete.set(Some(for_delete.clone()));
                    }
                    on:keydown=|ev| ev.stop_propagation()
                >
                    "Delete"
                </button>
            </div>
        </div>
    }
}
