//! `citrus audit`: the audit trail of who did what to which case.

use std::path::PathBuf;

use citrus_types::protection::{AuditAction, AuditEntry};
use clap::{Args, Subcommand};

use super::runs::open_store;
use crate::error::{AppError, AppResult};
use crate::store::{AuditEvent, AuditQuery, StoreError};

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE", global = true)]
    db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// List entries, oldest first.
    List {
        /// Only entries about this case.
        #[arg(long, value_name = "ID")]
        case: Option<i64>,
        /// Only this action (case.created, case.viewed, case.exported…).
        #[arg(long, value_name = "CODE")]
        action: Option<String>,
        /// Only the latest N entries.
        #[arg(long, value_name = "N")]
        latest: Option<usize>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Check the chain: fails naming the first edited, deleted or reordered entry.
    Verify,
    /// Write every entry as JSON lines (with their hashes, to verify elsewhere).
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Runs `citrus audit`.
pub fn run(args: AuditArgs) -> AppResult<()> {
    let store = open_store(args.db.as_deref())?;
    match args.command {
        AuditCommand::List {
            case,
            action,
            latest,
            json,
        } => {
            let action = match action {
                Some(code) => Some(AuditAction::from_code(&code).ok_or_else(|| {
                    let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.code()).collect();
                    AppError::Usage(format!(
                        "no audit action {code:?}; the actions are {}",
                        known.join(", ")
                    ))
                })?),
                None => None,
            };
            let query = AuditQuery {
                case_id: case,
                action,
                latest,
            };
            for entry in store.audit_entries(&query)? {
                if json {
                    println!("{}", serde_json::to_string(&entry).unwrap_or_default());
                } else {
                    println!("{}", line(&entry));
                }
            }
        }
        AuditCommand::Verify => {
            let verification = store.verify_audit()?;
            match verification.first_broken {
                None => println!(
                    "the audit trail holds: {} entries, each chained to the one before",
                    verification.entries
                ),
                Some((seq, why)) => {
                    return Err(StoreError::AuditBroken {
                        seq,
                        reason: why.describe().into(),
                    }
                    .into())
                }
            }
        }
        AuditCommand::Export { out } => {
            let entries = store.audit_entries(&AuditQuery::default())?;
            let text: String = entries
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
                .collect();
            std::fs::write(&out, &text).map_err(|e| AppError::io(&out, e))?;
            store.audit(
                AuditEvent::new(AuditAction::AuditExported, [])
                    .detail(format!("{} entries to {}", entries.len(), out.display()))
                    .content(text.as_bytes()),
            )?;
            println!("wrote {} entries to {}", entries.len(), out.display());
        }
    }
    Ok(())
}

/// One entry as a line.
fn line(entry: &AuditEntry) -> String {
    let cases = match entry.case_ids.as_slice() {
        [] => String::new(),
        ids => format!(
            " case {}",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
    };
    let detail = if entry.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", entry.detail)
    };
    let hash = entry
        .content_hash
        .as_deref()
        .map(|h| format!(" [sha256 {}]", &h[..16.min(h.len())]))
        .unwrap_or_default();
    format!(
        "{:>5}  {}  {}  {}{cases}{detail}{hash}",
        entry.seq,
        entry.at,
        entry.actor,
        entry.action.code()
    )
}
