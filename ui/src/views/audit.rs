//! The Audit screen, for IT (read-only): how the case store is encrypted and where its key is
//! kept, the audit trail's latest entries (optionally of one case), and a check of its chain.

use citrus_types::protection::{AuditEntry, StoreStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::state::use_app;

/// How many of the latest entries the screen lists.
const LATEST: usize = 500;

/// The Audit screen.
#[component]
pub fn AuditView() -> impl IntoView {
    let app = use_app();
    let status = RwSignal::new(None::<StoreStatus>);
    let entries = RwSignal::new(Vec::<AuditEntry>::new());
    let case_filter = RwSignal::new(String::new());
    let verdict = RwSignal::new(String::new());
    spawn_local(async move {
        match api::protection::status().await {
            Ok(found) => {
                status.try_set(Some(found));
            }
            Err(err) => app.report(err),
        }
    });
    Effect::new(move |_| {
        let case_id = case_filter.get().trim().parse::<i64>().ok();
        spawn_local(async move {
            match api::protection::entries(case_id, LATEST).await {
                Ok(mut list) => {
                    list.reverse();
                    entries.try_set(list);
                }
                Err(err) => app.report(err),
            }
        });
    });
    let verify = move |_| {
        verdict.set("Checking…".into());
        spawn_local(async move {
            match api::protection::verify().await {
                Ok(result) => {
                    let text = match result.first_broken {
                        None => format!(
                            "The trail holds: {} entries, each chained to the one before.",
                            result.entries
                        ),
                        Some((seq, why)) => {
                            format!("Broken at entry {seq}: {}.", why.describe())
                        }
                    };
                    verdict.try_set(text);
                }
                Err(err) => {
                    verdict.try_set(String::new());
                    app.report(err);
                }
            }
        });
    };
    view! {
        <section id="view-audit" class="view">
            <header class="view-header">
                <h1>"Audit"</h1>
                <div class="actions">
                    <button id="audit-verify" class="secondary" on:click=verify>"Verify the trail"</button>
                </div>
            </header>
            <div id="store-protection" class="card">
                {move || status.get().map(|s| view! {
                    <p id="store-encrypted">
                        {match (&s.cipher, s.encrypted) {
                            (Some(cipher), true) => format!("The case store is encrypted (SQLCipher {cipher}, AES-256)."),
                            (_, true) => "The case store is encrypted.".to_string(),
                            _ => "The case store is NOT encrypted.".to_string(),
                        }}
                    </p>
                    <p id="store-key">
                        {match (s.key, s.key_location.clone()) {
                            (Some(kind), Some(place)) => format!("Its key is kept in {}: {place}.", kind.describe()),
                            _ => String::new(),
                        }}
                    </p>
                    <p class="warning">{s.warning.clone().unwrap_or_default()}</p>
                    <p class="muted">{format!("{} — {} audit entries", s.path, s.audit_entries)}</p>
                })}
            </div>
            <p id="audit-verdict" role="status">{move || verdict.get()}</p>
            <label class="inline">
                "Case"
                <input
                    id="audit-case"
                    type="number"
                    placeholder="all"
                    prop:value=move || case_filter.get()
                    on:input=move |ev| case_filter.set(event_target_value(&ev))
                />
            </label>
            <p class="muted">{format!("The latest {LATEST} entries, newest first. Entries cannot be changed or removed.")}</p>
            <table id="audit-entries" class="audit-table">
                <thead>
                    <tr><th>"#"</th><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Cases"</th><th>"Details"</th></tr>
                </thead>
                <tbody>
                    {move || entries.get().into_iter().map(|e| view! {
                        <tr class="audit-entry" data-action=e.action.code()>
                            <td>{e.seq}</td>
                            <td>{e.at.clone()}</td>
                            <td>{e.actor.clone()}</td>
                            <td title=e.action.code()>{e.action.describe()}</td>
                            <td>{e.case_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")}</td>
                            <td>
                                {e.detail.clone()}
                                {e.content_hash.as_ref().map(|h| format!(" (sha256 {}…)", &h[..12.min(h.len())]))}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
