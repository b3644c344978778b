//! One evaluation item opened: the outcome and why, the option scores (likelihood) or the
//! reasoning steps (generation), the prompt and the model's raw text.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::run_parts::Timeline;
use crate::state::use_app;
use crate::types::{EvalItemDetail, OptionScores};

/// The opened item of run `run_id`.
#[component]
pub fn ItemDetail(run_id: i64, opened: RwSignal<Option<usize>>) -> impl IntoView {
    let app = use_app();
    let detail = RwSignal::new(None::<EvalItemDetail>);
    Effect::new(move |_| {
        let Some(position) = opened.get() else {
            detail.set(None);
            return;
        };
        spawn_local(async move {
            match api::evaluations::item(run_id, position).await {
                Ok(found) => {
                    detail.try_set(Some(found));
                }
                Err(err) => app.report(err),
            }
        });
    });
    move || {
        let Some(item) = detail.get() else {
            return view! { <div class="item-detail empty">"Open an item to see its prompt and the model's text."</div> }
                .into_any();
        };
        let record = item.record.clone();
        let steps = item.steps.clone();
        let has_steps = !steps.is_empty();
        view! {
            <div id="item-detail" class="item-detail panel" data-position=record.position data-outcome=record.outcome.as_str()>
                <h4>{format!("Item {}", record.position + 1)}{record.item_id.clone().map(|id| format!(" · {id}"))}</h4>
                <p>
                    <span class=format!("outcome outcome-{}", record.outcome)>{record.outcome.as_str()}</span>
                    {format!(" · key {} · answered {}", record.key, record.predicted.as_deref().unwrap_or("nothing"))}
                    {format!(" · {} tokens · {:.2} s", record.tokens, record.seconds)}
                </p>
                {item.unmatched_reason.clone().map(|r| view! { <p class="warning" id="unmatched-reason">{r}</p> })}
                {item.scores.clone().map(|s| view! { <Scores scores=s key=record.key.clone()/> })}
                {has_steps.then(|| view! { <Timeline steps=Signal::derive(move || steps.clone())/> })}
                <details open=true>
                    <summary>"Prompt"</summary>
                    <pre id="item-prompt" class="raw-text">{item.prompt.clone()}</pre>
                </details>
                <details open=!item.raw_text.is_empty()>
                    <summary>"The model's text"</summary>
                    <pre id="item-raw" class="raw-text">{item.raw_text.clone()}</pre>
                </details>
            </div>
        }
        .into_any()
    }
}

/// Each option's log-probability as a bar; the key and the model's pick marked.
#[component]
fn Scores(scores: OptionScores, key: String) -> impl IntoView {
    let low = scores.scores.iter().cloned().fold(f32::INFINITY, f32::min);
    let high = scores
        .scores
        .iter()
        .cloned()
        .fold(f32::NEG_INFINITY, f32::max);
    let span = (high - low).max(1e-6);
    view! {
        <table class="option-scores" id="option-scores">
            <tbody>
                {scores.letters.iter().zip(&scores.scores).enumerate().map(|(index, (letter, score))| {
                    let width = 10.0 + 90.0 * (score - low) / span;
                    view! {
                        <tr class:picked=index == scores.best class:key=*letter == key>
                            <td class="option-letter">{letter.clone()}</td>
                            <td class="score-bar-cell"><div class="score-bar" style=format!("width: {width:.0}%")></div></td>
                            <td class="num">{format!("{score:.3}")}</td>
                            <td class="muted small">
                                {(index == scores.best).then_some("model's pick ")}
                                {(*letter == key).then_some("key")}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
