//! Remote engines on the Models screen: the inference servers added (vLLM, llama-server,
//! Ollama, LM Studio, another workstation's local API) with what each offers, a form to add
//! one, and Test and Remove. Nothing is contacted until someone adds or tests a server.

use citrus_types::api::engines::AddEngine;
use citrus_types::engine::RemoteEngineEntry;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::state::use_app;

/// The list and the add form.
#[component]
pub fn RemoteEngines() -> impl IntoView {
    let app = use_app();
    app.load_engines();
    let engines = move || app.engines.get().unwrap_or_default();
    view! {
        <section id="remote-engines" class="remote-engines" aria-labelledby="remote-engines-title">
            <h2 id="remote-engines-title">"Remote engines"</h2>
            <p class="muted">
                "Inference servers on the hospital network that runs can use instead of this \
                 computer (Citrus at full size needs GPUs). A run on one sends its case text to that \
                 server; nothing is sent until you choose it for a run."
            </p>
            <div class="engine-list" role="list">
                {move || engines().into_iter().map(|engine| view! { <EngineRow engine=engine/> }).collect_view()}
                <Show when=move || engines().is_empty()>
                    <p class="empty">"No remote engines."</p>
                </Show>
            </div>
            <AddEngineForm/>
        </section>
    }
}

/// One engine: where it is, what it offers, Test and Remove.
#[component]
fn EngineRow(engine: RemoteEngineEntry) -> impl IntoView {
    let app = use_app();
    let offers = match engine.capabilities {
        None => "never reached".to_string(),
        Some(c) => [
            (true, "free reasoning"),
            (c.json_schema, "guided"),
            (c.letter_scoring, "likelihood by letter"),
            (c.text_scoring, "likelihood by text"),
            (c.thinks, "thinks first"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, what)| *what)
        .collect::<Vec<_>>()
        .join(", "),
    };
    let act = move |remove: bool, name: String| {
        spawn_local(async move {
            let result = if remove {
                api::engines::remove(name).await
            } else {
                api::engines::test(name).await.map(|_| ())
            };
            match result {
                Ok(()) => app.refresh_engines(),
                Err(err) => app.report(err),
            }
        });
    };
    let (test_name, remove_name) = (engine.name.clone(), engine.name.clone());
    view! {
        <div class="engine-row" role="listitem" data-engine=engine.name.clone()>
            <span class="model-name">{engine.name.clone()}</span>
            <span class="model-meta">
                {format!(
                    "{} · model {} · {offers}{}",
                    engine.url,
                    engine.model.clone().unwrap_or_default(),
                    if engine.deidentify { " · case text de-identified" } else { "" }
                )}
            </span>
            <button class="secondary test-engine" on:click=move |_| act(false, test_name.clone())>"Test"</button>
            <button class="secondary remove-engine" on:click=move |_| act(true, remove_name.clone())>"Remove"</button>
        </div>
    }
}

/// Name, URL, model and key file; the server is probed before it is added.
#[component]
fn AddEngineForm() -> impl IntoView {
    let app = use_app();
    let fields = [(); 5].map(|_| RwSignal::new(String::new()));
    let [name, url, model, key_file, template_file] = fields;
    let adding = RwSignal::new(false);
    let deidentify = RwSignal::new(false);
    let add = move |_| {
        let optional =
            |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        let request = AddEngine {
            name: name.get_untracked().trim().to_string(),
            url: url.get_untracked().trim().to_string(),
            model: optional(model),
            api_key_file: optional(key_file),
            template_file: optional(template_file),
            deidentify: deidentify.get_untracked(),
        };
        adding.set(true);
        spawn_local(async move {
            let result = api::engines::add(request).await;
            adding.try_set(false);
            match result {
                Ok(_) => {
                    for field in fields {
                        field.try_set(String::new());
                    }
                    app.refresh_engines();
                }
                Err(err) => app.report(err),
            }
        });
    };
    let input = move |id: &'static str,
                      label: &'static str,
                      hint: &'static str,
                      value: RwSignal<String>| {
        view! {
            <label>{label}<input id=id placeholder=hint prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/></label>
        }
    };
    view! {
        <div class="form-grid add-engine">
            {input("engine-name", "Name", "gpu-server", name)}
            {input("engine-url", "URL", "http://10.1.2.3:8000/v1", url)}
            {input("engine-model", "Model (optional)", "the first the server lists", model)}
            {input("engine-key-file", "API key file (optional)", "/etc/citrus/gpu.key", key_file)}
            {input("engine-template", "Template from (optional: a copy of the model, to score option text)", "/models/citrus.gguf", template_file)}
        </div>
        <label class="inline">
            <input
                id="engine-deidentify"
                type="checkbox"
                prop:checked=move || deidentify.get()
                on:change=move |ev| deidentify.set(event_target_checked(&ev))
            />
            "De-identify case text before it is sent to this server (names, dates, record numbers…)"
        </label>
        <div class="actions">
            <button id="add-engine" disabled=move || adding.get() || name.with(String::is_empty) || url.with(String::is_empty) on:click=add>
                {move || if adding.get() { "Connecting…" } else { "Add engine" }}
            </button>
        </div>
    }
}
