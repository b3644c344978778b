//! `citrus deid`: a file's or a stored case's text with its identifiers replaced, on stdout;
//! `--report` lists each replacement with its category and span.

use std::path::PathBuf;

use citrus_types::protection::AuditAction;
use clap::Args;

use super::runs::open_store;
use crate::deid::NOTICE;
use crate::error::{AppError, AppResult};
use crate::store::AuditEvent;

/// Arguments of `deid`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["file", "case"])))]
pub struct DeidArgs {
    /// A text file to de-identify (one case).
    file: Option<PathBuf>,
    /// A stored case (its fields together, so placeholders agree).
    #[arg(long, value_name = "ID")]
    case: Option<i64>,
    /// List each replacement (category, span, text, placeholder, evidence) on stderr.
    #[arg(long)]
    report: bool,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

/// Runs `citrus deid`.
pub fn run(args: DeidArgs) -> AppResult<()> {
    let (text, hits) = match (&args.file, args.case) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| AppError::io(path, e))?;
            let done = citrus_deid::deidentify(&text);
            let hits: Vec<_> = done
                .hits
                .iter()
                .map(|h| (crate::deid::hit_view(h, None), Some((h.start, h.end))))
                .collect();
            (done.text, hits)
        }
        (None, Some(id)) => {
            let store = open_store(args.db.as_deref())?;
            let case = store.case(id)?;
            let mut values = vec![serde_json::to_value(&case.input).unwrap_or_default()];
            let found = crate::deid::deidentify_values(&mut values, &Default::default());
            let input: citrus_reasoning::CaseInput = serde_json::from_value(values.remove(0))
                .map_err(|e| AppError::Usage(format!("case {id}: {e}")))?;
            let text = match &input {
                citrus_reasoning::CaseInput::Clinical(c) => {
                    citrus_reasoning::clinical_question_text(c)
                }
                citrus_reasoning::CaseInput::Exam(item) => {
                    citrus_reasoning::exam_question_text(item)
                }
            };
            store.audit(
                AuditEvent::new(AuditAction::CaseDeidentified, [id]).detail(format!(
                    "printed de-identified, {} identifier(s) replaced",
                    found.len()
                )),
            )?;
            let hits = found
                .iter()
                .map(|h| (crate::deid::hit_view(h, Some(id)), None))
                .collect();
            (text, hits)
        }
        (None, None) => return Err(AppError::Usage("give a FILE or --case ID".into())),
    };
    println!("{text}");
    eprintln!("[{NOTICE}]");
    if args.report {
        for (hit, span) in &hits {
            let span = span
                .map(|(s, e)| format!("{s}..{e}"))
                .unwrap_or_else(|| "in the case".into());
            eprintln!(
                "{:<30} {span:<14} {:?} → {}  ({}{})",
                hit.category,
                hit.text,
                hit.replacement,
                hit.reason,
                if hit.high { ", high confidence" } else { "" }
            );
        }
        eprintln!("[{} replacement(s)]", hits.len());
    }
    Ok(())
}
