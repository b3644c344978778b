//! A file path typed or chosen in the shell's dialog, acted on as soon as it changes.

use leptos::prelude::*;

use crate::api::ApiError;

/// What a path field says and does.
pub struct PathSpec {
    /// The input's element id.
    pub id: &'static str,
    /// The "Choose file…" button's element id.
    pub pick_id: &'static str,
    /// The label.
    pub label: &'static str,
    /// The example path shown while empty.
    pub placeholder: &'static str,
}

/// The path input and its "Choose file…" button: `pick` asks the shell for a file (None when
/// the user cancels); `on_change` runs after every change, typed or chosen.
#[component]
pub fn PathField<P, F>(
    spec: PathSpec,
    path: RwSignal<String>,
    pick: P,
    on_change: Callback<()>,
    on_error: Callback<ApiError>,
) -> impl IntoView
where
    P: Fn() -> F + Copy + 'static,
    F: std::future::Future<Output = Result<Option<String>, ApiError>> + 'static,
{
    let choose = move |_| {
        leptos::task::spawn_local(async move {
            match pick().await {
                Ok(Some(chosen)) => {
                    path.set(chosen);
                    on_change.run(());
                }
                Ok(None) => {}
                Err(err) => on_error.run(err),
            }
        });
    };
    view! {
        <div class="field">
            <label for=spec.id>{spec.label}</label>
            <div class="path-row">
                <input
                    id=spec.id
                    type="text"
                    placeholder=spec.placeholder
                    prop:value=move || path.get()
                    on:change=move |ev| {
                        path.set(event_target_value(&ev));
                        on_change.run(());
                    }
                />
                <button id=spec.pick_id class="secondary" on:click=choose>"Choose file…"</button>
            </div>
        </div>
    }
}
