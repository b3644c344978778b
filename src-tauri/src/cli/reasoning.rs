//! `citrus reason`: reason on a clinical case or a benchmark item, showing the steps as they
//! form, then the answer (and, for an item with a key, whether it is correct).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use citrus_engine::generation::CancelToken;
use citrus_engine::ModelError;
use citrus_reasoning::{parse_benchmark_line, parse_clinical_case, AnswerSource, CaseInput, Step};
use citrus_runner::engine::EngineOrigin;
use citrus_runner::guided::GuidedEvent;
use citrus_runner::run::{reason, ReasonEvent, ReasoningMode, ReasoningReport};

use crate::error::AppResult;
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressStyle};

use super::engine_arg::EngineArg;
use super::model_args::ModelArgs;
use super::runs::open_store;
use crate::reasoning::{
    outgoing_input, reason_and_record, reason_options, with_codes, with_vocabulary, RunSettings,
};
use citrus_types::vocabulary::CodedDiagnosis;

/// Arguments of `reason`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["case", "item"])))]
pub struct ReasonArgs {
    /// A clinical case as JSON (age, sex, chief_complaint, history_of_present_illness, …).
    #[arg(long, value_name = "FILE.json")]
    case: Option<PathBuf>,
    /// A benchmark file in the Citrus format (one exam item per line).
    #[arg(long, value_name = "FILE.jsonl")]
    item: Option<PathBuf>,
    /// Which line of the --item file (1-based).
    #[arg(long, default_value_t = 1, requires = "item")]
    line: usize,
    /// Drive the pathway stage by stage with schema-constrained output.
    #[arg(long)]
    guided: bool,
    /// Print one JSON object instead of the live view.
    #[arg(long)]
    json: bool,
    /// Most tokens the model may write.
    #[arg(long, default_value_t = RunSettings::default().max_new_tokens)]
    max_tokens: usize,
    /// Temperature (0 = greedy; Citrus was evaluated at 0.7).
    #[arg(long, default_value_t = RunSettings::default().temperature)]
    temperature: f32,
    /// Random seed.
    #[arg(long, default_value_t = RunSettings::default().seed)]
    seed: u64,
    /// Save the case and the run (written as it streams) in the case store.
    #[arg(long)]
    save: bool,
    /// The case store [default: $CITRUS_HOME/citrus.db] (where runs are saved and engines
    /// are looked up).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArg,
    #[command(flatten)]
    model: ModelArgs,
}

/// Loads the input and the model, reasons, and prints the steps and the answer.
pub fn run(args: ReasonArgs) -> AppResult<()> {
    let input = read_input(&args)?;
    let mut engine = args.engine.open(&args.model, args.db.as_deref())?;
    let options = reason_options(&RunSettings {
        mode: if args.guided {
            ReasoningMode::Guided
        } else {
            ReasoningMode::Free
        },
        max_new_tokens: args.max_tokens,
        temperature: args.temperature,
        seed: args.seed,
        engine: args.engine.engine.clone(),
    });
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    let _ = ctrlc::set_handler(move || on_interrupt.cancel());
    let live = LiveView::new(!args.json);
    let report = if args.save {
        let store = open_store(args.db.as_deref())?;
        let case_id = store.create_case(&input)?;
        let recorded = reason_and_record(
            &store,
            engine.as_mut(),
            (case_id, &input),
            &options,
            &cancel,
            &mut |_| {},
            &mut |event| live.show(event),
        )?;
        live.finish();
        eprintln!(
            "[saved as case {case_id}, run {} in {}]",
            recorded.run_id,
            store.path().display()
        );
        recorded.outcome?
    } else {
        let options = with_vocabulary(&options)?;
        let input = match engine.origin() {
            origin @ EngineOrigin::Remote { .. } => {
                outgoing_input(&open_store(args.db.as_deref())?, &origin, None, &input)?
            }
            EngineOrigin::Local { .. } => input,
        };
        let report = reason(engine.as_mut(), &input, &options, &cancel, &mut |event| {
            live.show(&event)
        })?;
        live.finish();
        with_codes(report)
    };
    let coded = &report.coded;
    if args.json {
        let mut json = json_report(&report);
        json["coded"] = serde_json::json!(coded);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        print_answer(&report, coded);
    }
    Ok(())
}

fn read_input(args: &ReasonArgs) -> AppResult<CaseInput> {
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e));
    if let Some(path) = &args.case {
        return Ok(CaseInput::Clinical(parse_clinical_case(&read(path)?)?));
    }
    let path = args.item.as_deref().unwrap_or(Path::new(""));
    let text = read(path)?;
    let line = text
        .lines()
        .nth(args.line.saturating_sub(1))
        .filter(|_| args.line >= 1)
        .ok_or_else(|| {
            ModelError::invalid_setting(
                "line",
                format!(
                    "{} has {} lines, no line {}",
                    path.display(),
                    text.lines().count(),
                    args.line
                ),
            )
        })?;
    Ok(CaseInput::Exam(parse_benchmark_line(line, args.line)?))
}

/// The live terminal view: completed steps printed as they form, a spinner with the token
/// count on stderr.
struct LiveView {
    enabled: bool,
    spinner: ProgressBar,
    tokens: std::cell::Cell<u64>,
}

impl LiveView {
    fn new(enabled: bool) -> Self {
        let spinner = if enabled && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            enabled,
            spinner,
            tokens: std::cell::Cell::new(0),
        }
    }

    fn show(&self, event: &ReasonEvent) {
        if !self.enabled {
            return;
        }
        match event {
            ReasonEvent::Raw(_) | ReasonEvent::Guided(GuidedEvent::Text(_)) => {
                self.tokens.set(self.tokens.get() + 1);
                self.spinner
                    .set_message(format!("reasoning… {} pieces of text", self.tokens.get()));
            }
            ReasonEvent::Guided(GuidedEvent::StageStarted(stage)) => {
                self.spinner.set_message(format!("guided stage: {stage:?}"));
            }
            ReasonEvent::Step(step) => self.spinner.suspend(|| print_step(step)),
            _ => {}
        }
    }

    fn finish(&self) {
        self.spinner.finish_and_clear();
    }
}

fn print_step(step: &Step) {
    let stage = serde_json::to_value(step.stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_uppercase))
        .unwrap_or_default();
    match &step.title {
        Some(title) => println!("[{stage}] {title}"),
        None => println!("[{stage}]"),
    }
    for line in step.text.lines() {
        println!("    {line}");
    }
    for quote in step
        .mentions
        .iter()
        .filter(|q| !step.text.contains(&q.text))
    {
        println!(
            "    ↳ case, {}: \"{}\"",
            CaseInput::field_label(&quote.field),
            quote.text
        );
    }
    println!();
}

fn print_answer(report: &ReasoningReport, coded: &[CodedDiagnosis]) {
    match report.answer_source {
        Some(AnswerSource::Statement) => println!("(the model did not use the <think>/<answer> format: its reply was split into steps and the answer is its last answer statement)"),
        Some(AnswerSource::Untagged) => println!("(the model did not use the <think>/<answer> format and made no answer statement: its whole reply is the answer)"),
        Some(AnswerSource::AfterThink) => println!("(no <answer> block: the answer is the text after </think>)"),
        Some(AnswerSource::Tagged) | None => {}
    }
    if report.answer_in_differential == Some(false) && report.option.is_none() {
        println!("(the answer names none of the differential's diagnoses)");
    }
    if report.thinking_cut_short {
        println!("(the token budget ran out while thinking: the think section was closed and the answer asked for)");
    }
    println!("ANSWER: {}", report.answer.as_deref().unwrap_or("(none)"));
    if let Some(option) = &report.option {
        let verdict = match report.correct {
            Some(true) => " (correct)",
            Some(false) => " (incorrect)",
            None => "",
        };
        println!("OPTION: {option}{verdict}");
    }
    if !report.differential.is_empty() {
        let names: Vec<&str> = report
            .differential
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        println!("DIFFERENTIAL: {}", names.join("; "));
    }
    print_codes(coded);
    eprintln!(
        "[{} tokens in {:.1} s{}]",
        report.tokens,
        report.seconds,
        if report.cancelled { ", cancelled" } else { "" }
    );
    println!("Decision support only, not a diagnosis.");
}

/// The documented `--json` shape.
fn json_report(report: &ReasoningReport) -> serde_json::Value {
    serde_json::json!({
        "steps": report.steps,
        "differential": report.differential,
        "answer": report.answer,
        "option": report.option,
        "correct": report.correct,
        "structured": report.structured,
        "answer_source": report.answer_source,
        "tokens": report.tokens,
        "seconds": report.seconds,
        "mode": report.mode,
        "cancelled": report.cancelled,
        "guided": report.guided,
        "grounding": report.grounding,
        "answer_in_differential": report.answer_in_differential,
        "thinking_cut_short": report.thinking_cut_short,
    })
}

fn print_codes(coded: &[CodedDiagnosis]) {
    for c in coded {
        match (&c.code, &c.diagnosis) {
            (Some(code), Some(title)) => {
                let flag = c
                    .cant_miss
                    .as_ref()
                    .map(|condition| format!("  [can't miss: {condition}]"))
                    .unwrap_or_default();
                println!("ICD-10-CM: {} → {code} {title}{flag}", c.written)
            }
            _ => println!(
                "ICD-10-CM: {} → uncoded ({})",
                c.written,
                c.uncoded.as_deref().unwrap_or_default()
            ),
        }
    }
}
