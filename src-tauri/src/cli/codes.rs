//! `citrus codes`: search ICD-10-CM by words or code, or show one code.

use clap::Subcommand;

use super::model_args::ModelArgs;
use crate::error::AppResult;
use crate::vocabulary::{Granularity, Vocabulary};

/// What `citrus codes` does.
#[derive(Debug, Subcommand)]
pub enum CodesCommand {
    /// Entries whose title holds every word (the last as a prefix), or whose code starts so.
    Search {
        /// Words (`acute appendicitis`) or the start of a code (`I21.1`).
        query: Vec<String>,
        /// Most entries shown.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// One code's title.
    Show {
        /// The code, with or without its dot.
        code: String,
    },
    /// Time to compile a constraint holding a diagnosis to the vocabulary, and per token mask,
    /// with the model's tokenizer, per granularity.
    Bench {
        /// The granularities measured.
        #[arg(long, value_enum, num_args = 1.., default_values_t = [Granularity::Categories, Granularity::Diseases, Granularity::Billable])]
        granularity: Vec<Granularity>,
        #[command(flatten)]
        model: ModelArgs,
    },
}

/// Runs `citrus codes`.
pub fn run(command: CodesCommand) -> AppResult<()> {
    let vocabulary = Vocabulary::open_installed()?;
    match command {
        CodesCommand::Search { query, limit } => {
            let found = vocabulary.search(&query.join(" "), limit)?;
            if found.is_empty() {
                println!("no entry matches");
            }
            for entry in found {
                let kind = if entry.billable { "" } else { "  (category)" };
                println!("{:<8} {}{kind}", entry.code, entry.title);
            }
        }
        CodesCommand::Show { code } => match vocabulary.lookup(&code)? {
            Some(entry) => println!("{:<8} {}", entry.code, entry.title),
            None => println!("{code} is not an ICD-10-CM code"),
        },
        CodesCommand::Bench { granularity, model } => {
            super::codes_bench::run(&vocabulary, &granularity, &model)?
        }
    }
    let (release, codes) = vocabulary.release()?;
    eprintln!("[{release}, {codes} codes]");
    Ok(())
}
