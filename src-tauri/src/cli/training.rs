//! `citrus train`: LoRA fine-tuning on a local dataset or the case store's reviewed runs, with
//! the validation report, a preview, the pre-flight estimate, a progress bar, Ctrl-C to stop
//! (resumable), `--bench`, and `--export-bundle` for distributed trainers.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use citrus_engine::generation::CancelToken;
use citrus_engine::model::read_template;
use citrus_host::memory::mib;
use citrus_training::adapter::BaseFacts;
use citrus_training::bench::{self, BenchPlan, BenchRow};
use citrus_training::bundle::{export_bundle, is_placeholder_id, BundleRequest};
use citrus_training::config::{LoraSettings, TrainConfig};
use citrus_training::dataset::{DataFormat, Overlong, TrainingData};
use citrus_training::preference::{PreferenceMethod, PreferenceSettings};
use citrus_training::preflight::describe;
use citrus_training::trainer::{TrainEvent, TrainRequest};
use citrus_training::TrainError;
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressStyle};

use super::model_args::load_with_bar;
use super::model_args::ModelArgs;
use super::runs::open_store;
use crate::error::AppResult;
use crate::review_pairs::ReviewPairsPreview;
use crate::store::{AuditEvent, Store};
use crate::training::{
    adopt_start_adapter, check_dataset, read_dataset, read_review_pairs, resume_in_folder,
    run_training, start_training, DataSource, DatasetReport, StopSignal, TrainChoices,
};
use citrus_types::protection::AuditAction;
use citrus_types::training::{PreferenceStats, TrainMethod};

/// Arguments of `train`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["data", "from_reviews", "pairs", "pairs_from_reviews", "bench"])))]
#[command(group(ArgGroup::new("length").args(["epochs", "steps"])))]
pub struct TrainArgs {
    /// Training data: JSONL (citrus, chat or alpaca records) or a JSON array of records.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Train on the reviewed runs of the case store (what `citrus export --sft` writes).
    #[arg(long)]
    from_reviews: bool,
    /// Preference pairs: Citrus' `{"chosen": [messages], "rejected": [messages]}` or TRL's
    /// `{"prompt", "chosen", "rejected"}` JSONL (trains with --method, default cpo-simpo).
    #[arg(long, value_name = "FILE")]
    pairs: Option<PathBuf>,
    /// Preference pairs from the case store: per case, a run that reached the confirmed
    /// diagnosis with no disagreed step chosen over a wrong or disagreed one.
    #[arg(long)]
    pairs_from_reviews: bool,
    /// sft, or a preference loss on pairs: cpo-simpo (Citrus' own), simpo, cpo or dpo. With
    /// --bench: measure that preference step beside an SFT step.
    #[arg(long, value_name = "METHOD")]
    method: Option<TrainMethod>,
    /// β of the preference loss [default: the method's: 10 for (cpo-)simpo, 0.1 for cpo/dpo].
    #[arg(long, value_name = "BETA")]
    pref_beta: Option<f64>,
    /// γ, SimPO's target margin [default: 5.4].
    #[arg(long, value_name = "GAMMA")]
    pref_gamma: Option<f64>,
    /// α, the weight of the chosen answer's likelihood [default: 0.05 for cpo-simpo, 1 for
    /// cpo, 0 for simpo and dpo].
    #[arg(long, value_name = "ALPHA")]
    pref_alpha: Option<f64>,
    /// Start from this adapter (a PEFT folder, e.g. an SFT run's) instead of a fresh one; its
    /// rank, alpha and projections are the run's. DPO's reference is this adapter.
    #[arg(long, value_name = "DIR")]
    start_adapter: Option<PathBuf>,
    /// The case store that records the run (and holds the reviews for --from-reviews)
    /// [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// The run's folder: checkpoints, metrics.jsonl and the final adapter.
    #[arg(long, value_name = "DIR", required_unless_present_any = ["bench", "export_bundle"])]
    out: Option<PathBuf>,
    /// Record format.
    #[arg(long, default_value = "auto")]
    format: DataFormat,
    /// LoRA rank.
    #[arg(long, default_value_t = defaults().rank)]
    rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = defaults().alpha)]
    alpha: f64,
    /// Scale by alpha/√rank (rsLoRA) instead of alpha/rank.
    #[arg(long)]
    rslora: bool,
    /// LoRA dropout.
    #[arg(long, default_value_t = defaults().dropout)]
    dropout: f32,
    /// Projections to adapt: q,k,v,o,gate,up,down or all [default: q,k,v,o]. With --bench:
    /// measure only this set.
    #[arg(long)]
    targets: Option<String>,
    /// Peak learning rate.
    #[arg(long, default_value_t = defaults().learning_rate)]
    lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = defaults().weight_decay)]
    weight_decay: f64,
    /// Share of the steps spent warming up.
    #[arg(long, default_value_t = defaults().warmup_ratio)]
    warmup: f64,
    /// Passes over the training set [default: 1].
    #[arg(long)]
    epochs: Option<usize>,
    /// Optimizer steps (instead of epochs).
    #[arg(long)]
    steps: Option<usize>,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = defaults().batch_size)]
    batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = defaults().grad_accum)]
    grad_accum: usize,
    /// Gradient clipping (largest global norm; 0 = off).
    #[arg(long, default_value_t = defaults().max_grad_norm)]
    max_grad_norm: f64,
    /// Longest example in tokens.
    #[arg(long, default_value_t = defaults().max_len)]
    max_len: usize,
    /// Longer examples: truncate or skip.
    #[arg(long, default_value = "truncate")]
    overlong: Overlong,
    /// Share held out for validation.
    #[arg(long, default_value_t = defaults().val_split)]
    val_split: f64,
    /// Seed of the split, data order, initialisation and dropout.
    #[arg(long, default_value_t = defaults().seed)]
    seed: u64,
    /// Keep the base quantized as stored (less memory) instead of dequantizing it to f32.
    #[arg(long)]
    quantized_base: bool,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Validation every N steps [default: five times over the run].
    #[arg(long, default_value_t = 0)]
    eval_every: usize,
    /// Checkpoint every N steps [default: five times over the run].
    #[arg(long, default_value_t = 0)]
    checkpoint_every: usize,
    /// Validate the data and show the preview and token statistics; do not train.
    #[arg(long)]
    check: bool,
    /// Measure step time, tokens/s and peak memory (dense and quantized base, q,k,v,o and
    /// all targets, at 256 and 512 tokens) instead of training.
    #[arg(long)]
    bench: bool,
    /// With --bench: the sequence lengths to measure (e.g. 256,512,1024).
    #[arg(long, value_name = "N,…", value_delimiter = ',')]
    seq: Vec<usize>,
    /// With --bench: only this base, dense (f32) or quantized (as stored).
    #[arg(long, value_name = "BASE")]
    base: Option<BenchBase>,
    /// With --bench: recompute every block's activations in the backward pass (the least
    /// memory) instead of keeping what half the free memory holds, as a run does.
    #[arg(long, requires = "bench")]
    recompute: bool,
    /// Write the dataset and these settings for distributed trainers (LLaMA-Factory, axolotl)
    /// into DIR instead of training here; bring their adapter back with `citrus adapters
    /// import PATH --bundle DIR`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["bench", "resume", "check"])]
    export_bundle: Option<PathBuf>,
    /// With --export-bundle: replace identifiers (HIPAA Safe Harbor) in the data first;
    /// `--deidentify false` writes them as given.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    deidentify: bool,
    /// The Hugging Face checkpoint the bundle's trainers load [default: the base's folder, or
    /// the repository its GGUF names].
    #[arg(long, value_name = "ID", requires = "export_bundle")]
    base_id: Option<String>,
    /// A .gguf file or a Hugging Face folder [default: the installed SmolLM2-135M-Instruct].
    #[arg(long)]
    model: Option<PathBuf>,
    /// cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
    /// CPU threads [default: physical cores].
    #[arg(long)]
    threads: Option<usize>,
}

/// The defaults of every training flag: the window's form has the same.
fn defaults() -> TrainChoices {
    TrainChoices::default()
}

impl TrainArgs {
    fn model_args(&self) -> ModelArgs {
        ModelArgs {
            model: self.model.clone(),
            requantize: None,
            device: self.device.clone(),
            threads: self.threads,
            context: None,
            adapter: None,
        }
    }

    fn choices(&self) -> TrainChoices {
        TrainChoices {
            rank: self.rank,
            alpha: self.alpha,
            rslora: self.rslora,
            dropout: self.dropout,
            targets: self.targets.clone().unwrap_or(defaults().targets),
            learning_rate: self.lr,
            weight_decay: self.weight_decay,
            warmup_ratio: self.warmup,
            epochs: self.epochs.unwrap_or(defaults().epochs),
            steps: self.steps,
            batch_size: self.batch,
            grad_accum: self.grad_accum,
            max_grad_norm: self.max_grad_norm,
            max_len: self.max_len,
            overlong: self.overlong,
            val_split: self.val_split,
            seed: self.seed,
            quantized_base: self.quantized_base,
            method: self.method.unwrap_or(if self.source().is_pairs() {
                TrainMethod::CpoSimpo
            } else {
                TrainMethod::Sft
            }),
            pref_beta: self.pref_beta,
            pref_gamma: self.pref_gamma,
            pref_alpha: self.pref_alpha,
            start_adapter: self.start_adapter.clone(),
        }
    }

    /// The benchmark's rows: every one, or those `--seq`, `--targets` and `--base` name.
    fn bench_plan(&self) -> AppResult<BenchPlan> {
        let mut plan = BenchPlan {
            device: self.model_args().load_options()?.device,
            recompute: self.recompute,
            ..BenchPlan::default()
        };
        if !self.seq.is_empty() {
            plan.lengths = self.seq.clone();
        }
        if let Some(targets) = &self.targets {
            plan.targets = vec![LoraSettings::parse_targets(targets)?];
        }
        if let Some(base) = self.base {
            plan.quantized = vec![base == BenchBase::Quantized];
        }
        Ok(plan)
    }

    fn source(&self) -> DataSource {
        match (&self.data, &self.pairs) {
            (Some(path), _) => DataSource::File {
                path: path.clone(),
                format: self.format,
            },
            (None, Some(path)) => DataSource::Pairs { path: path.clone() },
            (None, None) if self.pairs_from_reviews => DataSource::ReviewPairs,
            (None, None) => DataSource::Reviews,
        }
    }
}

/// Runs `citrus train`.
pub fn run(args: TrainArgs) -> AppResult<()> {
    let model_args = args.model_args();
    if args.bench {
        let plan = args.bench_plan()?;
        return match args.method.and_then(PreferenceMethod::of) {
            Some(method) => run_preference_bench(&model_args, &plan, method),
            None => run_bench(&model_args, &plan),
        };
    }
    if !args.seq.is_empty() || args.base.is_some() {
        return Err(
            TrainError::setting("seq/base", "only with --bench: they choose its rows").into(),
        );
    }
    let choices = adopt_start_adapter(&args.choices())?;
    let config = TrainConfig::from_choices(&choices)?;
    let store = open_store(args.db.as_deref())?;
    let source = args.source();
    let dataset = match source {
        DataSource::ReviewPairs => {
            let (data, preview) = read_review_pairs(&store)?;
            report_review_pairs(&preview);
            data
        }
        _ => read_dataset(&store, &source)?,
    };
    report_dataset(&dataset);
    if let Some(dir) = &args.export_bundle {
        return write_bundle(&store, &args, &model_args, &config, &dataset, dir);
    }
    let mut options = model_args.load_options()?;
    options.requantize = citrus_training::load_options(config.quantized_base).requantize;
    let mut model = load_with_bar(&model_args.model_path()?, &options)?;
    let (_, report) = check_dataset(&dataset, &model, &config)?;
    report_tokens(&report);
    if args.check {
        return Ok(());
    }
    let out = args.out.clone().unwrap_or_default();
    let mut request = TrainRequest::new(config, out.clone());
    request.resume = args.resume;
    let resumed = match args.resume {
        true => resume_in_folder(&store, &dataset, &request)?,
        false => None,
    };
    let mut job = match resumed {
        Some(job) => job,
        None => start_training(&store, &model, source, dataset, &choices, Some(out))?,
    };
    job.request.resume = args.resume;
    job.request.eval_every = args.eval_every;
    job.request.checkpoint_every = args.checkpoint_every;
    let stop = StopSignal::new(CancelToken::new());
    let on_interrupt = stop.clone();
    let _ = ctrlc::set_handler(move || on_interrupt.pause());
    let mut view = TrainView::new();
    let result = run_training(
        &store,
        &mut model,
        &job,
        &stop,
        &mut |e| view.show(e),
        |_, outcome| Ok(outcome),
    );
    view.finish();
    match result? {
        (_, Some(outcome)) => {
            eprintln!(
                "adapter written to {} after {} steps (loss {}, validation loss {} → {}); training run {} in {}",
                outcome.adapter_dir.display(),
                outcome.steps,
                fmt_loss(outcome.final_loss),
                fmt_loss(outcome.initial_validation_loss),
                fmt_loss(outcome.final_validation_loss),
                job.id,
                store.path().display(),
            );
            if let (Some(before), Some(after)) =
                (outcome.initial_preference, outcome.final_preference)
            {
                eprintln!(
                    "held-out pairs: reward accuracy {:.2} → {:.2}, margin {:.3} → {:.3}, chosen log p {:.3} → {:.3}, rejected {:.3} → {:.3}",
                    before.reward_accuracy, after.reward_accuracy, before.margin, after.margin,
                    before.chosen_logp, after.chosen_logp, before.rejected_logp, after.rejected_logp
                );
            }
            Ok(())
        }
        (_, None) => {
            let step = view.step;
            eprintln!(
                "[paused at step {step}: checkpoint kept; continue with the same command and --resume]"
            );
            Err(TrainError::Cancelled { step }.into())
        }
    }
}

/// Records in the audit trail that a bundle left with the reviewed cases (or a file's data),
/// with the hash of its training file.
fn record_bundle(
    store: &Store,
    source: &DataSource,
    dir: &Path,
    manifest: &citrus_training::bundle::BundleManifest,
    deidentified: bool,
) -> AppResult<()> {
    let cases: Vec<i64> = match source {
        DataSource::Reviews | DataSource::ReviewPairs => {
            store.reviewed()?.iter().map(|r| r.case.id).collect()
        }
        DataSource::File { .. } | DataSource::Pairs { .. } => Vec::new(),
    };
    let train = std::fs::read(dir.join("data/train.jsonl")).unwrap_or_default();
    store.audit(
        AuditEvent::new(AuditAction::CaseExported, cases)
            .detail(format!(
                "hand-off bundle of {} to {} ({})",
                manifest.dataset_source,
                dir.display(),
                if deidentified {
                    "de-identified"
                } else {
                    "NOT de-identified"
                }
            ))
            .content(&train),
    )?;
    Ok(())
}

/// `--export-bundle`: the hand-off bundle instead of a local run (the base is read, not loaded).
fn write_bundle(
    store: &Store,
    args: &TrainArgs,
    model_args: &ModelArgs,
    config: &TrainConfig,
    dataset: &TrainingData,
    dir: &Path,
) -> AppResult<()> {
    let base_path = model_args.model_path()?;
    let base = BaseFacts::of_path(&base_path)?;
    let template = read_template(&base_path)?;
    let deidentified;
    let (dataset, label) = if args.deidentify {
        let (done, counts) = crate::deid::deidentify_data(dataset);
        let summary: Vec<String> = counts
            .iter()
            .map(|(category, n)| format!("{n} {}", category.describe()))
            .collect();
        eprintln!(
            "[de-identified: {}]",
            if summary.is_empty() {
                "nothing found".into()
            } else {
                summary.join(", ")
            }
        );
        deidentified = done;
        (&deidentified, Some(crate::deid::NOTICE))
    } else {
        eprintln!("[not de-identified: --deidentify false]");
        (dataset, None)
    };
    let request = BundleRequest {
        data: dataset,
        config,
        base: &base,
        template: &template.template,
        template_source: template.source.as_deref(),
        base_model_id: args.base_id.clone(),
        deidentification: label,
    };
    let manifest = export_bundle(&request, dir)?;
    record_bundle(store, &args.source(), dir, &manifest, label.is_some())?;
    println!(
        "bundle written to {}: {} training and {} validation record(s)",
        dir.display(),
        manifest.train_examples,
        manifest.validation_examples
    );
    for file in &manifest.files {
        println!("  {file}");
    }
    if is_placeholder_id(&manifest.base_model_id) {
        eprintln!(
            "warning: the base GGUF names no Hugging Face repository: pass --base-id or edit \
             model_name_or_path/base_model in the YAML files"
        );
    }
    println!("see {} for the commands", dir.join("README.md").display());
    Ok(())
}

fn fmt_loss(loss: Option<f64>) -> String {
    loss.map_or("–".into(), |l| format!("{l:.4}"))
}

/// Prints the validation report: counts and every bad record (the first 20 on a terminal).
fn report_dataset(data: &TrainingData) {
    let kind = match data {
        TrainingData::Examples(d) => format!("{} format): {} example(s)", d.format, data.len()),
        TrainingData::Pairs(p) => format!("{} pairs): {} pair(s)", p.format, data.len()),
    };
    eprintln!(
        "dataset {} ({kind}, {} bad record(s), sha256 {}",
        data.source(),
        data.bad().len(),
        &data.hash()[..16]
    );
    let limit = if std::io::stderr().is_terminal() {
        20
    } else {
        usize::MAX
    };
    for bad in data.bad().iter().take(limit) {
        eprintln!("  line {}: {}", bad.line, bad.reason);
    }
    if data.bad().len() > limit {
        eprintln!("  … and {} more", data.bad().len() - limit);
    }
}

/// Prints every pair the reviews gave with its reason, and each case that gave none.
fn report_review_pairs(made: &ReviewPairsPreview) {
    for pair in &made.pairs {
        eprintln!(
            "  case {}: run {} chosen over run {}: {}",
            pair.case_id, pair.chosen_run, pair.rejected_run, pair.reason
        );
    }
    for case in &made.without {
        eprintln!("  case {}: no pair: {}", case.case_id, case.reason);
    }
}

/// Prints token statistics, overlong examples and the first example with its mask.
fn report_tokens(report: &DatasetReport) {
    let s = &report.train_tokens;
    eprintln!(
        "train: {} example(s), {} tokens ({} trained), length {}–{} (mean {:.0}), {} truncated; validation: {} example(s)",
        s.examples, s.tokens, s.trained_tokens, s.min_tokens, s.max_tokens, s.mean_tokens, s.truncated,
        report.validation_examples
    );
    for skipped in &report.skipped {
        eprintln!("  skipped line {}: {}", skipped.line, skipped.reason);
    }
    if let Some(preview) = &report.preview {
        let color = std::io::stderr().is_terminal();
        eprintln!(
            "preview of line {} (masked prompt ⟦…⟧, trained reply «…»):",
            preview.line
        );
        for segment in &preview.segments {
            let text = match (segment.trained, color) {
                (true, true) => format!("\x1b[1;32m{}\x1b[0m", segment.text),
                (false, true) => format!("\x1b[2m{}\x1b[0m", segment.text),
                (true, false) => format!("«{}»", segment.text),
                (false, false) => format!("⟦{}⟧", segment.text),
            };
            eprint!("{text}");
        }
        eprintln!();
    }
}

/// A preference run's rewards and log-probabilities, as the progress lines show them.
fn describe_rewards(preference: Option<&PreferenceStats>) -> String {
    preference.map_or(String::new(), |p| {
        format!(
            ", reward accuracy {:.2}, margin {:.3}, log p chosen {:.3} / rejected {:.3}",
            p.reward_accuracy, p.margin, p.chosen_logp, p.rejected_logp
        )
    })
}

/// The live view: pre-flight, a progress bar with loss, learning rate, tokens/s and ETA.
struct TrainView {
    bar: ProgressBar,
    /// The last step finished.
    step: usize,
    /// The held-out chosen log-probabilities seen, to warn when they keep falling.
    chosen: Vec<f64>,
}

impl TrainView {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "step {pos}/{len} [{bar:30}] {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        Self {
            bar,
            step: 0,
            chosen: Vec::new(),
        }
    }

    /// Warns when the held-out chosen answers' log-probability fell at each of the last three
    /// validations: the margin grows by pushing both answers down.
    fn watch_chosen(&mut self, chosen_logp: f64) {
        self.chosen.push(chosen_logp);
        if citrus_training::preference::chosen_keeps_falling(&self.chosen) {
            self.say(
                "warning: the chosen answers' log-probability keeps falling on held-out pairs \
                 (the margin grows by lowering both answers): consider a lower learning rate or \
                 a larger α"
                    .into(),
            );
        }
    }

    fn show(&mut self, event: &TrainEvent) {
        match event {
            TrainEvent::Preflight(p) => {
                let m = &p.memory;
                self.say(format!(
                    "pre-flight: peak ≈ {} MiB ({}); base dense f32 {} MiB vs quantized {} MiB; {} trainable parameters; {} available",
                    mib(m.total_bytes()),
                    describe(m),
                    mib(m.base_dense_bytes),
                    mib(m.base_quantized_bytes),
                    p.trainable_parameters,
                    p.available_bytes.map_or("unknown".into(), |a| format!("{} MiB", a >> 20)),
                ));
                if let (Some(seconds), Some(peak)) = (p.seconds_per_step, p.measured_peak_bytes) {
                    self.say(format!(
                        "calibrated: {seconds:.2} s/step, measured peak {} MiB; {} step(s) to go ≈ {:.0} s",
                        mib(peak),
                        p.remaining_steps,
                        p.eta_seconds().unwrap_or(0.0)
                    ));
                }
            }
            TrainEvent::Started {
                start_step,
                total_steps,
                train_examples,
                validation_examples,
            } => {
                self.bar.set_length(*total_steps as u64);
                self.bar.set_position(*start_step as u64);
                self.step = *start_step;
                self.say(format!(
                    "training on {train_examples} example(s), validating on {validation_examples}, steps {}–{total_steps}",
                    start_step + 1
                ));
            }
            TrainEvent::Step(m) => {
                self.step = m.step;
                self.bar.set_position(m.step as u64);
                let rewards = m.preference.map_or(String::new(), |p| {
                    format!(" acc {:.2} margin {:.3}", p.reward_accuracy, p.margin)
                });
                self.bar.set_message(format!(
                    "loss {:.4}{rewards} lr {:.2e} {:.0} tok/s",
                    m.loss, m.learning_rate, m.tokens_per_second
                ));
                if !self.bar.is_hidden() {
                    return;
                }
                eprintln!(
                    "step {}/{}: loss {:.4}{}, lr {:.3e}, grad norm {:.3}, {:.0} tok/s, elapsed {:.1} s, eta {:.1} s",
                    m.step, m.total_steps, m.loss, describe_rewards(m.preference.as_ref()), m.learning_rate, m.grad_norm, m.tokens_per_second, m.elapsed_seconds, m.eta_seconds
                );
            }
            TrainEvent::Validation {
                step,
                loss,
                preference,
            } => {
                self.say(format!(
                    "step {step}: validation loss {loss:.4}{}",
                    describe_rewards(preference.as_ref())
                ));
                if let Some(p) = preference {
                    self.watch_chosen(p.chosen_logp);
                }
            }
            TrainEvent::Checkpoint { step, path } => {
                self.say(format!("step {step}: checkpoint {}", path.display()));
            }
        }
    }

    /// A line above the bar, or on stderr when there is no bar (not a terminal).
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn bench_header() {
    println!(
        "{:<10} {:<10} {:<8} {:>6} {:>11} {:>9} {:>9} {:>9}",
        "method", "base", "targets", "seq", "trainable", "s/step", "tok/s", "peak MiB"
    );
}

fn print_bench_row(r: &BenchRow) {
    println!(
        "{:<10} {:<10} {:<8} {:>6} {:>11} {:>9.3} {:>9.1} {:>9}",
        r.method,
        r.base,
        r.targets,
        r.seq_len,
        r.trainable_parameters,
        r.step_seconds,
        r.tokens_per_second,
        r.peak_rss_mib.map_or("?".into(), |m| m.to_string())
    );
}

fn run_preference_bench(
    model_args: &ModelArgs,
    plan: &BenchPlan,
    method: PreferenceMethod,
) -> AppResult<()> {
    let path = model_args.model_path()?;
    model_args.load_options()?;
    bench_header();
    let settings = PreferenceSettings::of(method);
    bench::run_preference(&path, plan, 3, settings, &mut print_bench_row)?;
    Ok(())
}

fn run_bench(model_args: &ModelArgs, plan: &BenchPlan) -> AppResult<()> {
    let path = model_args.model_path()?;
    model_args.load_options()?;
    bench_header();
    bench::run(&path, plan, 3, &mut print_bench_row)?;
    Ok(())
}

/// The base a benchmark row trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchBase {
    /// Dequantized to f32.
    Dense,
    /// Quantized as stored (QLoRA-style).
    Quantized,
}
