//! The adapter library on the Models screen: each adapter with its base and final metrics;
//! choose the one reasoning applies (switched on the loaded model, no reload) or none; export
//! as a PEFT folder, a GGUF adapter or a merged GGUF; import a PEFT folder; delete.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use crate::api;
use crate::components::confirm::ConfirmDialog;
use crate::state::use_app;
use crate::types::AdapterListing;

/// The adapters section.
#[component]
pub fn AdapterLibrary() -> impl IntoView {
    let app = use_app();
    let adapters = RwSignal::new(Vec::<AdapterListing>::new());
    let note = RwSignal::new(None::<String>);
    let deleting = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::call::<Vec<AdapterListing>>("list_adapters", json!({})).await {
                Ok(list) => {
                    adapters.try_set(list);
                }
                Err(err) => app.report(err),
            }
        });
    };
    reload();
    let call = move |command: &'static str, args: Value, done: Option<String>| {
        spawn_local(async move {
            match api::call::<Value>(command, args).await {
                Ok(result) => {
                    let message = match (result.as_str(), done) {
                        (Some(path), Some(prefix)) => Some(format!("{prefix} {path}")),
                        (None, Some(_)) if result.is_null() => None,
                        (_, done) => done,
                    };
                    note.try_set(message);
                    reload();
                }
                Err(err) => app.report(err),
            }
        });
    };
    let none_active = move || adapters.with(|list| list.iter().all(|a| !a.active));
    view! {
        <section id="adapter-library" class="adapter-library">
            <div class="section-head">
                <h2>"Adapters"</h2>
                <div class="actions">
                    <button id="use-no-adapter" class="secondary" disabled=none_active
                        on:click=move |_| call("set_active_adapter", json!({ "name": null }), Some("Reasoning uses the base model alone.".into()))>
                        "Reason without an adapter"
                    </button>
                    <button id="import-adapter" class="secondary"
                        on:click=move |_| call("import_adapter_folder", json!({}), Some("Imported".into()))>
                        "Import PEFT folder…"
                    </button>
                </div>
            </div>
            {move || note.get().map(|n| view! { <p id="adapter-note" class="muted" role="status">{n}</p> })}
            <Show
                when=move || !adapters.with(Vec::is_empty)
                fallback=|| view! { <p class="empty">"No adapters yet. Train one on the Training screen, or import a PEFT folder."</p> }
            >
                <table class="run-table" id="adapter-table">
                    <thead>
                        <tr>
                            <th>"Name"</th><th>"Base"</th><th>"LoRA"</th><th>"Steps"</th>
                            <th>"Loss"</th><th>"Validation"</th><th>"Reasoning"</th><th>"Export"</th><th></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || adapters.get().into_iter().map(|a| {
                            let name = a.name.clone();
                            let (use_name, export_name, delete_name) = (name.clone(), name.clone(), name.clone());
                            let loss = |l: Option<f64>| l.map_or("–".into(), |l| format!("{l:.4}"));
                            view! {
                                <tr class="adapter-row" data-adapter=name.clone() data-active=a.active.to_string()>
                                    <td><strong>{name.clone()}</strong>{a.error.clone().map(|e| view! { <div class="bad-text">{e}</div> })}</td>
                                    <td title=a.base_path.clone().unwrap_or_default()>{a.base_name.clone().unwrap_or("–".into())}</td>
                                    <td>{format!("r{} α{} · {}", a.rank, a.alpha, a.targets.join(","))}</td>
                                    <td class="num">{a.steps.map_or("–".into(), |s| s.to_string())}</td>
                                    <td class="num">{loss(a.final_loss)}</td>
                                    <td class="num">{loss(a.final_validation_loss)}</td>
                                    <td>
                                        {if a.active {
                                            view! { <span class="status-pill status-done">"In use"</span> }.into_any()
                                        } else {
                                            view! {
                                                <button class="secondary use-adapter" disabled=a.error.is_some()
                                                    on:click=move |_| call("set_active_adapter", json!({ "name": use_name.clone() }),
                                                        Some(format!("Reasoning now applies “{}”.", use_name)))>
                                                    "Use"
                                                </button>
                                            }.into_any()
                                        }}
                                    </td>
                                    <td>
                                        <select class="export-adapter" aria-label="Export" on:change=move |ev| {
                                            let format = event_target_value(&ev);
                                            if !format.is_empty() {
                                                call("export_adapter", json!({ "name": export_name.clone(), "format": format }), Some("Written to".into()));
                                            }
                                        }>
                                            <option value="" selected=true>"Export as…"</option>
                                            <option value="peft">"PEFT folder"</option>
                                            <option value="gguf">"GGUF adapter (llama.cpp, Ollama)"</option>
                                            <option value="merged_gguf">"Merged GGUF model"</option>
                                        </select>
                                    </td>
                                    <td>
                                        <button class="danger delete-adapter" on:click=move |_| deleting.set(Some(delete_name.clone()))>"Delete"</button>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </Show>
            <Show when=move || deleting.with(Option::is_some)>
                <ConfirmDialog
                    message=Signal::derive(move || format!("Delete the adapter “{}”? Its files are removed from the library.", deleting.get().unwrap_or_default()))
                    confirm_label="Delete"
                    confirm_id="confirm-delete-adapter"
                    cancel_id="cancel-delete-adapter"
                    on_confirm=Callback::new(move |()| {
                        if let Some(name) = deleting.get_untracked() {
                            call("delete_adapter", json!({ "name": name }), Some("Deleted.".into()));
                        }
                        deleting.set(None);
                    })
                    on_cancel=Callback::new(move |()| deleting.set(None))
                />
            </Show>
        </section>
    }
}
