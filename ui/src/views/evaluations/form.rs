//! The new-evaluation form: benchmark file (typed or chosen in a dialog, inspected at once),
//! model, adapter, scoring mode with its settings, subset, option shuffling and seed.

use citrus_types::defaults;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::screen::use_screen;
use crate::api;
use crate::components::engine_picker::{capabilities_of, EnginePicker};
use crate::components::fields::NumberField;
use crate::components::model_picker::ModelPicker;
use crate::components::path_field::{PathField, PathSpec};
use crate::live::evaluations::LiveEval;
use crate::live::start;
use crate::types::{AdapterListing, BenchmarkInfo};
use citrus_types::evaluation::{EvalChoices, EvalRequest, Scoring, Selection};
use citrus_types::run::ReasoningMode;

/// Which items run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subset {
    All,
    First,
    Sample,
}

/// The form's choices.
#[derive(Clone, Copy)]
struct Choices {
    bench_path: RwSignal<String>,
    model_id: RwSignal<Option<i64>>,
    adapter: RwSignal<String>,
    generate: RwSignal<bool>,
    guided: RwSignal<bool>,
    max_tokens: RwSignal<u32>,
    temperature: RwSignal<f64>,
    score_text: RwSignal<bool>,
    subset: RwSignal<Subset>,
    count: RwSignal<u32>,
    shuffle: RwSignal<bool>,
    seed: RwSignal<u64>,
    engine: RwSignal<Option<String>>,
}

impl Choices {
    fn new() -> Self {
        Self {
            bench_path: RwSignal::new(String::new()),
            model_id: RwSignal::new(None),
            adapter: RwSignal::new(String::new()),
            generate: RwSignal::new(false),
            guided: RwSignal::new(false),
            max_tokens: RwSignal::new(defaults::EVAL_MAX_NEW_TOKENS as u32),
            temperature: RwSignal::new(f64::from(defaults::EVAL_TEMPERATURE)),
            score_text: RwSignal::new(false),
            subset: RwSignal::new(Subset::First),
            count: RwSignal::new(50),
            shuffle: RwSignal::new(false),
            seed: RwSignal::new(defaults::SEED),
            engine: RwSignal::new(None),
        }
    }

    /// Why the chosen engine cannot run the chosen scoring, if it cannot.
    fn unsupported(&self) -> Option<&'static str> {
        let engine = self.engine.get();
        let capabilities = capabilities_of(engine.as_deref());
        if self.generate.get() {
            return None;
        }
        if !capabilities.letter_scoring {
            Some("This engine returns no token log-probabilities: evaluate by generation.")
        } else if self.score_text.get() && !capabilities.text_scoring {
            Some("This engine scores option letters only: untick scoring the option text.")
        } else {
            None
        }
    }

    /// The request for a new evaluation.
    fn request(&self) -> EvalRequest {
        let count = Some(self.count.get_untracked() as usize);
        let subset = self.subset.get_untracked();
        let adapter = self.adapter.get_untracked();
        EvalRequest::New {
            bench_path: self.bench_path.get_untracked().trim().into(),
            model_id: self.model_id.get_untracked(),
            adapter: (!adapter.is_empty()).then_some(adapter),
            engine: self.engine.get_untracked(),
            choices: EvalChoices {
                scoring: if self.generate.get_untracked() {
                    Scoring::Generate
                } else {
                    Scoring::Likelihood
                },
                reasoning: if self.guided.get_untracked() {
                    ReasoningMode::Guided
                } else {
                    ReasoningMode::Free
                },
                score_text: self.score_text.get_untracked(),
                max_new_tokens: self.max_tokens.get_untracked() as usize,
                temperature: self.temperature.get_untracked() as f32,
                selection: Selection {
                    limit: count.filter(|_| subset == Subset::First),
                    sample: count.filter(|_| subset == Subset::Sample),
                    shuffle_options: self.shuffle.get_untracked(),
                    seed: self.seed.get_untracked(),
                },
            },
        }
    }
}

/// The form.
#[component]
pub fn NewEvaluation() -> impl IntoView {
    let app = use_screen().app;
    let choices = Choices::new();
    let info = RwSignal::new(None::<BenchmarkInfo>);
    let running = move || {
        app.evaluation
            .with(|e| e.as_ref().is_some_and(LiveEval::active))
    };
    let start = move |_| {
        start::evaluation(app, choices.request());
    };
    view! {
        <div class="panel eval-form">
            <h3 class="first">"New evaluation"</h3>
            <BenchmarkField choices=choices info=info/>
            <BenchmarkSummary info=info/>
            <div class="form-grid">
                <label>
                    "Model"
                    <ModelPicker id="eval-model" selected=choices.model_id/>
                </label>
                <label>
                    "Adapter"
                    <AdapterPicker chosen=choices.adapter/>
                </label>
                <EnginePicker
                    id="eval-engine"
                    selected=choices.engine.into()
                    on_change=Callback::new(move |engine| choices.engine.set(engine))
                />
                <ScoringFields choices=choices/>
                <SelectionFields choices=choices/>
            </div>
            <div class="actions">
                <button
                    id="start-eval"
                    on:click=start
                    disabled=move || running() || info.with(Option::is_none) || choices.model_id.with(Option::is_none) || choices.unsupported().is_some()
                >
                    "Run evaluation"
                </button>
                <span class="muted">{move || choices.unsupported()}</span>
                <Show when=running>
                    <span class="muted">"An evaluation is running; stop it or wait for it to finish."</span>
                </Show>
            </div>
        </div>
    }
}

/// The benchmark file, typed or chosen in a dialog, inspected as soon as it changes.
#[component]
fn BenchmarkField(choices: Choices, info: RwSignal<Option<BenchmarkInfo>>) -> impl IntoView {
    let app = use_screen().app;
    let inspect = Callback::new(move |()| {
        let path = choices.bench_path.get_untracked().trim().to_string();
        info.set(None);
        if path.is_empty() {
            return;
        }
        spawn_local(async move {
            match api::evaluations::inspect_benchmark(path.into()).await {
                Ok(found) => {
                    info.try_set(Some(found));
                }
                Err(err) => app.report(err),
            }
        });
    });
    let spec = PathSpec {
        id: "bench-path",
        pick_id: "pick-bench",
        label: "Benchmark file (Citrus line format, JSONL)",
        placeholder: "/path/to/medqa.jsonl",
    };
    view! {
        <PathField
            spec=spec
            path=choices.bench_path
            pick=api::evaluations::pick_benchmark
            on_change=inspect
            on_error=Callback::new(move |err| app.report(err))
        />
    }
}

/// The adapters of the library (unusable ones shown but disabled), or none.
#[component]
fn AdapterPicker(chosen: RwSignal<String>) -> impl IntoView {
    let app = use_screen().app;
    let adapters = RwSignal::new(Vec::<AdapterListing>::new());
    spawn_local(async move {
        match api::adapters::list().await {
            Ok(list) => {
                adapters.try_set(list);
            }
            Err(err) => app.report(err),
        }
    });
    view! {
        <select id="eval-adapter" on:change=move |ev| chosen.set(event_target_value(&ev))>
            <option value="">"None (the base model)"</option>
            {move || {
                adapters.get().into_iter().map(|a| {
                    let usable = a.error.is_none();
                    let label = a.name.clone();
                    view! {
                        <option value=a.name disabled=!usable title=a.error.unwrap_or_default()>
                            {label}
                        </option>
                    }
                }).collect_view()
            }}
        </select>
    }
}

/// Likelihood or generation, with each one's settings.
#[component]
fn ScoringFields(choices: Choices) -> impl IntoView {
    view! {
        <label>
            "Scoring"
            <select id="eval-mode" on:change=move |ev| choices.generate.set(event_target_value(&ev) == "generate")>
                <option value="likelihood" selected=move || !choices.generate.get()>"Likelihood (fast, no generation)"</option>
                <option value="generate" selected=move || choices.generate.get()>"Generation (the model reasons)"</option>
            </select>
        </label>
        <Show
            when=move || choices.generate.get()
            fallback=move || view! {
                <label class="check">
                    <input id="eval-score-text" type="checkbox" prop:checked=move || choices.score_text.get()
                        on:change=move |ev| choices.score_text.set(event_target_checked(&ev))/>
                    "Score the option texts, not their letters"
                </label>
            }
        >
            <label class="check">
                <input id="eval-guided" type="checkbox" prop:checked=move || choices.guided.get()
                    on:change=move |ev| choices.guided.set(event_target_checked(&ev))/>
                "Guided pathway"
            </label>
            <NumberField id="eval-max-tokens" label="Max tokens per item" value=choices.max_tokens min="16"/>
            <NumberField id="eval-temperature" label="Temperature" value=choices.temperature step="0.1"/>
        </Show>
    }
}

/// Which items, option shuffling and the seed.
#[component]
fn SelectionFields(choices: Choices) -> impl IntoView {
    view! {
        <label>
            "Items"
            <select id="eval-subset" on:change=move |ev| choices.subset.set(match event_target_value(&ev).as_str() {
                "all" => Subset::All,
                "sample" => Subset::Sample,
                _ => Subset::First,
            })>
                <option value="first" selected=move || choices.subset.get() == Subset::First>"The first N"</option>
                <option value="sample" selected=move || choices.subset.get() == Subset::Sample>"A random sample of N"</option>
                <option value="all" selected=move || choices.subset.get() == Subset::All>"All"</option>
            </select>
        </label>
        <Show when=move || choices.subset.get() != Subset::All>
            <NumberField id="eval-count" label="N" value=choices.count min="1"/>
        </Show>
        <label class="check">
            <input id="eval-shuffle" type="checkbox" prop:checked=move || choices.shuffle.get()
                on:change=move |ev| choices.shuffle.set(event_target_checked(&ev))/>
            "Shuffle each item's options (exposes position bias)"
        </label>
        <NumberField id="eval-seed" label="Seed" value=choices.seed/>
    }
}

/// What the chosen file holds, with its unusable lines.
#[component]
fn BenchmarkSummary(info: RwSignal<Option<BenchmarkInfo>>) -> impl IntoView {
    move || {
        info.get().map(|info| {
            let exams = info
                .exams
                .iter()
                .map(|(name, n)| format!("{name} ({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            let options = match info.options {
                (low, high) if low == high => format!("{low} options each"),
                (low, high) => format!("{low} to {high} options"),
            };
            let unusable = info.unusable.len();
            view! {
                <div id="bench-info" class="bench-info" data-items=info.items data-unusable=unusable>
                    <span><strong>{info.items}</strong>" usable items · "{options}" · "{exams}</span>
                    <Show when=move || unusable == 0>
                        <span class="good-text">" · no unusable lines"</span>
                    </Show>
                    {(unusable > 0).then(|| view! {
                        <details class="unusable">
                            <summary class="bad-text">{format!("{unusable} unusable line(s), skipped")}</summary>
                            <ul>{info.unusable.iter().map(|line| view! { <li>{line.clone()}</li> }).collect_view()}</ul>
                        </details>
                    })}
                </div>
            }
        })
    }
}
