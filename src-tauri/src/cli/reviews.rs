//! `citrus review` and `citrus export`: review a stored run, and export reviewed runs as
//! Citrus SFT training data or reports.

use std::path::{Path, PathBuf};

use citrus_engine::ModelError;
use clap::{ArgGroup, Args};

use super::runs::open_store;
use crate::deid::NOTICE;
use crate::error::{AppError, AppResult};
use crate::store::export::{labelled_markdown, markdown_report, reviewed_for_export, ExportFormat};
use crate::store::{self, AuditEvent, Review, StepReview, Verdict};
use crate::vocabulary::Vocabulary;
use citrus_types::protection::{AuditAction, DeidHit, DeidOptions};
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
    /// Replace identifiers (names, dates, record numbers…: HIPAA Safe Harbor) before writing;
    /// `--deidentify false` writes the case text as typed. See `citrus deid --case N --report`.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    deidentify: bool,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

fn write(path: &Path, text: &str) -> AppResult<()> {
    std::fs::write(path, text).map_err(|e| ModelError::io(path, e).into())
}

/// Exports the reviewed runs, de-identified unless told otherwise; each file written leaves
/// an audit entry with its hash.
pub fn export(args: ExportArgs) -> AppResult<()> {
    let store = open_store(args.db.as_deref())?;
    let deid = DeidOptions {
        deidentify: args.deidentify,
        ..DeidOptions::default()
    };
    let notice = deid.deidentify.then_some(NOTICE);
    if let Some(path) = &args.sft {
        let export = store::export::export(&store, ExportFormat::Sft, None, &deid)?;
        write(path, &export.view.text)?;
        export.record(&store, ExportFormat::Sft, &path.display().to_string())?;
        eprintln!(
            "[{} training examples written to {}]",
            export.view.text.lines().count(),
            path.display()
        );
        report_deid(&export.view.hits, deid.deidentify);
    }
    if let Some(dir) = &args.markdown {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let (reviewed, hits) = reviewed_for_export(&store, ExportFormat::Markdown, None, &deid)?;
        for run in &reviewed {
            let path = dir.join(format!(
                "case-{}-run-{}.md",
                run.case.id, run.run.summary.id
            ));
            let text = labelled_markdown(markdown_report(run), notice);
            write(&path, &text)?;
            store.audit(
                AuditEvent::new(AuditAction::CaseExported, [run.case.id])
                    .detail(format!(
                        "md to {} ({})",
                        path.display(),
                        how(deid.deidentify)
                    ))
                    .content(text.as_bytes()),
            )?;
        }
        eprintln!("[{} reports written to {}]", reviewed.len(), dir.display());
        report_deid(&hits, deid.deidentify);
    }
    if let Some(path) = &args.json {
        let export = store::export::export(&store, ExportFormat::Json, None, &deid)?;
        write(path, &export.view.text)?;
        export.record(&store, ExportFormat::Json, &path.display().to_string())?;
        eprintln!(
            "[{} reviewed cases written to {}]",
            export.case_ids.len(),
            path.display()
        );
        report_deid(&export.view.hits, deid.deidentify);
    }
    Ok(())
}

fn how(deidentified: bool) -> &'static str {
    if deidentified {
        "de-identified"
    } else {
        "NOT de-identified"
    }
}

/// What de-identification replaced, by category, on stderr.
fn report_deid(hits: &[DeidHit], deidentified: bool) {
    if !deidentified {
        eprintln!("[not de-identified: --deidentify false]");
        return;
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for hit in hits {
        *counts.entry(hit.category.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
    eprintln!(
        "[de-identified: {} — {}]",
        if summary.is_empty() {
            "nothing found".to_string()
        } else {
            summary.join(", ")
        },
        NOTICE
    );
}
