//! The adapter library on the Models screen: each adapter with its base and final metrics;
//! choose the one reasoning applies (switched on the loaded model, no reload) or none; export
//! as a PEFT folder, a GGUF adapter or a merged GGUF; import a PEFT folder; delete.

use crate::api::{self, ApiError};
use crate::components::confirm::ConfirmDialog;
use crate::state::use_app;
use crate::types::AdapterListing;
use citrus_types::adapter::AdapterExport;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// What the user asked of the library.
enum Action {
    /// Make this adapter (None: none) the one reasoning applies.
    Activate(Option<String>),
    /// Import a PEFT folder chosen in a dialog.
    Import,
    /// Write an adapter in another tool's format where the user chooses.
    Export(String, AdapterExport),
    /// Delete an adapter.
    Delete(String),
}

impl Action {
    /// Does it; the file or name written, for the actions that write one (None when the
    /// user cancelled the dialog).
    async fn perform(self) -> Result<Option<String>, ApiError> {
        match self {
            Self::Activate(name) => api::adapters::set_active(name).await.map(|()| None),
            Self::Import => api::adapters::import_folder().await,
            Self::Export(name, format) => api::adapters::export(name, format).await,
            Self::Delete(name) => api::adapters::delete(name).await.map(|()| None),
        }
    }

    /// Whether it writes something and says where (a dialog the user may cancel).
    fn writes(&self) -> bool {
        matches!(self, Self::Import | Self::Export(..))
    }
}

/// The export format an option of the export list names.
fn export_format(value: &str) -> Option<AdapterExport> {
    match value {
        "peft" => Some(AdapterExport::Peft),
        "gguf" => Some(AdapterExport::Gguf),
        "merged_gguf" => Some(AdapterExport::MergedGguf),
        _ => None,
    }
}

/// The adapters section.
#[component]
pub fn AdapterLibrary() -> impl IntoView {
    let app = use_app();
    let adapters = RwSignal::new(Vec::<AdapterListing>::new());
    let note = RwSignal::new(None::<String>);
    let deleting = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::adapters::list().await {
                Ok(list) => {
                    adapters.try_set(list);
                }
                Err(err) => app.report(err),
            }
        });
    };
    reload();
    // `done`: the note once it is done (before the path, for what writes a file).
    let act = Callback::new(move |(action, done): (Action, String)| {
        let writes = action.writes();
        spawn_local(async move {
            match action.perform().await {
                Ok(written) => {
                    let message = match (writes, written) {
                        (true, Some(path)) => Some(format!("{done} {path}")),
                        (true, None) => None,
                        (false, _) => Some(done),
                    };
                    note.try_set(message);
                    reload();
                }
                Err(err) => app.report(err),
            }
        });
    });
    let none_active = move || adapters.with(|list| list.iter().all(|a| !a.active));
    view! {
        <section id="adapter-library" class="adapter-library">
            <div class="section-head">
                <h2>"Adapters"</h2>
                <div class="actions">
                    <button id="use-no-adapter" class="secondary" disabled=none_active
                        on:click=move |_| act.run((Action::Activate(None), "Reasoning uses the base model alone.".into()))>
                        "Reason without an adapter"
                    </button>
                    <button id="import-adapter" class="secondary"
                        on:click=move |_| act.run((Action::Import, "Imported".into()))>
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
                            <th>"Name"</th><th>"Base"</th><th>"LoRA"</th><th>"Method"</th><th>"Steps"</th>
                            <th>"Loss"</th><th>"Validation"</th><th>"Reasoning"</th><th>"Export"</th><th></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || adapters.get().into_iter().map(|adapter| view! {
                            <AdapterRow adapter=adapter act=act deleting=deleting/>
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
                            act.run((Action::Delete(name), "Deleted.".into()));
                        }
                        deleting.set(None);
                    })
                    on_cancel=Callback::new(move |()| deleting.set(None))
                />
            </Show>
        </section>
    }
}

/// One adapter of the library: what it is, and Use, Export and Delete.
#[component]
fn AdapterRow(
    adapter: AdapterListing,
    act: Callback<(Action, String)>,
    deleting: RwSignal<Option<String>>,
) -> impl IntoView {
    let a = adapter;
    let name = a.name.clone();
    let (use_name, export_name, delete_name) = (name.clone(), name.clone(), name.clone());
    let loss = |l: Option<f64>| l.map_or("–".into(), |l| format!("{l:.4}"));
    view! {
        <tr class="adapter-row" data-adapter=name.clone() data-active=a.active.to_string()>
            <td><strong>{name.clone()}</strong>{a.error.clone().map(|e| view! { <div class="bad-text">{e}</div> })}</td>
            <td title=a.base_path.clone().unwrap_or_default()>{a.base_name.clone().unwrap_or("–".into())}</td>
            <td>{format!("r{} α{} · {}", a.rank, a.alpha, a.targets.join(","))}</td>
            <td class="adapter-method" title=a.dataset.clone().unwrap_or_default()>
                {a.method.clone().unwrap_or("–".into())}
                {a.reward_accuracy.map(|acc| view! { <div class="muted">{format!("held-out reward accuracy {acc:.2}")}</div> })}
            </td>
            <td class="num">{a.steps.map_or("–".into(), |s| s.to_string())}</td>
            <td class="num">{loss(a.final_loss)}</td>
            <td class="num">{loss(a.final_validation_loss)}</td>
            <td>
                {if a.active {
                    view! { <span class="status-pill status-done">"In use"</span> }.into_any()
                } else {
                    view! {
                        <button class="secondary use-adapter" disabled=a.error.is_some()
                            on:click=move |_| act.run((Action::Activate(Some(use_name.clone())),
                                format!("Reasoning now applies “{}”.", use_name)))>
                            "Use"
                        </button>
                    }.into_any()
                }}
            </td>
            <td>
                <select class="export-adapter" aria-label="Export" on:change=move |ev| {
                    if let Some(format) = export_format(&event_target_value(&ev)) {
                        act.run((Action::Export(export_name.clone(), format), "Written to".into()));
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
}
