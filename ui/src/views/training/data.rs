//! The data check as the form shows it: counts, bad records with their reasons, token
//! statistics, examples left out, the preview (masked prompt and trained reply told apart),
//! and the pre-flight estimate with a refusal in words when the run will not fit.

use leptos::prelude::*;

use crate::format;
use crate::types::{DatasetCheck, DatasetReport, Preflight};
use citrus_types::training::ReviewPairsPreview;

/// The last check, when there is one.
#[component]
pub fn DataCheckView(check: RwSignal<Option<DatasetCheck>>) -> impl IntoView {
    move || {
        check.get().map(|check| {
            view! {
                <div id="dataset-check" class="dataset-check" data-examples=check.report.examples data-bad=check.report.bad.len()>
                    {check.review_pairs.clone().map(|pairs| view! { <ReviewPairsView pairs=pairs/> })}
                    <DataReport report=check.report.clone()/>
                    <Estimate estimate=check.estimate/>
                </div>
            }
        })
    }
}

#[component]
fn DataReport(report: DatasetReport) -> impl IntoView {
    let stats = report.train_tokens.clone();
    let bad = report.bad.len();
    let skipped = report.skipped.clone();
    let (records, kind) = match report.pairs {
        true => ("pairs", "preference pairs; held out by case".to_string()),
        false => ("examples", format!("{} format", report.format)),
    };
    view! {
        <div class="data-report">
            <p>
                <strong>{report.examples}</strong>{format!(" usable {records} ({kind}) · ")}
                {stats.examples}" sequences to train, "{report.validation_examples}{format!(" {records} held out for validation · ")}
                <span class="muted mono" title="SHA-256 of the data">{report.hash.chars().take(12).collect::<String>()}</span>
            </p>
            <p class="muted">
                {format!(
                    "{} tokens, {} of them trained · {}–{} tokens per example (mean {:.0}) · {} truncated",
                    stats.tokens, stats.trained_tokens, stats.min_tokens, stats.max_tokens, stats.mean_tokens, stats.truncated
                )}
            </p>
            {if bad == 0 {
                view! { <p class="good-text">"No bad records."</p> }.into_any()
            } else {
                view! {
                    <details id="bad-records" class="unusable" open>
                        <summary class="bad-text">{format!("{bad} record(s) cannot be used and are left out")}</summary>
                        <ul>{report.bad.iter().map(|b| view! { <li>{format!("line {}: {}", b.line, b.reason)}</li> }).collect_view()}</ul>
                    </details>
                }.into_any()
            }}
            {(!skipped.is_empty()).then(|| view! {
                <details class="unusable">
                    <summary class="bad-text">{format!("{} example(s) too long, left out", skipped.len())}</summary>
                    <ul>{skipped.iter().map(|b| view! { <li>{format!("line {}: {}", b.line, b.reason)}</li> }).collect_view()}</ul>
                </details>
            })}
            {report.preview.map(|preview| view! {
                <div class="preview">
                    <h4>{format!("What the model sees for line {}", preview.line)}</h4>
                    <p class="muted">
                        <span class="seg-masked legend">"Prompt (masked: not learned)"</span>" "
                        <span class="seg-trained legend">"Reply (trained)"</span>
                    </p>
                    <pre id="dataset-preview" class="preview-text">
                        {preview.segments.into_iter().map(|segment| {
                            let class = if segment.trained { "seg-trained" } else { "seg-masked" };
                            view! { <span class=class title=format!("{} tokens", segment.tokens)>{segment.text}</span> }
                        }).collect_view()}
                    </pre>
                </div>
            })}
        </div>
    }
}

/// The pair builder's result: every pair with why it was made, every case without one.
#[component]
fn ReviewPairsView(pairs: ReviewPairsPreview) -> impl IntoView {
    let ReviewPairsPreview { pairs, without } = pairs;
    let (made, missing) = (pairs.len(), without.len());
    view! {
        <div id="review-pairs" class="review-pairs" data-pairs=made data-without=missing>
            <h4>{format!("{made} pair(s) from reviewed runs")}</h4>
            <ul>
                {pairs.into_iter().map(|p| view! {
                    <li class="review-pair" data-case=p.case_id>
                        <strong>{format!("Case #{}: run #{} chosen over run #{}", p.case_id, p.chosen_run, p.rejected_run)}</strong>
                        <span class="muted">{format!(" · {}", p.reason)}</span>
                    </li>
                }).collect_view()}
            </ul>
            {(missing > 0).then(|| view! {
                <details class="unusable" open>
                    <summary>{format!("{missing} case(s) gave no pair")}</summary>
                    <ul>{without.into_iter().map(|c| view! { <li>{format!("Case #{}: {}", c.case_id, c.reason)}</li> }).collect_view()}</ul>
                </details>
            })}
        </div>
    }
}

#[component]
fn Estimate(estimate: Preflight) -> impl IntoView {
    let m = estimate.memory;
    let fits = estimate.fits();
    let available = estimate
        .available_bytes
        .map_or("unknown".to_string(), format::bytes);
    view! {
        <div id="train-estimate" class="estimate" data-fits=fits.to_string()>
            <h4>"Pre-flight estimate"</h4>
            <p>
                {format!(
                    "Peak memory ≈ {} (base {} + LoRA state {} + activations {}) of {} available · {} trainable parameters · {} steps",
                    format::bytes(m.total_bytes()), format::bytes(m.base_bytes), format::bytes(m.lora_bytes),
                    format::bytes(m.activation_bytes), available, format::params(estimate.trainable_parameters as u64),
                    estimate.total_steps
                )}
            </p>
            {if fits {
                view! { <p class="muted">"Time per step is measured on this machine in the run's first seconds; the ETA follows."</p> }.into_any()
            } else {
                view! {
                    <p class="bad-text" role="alert">
                        {format!(
                            "This run will not fit: it needs about {} and {} is available. Keep the base quantized, shorten the maximum length, or lower the batch.",
                            format::bytes(estimate.needed_bytes()), available
                        )}
                    </p>
                }.into_any()
            }}
        </div>
    }
}
