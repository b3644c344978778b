//! The Review tab: step verdicts, confirmed diagnosis, reviewer, and export.

use citrus_types::protection::{DeidHit, DeidOptions};
use citrus_types::review::ExportFormat;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::context::use_case;
use crate::api;
use crate::components::code_search::CodeTypeAhead;
use crate::components::run_parts::stage_label;
use crate::errors;
use crate::state::{use_app, AppState};
use crate::types::{Review, RunRecord, RunStatus, RunSummary, StepReview, Verdict as StepVerdict};

/// A step's verdict being edited: "agree", "disagree" or empty, plus a comment.
#[derive(Clone, Debug, Default, PartialEq)]
struct Verdict {
    verdict: String,
    comment: String,
}

/// The run reviewed by default: the session's, else the latest finished one.
fn default_run(runs: &[RunSummary], preferred: Option<i64>) -> Option<i64> {
    if let Some(id) = preferred.filter(|id| runs.iter().any(|r| r.id == *id)) {
        return Some(id);
    }
    let finished = |r: &&RunSummary| r.status == RunStatus::Done;
    runs.iter()
        .rev()
        .find(finished)
        .or_else(|| runs.iter().rev().find(|r| r.status != RunStatus::Running))
        .map(|r| r.id)
}

fn blank_to_none(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// What the Review tab edits: the run reviewed and its review as typed.
#[derive(Clone, Copy)]
struct ReviewForm {
    app: AppState,
    runs: RwSignal<Vec<RunSummary>>,
    run_id: RwSignal<Option<i64>>,
    record: RwSignal<Option<RunRecord>>,
    verdicts: RwSignal<Vec<Verdict>>,
    confirmed: RwSignal<String>,
    confirmed_code: RwSignal<Option<String>>,
    comment: RwSignal<String>,
    reviewer: RwSignal<String>,
    status: RwSignal<String>,
    /// Bumped on every save (the export preview follows it).
    saved_count: RwSignal<u32>,
}

impl ReviewForm {
    fn new(app: AppState) -> Self {
        Self {
            app,
            runs: RwSignal::new(Vec::new()),
            run_id: RwSignal::new(None),
            record: RwSignal::new(None),
            verdicts: RwSignal::new(Vec::new()),
            confirmed: RwSignal::new(String::new()),
            confirmed_code: RwSignal::new(None),
            comment: RwSignal::new(String::new()),
            reviewer: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            saved_count: RwSignal::new(0),
        }
    }

    /// Reads the reviewer's name and the case's runs, choosing the one to review.
    fn load_case(self, case_id: i64, preferred: Option<i64>) {
        spawn_local(async move {
            if let Ok(Some(name)) = api::app::setting("reviewer").await {
                self.reviewer.try_set(name);
            }
            match api::runs::list(case_id).await {
                Ok(list) => {
                    self.run_id.try_set(default_run(&list, preferred));
                    self.runs.try_set(list);
                }
                Err(err) => self.app.report(err),
            }
        });
    }

    /// Reads run `id` and its review, if any.
    fn load_run(self, id: i64) {
        self.status.set(String::new());
        spawn_local(async move {
            let run = match api::runs::get(id).await {
                Ok(run) => run,
                Err(err) => return self.app.report(err),
            };
            let review = api::reviews::get(id)
                .await
                .unwrap_or_else(|err| {
                    self.app.report(err);
                    None
                })
                .unwrap_or_default();
            let mut list = vec![Verdict::default(); run.steps.len()];
            for step in &review.steps {
                if let Some(slot) = list.get_mut(step.position) {
                    slot.verdict = step.verdict.as_str().to_string();
                    slot.comment = step.comment.clone().unwrap_or_default();
                }
            }
            self.verdicts.try_set(list);
            self.confirmed
                .try_set(review.confirmed_diagnosis.unwrap_or_default());
            self.confirmed_code.try_set(review.confirmed_code);
            self.comment.try_set(review.comment.unwrap_or_default());
            self.record.try_set(Some(run));
        });
    }

    /// The review as typed, for run `run_id` by `reviewer`.
    fn review(self, run_id: i64, reviewer: String) -> Review {
        let steps = self
            .verdicts
            .get_untracked()
            .iter()
            .enumerate()
            .filter_map(|(position, v)| {
                Some(StepReview {
                    position,
                    verdict: StepVerdict::parse(&v.verdict)?,
                    comment: blank_to_none(&v.comment),
                })
            })
            .collect();
        Review {
            run_id,
            reviewer,
            confirmed_diagnosis: blank_to_none(&self.confirmed.get_untracked()),
            confirmed_code: self.confirmed_code.get_untracked(),
            comment: blank_to_none(&self.comment.get_untracked()),
            steps,
        }
    }

    /// Saves the review (and remembers the reviewer's name).
    fn save(self) {
        let Some(id) = self.run_id.get_untracked() else {
            return;
        };
        let name = self.reviewer.get_untracked().trim().to_string();
        if name.is_empty() {
            self.status
                .set("Enter your name as the reviewer first.".into());
            return;
        }
        let review = self.review(id, name.clone());
        self.status.set("Saving…".into());
        spawn_local(async move {
            let _ = api::app::set_setting("reviewer", &name).await;
            match api::reviews::save(review).await {
                Ok(()) => {
                    self.status.try_set("Saved".into());
                    self.saved_count.try_update(|n| *n += 1);
                }
                Err(err) => {
                    self.status.try_set(errors::describe(&err));
                }
            }
        });
    }
}

/// The Review tab.
#[component]
pub fn ReviewTab() -> impl IntoView {
    let app = use_app();
    let case_id = use_case().id.get_untracked().unwrap_or_default();
    let preferred = app.session.with_untracked(|s| {
        s.as_ref()
            .and_then(|s| s.queue.get(s.index))
            .filter(|item| item.case_id == case_id)
            .map(|item| item.run_id)
    });
    let form = ReviewForm::new(app);
    form.load_case(case_id, preferred);
    Effect::new(move |_| {
        if let Some(id) = form.run_id.get() {
            form.load_run(id);
        }
    });
    let (runs, run_id, record) = (form.runs, form.run_id, form.record);
    view! {
        <div class="review">
            <div class="review-top">
                <label class="inline">
                    "Run"
                    <select id="review-run" on:change=move |ev| run_id.set(event_target_value(&ev).parse().ok())>
                        {move || runs.get().into_iter().map(|run| view! {
                            <option value=run.id.to_string() selected=move || run_id.get() == Some(run.id)>
                                {format!("#{} · {} · {} · {}", run.id, run.model_name, run.mode, run.status)}
                            </option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <Show when=move || run_id.with(Option::is_some) fallback=|| view! { <p class="empty">"No finished run to review yet."</p> }>
                <div class="answer review-answer">
                    <span class="label">"Model answer"</span>
                    <div class="answer-text">{move || record.with(|r| r.as_ref().and_then(|r| r.summary.answer.clone()).unwrap_or_default())}</div>
                </div>
                <ol class="step-reviews">
                    {move || record.with(|r| r.as_ref().map(|r| r.steps.clone()).unwrap_or_default())
                        .into_iter()
                        .enumerate()
                        .map(|(position, step)| view! { <StepReviewRow position=position step=step verdicts=form.verdicts/> })
                        .collect_view()}
                </ol>
                <ReviewFields form=form/>
                <ExportArea run_id=run_id saved_count=form.saved_count/>
            </Show>
        </div>
    }
}

/// Confirmed diagnosis, reviewer, comment and Save.
#[component]
fn ReviewFields(form: ReviewForm) -> impl IntoView {
    let ReviewForm {
        confirmed,
        confirmed_code,
        reviewer,
        comment,
        status,
        ..
    } = form;
    view! {
        <div class="field-grid review-fields">
            <div class="field">
                <label for="confirmed-diagnosis">"Confirmed diagnosis"</label>
                <CodeTypeAhead text=confirmed code=confirmed_code id="confirmed-diagnosis"/>
            </div>
            <div class="field">
                <label for="reviewer">"Reviewer"</label>
                <input id="reviewer" type="text" autocomplete="name" prop:value=move || reviewer.get() on:input=move |ev| reviewer.set(event_target_value(&ev))/>
            </div>
            <div class="field wide">
                <label for="review-comment">"Comment"</label>
                <textarea id="review-comment" rows="3" prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
            </div>
        </div>
        <div class="save-line">
            <button id="save-review" on:click=move |_| form.save()>"Save review"</button>
            <span id="review-status" role="status" aria-live="polite">{move || status.get()}</span>
        </div>
    }
}

/// Agree/disagree toggles and a comment for one step.
#[component]
fn StepReviewRow(
    position: usize,
    step: crate::types::Step,
    verdicts: RwSignal<Vec<Verdict>>,
) -> impl IntoView {
    let current = move || {
        verdicts.with(|v| {
            v.get(position)
                .map(|v| v.verdict.clone())
                .unwrap_or_default()
        })
    };
    let toggle = move |which: &'static str| {
        verdicts.update(|v| {
            if let Some(slot) = v.get_mut(position) {
                slot.verdict = if slot.verdict == which {
                    String::new()
                } else {
                    which.to_string()
                };
            }
        })
    };
    let pressed = move |which: &'static str| move || (current() == which).to_string();
    view! {
        <li class="step-review" data-position=position data-stage=step.stage.as_str() data-verdict=current>
            <div class="step-review-head">
                <span class="stage-tag">{stage_label(step.stage.as_str())}</span>
                <strong>{step.title.clone().unwrap_or_default()}</strong>
            </div>
            <div class="step-text">{step.text}</div>
            <div class="step-review-actions">
                <button class="agree toggle" aria-pressed=pressed("agree") on:click=move |_| toggle("agree")>"Agree"</button>
                <button class="disagree toggle" aria-pressed=pressed("disagree") on:click=move |_| toggle("disagree")>"Disagree"</button>
                <input
                    class="step-comment"
                    type="text"
                    placeholder="Comment on this step"
                    aria-label=format!("Comment on step {}", position + 1)
                    prop:value=move || verdicts.with(|v| v.get(position).map(|v| v.comment.clone()).unwrap_or_default())
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        verdicts.update(|v| {
                            if let Some(slot) = v.get_mut(position) {
                                slot.comment = text;
                            }
                        });
                    }
                />
            </div>
        </li>
    }
}

/// Export format, preview and save, de-identified by default: the replacements are listed,
/// each can be kept as written, and saving waits until the high-confidence ones are reviewed.
#[component]
fn ExportArea(run_id: RwSignal<Option<i64>>, saved_count: RwSignal<u32>) -> impl IntoView {
    let app = use_app();
    let format = RwSignal::new(ExportFormat::Markdown);
    let preview = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let deidentify = RwSignal::new(true);
    let hits = RwSignal::new(Vec::<DeidHit>::new());
    let notice = RwSignal::new(None::<String>);
    let keep = RwSignal::new(Vec::<String>::new());
    let reviewed = RwSignal::new(Vec::<String>::new());
    // SFT covers every reviewed run; a report one run.
    let args = move || {
        let format = format.get();
        let run = if format == ExportFormat::Sft {
            None
        } else {
            run_id.get()
        };
        (format, run)
    };
    let options = move || DeidOptions {
        deidentify: deidentify.get(),
        reviewed: reviewed.get(),
        keep: keep.get(),
    };
    Effect::new(move |_| {
        saved_count.track();
        let (format, run) = args();
        let deid = DeidOptions {
            deidentify: deidentify.get(),
            reviewed: Vec::new(),
            keep: keep.get(),
        };
        spawn_local(async move {
            match api::reviews::export_preview(format, run, deid).await {
                Ok(view) => {
                    preview.try_set(view.text);
                    hits.try_set(view.hits);
                    notice.try_set(view.notice);
                }
                Err(err) => {
                    preview.try_set(errors::describe(&err));
                    hits.try_set(Vec::new());
                }
            }
        });
    });
    let waiting = move || {
        let (reviewed, keep) = (reviewed.get(), keep.get());
        deidentify.get()
            && hits.with(|hits| {
                hits.iter()
                    .any(|h| h.high && !reviewed.contains(&h.id) && !keep.contains(&h.id))
            })
    };
    let confirm = move |_| {
        reviewed.set(hits.with_untracked(|hits| hits.iter().map(|h| h.id.clone()).collect()));
    };
    let toggle_keep = move |id: String| {
        keep.update(|keep| match keep.iter().position(|k| *k == id) {
            Some(at) => {
                keep.remove(at);
            }
            None => keep.push(id),
        });
    };
    let save = move |_| {
        let (format, run) = args();
        let deid = options();
        status.set(String::new());
        spawn_local(async move {
            match api::reviews::export_save(format, run, deid).await {
                Ok(Some(path)) => {
                    status.try_set(format!("Saved to {path}"));
                }
                Ok(None) => {}
                Err(err) => app.report(err),
            }
        });
    };
    view! {
        <section class="export">
            <h3>"Export"</h3>
            <div class="save-line">
                <label class="inline">
                    "Format"
                    <select id="export-format" on:change=move |ev| format.set(export_format(&event_target_value(&ev)))>
                        <option value="sft">"Training data (SFT JSONL, all reviewed runs)"</option>
                        <option value="markdown" selected>"Report (Markdown)"</option>
                        <option value="json">"Report (JSON)"</option>
                    </select>
                </label>
                <label class="inline">
                    <input
                        id="export-deidentify"
                        type="checkbox"
                        prop:checked=move || deidentify.get()
                        on:change=move |ev| deidentify.set(event_target_checked(&ev))
                    />
                    "De-identify (names, dates, record numbers, places…)"
                </label>
                <button id="export-save" class="secondary" disabled=waiting on:click=save>"Save to file…"</button>
                <span id="export-status" role="status">{move || status.get()}</span>
            </div>
            <Show when=move || deidentify.get()>
                <div id="deid-review" class="deid-review">
                    <p class="muted">{move || notice.get().unwrap_or_default()}</p>
                    <p id="deid-summary">
                        {move || {
                            let (all, high) = hits.with(|h| (h.len(), h.iter().filter(|h| h.high).count()));
                            format!("{all} replacement(s), {high} with high confidence. Untick one that is not an identifier to keep it as written.")
                        }}
                    </p>
                    <ul id="deid-hits" class="deid-hits">
                        {move || hits.get().into_iter().map(|hit| {
                            let id = hit.id.clone();
                            let checked_id = hit.id.clone();
                            view! {
                                <li class="deid-hit" class:high=hit.high data-category=hit.category.clone()>
                                    <label class="inline">
                                        <input
                                            type="checkbox"
                                            prop:checked=move || keep.with(|k| !k.contains(&checked_id))
                                            on:change=move |_| toggle_keep(id.clone())
                                        />
                                        <span class="deid-text">{hit.text.clone()}</span>
                                        " → "
                                        <span class="deid-replacement">{hit.replacement.clone()}</span>
                                    </label>
                                    <span class="muted">{format!(" {} ({})", hit.category, hit.reason)}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <button id="deid-confirm" class="secondary" disabled=move || !waiting() on:click=confirm>
                        "I have reviewed these replacements"
                    </button>
                </div>
            </Show>
            <textarea id="export-preview" readonly rows="12" prop:value=move || preview.get()></textarea>
        </section>
    }
}

/// The export format an option of the format list names.
fn export_format(value: &str) -> ExportFormat {
    match value {
        "sft" => ExportFormat::Sft,
        "json" => ExportFormat::Json,
        _ => ExportFormat::Markdown,
    }
}
