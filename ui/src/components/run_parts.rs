//! The parts of a run's display shared by the Reasoning tab and the comparison view.

use leptos::prelude::*;

use super::case_quotes::StepMentions;
use crate::types::{answer_in_differential, DifferentialEntry, RunRecord, Step};

/// The reasoning pathway's stages in order, with their labels.
pub const STAGES: [(&str, &str); 5] = [
    ("findings", "Findings"),
    ("hypotheses", "Hypotheses"),
    ("testing", "Testing"),
    ("reflection", "Reflection"),
    ("conclusion", "Conclusion"),
];

/// A stage's label (guided mode's `differential` stage included).
pub fn stage_label(stage: &str) -> String {
    STAGES
        .iter()
        .find(|(key, _)| *key == stage)
        .map(|(_, label)| label.to_string())
        .unwrap_or_else(|| match stage {
            "differential" => "Differential".to_string(),
            "" => "Other".to_string(),
            other => other.to_string(),
        })
}

/// Steps grouped by stage, in pathway order; unknown stages last, in order of appearance.
fn grouped(steps: &[Step]) -> Vec<(String, Vec<(usize, Step)>)> {
    let mut groups: Vec<(String, Vec<(usize, Step)>)> = STAGES
        .iter()
        .map(|(key, _)| (key.to_string(), Vec::new()))
        .collect();
    for (index, step) in steps.iter().enumerate() {
        let entry = (index, step.clone());
        match groups
            .iter_mut()
            .find(|(stage, _)| *stage == step.stage.as_str())
        {
            Some((_, list)) => list.push(entry),
            None => groups.push((step.stage.to_string(), vec![entry])),
        }
    }
    groups.retain(|(_, list)| !list.is_empty());
    groups
}

/// The steps of a run, grouped by stage.
#[component]
pub fn Timeline(
    /// The completed steps.
    #[prop(into)]
    steps: Signal<Vec<Step>>,
    /// The element id, for the main view only.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="timeline" id=id>
            {move || {
                let groups = grouped(&steps.get());
                if groups.is_empty() {
                    return view! { <p class="muted">"No completed steps yet."</p> }.into_any();
                }
                groups
                    .into_iter()
                    .map(|(stage, list)| {
                        view! {
                            <section class="stage-group" data-stage=stage.clone()>
                                <h4 class="stage-heading">{stage_label(&stage)}</h4>
                                {list
                                    .into_iter()
                                    .map(|(index, step)| {
                                        view! {
                                            <article
                                                class="step"
                                                data-stage=step.stage.as_str()
                                                data-position=index
                                            >
                                                <h5 class="step-title">
                                                    {step.title.clone().unwrap_or_else(|| stage_label(step.stage.as_str()))}
                                                </h5>
                                                <div class="step-text">{step.text.clone()}</div>
                                                <StepMentions mentions=step.mentions.clone()/>
                                            </article>
                                        }
                                    })
                                    .collect_view()}
                            </section>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </div>
    }
}

/// The differential diagnosis list; ruled-out entries are struck through.
#[component]
pub fn Differential(
    /// The entries.
    #[prop(into)]
    entries: Signal<Vec<DifferentialEntry>>,
    /// The element id, for the main view only.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="differential panel" id=id>
            <h4>"Differential"</h4>
            {move || {
                let list = entries.get();
                if list.is_empty() {
                    return view! { <p class="muted">"None recorded."</p> }.into_any();
                }
                view! {
                    <ul>
                        {list
                            .into_iter()
                            .map(|entry| {
                                let class = if entry.ruled_out {
                                    "diff-entry ruled-out"
                                } else {
                                    "diff-entry"
                                };
                                let title = if entry.ruled_out { "Ruled out" } else { "Considered" };
                                view! {
                                    <li class=class title=title>
                                        <span class="diff-name">{entry.name}</span>
                                        <span class="diff-mentions">{format!("×{}", entry.mentions)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </div>
    }
}

/// What a run concluded: answer, chosen option and whether it matched the key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The answer text.
    pub answer: Option<String>,
    /// The chosen option letter (exam items).
    pub option: Option<String>,
    /// Whether the option matched the answer key, when known.
    pub correct: Option<bool>,
    /// Whether a free-text answer names one of the differential's diagnoses, when there is a
    /// differential and no option letter.
    pub in_differential: Option<bool>,
}

impl Outcome {
    /// The outcome of a stored run.
    pub fn of(run: &RunRecord) -> Self {
        let in_differential = match (&run.summary.answer, &run.option) {
            (Some(answer), None) => answer_in_differential(answer, &run.differential),
            _ => None,
        };
        Self {
            answer: run.summary.answer.clone(),
            option: run.option.clone(),
            correct: run.correct,
            in_differential,
        }
    }
}

/// The highlighted answer.
#[component]
pub fn Answer(
    /// The outcome to show.
    #[prop(into)]
    outcome: Signal<Outcome>,
    /// The element id, for the main view only.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="answer" id=id>
            {move || {
                let outcome = outcome.get();
                let verdict = outcome.correct.map(|c| {
                    let (class, text) = if c {
                        ("verdict correct", "Correct")
                    } else {
                        ("verdict incorrect", "Incorrect")
                    };
                    view! { <span class=class>{text}</span> }
                });
                let option = outcome
                    .option
                    .map(|letter| view! { <span class="option-letter">{format!("Option {letter}")}</span> });
                let linked = outcome.in_differential.map(|named| {
                    let (class, text) = if named {
                        ("answer-link linked", "One of the differential's diagnoses")
                    } else {
                        ("answer-link unlinked", "Not among the differential's diagnoses")
                    };
                    view! { <span class=class id="answer-in-differential">{text}</span> }
                });
                view! {
                    <div class="answer-meta">{option}{verdict}{linked}</div>
                    <div class="answer-text">
                        {outcome.answer.unwrap_or_else(|| "No answer yet.".to_string())}
                    </div>
                }
            }}
        </div>
    }
}
