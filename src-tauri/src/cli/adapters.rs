//! `citrus adapters inspect`: what an adapter folder holds.

use std::path::PathBuf;

use citrus_training::adapter::LoraAdapter;
use clap::{Args, Subcommand};

use crate::error::AppResult;

/// Arguments of `adapters`.
#[derive(Debug, Subcommand)]
pub enum AdaptersCommand {
    /// Describe a LoRA adapter folder (PEFT layout): settings, tensors, base model, metrics.
    Inspect(InspectArgs),
}

/// Arguments of `adapters inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The adapter folder.
    dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs an `adapters` command.
pub fn run(command: AdaptersCommand) -> AppResult<()> {
    match command {
        AdaptersCommand::Inspect(args) => inspect(args),
    }
}

fn inspect(args: InspectArgs) -> AppResult<()> {
    let summary = LoraAdapter::load(&args.dir)?.summary(&args.dir);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        return Ok(());
    }
    let s = &summary.settings;
    println!("adapter      {}", summary.path.display());
    println!(
        "LoRA         rank {}, alpha {}, {} scaling, dropout {}",
        s.rank,
        s.alpha,
        if s.rslora {
            "rsLoRA (alpha/√r)"
        } else {
            "alpha/r"
        },
        s.dropout
    );
    let targets: Vec<&str> = s.targets.iter().map(|t| t.hf_name()).collect();
    println!("targets      {}", targets.join(", "));
    println!(
        "tensors      {} in {} layers, {} parameters",
        summary.tensors, summary.layers, summary.parameters
    );
    match &summary.meta {
        Some(meta) => {
            println!(
                "base         {} ({}, {})",
                meta.base.name,
                meta.base.architecture.as_str(),
                meta.base.path
            );
            println!("fingerprint  {}", meta.base.fingerprint);
            println!("template     sha256 {}", meta.base.template_hash);
            if let (Some(source), Some(hash)) = (&meta.dataset_source, &meta.dataset_hash) {
                println!(
                    "dataset      {source} (sha256 {})",
                    &hash[..16.min(hash.len())]
                );
            }
            println!("metrics      {}", meta.metrics);
        }
        None => println!("base         unknown (no citrus_adapter.json: trained elsewhere)"),
    }
    Ok(())
}
