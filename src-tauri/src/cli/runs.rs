//! `citrus runs`: the runs kept in the case store.

use citrus_types::engine::LOCAL_ENGINE;
use std::path::{Path, PathBuf};

use crate::error::AppResult;
use clap::{Args, Subcommand};

use crate::store::{CaseQuery, Store};

/// Arguments of `runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: RunsCommand,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE", global = true)]
    db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// List the cases and their runs.
    List,
    /// Show one run: status, answer, steps and text.
    Show {
        /// The run's id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Opens the store at `db`, or the default one.
pub fn open_store(db: Option<&Path>) -> AppResult<Store> {
    Ok(match db {
        Some(path) => Store::open(path)?,
        None => Store::open_default()?,
    })
}

/// Lists or shows stored runs.
pub fn run(args: RunsArgs) -> AppResult<()> {
    let store = open_store(args.db.as_deref())?;
    if store.recovered_runs() > 0 {
        eprintln!(
            "[{} unfinished run(s) marked interrupted]",
            store.recovered_runs()
        );
    }
    match args.command {
        RunsCommand::List => {
            for case in store.list_cases(&CaseQuery::search(""))? {
                println!("case {} ({}): {}", case.id, case.kind, case.title);
                for run in store.runs_of_case(case.id)? {
                    // A remote run names its server: the case text went there.
                    let engine = match run.engine.as_str() {
                        LOCAL_ENGINE => "local".to_string(),
                        name => format!("{name} at {}", store.run(run.id)?.model_path),
                    };
                    println!(
                        "  run {:<4} {:<11} {:<6} {} tokens  {}  on {engine}  {}",
                        run.id,
                        format!("{:?}", run.status).to_lowercase(),
                        run.mode,
                        run.generated_tokens,
                        run.model_name,
                        run.started_at
                    );
                }
            }
        }
        RunsCommand::Show { id, json } => {
            let run = store.view_run(id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run).unwrap_or_default());
            } else {
                println!(
                    "run {} of case {}: {:?}, {} tokens",
                    run.summary.id,
                    run.summary.case_id,
                    run.summary.status,
                    run.summary.generated_tokens
                );
                for step in &run.steps {
                    println!(
                        "[{:?}] {}\n{}\n",
                        step.stage,
                        step.title.as_deref().unwrap_or(""),
                        step.text
                    );
                }
                println!(
                    "ANSWER: {}",
                    run.summary.answer.as_deref().unwrap_or("(none)")
                );
                println!("--- model text ---\n{}", run.raw_text);
            }
        }
    }
    Ok(())
}
