//! The evaluation on the hospital's own reviewed cases: per model, adapter, engine and mode, how
//! often the confirmed diagnosis's ICD-10-CM category is first, in the top 3 or anywhere in the
//! differential, with 95% intervals.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::errors;
use citrus_types::evaluation::{Proportion, ReviewedAccuracy};

/// A share with its interval: `67% (21–94%)`.
fn share(p: &Proportion) -> String {
    format!(
        "{:.0}% ({:.0}–{:.0}%)",
        p.value * 100.0,
        p.low * 100.0,
        p.high * 100.0
    )
}

/// The reviewed-case evaluation, read when the screen opens and on Refresh.
#[component]
pub fn ReviewedCases() -> impl IntoView {
    let groups = RwSignal::new(None::<Vec<ReviewedAccuracy>>);
    let message = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            match api::evaluations::reviewed().await {
                Ok(list) => {
                    groups.try_set(Some(list));
                }
                Err(err) => {
                    message.try_set(errors::describe(&err));
                }
            }
        });
    };
    load();
    view! {
        <section class="panel reviewed-cases" id="reviewed-evaluation">
            <div class="save-line">
                <h3>"On your reviewed cases"</h3>
                <button class="secondary" id="reviewed-refresh" on:click=move |_| load()>"Refresh"</button>
            </div>
            <p class="muted">
                "For each case a reviewer confirmed with an ICD-10-CM code: where that code's category stands in each model's differential (its latest finished run on the case). The measure of usefulness on the cases this workstation sees, which exam items cannot give."
            </p>
            <p class="muted">{move || message.get()}</p>
            {move || match groups.get() {
                None => view! { <p class="muted">"Reading…"</p> }.into_any(),
                Some(list) if list.is_empty() => view! {
                    <p class="empty">"No reviewed case has a confirmed ICD-10-CM code yet: choose one from the suggestions when you review."</p>
                }.into_any(),
                Some(list) => view! {
                    <table class="run-table reviewed-table">
                        <thead>
                            <tr>
                                <th>"Model"</th>
                                <th>"Adapter"</th>
                                <th>"Engine"</th>
                                <th>"Mode"</th>
                                <th class="num">"Cases"</th>
                                <th>"First"</th>
                                <th>"Top 3"</th>
                                <th>"Anywhere"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|g| view! {
                                <tr class="reviewed-row">
                                    <td>{g.model_name.clone()}</td>
                                    <td>{g.adapter.clone().unwrap_or_else(|| "none".into())}</td>
                                    <td>{g.engine.clone()}</td>
                                    <td>{g.mode.clone()}</td>
                                    <td class="num reviewed-cases-count">{g.first.n}</td>
                                    <td class="reviewed-first">{share(&g.first)}</td>
                                    <td class="reviewed-top3">{share(&g.top3)}</td>
                                    <td class="reviewed-anywhere">{share(&g.anywhere)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
    }
}
