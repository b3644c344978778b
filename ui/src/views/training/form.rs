//! The new-run form: the data (a file of examples or of preference pairs, the reviewed
//! cases, or pairs built from them), the base model, the method (SFT or a preference loss),
//! the settings with a line of explanation each, Check (validation report, preview, the pair
//! builder's pairs, pre-flight estimate) and Start.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::data::DataCheckView;
use super::screen::use_screen;
use crate::api;
use crate::components::fields::NumberField;
use crate::components::model_picker::ModelPicker;
use crate::components::path_field::{PathField, PathSpec};
use crate::live::start;
use crate::live::training::LiveTraining;
use crate::state::AppState;
use crate::types::{DatasetCheck, TrainChoices};
use citrus_types::training::{DataFormat, DataSource, TrainMethod, TrainStart};

/// Where a run's data come from, as the form offers it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    File,
    Reviews,
    PairsFile,
    ReviewPairs,
}

impl SourceKind {
    const ALL: [(Self, &'static str, &'static str); 4] = [
        (
            Self::File,
            "file",
            "A file of examples (JSONL: citrus, chat or alpaca records)",
        ),
        (
            Self::Reviews,
            "reviews",
            "The reviewed cases of this workstation",
        ),
        (
            Self::PairsFile,
            "pairs-file",
            "A file of preference pairs (chosen / rejected JSONL)",
        ),
        (
            Self::ReviewPairs,
            "review-pairs",
            "Preference pairs built from reviewed runs",
        ),
    ];

    fn parse(value: &str) -> Self {
        Self::ALL
            .iter()
            .find(|(_, v, _)| *v == value)
            .map_or(Self::File, |(k, ..)| *k)
    }

    fn is_pairs(self) -> bool {
        matches!(self, Self::PairsFile | Self::ReviewPairs)
    }

    fn is_file(self) -> bool {
        matches!(self, Self::File | Self::PairsFile)
    }
}

/// What each method does, as the form explains it.
fn method_help(method: TrainMethod) -> &'static str {
    match method {
        TrainMethod::Sft => "Learns to write the reference answers (supervised fine-tuning).",
        TrainMethod::CpoSimpo => "Citrus' own last stage: prefers the chosen answer by a margin (SimPO, no reference model) and keeps its likelihood up (α).",
        TrainMethod::Simpo => "Prefers the chosen answer by a target margin γ, per token, with no reference model.",
        TrainMethod::Cpo => "Prefers the chosen answer over the whole answer (not per token), plus its likelihood (α).",
        TrainMethod::Dpo => "Prefers the chosen answer relative to the starting adapter (the reference), which it stays close to.",
    }
}

/// The form's choices.
#[derive(Clone, Copy)]
struct Choices {
    source_kind: RwSignal<SourceKind>,
    path: RwSignal<String>,
    method: RwSignal<TrainMethod>,
    pref_beta: RwSignal<f64>,
    pref_gamma: RwSignal<f64>,
    pref_alpha: RwSignal<f64>,
    start_adapter: RwSignal<String>,
    model_id: RwSignal<Option<i64>>,
    rank: RwSignal<usize>,
    alpha: RwSignal<f64>,
    targets: RwSignal<String>,
    learning_rate: RwSignal<f64>,
    by_steps: RwSignal<bool>,
    epochs: RwSignal<usize>,
    steps: RwSignal<usize>,
    batch_size: RwSignal<usize>,
    grad_accum: RwSignal<usize>,
    max_len: RwSignal<usize>,
    val_split: RwSignal<f64>,
    seed: RwSignal<u64>,
    quantized_base: RwSignal<bool>,
}

impl Choices {
    fn new() -> Self {
        let d = TrainChoices::default();
        let (beta, gamma, alpha) = TrainMethod::CpoSimpo
            .preference_defaults()
            .unwrap_or_default();
        Self {
            source_kind: RwSignal::new(SourceKind::File),
            path: RwSignal::new(String::new()),
            method: RwSignal::new(TrainMethod::Sft),
            pref_beta: RwSignal::new(beta),
            pref_gamma: RwSignal::new(gamma),
            pref_alpha: RwSignal::new(alpha),
            start_adapter: RwSignal::new(String::new()),
            model_id: RwSignal::new(None),
            rank: RwSignal::new(d.rank),
            alpha: RwSignal::new(d.alpha),
            targets: RwSignal::new(d.targets),
            learning_rate: RwSignal::new(d.learning_rate),
            by_steps: RwSignal::new(false),
            epochs: RwSignal::new(d.epochs),
            steps: RwSignal::new(50),
            batch_size: RwSignal::new(d.batch_size),
            grad_accum: RwSignal::new(d.grad_accum),
            max_len: RwSignal::new(d.max_len),
            val_split: RwSignal::new(d.val_split),
            seed: RwSignal::new(d.seed),
            quantized_base: RwSignal::new(d.quantized_base),
        }
    }

    /// The data source (reading it tracks the fields that choose it).
    fn source(&self) -> DataSource {
        let path = || self.path.get().trim().into();
        match self.source_kind.get() {
            SourceKind::File => DataSource::File {
                path: path(),
                format: DataFormat::Auto,
            },
            SourceKind::Reviews => DataSource::Reviews,
            SourceKind::PairsFile => DataSource::Pairs { path: path() },
            SourceKind::ReviewPairs => DataSource::ReviewPairs,
        }
    }

    /// Chooses where the data come from; pairs need a preference method and examples SFT.
    fn set_source_kind(&self, kind: SourceKind) {
        self.source_kind.set(kind);
        let method = self.method.get_untracked();
        if kind.is_pairs() && !method.is_preference() {
            self.set_method(TrainMethod::CpoSimpo);
        } else if !kind.is_pairs() && method.is_preference() {
            self.set_method(TrainMethod::Sft);
        }
    }

    /// Chooses the method, with its usual β, γ and α.
    fn set_method(&self, method: TrainMethod) {
        self.method.set(method);
        if let Some((beta, gamma, alpha)) = method.preference_defaults() {
            self.pref_beta.set(beta);
            self.pref_gamma.set(gamma);
            self.pref_alpha.set(alpha);
        }
    }

    /// The settings; reading them tracks every field (a change clears the check).
    fn settings(&self) -> TrainChoices {
        let preference = self.method.get().is_preference();
        TrainChoices {
            rank: self.rank.get(),
            alpha: self.alpha.get(),
            targets: self.targets.get(),
            learning_rate: self.learning_rate.get(),
            epochs: self.epochs.get(),
            steps: self.by_steps.get().then(|| self.steps.get()),
            batch_size: self.batch_size.get(),
            grad_accum: self.grad_accum.get(),
            max_len: self.max_len.get(),
            val_split: self.val_split.get(),
            seed: self.seed.get(),
            quantized_base: self.quantized_base.get(),
            method: self.method.get(),
            pref_beta: preference.then(|| self.pref_beta.get()),
            pref_gamma: preference.then(|| self.pref_gamma.get()),
            pref_alpha: preference.then(|| self.pref_alpha.get()),
            start_adapter: Some(self.start_adapter.get().trim().to_string())
                .filter(|p| !p.is_empty())
                .map(Into::into),
            ..TrainChoices::default()
        }
    }

    fn has_data(&self) -> bool {
        !self.source_kind.get().is_file() || !self.path.get().trim().is_empty()
    }
}

/// The data check of the form: its report and pre-flight estimate, and whether one is
/// being made.
#[derive(Clone, Copy)]
struct DataCheck {
    report: RwSignal<Option<DatasetCheck>>,
    running: RwSignal<bool>,
}

impl DataCheck {
    /// Checks the data against the model and settings chosen.
    fn run(self, app: AppState, choices: Choices) {
        if !choices.has_data() || self.running.get_untracked() {
            return;
        }
        let (source, model_id, settings) = (
            choices.source(),
            choices.model_id.get_untracked(),
            choices.settings(),
        );
        self.running.set(true);
        spawn_local(async move {
            match api::training::inspect_dataset(source, model_id, settings).await {
                Ok(found) => {
                    self.report.try_set(Some(found));
                }
                Err(err) => app.report(err),
            }
            self.running.try_set(false);
        });
    }
}

/// The form.
#[component]
pub fn NewTraining() -> impl IntoView {
    let app = use_screen().app;
    let choices = Choices::new();
    let check = DataCheck {
        report: RwSignal::new(None),
        running: RwSignal::new(false),
    };
    // Any change to the data or the settings makes the last check stale.
    Effect::new(move |_| {
        choices.source();
        choices.settings();
        choices.model_id.track();
        check.report.set(None);
    });
    let running = move || {
        app.training
            .with(|t| t.as_ref().is_some_and(LiveTraining::active))
    };
    let fits = move || {
        check
            .report
            .with(|c| c.as_ref().is_some_and(|c| c.estimate.fits()))
    };
    let start = move |_| {
        let request = TrainStart::New {
            source: choices.source(),
            model_id: choices.model_id.get_untracked(),
            choices: Box::new(choices.settings()),
        };
        start::training(app, request);
    };
    view! {
        <div class="panel train-form">
            <h3 class="first">"New training run"</h3>
            <div class="form-grid">
                <label>
                    "Data"
                    <select id="train-source" on:change=move |ev| choices.set_source_kind(SourceKind::parse(&event_target_value(&ev)))>
                        {SourceKind::ALL.into_iter().map(|(kind, value, label)| view! {
                            <option value=value selected=move || choices.source_kind.get() == kind>{label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Base model"
                    <ModelPicker id="train-model" selected=choices.model_id/>
                </label>
            </div>
            <DataFile choices=choices check=check/>
            <Method choices=choices/>
            <Settings choices=choices/>
            <div class="actions">
                <button id="check-dataset" class="secondary" on:click=move |_| check.run(app, choices) disabled=move || !choices.has_data() || check.running.get()>
                    {move || if check.running.get() { "Checking…" } else { "Check data and estimate" }}
                </button>
                <button id="start-training" on:click=start disabled=move || running() || !fits()>
                    "Start training"
                </button>
                <Show when=running>
                    <span class="muted">"A run is training; pause or cancel it to start another."</span>
                </Show>
                <Show when=move || !running() && check.report.with(Option::is_none)>
                    <span class="muted">"Check the data first: Start needs its report and estimate."</span>
                </Show>
            </div>
            <DataCheckView check=check.report/>
        </div>
    }
}

/// The training data file, typed or chosen in a dialog, checked as soon as it changes.
#[component]
fn DataFile(choices: Choices, check: DataCheck) -> impl IntoView {
    let app = use_screen().app;
    let spec = PathSpec {
        id: "train-path",
        pick_id: "pick-dataset",
        label: "Training data file",
        placeholder: "/path/to/train.jsonl",
    };
    view! {
        <Show when=move || choices.source_kind.get().is_file()>
            <PathField
                spec=PathSpec { ..spec }
                path=choices.path
                pick=api::training::pick_dataset
                on_change=Callback::new(move |()| check.run(app, choices))
                on_error=Callback::new(move |err| app.report(err))
            />
        </Show>
    }
}

/// The method: SFT, or a preference loss with β, γ and α explained, and the adapter a run
/// may start from (DPO's reference).
#[component]
fn Method(choices: Choices) -> impl IntoView {
    let pairs = move || choices.source_kind.get().is_pairs();
    let method = move || choices.method.get();
    view! {
        <div class="form-grid train-method">
            <label>
                "Method"
                <select id="train-method" on:change=move |ev| {
                    if let Ok(m) = event_target_value(&ev).parse() { choices.set_method(m) }
                }>
                    {TrainMethod::ALL.into_iter().map(|m| view! {
                        <option
                            value=m.as_str()
                            selected=move || method() == m
                            disabled=move || m.is_preference() != pairs()
                        >{m.as_str()}</option>
                    }).collect_view()}
                </select>
                <span class="help" id="train-method-help">{move || method_help(method())}</span>
            </label>
            <Show when=move || method().is_preference()>
                <NumberField id="train-pref-beta" label="β (beta)" value=choices.pref_beta step="any"
                    help="How sharply a reward difference counts: 10 for SimPO (per-token rewards), 0.1 for DPO and CPO."/>
                <Show when=move || matches!(method(), TrainMethod::CpoSimpo | TrainMethod::Simpo)>
                    <NumberField id="train-pref-gamma" label="γ (target margin)" value=choices.pref_gamma step="any"
                        help="The margin the chosen answer's reward should exceed the rejected one's by (Citrus: 5.4)."/>
                </Show>
                <NumberField id="train-pref-alpha" label="α (chosen likelihood)" value=choices.pref_alpha step="any"
                    help="Weight of the chosen answer's own likelihood, which keeps it from falling (Citrus: 0.05)."/>
            </Show>
            <label>
                "Start from adapter"
                <input id="train-start-adapter" type="text" placeholder="(a fresh adapter)"
                    prop:value=move || choices.start_adapter.get()
                    on:change=move |ev| choices.start_adapter.set(event_target_value(&ev))/>
                <span class="help">"An adapter folder (e.g. an SFT run's) to continue; its rank, alpha and projections are kept. DPO's reference."</span>
            </label>
        </div>
    }
}

/// The settings, each with what it does.
#[component]
fn Settings(choices: Choices) -> impl IntoView {
    view! {
        <div class="form-grid train-settings">
            <NumberField id="train-rank" label="Rank" value=choices.rank min="1"
                help="The adapter's width: higher learns more, costs more memory."/>
            <NumberField id="train-alpha" label="Alpha" value=choices.alpha step="any"
                help="Scales the update (alpha ÷ rank); twice the rank is usual."/>
            <label>
                "Adapted projections"
                <select id="train-targets" on:change=move |ev| choices.targets.set(event_target_value(&ev))>
                    <option value="q,k,v,o" selected=move || choices.targets.get() == "q,k,v,o">"Attention (q, k, v, o)"</option>
                    <option value="all" selected=move || choices.targets.get() == "all">"Attention and MLP (all seven)"</option>
                    <option value="q,v" selected=move || choices.targets.get() == "q,v">"Query and value only"</option>
                </select>
                <span class="help">"Which weight matrices get an adapter; more learns more."</span>
            </label>
            <NumberField id="train-lr" label="Learning rate" value=choices.learning_rate step="any"
                help="Peak step size (warm-up, then cosine decay); 1e-4 to 3e-4 is usual."/>
            <label>
                "Length"
                <select id="train-length" on:change=move |ev| choices.by_steps.set(event_target_value(&ev) == "steps")>
                    <option value="epochs" selected=move || !choices.by_steps.get()>"Epochs (passes over the data)"</option>
                    <option value="steps" selected=move || choices.by_steps.get()>"A number of steps"</option>
                </select>
                <span class="help">"How long the run is: whole passes, or optimizer steps."</span>
            </label>
            <Show
                when=move || choices.by_steps.get()
                fallback=move || view! {
                    <NumberField id="train-epochs" label="Epochs" value=choices.epochs min="1"
                        help="Passes over the training examples."/>
                }
            >
                <NumberField id="train-steps" label="Steps" value=choices.steps min="1"
                    help="Optimizer updates; each sees batch × accumulation examples."/>
            </Show>
            <NumberField id="train-batch" label="Batch" value=choices.batch_size min="1"
                help="Examples per forward pass; memory grows with it."/>
            <NumberField id="train-accum" label="Accumulation" value=choices.grad_accum min="1"
                help="Batches summed per update: a larger effective batch, same memory."/>
            <NumberField id="train-max-len" label="Max length (tokens)" value=choices.max_len min="16"
                help="Longer examples are truncated; memory grows with it."/>
            <NumberField id="train-val-split" label="Validation share" value=choices.val_split step="0.05"
                help="Held out to measure the validation loss (0 to 0.5)."/>
            <NumberField id="train-seed" label="Seed" value=choices.seed
                help="Same seed, data and settings: the same run."/>
            <label class="check">
                <input id="train-quantized" type="checkbox" prop:checked=move || choices.quantized_base.get()
                    on:change=move |ev| choices.quantized_base.set(event_target_checked(&ev))/>
                "Keep the base quantized"
                <span class="help">"Far less memory for large models; slower steps, slightly noisier."</span>
            </label>
        </div>
    }
}
