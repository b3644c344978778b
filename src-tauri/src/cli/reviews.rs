//! `citrus review` and `citrus export`: review a stored run, and export reviewed runs as
//! Citrus SFT training data or reports.

use std::path::{Path, PathBuf};

use citrus_engine::ModelError;
use clap::{ArgGroup, Args};

use super::runs::open_store;
use crate::error::{AppError, AppResult};
use crate::store::export::{markdown_report, sft_jsonl};
use crate::store::{Review, StepReview, Verdict};
use crate::vocabulary::Vocabulary;
use citrus_types::vocabulary::CodeEntry;

/// Arguments of `review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The run to review.
    run: i64,
    /// Who reviews.
    #[arg(long)]
    reviewer: String,
    /// The confirmed diagnosis [default with --code: the code's ICD-10-CM title].
    #[arg(long)]
    diagnosis: Option<String>,
    /// The confirmed diagnosis's ICD-10-CM code (`I21.1`), checked against the vocabulary.
    #[arg(long)]
    code: Option<String>,
    /// A comment on the whole run.
    #[arg(long)]
    comment: Option<String>,
    /// Steps judged right (numbers as shown, from 1).
    #[arg(long, value_delimiter = ',')]
    agree: Vec<usize>,
    /// Steps judged wrong (numbers as shown, from 1).
    #[arg(long, value_delimiter = ',')]
    disagree: Vec<usize>,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

/// Saves a review.
pub fn review(args: ReviewArgs) -> AppResult<()> {
    let mut steps = Vec::new();
    for (numbers, verdict) in [
        (&args.agree, Verdict::Agree),
        (&args.disagree, Verdict::Disagree),
    ] {
        for &number in numbers {
            if number == 0 {
                return Err(
                    ModelError::invalid_setting("step", "steps are numbered from 1").into(),
                );
            }
            steps.push(StepReview {
                position: number - 1,
                verdict,
                comment: None,
            });
        }
    }
    let entry = args.code.as_deref().map(confirmed_entry).transpose()?;
    let mut store = open_store(args.db.as_deref())?;
    store.save_review(&Review {
        run_id: args.run,
        reviewer: args.reviewer,
        confirmed_diagnosis: args.diagnosis.or(entry.as_ref().map(|e| e.title.clone())),
        confirmed_code: entry.map(|e| e.code),
        comment: args.comment,
        steps,
    })?;
    eprintln!("[review of run {} saved]", args.run);
    Ok(())
}

/// The vocabulary's entry of `code`, or an error naming it.
fn confirmed_entry(code: &str) -> AppResult<CodeEntry> {
    Vocabulary::open_installed()?
        .lookup(code)?
        .ok_or_else(|| AppError::UnknownCode(code.to_string()))
}

/// Arguments of `export`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("format").required(true).args(["sft", "markdown", "json"])))]
pub struct ExportArgs {
    /// Write reviewed runs as Citrus SFT JSON Lines ({"input","target"}) to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    sft: Option<PathBuf>,
    /// Write one Markdown report per reviewed run into this folder.
    #[arg(long, value_name = "DIR")]
    markdown: Option<PathBuf>,
    /// Write every reviewed run (case, run, review) as one JSON file.
    #[arg(long, value_name = "FILE.json")]
    json: Option<PathBuf>,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

fn write(path: &Path, text: &str) -> AppResult<()> {
    std::fs::write(path, text).map_err(|e| ModelError::io(path, e).into())
}

/// Exports the reviewed runs.
pub fn export(args: ExportArgs) -> AppResult<()> {
    let store = open_store(args.db.as_deref())?;
    let reviewed = store.reviewed()?;
    if let Some(path) = &args.sft {
        let text = sft_jsonl(&reviewed);
        write(path, &text)?;
        eprintln!(
            "[{} training examples written to {}]",
            text.lines().count(),
            path.display()
        );
    }
    if let Some(dir) = &args.markdown {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        for run in &reviewed {
            write(
                &dir.join(format!(
                    "case-{}-run-{}.md",
                    run.case.id, run.run.summary.id
                )),
                &markdown_report(run),
            )?;
        }
        eprintln!("[{} reports written to {}]", reviewed.len(), dir.display());
    }
    if let Some(path) = &args.json {
        write(
            path,
            &serde_json::to_string_pretty(&reviewed).unwrap_or_default(),
        )?;
        eprintln!(
            "[{} reviewed runs written to {}]",
            reviewed.len(),
            path.display()
        );
    }
    Ok(())
}
