//! Form fields shared by the screens' forms.

use leptos::prelude::*;

/// A labelled number input bound to `value` (text that does not parse is ignored), with an
/// optional one-line explanation under it.
#[component]
pub fn NumberField<T>(
    id: &'static str,
    label: &'static str,
    value: RwSignal<T>,
    #[prop(default = "0")] min: &'static str,
    #[prop(default = "1")] step: &'static str,
    #[prop(optional)] help: &'static str,
) -> impl IntoView
where
    T: std::str::FromStr + ToString + Send + Sync + Clone + 'static,
{
    view! {
        <label>
            {label}
            <input
                id=id
                type="number"
                min=min
                step=step
                prop:value=move || value.get().to_string()
                on:change=move |ev| {
                    if let Ok(parsed) = event_target_value(&ev).parse() {
                        value.set(parsed);
                    }
                }
            />
            {(!help.is_empty()).then(|| view! { <span class="help">{help}</span> })}
        </label>
    }
}
