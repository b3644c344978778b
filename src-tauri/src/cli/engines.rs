//! `citrus engines`: add, list, test and remove remote engines (inference servers).

use std::path::PathBuf;

use citrus_types::engine::RemoteEngineEntry;
use clap::{Args, Subcommand};

use super::runs::open_store;
use crate::engines::{self, NewEngine};
use crate::error::AppResult;

/// What `citrus engines` does.
#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// Adds a server (vLLM, llama-server, Ollama, LM Studio, `citrus serve`) under a name,
    /// after checking it answers.
    Add(AddArgs),
    /// Lists the servers added.
    List(DbArg),
    /// Connects to a server again and shows what it offers.
    Test(NameArgs),
    /// Removes a server (its runs keep its name and URL).
    Remove(NameArgs),
}

/// The case store.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

/// Arguments of `engines add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Its name (letters, digits, '-', '_', '.').
    name: String,
    /// The server's OpenAI-compatible base URL, e.g. http://10.1.2.3:8000/v1.
    #[arg(long)]
    url: String,
    /// The model id on the server [default: the first it lists].
    #[arg(long)]
    model: Option<String>,
    /// A file holding the API key (its first line). Only the file's path is stored.
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// A copy of the served model (GGUF file or Hugging Face folder) whose chat template
    /// renders prompts, so option text can be scored (`eval --mode likelihood --score-text`).
    #[arg(long, value_name = "FILE")]
    template_from: Option<PathBuf>,
    /// De-identify case text (names, dates, record numbers…: Safe Harbor) before it is sent
    /// to this server.
    #[arg(long)]
    deidentify: bool,
    #[command(flatten)]
    db: DbArg,
}

/// An engine by name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The engine's name.
    name: String,
    #[command(flatten)]
    db: DbArg,
}

/// Runs `citrus engines`.
pub fn run(command: EnginesCommand) -> AppResult<()> {
    match command {
        EnginesCommand::Add(args) => {
            let store = open_store(args.db.db.as_deref())?;
            let absolute = |f: PathBuf| std::path::absolute(&f).unwrap_or(f).display().to_string();
            let api_key_file = args.api_key_file.map(absolute);
            let template_file = args.template_from.map(absolute);
            let entry = engines::add(
                &store,
                NewEngine {
                    name: args.name,
                    url: args.url,
                    model: args.model,
                    api_key_file,
                    template_file,
                    deidentify: args.deidentify,
                },
            )?;
            println!("added {}", describe(&entry));
        }
        EnginesCommand::List(args) => {
            let store = open_store(args.db.as_deref())?;
            let list = store.engines()?;
            if list.is_empty() {
                println!("no remote engines: add one with `citrus engines add NAME --url URL`");
            }
            for entry in list {
                println!("{}", describe(&entry));
            }
        }
        EnginesCommand::Test(args) => {
            let store = open_store(args.db.db.as_deref())?;
            let entry = engines::test(&store, &args.name)?;
            println!("reached {}", describe(&entry));
            println!("  models: {}", entry.models.join(", "));
        }
        EnginesCommand::Remove(args) => {
            let store = open_store(args.db.db.as_deref())?;
            store.remove_engine(&args.name)?;
            println!("removed {}", args.name);
        }
    }
    Ok(())
}

/// One line: name, URL, model and what it can do.
fn describe(entry: &RemoteEngineEntry) -> String {
    let offers = match entry.capabilities {
        None => "never reached".to_string(),
        Some(c) => {
            let mut offers = vec!["free reasoning"];
            if c.json_schema {
                offers.push("guided reasoning");
            }
            if c.letter_scoring {
                offers.push("likelihood by letter");
            }
            if c.text_scoring {
                offers.push("likelihood by text");
            }
            if c.thinks {
                offers.push("thinks first");
            }
            offers.join(", ")
        }
    };
    let deid = if entry.deidentify {
        "  case text de-identified"
    } else {
        ""
    };
    format!(
        "{}  {}  model {}  key {}  ({offers}){deid}",
        entry.name,
        entry.url,
        entry.model.as_deref().unwrap_or("(first listed)"),
        if entry.api_key_file.is_some() {
            "from file"
        } else {
            "none"
        },
    )
}
