//! The new-run form: the data (a file or the reviewed cases), the base model, the settings
//! with a line of explanation each, Check (validation report, preview, pre-flight estimate)
//! and Start.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::data::DataCheckView;
use super::screen::use_screen;
use crate::api;
use crate::components::fields::NumberField;
use crate::live::start;
use crate::live::training::LiveTraining;
use crate::types::{DatasetCheck, ListedModel, TrainChoices};
use citrus_types::training::{DataFormat, DataSource, TrainStart};

/// The form's choices.
#[derive(Clone, Copy)]
struct Choices {
    from_reviews: RwSignal<bool>,
    path: RwSignal<String>,
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
        Self {
            from_reviews: RwSignal::new(false),
            path: RwSignal::new(String::new()),
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
        if self.from_reviews.get() {
            DataSource::Reviews
        } else {
            DataSource::File {
                path: self.path.get().trim().into(),
                format: DataFormat::Auto,
            }
        }
    }

    /// The settings; reading them tracks every field (a change clears the check).
    fn settings(&self) -> TrainChoices {
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
            ..TrainChoices::default()
        }
    }

    fn has_data(&self) -> bool {
        self.from_reviews.get() || !self.path.get().trim().is_empty()
    }
}

/// The form.
#[component]
pub fn NewTraining() -> impl IntoView {
    let screen = use_screen();
    let app = screen.app;
    let choices = Choices::new();
    let check = RwSignal::new(None::<DatasetCheck>);
    let checking = RwSignal::new(false);
    let models = RwSignal::new(Vec::<ListedModel>::new());
    spawn_local(async move {
        match api::models::list().await {
            Ok(list) => {
                let chosen = list.iter().find(|m| m.active).or(list.first());
                choices.model_id.try_set(chosen.map(|m| m.entry.id));
                models.try_set(list);
            }
            Err(err) => app.report(err),
        }
    });
    // Any change to the data or the settings makes the last check stale.
    Effect::new(move |_| {
        choices.source();
        choices.settings();
        choices.model_id.track();
        check.set(None);
    });

    let run_check = move || {
        if !choices.has_data() || checking.get_untracked() {
            return;
        }
        let (source, model_id, settings) = (
            choices.source(),
            choices.model_id.get_untracked(),
            choices.settings(),
        );
        checking.set(true);
        spawn_local(async move {
            match api::training::inspect_dataset(source, model_id, settings).await {
                Ok(found) => {
                    check.try_set(Some(found));
                }
                Err(err) => app.report(err),
            }
            checking.try_set(false);
        });
    };
    let pick = move |_| {
        spawn_local(async move {
            match api::training::pick_dataset().await {
                Ok(Some(path)) => {
                    choices.from_reviews.set(false);
                    choices.path.set(path);
                    run_check();
                }
                Ok(None) => {}
                Err(err) => app.report(err),
            }
        });
    };
    let running = move || {
        app.training
            .with(|t| t.as_ref().is_some_and(LiveTraining::active))
    };
    let fits = move || check.with(|c| c.as_ref().is_some_and(|c| c.estimate.fits()));
    let start = move |_| {
        let request = TrainStart::New {
            source: choices.source(),
            model_id: choices.model_id.get_untracked(),
            choices: choices.settings(),
        };
        start::training(app, request);
    };

    view! {
        <div class="panel train-form">
            <h3 class="first">"New training run"</h3>
            <div class="form-grid">
                <label>
                    "Data"
                    <select id="train-source" on:change=move |ev| choices.from_reviews.set(event_target_value(&ev) == "reviews")>
                        <option value="file" selected=move || !choices.from_reviews.get()>"A file (JSONL: citrus, chat or alpaca records)"</option>
                        <option value="reviews" selected=move || choices.from_reviews.get()>"The reviewed cases of this workstation"</option>
                    </select>
                </label>
                <label>
                    "Base model"
                    <select id="train-model" on:change=move |ev| choices.model_id.set(event_target_value(&ev).parse().ok())>
                        {move || models.get().into_iter().map(|m| {
                            let id = m.entry.id;
                            view! {
                                <option value=id.to_string() selected=move || choices.model_id.get() == Some(id)>
                                    {m.entry.name}{if m.active { " (active)" } else { "" }}
                                </option>
                            }
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <Show when=move || !choices.from_reviews.get()>
                <div class="field">
                    <label for="train-path">"Training data file"</label>
                    <div class="path-row">
                        <input
                            id="train-path"
                            type="text"
                            placeholder="/path/to/train.jsonl"
                            prop:value=move || choices.path.get()
                            on:change=move |ev| {
                                choices.path.set(event_target_value(&ev));
                                run_check();
                            }
                        />
                        <button id="pick-dataset" class="secondary" on:click=pick>"Choose file…"</button>
                    </div>
                </div>
            </Show>
            <Settings choices=choices/>
            <div class="actions">
                <button id="check-dataset" class="secondary" on:click=move |_| run_check() disabled=move || !choices.has_data() || checking.get()>
                    {move || if checking.get() { "Checking…" } else { "Check data and estimate" }}
                </button>
                <button id="start-training" on:click=start disabled=move || running() || !fits()>
                    "Start training"
                </button>
                <Show when=running>
                    <span class="muted">"A run is training; pause or cancel it to start another."</span>
                </Show>
                <Show when=move || !running() && check.with(Option::is_none)>
                    <span class="muted">"Check the data first: Start needs its report and estimate."</span>
                </Show>
            </div>
            <DataCheckView check=check/>
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
