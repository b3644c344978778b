//! `citrus eval`: a model (and adapter) on a benchmark file, in generation or likelihood
//! mode, recorded in the case store as it goes, with a progress bar; `--resume`, `--list`,
//! `--report` and `--compare` on recorded runs.

use citrus_types::defaults;
use std::path::PathBuf;

use citrus_engine::generation::CancelToken;
use citrus_runner::evaluation::plan::Selection;
use citrus_runner::evaluation::report::{comparison_line, headline};
use citrus_runner::run::ReasoningMode;
use clap::{ArgGroup, Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::engine_arg::EngineArg;
use super::model_args::ModelArgs;
use super::runs::open_store;
use crate::error::{AppError, AppResult};
use crate::evaluations::{
    compare_evaluations, eval_settings, evaluation_report, read_benchmark, resume_evaluation,
    run_evaluation, start_evaluation, write_report, Benchmark, EvalChoices, EvalProgress,
    EvalReport, Scoring,
};
use crate::reviewed_accuracy::reviewed_accuracy;
use crate::store::{RunStatus, Store};
use citrus_types::evaluation::Proportion;

/// How items are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// The model reasons and its answer is matched to an option.
    Generate,
    /// Each option is scored by its log-probability; no generation.
    Likelihood,
}

/// Arguments of `eval`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["bench", "resume", "list", "report", "compare", "reviewed"])))]
pub struct EvalArgs {
    /// A benchmark file in the Citrus line format (JSONL).
    #[arg(long, value_name = "FILE.jsonl")]
    bench: Option<PathBuf>,
    /// generate or likelihood.
    #[arg(long, value_enum, default_value = "generate")]
    mode: ModeArg,
    /// Generation: the guided pathway instead of the free Citrus prompt.
    #[arg(long)]
    guided: bool,
    /// Likelihood: score the option texts (per token) instead of their letters.
    #[arg(long)]
    score_text: bool,
    /// Only the first N items.
    #[arg(long)]
    limit: Option<usize>,
    /// A random sample of N items (seeded by --seed).
    #[arg(long)]
    sample: Option<usize>,
    /// Shuffle each item's options (seeded by --seed) to expose position bias.
    #[arg(long)]
    shuffle_options: bool,
    /// Seed of the sample, the shuffles and the sampling.
    #[arg(long, default_value_t = defaults::SEED)]
    seed: u64,
    /// Generation: most tokens per item.
    #[arg(long, default_value_t = defaults::EVAL_MAX_NEW_TOKENS)]
    max_tokens: usize,
    /// Generation: temperature (0 = greedy).
    #[arg(long, default_value_t = defaults::EVAL_TEMPERATURE)]
    temperature: f32,
    /// Continue the unfinished evaluation with this id.
    #[arg(long, value_name = "ID")]
    resume: Option<i64>,
    /// List the recorded evaluations.
    #[arg(long)]
    list: bool,
    /// Report on the hospital's reviewed cases instead of a benchmark: per model, adapter,
    /// engine and mode, how often the confirmed diagnosis's ICD-10-CM category is first, in the
    /// top 3 or anywhere in the differential (95% intervals).
    #[arg(long)]
    reviewed: bool,
    /// Show the report of a recorded evaluation.
    #[arg(long, value_name = "ID")]
    report: Option<i64>,
    /// Compare two evaluations on the items both ran (paired difference, exact McNemar).
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    compare: Option<Vec<i64>>,
    /// Write the report: .md, .csv (one row per item) or .json.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArg,
    #[command(flatten)]
    model: ModelArgs,
}

impl EvalArgs {
    fn choices(&self) -> EvalChoices {
        EvalChoices {
            scoring: match self.mode {
                ModeArg::Generate => Scoring::Generate,
                ModeArg::Likelihood => Scoring::Likelihood,
            },
            reasoning: if self.guided {
                ReasoningMode::Guided
            } else {
                ReasoningMode::Free
            },
            score_text: self.score_text,
            max_new_tokens: self.max_tokens,
            temperature: self.temperature,
            selection: Selection {
                limit: self.limit,
                sample: self.sample,
                shuffle_options: self.shuffle_options,
                seed: self.seed,
            },
        }
    }
}

/// Runs `citrus eval`.
pub fn run(args: EvalArgs) -> AppResult<()> {
    let store = open_store(args.db.as_deref())?;
    if args.list {
        return list(&store);
    }
    if args.reviewed {
        return reviewed(&store, args.json);
    }
    if let Some(id) = args.report {
        return show(&evaluation_report(&store, id)?, &args);
    }
    if let Some(pair) = &args.compare {
        let comparison = compare_evaluations(&store, pair[0], pair[1])?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&comparison.paired).unwrap_or_default()
            );
        } else {
            println!(
                "evaluation {} vs {} on {} common item(s):",
                comparison.a, comparison.b, comparison.common
            );
            println!("{}", comparison_line(&comparison.paired));
        }
        return Ok(());
    }
    let (id, settings, bench, mut engine) = match args.resume {
        Some(id) => {
            let (run, settings, bench) = resume_evaluation(&store, id)?;
            // The engine and model it started on.
            let model_args = ModelArgs {
                model: Some(PathBuf::from(&run.spec.model_path)),
                adapter: run.spec.adapter.clone().map(PathBuf::from),
                ..args.model.clone()
            };
            let engine = EngineArg {
                engine: Some(run.spec.engine.clone()),
            };
            eprintln!(
                "continuing evaluation {id}: {} of {} item(s) done",
                run.done, run.spec.planned
            );
            (
                id,
                settings,
                bench,
                engine.open(&model_args, args.db.as_deref())?,
            )
        }
        None => {
            let path = args.bench.clone().unwrap_or_default();
            let bench = read_benchmark(&path)?;
            report_unusable(&bench);
            let settings = eval_settings(&args.choices());
            let engine = args.engine.open(&args.model, args.db.as_deref())?;
            let id = start_evaluation(&store, engine.as_ref(), &bench, &settings)?;
            eprintln!("evaluation {id} started");
            (id, settings, bench, engine)
        }
    };
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    let _ = ctrlc::set_handler(move || on_interrupt.cancel());
    let bar = progress_bar();
    let status = run_evaluation(
        &store,
        engine.as_mut(),
        id,
        &bench,
        &settings,
        &cancel,
        &mut |p| show_progress(&bar, p),
    );
    bar.finish_and_clear();
    let status = status?;
    let report = evaluation_report(&store, id)?;
    show(&report, &args)?;
    if status == RunStatus::Cancelled {
        eprintln!("[stopped: continue with `citrus eval --resume {id}`]");
        return Err(AppError::Cancelled);
    }
    Ok(())
}

fn report_unusable(bench: &Benchmark) {
    eprintln!(
        "{}: {} usable item(s), {} unusable",
        bench.path.display(),
        bench.items.len(),
        bench.unusable.len()
    );
    for line in &bench.unusable {
        eprintln!("  {line}");
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} items ({eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar
}

fn show_progress(bar: &ProgressBar, progress: &EvalProgress) {
    bar.set_length(progress.total as u64);
    bar.set_position(progress.done as u64);
    bar.set_message(format!(
        "{} correct, {} unmatched",
        progress.correct, progress.unmatched
    ));
    if bar.is_hidden() {
        eprintln!(
            "item {}/{}: {} ({} correct so far)",
            progress.done,
            progress.total,
            progress.last.outcome.as_str(),
            progress.correct
        );
    }
}

fn show(report: &EvalReport, args: &EvalArgs) -> AppResult<()> {
    let run = &report.run;
    if let Some(path) = &args.out {
        write_report(report, path)?;
        eprintln!("report written to {}", path.display());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "evaluation {} ({}): {} on {}{}, {} of {} item(s), {}",
        run.id,
        run.spec.mode,
        run.spec.model_name,
        run.spec.bench_path,
        run.spec
            .adapter
            .as_deref()
            .map(|a| format!(" with adapter {a}"))
            .unwrap_or_default(),
        run.done,
        run.spec.planned,
        run.status.as_str()
    );
    for exam in &report.summary.exams {
        println!("  {:<24} {}", exam.name, headline(exam));
    }
    let all = &report.summary.overall;
    println!(
        "mean {:.1} tokens and {:.2} s per item",
        all.mean_tokens, all.mean_seconds
    );
    println!("{}", headline(all));
    Ok(())
}

fn list(store: &Store) -> AppResult<()> {
    let runs = store.eval_runs()?;
    if runs.is_empty() {
        println!("no evaluations yet (start one with `citrus eval --bench FILE.jsonl`)");
        return Ok(());
    }
    println!(
        "{:>4}  {:<11} {:<10} {:>9} {:>8}  model / benchmark",
        "id", "status", "mode", "done", "correct"
    );
    for run in runs {
        println!(
            "{:>4}  {:<11} {:<10} {:>4}/{:<4} {:>8}  {}{} / {}",
            run.id,
            run.status.as_str(),
            run.spec.mode,
            run.done,
            run.spec.planned,
            run.correct,
            run.spec.model_name,
            run.spec
                .adapter
                .as_deref()
                .map(|a| format!(" + {a}"))
                .unwrap_or_default(),
            run.spec.bench_path
        );
    }
    Ok(())
}

/// Prints the reviewed-case accuracy of every model that ran on a case with a confirmed code.
fn reviewed(store: &Store, json: bool) -> AppResult<()> {
    let groups = reviewed_accuracy(store)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&groups).unwrap_or_default()
        );
        return Ok(());
    }
    if groups.is_empty() {
        println!("no reviewed case has a confirmed ICD-10-CM code yet (citrus review --code)");
        return Ok(());
    }
    println!(
        "{:<28} {:<8} {:>5}  {:<22} {:<22} {:<22}",
        "model (engine, mode)", "adapter", "cases", "first", "top 3", "anywhere"
    );
    let rate = |p: &Proportion| {
        format!(
            "{:>3.0}% [{:.0}–{:.0}%]",
            p.value * 100.0,
            p.low * 100.0,
            p.high * 100.0
        )
    };
    for g in &groups {
        println!(
            "{:<28} {:<8} {:>5}  {:<22} {:<22} {:<22}",
            format!("{} ({}, {})", g.model_name, g.engine, g.mode),
            g.adapter.as_deref().unwrap_or("none"),
            g.first.n,
            rate(&g.first),
            rate(&g.top3),
            rate(&g.anywhere)
        );
    }
    println!(
        "(the confirmed code's ICD-10-CM category in the run's differential; 95% Wilson intervals)"
    );
    Ok(())
}
