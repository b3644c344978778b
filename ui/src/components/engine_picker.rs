//! Where a run computes: this computer's model, or a remote engine (an inference server). A
//! remote choice says where the case text goes.

use citrus_types::engine::{EngineCapabilities, RemoteEngineEntry};
use leptos::prelude::*;

use crate::state::use_app;

/// The remote engine called `name` in the app's list, if any.
pub fn remote_engine(name: Option<&str>) -> Option<RemoteEngineEntry> {
    let name = name?;
    use_app().engines.with(|list| {
        list.as_deref()
            .unwrap_or_default()
            .iter()
            .find(|e| e.name == name)
            .cloned()
    })
}

/// What the chosen engine can do (everything, locally).
pub fn capabilities_of(name: Option<&str>) -> EngineCapabilities {
    remote_engine(name)
        .and_then(|e| e.capabilities)
        .unwrap_or(EngineCapabilities::LOCAL)
}

/// A select of "this computer" and the remote engines, with the privacy line of a remote one.
#[component]
pub fn EnginePicker(
    /// The select's element id.
    id: &'static str,
    /// The chosen remote engine (None: this computer).
    selected: Signal<Option<String>>,
    /// Called with the new choice.
    on_change: Callback<Option<String>>,
) -> impl IntoView {
    let app = use_app();
    app.load_engines();
    let engines = move || app.engines.get().unwrap_or_default();
    let privacy = move || {
        remote_engine(selected.get().as_deref()).map(|engine| {
            format!(
                "The case text is sent to the on-premise server {} (engine {}, model {}).",
                engine.host(),
                engine.name,
                engine.model.as_deref().unwrap_or("first listed")
            )
        })
    };
    view! {
        <label class="inline">
            "Engine"
            <select id=id on:change=move |ev| {
                let value = event_target_value(&ev);
                on_change.run((!value.is_empty()).then_some(value));
            }>
                <option value="" selected=move || selected.with(Option::is_none)>"This computer"</option>
                {move || engines().into_iter().map(|engine| {
                    let name = engine.name.clone();
                    let chosen = name.clone();
                    view! {
                        <option value=name.clone() selected=move || selected.with(|s| s.as_deref() == Some(chosen.as_str()))>
                            {format!("{} — {}", name, engine.host())}
                        </option>
                    }
                }).collect_view()}
            </select>
        </label>
        <Show when=move || privacy().is_some()>
            <span class="privacy-note" role="note">{privacy}</span>
        </Show>
    }
}
