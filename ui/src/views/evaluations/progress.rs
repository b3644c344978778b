//! The evaluation job going on: queue, model loading, items done with a bar and an ETA,
//! correct and unmatched so far, the last item, warnings, and Stop.

use leptos::prelude::*;

use super::screen::use_screen;
use crate::errors;
use crate::format;
use crate::live::evaluations::LiveEval;
use crate::live::job::JobPhase;
use crate::live::start;
use crate::types::RunStatus;

/// The live panel, shown while a job runs and after it ends.
#[component]
pub fn LiveEvaluation() -> impl IntoView {
    let screen = use_screen();
    let app = screen.app;
    // The list and the open report follow the job: the new run enters the list as soon as
    // the job records it, and both reload when it ends.
    let phase = Memo::new(move |_| {
        app.evaluation
            .with(|e| e.as_ref().map(|e| (e.eval_id, e.active())))
    });
    Effect::new(move |previous: Option<Option<(Option<i64>, bool)>>| {
        let now = phase.get();
        if let (Some(Some(before)), Some((id, active))) = (previous, now) {
            if id.is_some() && id != before.0 {
                screen.selected.set(id);
                screen.reload();
            } else if before.1 && !active {
                screen.reload();
            }
        }
        now
    });
    move || {
        app.evaluation.get().map(|live| {
            let status = live.job.phase.as_str();
            view! {
                <div id="eval-live" class="panel eval-live" data-status=status>
                    <div class="run-status-bar">
                        <span id="eval-status" class=format!("status-pill status-{status}") data-status=status>
                            {status_text(&live)}
                        </span>
                        <progress
                            id="eval-progress"
                            max=live.total.max(1)
                            value=live.done
                        ></progress>
                        <span id="eval-count-done" class="metric">{format!("{} / {}", live.done, live.total)}</span>
                        <span id="eval-eta" class="metric">
                            {live.eta_seconds().filter(|_| live.active()).map(|s| format!("ETA {}", format::duration(s)))}
                        </span>
                        <span class="spacer"></span>
                        <Show when={let active = live.active(); move || active}>
                            <button id="stop-eval" class="danger" on:click=move |_| start::stop_evaluation(app)>"Stop"</button>
                        </Show>
                    </div>
                    <p class="eval-tally">
                        {tally(&live)}
                    </p>
                    {live.job.warnings.iter().map(|w| view! { <p class="warning">{w.clone()}</p> }).collect_view()}
                    {live.job.error.as_ref().map(|e| view! { <p class="run-error">{errors::describe(e)}" "{errors::detail(e)}</p> })}
                    <Show when={let cancelled = live.job.phase == JobPhase::Ended(RunStatus::Cancelled); move || cancelled}>
                        <p class="muted">"Stopped. Every finished item is kept; continue it from the list below."</p>
                    </Show>
                </div>
            }
        })
    }
}

fn status_text(live: &LiveEval) -> String {
    if let Some(waiting) = live.job.waiting_text() {
        return waiting;
    }
    let id = live.eval_id.map(|id| id.to_string()).unwrap_or_default();
    format!("Evaluation {id} {}", live.job.phase.as_str())
}

fn tally(live: &LiveEval) -> String {
    if live.done == 0 {
        return String::new();
    }
    let mut text = format!(
        "{} correct ({}), {} unmatched",
        live.correct,
        format::percent(live.correct as f64 / live.done as f64),
        live.unmatched
    );
    if let Some(last) = &live.last {
        text.push_str(&format!(
            " · last item {}: {} (key {}, answered {})",
            last.position + 1,
            last.outcome,
            last.key,
            last.predicted.as_deref().unwrap_or("nothing")
        ));
    }
    text
}
