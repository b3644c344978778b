//! The Models screen: import, inspect with engine settings, and choose the active model.

use citrus_types::api::models::LoadModel;
use citrus_types::job::JobEvent;
use citrus_types::model::ImportKind;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Stream};
use crate::format;
use crate::state::use_app;
use crate::types::{EngineSettings, Inspection, ListedModel};

/// The Models screen.
#[component]
pub fn ModelsView() -> impl IntoView {
    let app = use_app();
    let selected = RwSignal::new(None::<i64>);
    let initial = app
        .engine
        .with_untracked(|e| e.as_ref().map(|e| e.settings.clone()))
        .unwrap_or_default();
    let settings = RwSignal::new(initial);
    let copy = RwSignal::new(false);
    // The app's one list of models, fresh when the screen opens; the active (else the first)
    // model is selected until the user picks one.
    let models = Memo::new(move |_| app.models.get().unwrap_or_default());
    Effect::new(move |_| {
        let pick = models.with(|list| {
            list.iter()
                .find(|m| m.active)
                .or(list.first())
                .map(|m| m.entry.id)
        });
        if selected.get_untracked().is_none() {
            selected.set(pick);
        }
    });
    let reload = move || app.refresh_models();
    reload();
    app.refresh_engine();

    let import = move |kind: ImportKind| {
        let copy = copy.get_untracked();
        spawn_local(async move {
            match api::models::import(kind, copy).await {
                Ok(Some(entry)) => {
                    selected.try_set(Some(entry.id));
                    reload();
                }
                Ok(None) => {}
                Err(err) => app.report(err),
            }
        });
    };

    view! {
        <section id="view-models" class="view">
            <header class="view-header">
                <h1>"Models"</h1>
                <div class="actions">
                    <label class="check">
                        <input id="copy-on-import" type="checkbox" prop:checked=move || copy.get() on:change=move |ev| copy.set(event_target_checked(&ev))/>
                        "Copy into the app's data folder"
                    </label>
                    <button id="import-file" on:click=move |_| import(ImportKind::File)>"Import file…"</button>
                    <button id="import-folder" class="secondary" on:click=move |_| import(ImportKind::Folder)>"Import folder…"</button>
                </div>
            </header>
            <ActiveModel/>
            <div class="model-list" role="listbox" aria-label="Models">
                {move || models.get().into_iter().map(|model| view! { <ModelRow model=model selected=selected/> }).collect_view()}
                <Show when=move || models.with(Vec::is_empty)>
                    <p class="empty">"No models yet. Import a GGUF file or a safetensors folder."</p>
                </Show>
            </div>
            <Show when=move || selected.with(Option::is_some)>
                <ModelDetail selected=selected settings=settings on_loaded=Callback::new(move |()| reload())/>
            </Show>
            <crate::views::adapters::AdapterLibrary/>
            <crate::views::remote_engines::RemoteEngines/>
            <crate::views::local_api::LocalApi/>
        </section>
    }
}

/// The engine status line.
#[component]
fn ActiveModel() -> impl IntoView {
    let app = use_app();
    let text = move || match app.engine.get() {
        None => "Engine status unknown.".to_string(),
        Some(status) => match status.model {
            None => "No active model.".to_string(),
            Some(model) => {
                let state = if status.busy {
                    "busy"
                } else if status.loaded {
                    "loaded"
                } else {
                    "not loaded yet"
                };
                let queue = match status.queued {
                    0 => String::new(),
                    n => format!(", {n} queued"),
                };
                let device = format!(" on {}", status.settings.device);
                format!("Active: {}{device} — {state}{queue}", model.name)
            }
        },
    };
    view! { <div id="active-model" class="active-model" role="status">{text}</div> }
}

/// One model in the list.
#[component]
fn ModelRow(model: ListedModel, selected: RwSignal<Option<i64>>) -> impl IntoView {
    let ListedModel {
        entry: model,
        active,
    } = model;
    let id = model.id;
    let is_selected = move || selected.get() == Some(id);
    view! {
        <button
            class="model-row"
            role="option"
            data-model-id=id
            aria-selected=move || is_selected().to_string()
            class:selected=is_selected
            on:click=move |_| selected.set(Some(id))
        >
            <span class="model-name">{model.name}</span>
            {active.then(|| view! { <span class="badge active-badge">"Active"</span> })}
            <span class="model-meta">
                {format!(
                    "{} · {} · {} · {} · {}",
                    model.architecture,
                    model.format,
                    model.quantization,
                    format::params(model.parameter_count),
                    format::bytes(model.file_bytes),
                )}
            </span>
            <span class="model-path" title=model.path.clone()>{model.path.clone()}</span>
        </button>
    }
}

/// The selected model: engine settings, inspection and "Use this model".
#[component]
fn ModelDetail(
    selected: RwSignal<Option<i64>>,
    settings: RwSignal<EngineSettings>,
    on_loaded: Callback<()>,
) -> impl IntoView {
    let app = use_app();
    let info = RwSignal::new(None::<Inspection>);
    let inspecting = RwSignal::new(false);
    let progress = RwSignal::new(None::<(String, f64)>);
    Effect::new(move |_| {
        let Some(id) = selected.get() else { return };
        let settings = settings.get();
        inspecting.set(true);
        spawn_local(async move {
            let result = api::models::inspect(id, settings).await;
            inspecting.try_set(false);
            match result {
                Ok(found) => {
                    info.try_set(Some(found));
                }
                Err(err) => {
                    info.try_set(None);
                    app.report(err);
                }
            }
        });
    });
    let load = move |_| {
        let Some(id) = selected.get_untracked() else {
            return;
        };
        let request = LoadModel {
            id,
            settings: settings.get_untracked(),
        };
        progress.set(Some(("Starting…".into(), 0.0)));
        // A load reports how far it is; it has no run, items or steps.
        let stream = Stream::open(move |event| match event {
            Ok(JobEvent::Loading { message, fraction }) => {
                progress.try_set(Some((message, fraction)));
            }
            Ok(_) => {}
            Err(err) => app.report(err),
        });
        let bound = match stream.bind(&request) {
            Ok(bound) => bound,
            Err(err) => {
                progress.set(None);
                return app.report(err);
            }
        };
        spawn_local(async move {
            let result = bound.send().await;
            drop(stream);
            progress.try_set(None);
            match result {
                Ok(_) => {
                    app.refresh_engine();
                    on_loaded.run(());
                }
                Err(err) => app.report(err),
            }
        });
    };
    view! {
        <div class="model-detail">
            <EngineSettingsForm settings=settings/>
            <div id="model-info" class="model-info" aria-busy=move || inspecting.get().to_string()>
                {move || info.get().map(info_view)}
            </div>
            <div class="save-line">
                <button id="load-model" disabled=move || progress.with(Option::is_some) on:click=load>
                    "Use this model"
                </button>
                <Show when=move || progress.with(Option::is_some)>
                    <progress id="load-progress" max="1" value=move || progress.with(|p| p.as_ref().map_or(0.0, |p| p.1))></progress>
                    <span class="muted">{move || progress.with(|p| p.as_ref().map(|p| p.0.clone()).unwrap_or_default())}</span>
                </Show>
            </div>
        </div>
    }
}

/// Device, threads and requantization.
#[component]
fn EngineSettingsForm(settings: RwSignal<EngineSettings>) -> impl IntoView {
    let device = move || settings.with(|s| s.device.clone());
    let requantize = move || settings.with(|s| s.requantize.clone().unwrap_or_default());
    view! {
        <fieldset class="engine-settings">
            <legend>"Engine settings"</legend>
            <label class="inline">
                "Device"
                <select id="model-device" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    settings.update(|s| s.device = value);
                }>
                    {["cpu", "cuda", "metal"].map(|d| view! { <option value=d selected=move || device() == d>{d.to_uppercase()}</option> })}
                </select>
            </label>
            <label class="inline">
                "Threads"
                <input
                    id="model-threads"
                    type="number"
                    min="1"
                    placeholder="auto"
                    prop:value=move || settings.with(|s| s.threads.map(|t| t.to_string()).unwrap_or_default())
                    on:change=move |ev| {
                        let threads = event_target_value(&ev).trim().parse::<usize>().ok().filter(|t| *t > 0);
                        settings.update(|s| s.threads = threads);
                    }
                />
            </label>
            <label class="inline">
                "Requantize"
                <select id="model-requantize" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    settings.update(|s| s.requantize = (!value.is_empty()).then_some(value));
                }>
                    <option value="" selected=move || requantize().is_empty()>"None"</option>
                    <option value="q8_0" selected=move || requantize() == "q8_0">"Q8_0"</option>
                </select>
            </label>
        </fieldset>
    }
}

/// The inspection report with its memory verdict.
fn info_view(Inspection { info, fits }: Inspection) -> impl IntoView {
    let needed = info.memory.weights_bytes + info.memory.kv_cache_bytes + info.memory.working_bytes;
    let available = info
        .available_bytes
        .map(format::bytes)
        .unwrap_or_else(|| "unknown".to_string());
    let (fit_class, fit_text) = if fits {
        (
            "fit fits",
            format!(
                "Fits: needs about {} of {available} available.",
                format::bytes(needed)
            ),
        )
    } else {
        (
            "fit no-fit",
            format!(
                "Does not fit: needs about {} but only {available} is available.",
                format::bytes(needed)
            ),
        )
    };
    let quantization = match &info.requantized_to {
        Some(to) if !to.eq_ignore_ascii_case(&info.quantization) => {
            format!("{} → {to}", info.quantization)
        }
        _ => info.quantization.clone(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("Name", info.name.clone()),
        ("Architecture", info.architecture.as_str().to_string()),
        ("Format", info.format.as_str().to_string()),
        ("Parameters", format::params(info.parameter_count)),
        ("Quantization", quantization),
        ("Layers", info.config.num_layers.to_string()),
        (
            "Heads",
            format!(
                "{} (KV {})",
                info.config.num_heads, info.config.num_kv_heads
            ),
        ),
        ("Context", info.context_length.to_string()),
        ("Tokenizer", info.tokenizer.clone()),
        (
            "Chat template",
            if info.has_chat_template { "Yes" } else { "No" }.to_string(),
        ),
        (
            "Memory",
            format!(
                "weights {} + KV cache {} + working {}",
                format::bytes(info.memory.weights_bytes),
                format::bytes(info.memory.kv_cache_bytes),
                format::bytes(info.memory.working_bytes),
            ),
        ),
        ("Device", info.device.clone()),
    ];
    view! {
        <div id="memory-fit" class=fit_class data-fits=fits.to_string()>{fit_text}</div>
        <dl class="info-grid">
            {rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
        </dl>
    }
}
