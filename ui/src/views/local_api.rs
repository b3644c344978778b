//! The local API panel on the Models screen: other programs on this machine (scripts, notebooks,
//! editors with an OpenAI client) may use the active model while the switch is on.

use citrus_types::api::server::ApiStatus;
use citrus_types::defaults::SERVE_PORT;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::state::use_app;

/// The switch, the port and the address clients use.
#[component]
pub fn LocalApi() -> impl IntoView {
    let app = use_app();
    let status = RwSignal::new(ApiStatus::default());
    let port = RwSignal::new(SERVE_PORT);
    let pending = RwSignal::new(false);
    let apply = move |result: Result<ApiStatus, ApiError>| {
        pending.try_set(false);
        match result {
            Ok(now) => {
                status.try_set(now);
            }
            Err(err) => app.report(err),
        }
    };
    spawn_local(async move { apply(api::server::status().await) });
    let running = move || status.with(|s| s.url.is_some());
    let toggle = move |_| {
        pending.set(true);
        let on = running();
        let port = port.get_untracked();
        spawn_local(async move {
            apply(if on {
                api::server::stop().await
            } else {
                api::server::start(port).await
            })
        });
    };
    view! {
        <section id="local-api" class="local-api" aria-labelledby="local-api-title">
            <h2 id="local-api-title">"Local API"</h2>
            <p class="muted">
                "An OpenAI-compatible API on this machine only (127.0.0.1), serving the active model \
                 and adapter. Nothing is reachable from the network; requests wait their turn behind \
                 the window's own jobs."
            </p>
            <div class="save-line">
                <label class="inline">
                    "Port"
                    <input id="local-api-port" type="number" min="1" max="65535" disabled=running
                        prop:value=move || port.get().to_string()
                        on:input=move |ev| {
                            if let Ok(p) = event_target_value(&ev).trim().parse::<u16>() {
                                port.set(p);
                            }
                        }/>
                </label>
                <button id="local-api-toggle" disabled=move || pending.get() on:click=toggle>
                    {move || if running() { "Stop the API" } else { "Start the API" }}
                </button>
                <span id="local-api-status" role="status">
                    {move || status.with(|s| match (&s.url, &s.model) {
                        (Some(url), Some(model)) => format!("Serving {model} at {url}"),
                        (Some(url), None) => format!("Serving at {url}"),
                        _ => "Off".to_string(),
                    })}
                </span>
            </div>
        </section>
    }
}
