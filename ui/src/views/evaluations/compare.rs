//! Two evaluations side by side on the items both ran: the 2×2 table, the paired difference
//! with its 95% interval, and the exact McNemar test, in words.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::screen::use_screen;
use crate::api;
use crate::errors;
use crate::format;
use crate::types::{Comparison, EvalRunSummary};

/// The comparison panel.
#[component]
pub fn CompareRuns() -> impl IntoView {
    let screen = use_screen();
    let first = RwSignal::new(None::<i64>);
    let second = RwSignal::new(None::<i64>);
    let result = RwSignal::new(None::<Result<Comparison, String>>);
    // Default: the two newest runs.
    Effect::new(move |_| {
        screen.runs.with(|runs| {
            if first.get_untracked().is_none() && runs.len() >= 2 {
                first.set(Some(runs[1].id));
                second.set(Some(runs[0].id));
            }
        });
    });
    Effect::new(move |_| {
        screen.revision.track();
        let (Some(a), Some(b)) = (first.get(), second.get()) else {
            result.set(None);
            return;
        };
        spawn_local(async move {
            let found =
                api::evaluations::compare(a, b)
                    .await
                    .map_err(|e| match errors::detail(&e) {
                        Some(detail) => format!("{} {detail}", errors::describe(&e)),
                        None => errors::describe(&e),
                    });
            result.try_set(Some(found));
        });
    });
    view! {
        <h3>"Compare two evaluations"</h3>
        <div class="compare-pickers">
            <RunChoice id="compare-a" label="First" chosen=first runs=screen.runs/>
            <RunChoice id="compare-b" label="Second" chosen=second runs=screen.runs/>
        </div>
        {move || match result.get() {
            None => view! { <p class="muted">"Choose two evaluations of the same benchmark file."</p> }.into_any(),
            Some(Err(message)) => view! { <p id="comparison-error" class="run-error">{message}</p> }.into_any(),
            Some(Ok(c)) => view! { <ComparisonView comparison=c/> }.into_any(),
        }}
    }
}

/// A select of recorded runs.
#[component]
fn RunChoice(
    id: &'static str,
    label: &'static str,
    chosen: RwSignal<Option<i64>>,
    runs: RwSignal<Vec<EvalRunSummary>>,
) -> impl IntoView {
    view! {
        <label class="inline">
            {label}
            <select id=id on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                <option value="">"Choose an evaluation"</option>
                {move || runs.get().into_iter().map(|run| {
                    let run_id = run.id;
                    view! {
                        <option value=run_id.to_string() selected=move || chosen.get() == Some(run_id)>
                            {format!("#{} · {} · {} · {} · {}/{}", run.id, run.model_label(), run.bench_name(), run.spec.mode, run.done, run.spec.planned)}
                        </option>
                    }
                }).collect_view()}
            </select>
        </label>
    }
}

/// The numbers of one comparison.
#[component]
fn ComparisonView(comparison: Comparison) -> impl IntoView {
    let p = comparison.paired.clone();
    let (a, b) = (comparison.a, comparison.b);
    let verdict = if p.p_value < 0.05 {
        let better = if p.difference > 0.0 { a } else { b };
        format!(
            "Evaluation {better} is better by {:.1} points on these items (exact McNemar p = {:.3}).",
            p.difference.abs() * 100.0,
            p.p_value
        )
    } else {
        format!(
            "No evidence of a difference on these items (exact McNemar p = {:.3}); the interval \
             shows what difference cannot be ruled out.",
            p.p_value
        )
    };
    view! {
        <div id="comparison" class="comparison panel" data-common=comparison.common>
            <p>
                {format!("{} item(s) in common. Difference ({a} − {b}): ", comparison.common)}
                <strong id="comparison-difference">{format!("{:+.1} points", p.difference * 100.0)}</strong>
                {format!(", 95% interval {:+.1} to {:+.1}.", p.low * 100.0, p.high * 100.0)}
            </p>
            <table class="run-table paired-table">
                <thead>
                    <tr><th></th><th>{format!("{b} right")}</th><th>{format!("{b} wrong")}</th></tr>
                </thead>
                <tbody>
                    <tr><th>{format!("{a} right")}</th><td class="num">{p.both_right}</td><td class="num">{p.only_first}</td></tr>
                    <tr><th>{format!("{a} wrong")}</th><td class="num">{p.only_second}</td><td class="num">{p.both_wrong}</td></tr>
                </tbody>
            </table>
            <p id="comparison-verdict">{verdict}</p>
            <p class="muted small">{format!("Accuracy difference from the discordant items only; {} agree.", format::percent((p.both_right + p.both_wrong) as f64 / comparison.common.max(1) as f64))}</p>
        </div>
    }
}
