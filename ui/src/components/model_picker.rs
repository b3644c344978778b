//! The model picker of the forms that run a model (evaluation, training): the imported models
//! from the app's one list, the active one chosen until the user picks another.

use leptos::prelude::*;

use crate::state::use_app;

/// A select of the imported models, writing the chosen one's id to `selected`.
#[component]
pub fn ModelPicker(
    /// The select's element id.
    id: &'static str,
    /// The chosen model (the active one, or the first, until the user picks).
    selected: RwSignal<Option<i64>>,
) -> impl IntoView {
    let app = use_app();
    app.load_models();
    Effect::new(move |_| {
        let default = app.models.with(|list| {
            let list = list.as_deref().unwrap_or_default();
            list.iter()
                .find(|m| m.active)
                .or(list.first())
                .map(|m| m.entry.id)
        });
        if selected.get_untracked().is_none() {
            selected.set(default);
        }
    });
    view! {
        <select id=id on:change=move |ev| selected.set(event_target_value(&ev).parse().ok())>
            {move || {
                app.models
                    .get()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| {
                        let model = m.entry.id;
                        view! {
                            <option value=model.to_string() selected=move || selected.get() == Some(model)>
                                {m.entry.name}{if m.active { " (active)" } else { "" }}
                            </option>
                        }
                    })
                    .collect_view()
            }}
        </select>
    }
}
