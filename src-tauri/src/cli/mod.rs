//! The `citrus` command line: argument parsing and dispatch to one module per command.

mod adapters;
mod audit;
mod bench;
mod codes;
mod codes_bench;
mod deid;
mod engine_arg;
mod engines;
mod evaluations;
mod generate;
mod inspect;
mod model_args;
mod progress;
mod reasoning;
mod reviews;
mod runs;
mod serve;
mod store;
mod training;

use std::process::ExitCode;

use crate::error::AppError;
use clap::{Parser, Subcommand};

pub use model_args::ModelArgs;

/// Citrus Workstation, headless: run a medical reasoning model on this machine.
#[derive(Debug, Parser)]
#[command(name = "citrus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a reply to a prompt (the model's chat template is applied), streamed.
    Generate(generate::GenerateArgs),
    /// Work with model files.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Reason on a clinical case or an exam item: steps by stage, then the answer.
    Reason(reasoning::ReasonArgs),
    /// The cases and runs kept in the case store.
    Runs(runs::RunsArgs),
    /// Review a stored run: step verdicts, confirmed diagnosis, reviewer.
    Review(reviews::ReviewArgs),
    /// Export reviewed runs as Citrus SFT training data or reports.
    Export(reviews::ExportArgs),
    /// Measure load time, prefill and decode speed, and peak memory.
    Bench(bench::BenchArgs),
    /// Fine-tune a LoRA adapter on local data (or the reviewed cases) with the inference core.
    Train(Box<training::TrainArgs>),
    /// Evaluate a model (and adapter) on a benchmark file; list, report and compare runs.
    Eval(Box<evaluations::EvalArgs>),
    /// Serve the model as an OpenAI-compatible API on this machine (127.0.0.1 unless told).
    Serve(serve::ServeArgs),
    /// Work with LoRA adapters.
    Adapters {
        #[command(subcommand)]
        command: adapters::AdaptersCommand,
    },
    /// ICD-10-CM: search by words or code.
    Codes {
        #[command(subcommand)]
        command: codes::CodesCommand,
    },
    /// The case store's encryption: status, encrypt a plaintext store, change the key.
    Store(store::StoreArgs),
    /// The audit trail: list it, verify its chain, export it.
    Audit(audit::AuditArgs),
    /// Print a file's or a stored case's text with its identifiers replaced (Safe Harbor).
    Deid(deid::DeidArgs),
    /// Remote engines: inference servers runs can use instead of a local model.
    Engines {
        #[command(subcommand)]
        command: engines::EnginesCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Describe a model file or folder without loading its weights.
    Inspect(inspect::InspectArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Models {
            command: ModelsCommand::Inspect(args),
        } => inspect::run(args),
        Command::Reason(args) => reasoning::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Review(args) => reviews::review(args),
        Command::Export(args) => reviews::export(args),
        Command::Bench(args) => bench::run(args),
        Command::Train(args) => training::run(*args),
        Command::Eval(args) => evaluations::run(*args),
        Command::Serve(args) => serve::run(args),
        Command::Adapters { command } => adapters::run(command),
        Command::Engines { command } => engines::run(command),
        Command::Codes { command } => codes::run(command),
        Command::Store(args) => store::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Deid(args) => deid::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

/// Prints an error with its stable code.
fn report(error: &AppError) {
    eprintln!("error [{}]: {error}", error.code());
}
