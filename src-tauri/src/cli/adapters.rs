//! `citrus adapters`: the adapter library and the forms adapters travel in.
//!
//! `list` and `inspect` describe; `import` brings a PEFT folder or GGUF LoRA file (from
//! LLaMA-Factory, axolotl, PEFT scripts, llama.cpp) into the library after checking it
//! against the base; `export` writes a GGUF LoRA adapter for llama.cpp and Ollama; `merge`
//! writes base + adapter as one GGUF or Hugging Face folder.

use std::path::{Path, PathBuf};

use citrus_engine::model::parse_quantization;
use citrus_training::adapter::library::{
    adapters_dir, import_adapter, list_adapters, read_any, resolve_adapter, ImportRequest,
};
use citrus_training::adapter::merge::{merge_to_gguf, merge_to_hf, parse_hf_dtype, MergeReport};
use citrus_training::adapter::modelfile::modelfile_for;
use citrus_training::adapter::{AdapterSummary, BaseFacts, LoraAdapter};
use citrus_training::TrainError;
use clap::{Args, Subcommand, ValueEnum};

use crate::error::{AppError, AppResult};

use super::model_args::given_or_default_model;
use super::progress::CountBar;

/// Arguments of `adapters`.
#[derive(Debug, Subcommand)]
pub enum AdaptersCommand {
    /// List the adapters in the library ($CITRUS_HOME/adapters).
    List(ListArgs),
    /// Describe an adapter: settings, tensors, base model, metrics.
    Inspect(InspectArgs),
    /// Import a PEFT folder or GGUF LoRA file into the library, checked against the base.
    Import(ImportArgs),
    /// Write an adapter as a GGUF LoRA file for llama.cpp (--lora) and Ollama (ADAPTER).
    Export(ExportArgs),
    /// Write base + adapter as one model: a GGUF in a chosen type, or a Hugging Face folder.
    Merge(MergeArgs),
}

/// Arguments of `adapters list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `adapters inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A PEFT folder, a GGUF LoRA file (needs the base: --model) or a library name.
    adapter: PathBuf,
    /// The base, for a GGUF adapter [default: the installed default model].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `adapters import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A PEFT folder (adapter_config.json + adapter_model.safetensors) or a GGUF LoRA file.
    path: PathBuf,
    /// The base model it is for [default: the installed default model].
    #[arg(long)]
    model: Option<PathBuf>,
    /// The hand-off bundle it was trained from (`citrus train --export-bundle`).
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// Its name in the library [default: the file or folder name].
    #[arg(long)]
    name: Option<String>,
    /// Replace an adapter of the same name.
    #[arg(long)]
    replace: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `adapters export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A PEFT folder, a GGUF LoRA file or a library name.
    adapter: PathBuf,
    /// The GGUF LoRA file to write.
    #[arg(long, value_name = "FILE")]
    gguf: PathBuf,
    /// The base [default: the model the adapter was trained on, else the default model].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Also write an Ollama Modelfile (FROM the base, ADAPTER this file) beside it.
    #[arg(long)]
    modelfile: bool,
}

/// The form of a merged model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MergeFormat {
    /// One GGUF file.
    Gguf,
    /// A Hugging Face folder (safetensors, config, tokenizer).
    Hf,
}

/// Arguments of `adapters merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// A PEFT folder, a GGUF LoRA file or a library name.
    adapter: PathBuf,
    /// The file (.gguf) or folder to write.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// gguf or hf [default: gguf when --out ends in .gguf, else hf].
    #[arg(long, value_enum)]
    format: Option<MergeFormat>,
    /// GGUF storage type of the weights: f16, bf16, q8_0, q4_0, q4_k… [default: each
    /// weight's type in the base]; for hf: f32, f16 or bf16 [default: the base's].
    #[arg(long, value_name = "TYPE")]
    r#type: Option<String>,
    /// The base [default: the model the adapter was trained on, else the default model].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Also write an Ollama Modelfile beside the merged GGUF.
    #[arg(long)]
    modelfile: bool,
}

/// Runs an `adapters` command.
pub fn run(command: AdaptersCommand) -> AppResult<()> {
    match command {
        AdaptersCommand::List(args) => list(args),
        AdaptersCommand::Inspect(args) => inspect(args),
        AdaptersCommand::Import(args) => import(args),
        AdaptersCommand::Export(args) => export(args),
        AdaptersCommand::Merge(args) => merge(args),
    }
}

/// Reads the adapter `name_or_path` and the base it goes with: `--model`, else the file it
/// was trained on when it is still there, else the default model.
fn adapter_and_base(
    name_or_path: &Path,
    model: Option<&Path>,
) -> AppResult<(LoraAdapter, BaseFacts)> {
    let path = resolve_adapter(name_or_path)?;
    let (adapter, base) = match model {
        Some(model) => {
            let base = BaseFacts::of_path(model)?;
            (read_any(&path, &base)?.0, base)
        }
        None => crate::adapters::adapter_and_base(&path, || Ok(given_or_default_model(None)?))?,
    };
    eprintln!("base         {} ({})", base.name, base.path.display());
    Ok((adapter, base))
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn list(args: ListArgs) -> AppResult<()> {
    let library = adapters_dir();
    let entries = list_adapters(&library)?;
    if args.json {
        print_json(&entries);
        return Ok(());
    }
    if entries.is_empty() {
        println!(
            "no adapters in {} (add one with `citrus adapters import PATH`)",
            library.display()
        );
        return Ok(());
    }
    println!(
        "{:<28} {:>4} {:>7}  {:<24} base",
        "name", "rank", "alpha", "targets"
    );
    for entry in entries {
        match (&entry.summary, &entry.error) {
            (Some(s), _) => {
                let targets: Vec<&str> =
                    s.settings.targets.iter().map(|t| t.short_name()).collect();
                let base = s
                    .meta
                    .as_ref()
                    .map_or("unknown".into(), |m| m.base.name.clone());
                println!(
                    "{:<28} {:>4} {:>7} {}  {:<24} {base}",
                    entry.name,
                    s.settings.rank,
                    s.settings.alpha,
                    if s.settings.rslora { "rs" } else { "  " },
                    targets.join(","),
                );
            }
            (None, error) => println!(
                "{:<28} unreadable: {}",
                entry.name,
                error.as_deref().unwrap_or("unknown error")
            ),
        }
    }
    Ok(())
}

fn inspect(args: InspectArgs) -> AppResult<()> {
    let path = resolve_adapter(&args.adapter)?;
    let adapter = if path.is_dir() {
        LoraAdapter::load(&path)?
    } else {
        let base = BaseFacts::of_path(&given_or_default_model(args.model.as_deref())?)?;
        read_any(&path, &base)?.0
    };
    let summary = adapter.summary(&path);
    if args.json {
        print_json(&summary);
        return Ok(());
    }
    print_summary(&summary);
    Ok(())
}

fn print_summary(summary: &AdapterSummary) {
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
            if let Some(origin) = &meta.imported_from {
                println!("imported     from {origin}");
            }
            println!("metrics      {}", meta.metrics);
        }
        None => println!("base         unknown (no citrus_adapter.json: trained elsewhere)"),
    }
}

fn import(args: ImportArgs) -> AppResult<()> {
    let base = BaseFacts::of_path(&given_or_default_model(args.model.as_deref())?)?;
    let request = ImportRequest {
        source: &args.path,
        base: &base,
        bundle: args.bundle.as_deref(),
        name: args.name.as_deref(),
        replace: args.replace,
    };
    let report = import_adapter(&request, &adapters_dir())?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        print_json(&report);
        return Ok(());
    }
    println!(
        "imported `{}` ({} form) into {}",
        report.name,
        match report.format {
            citrus_training::adapter::library::AdapterFormat::Peft => "PEFT",
            citrus_training::adapter::library::AdapterFormat::Gguf => "GGUF",
        },
        report.path.display()
    );
    print_summary(&report.summary);
    println!("use it with --adapter {}", report.name);
    Ok(())
}

fn export(args: ExportArgs) -> AppResult<()> {
    let (adapter, base) = adapter_and_base(&args.adapter, args.model.as_deref())?;
    adapter.check_shapes(&base.config)?;
    let written = adapter.write_gguf(&args.gguf, &base.config)?;
    println!(
        "wrote {} ({} tensors, adapter.lora.alpha {}{})",
        args.gguf.display(),
        written.tensors,
        written.alpha,
        if written.prescaled {
            ", each B pre-scaled: rsLoRA or per-module patterns"
        } else {
            ""
        }
    );
    println!(
        "llama.cpp: llama-completion -m {} --lora {}",
        base.path.display(),
        args.gguf.display()
    );
    if args.modelfile {
        let adapter_name = file_name(&args.gguf);
        let text = modelfile_for(
            &base.path,
            &base.path.display().to_string(),
            Some(&format!("./{adapter_name}")),
        )?;
        write_modelfile(&args.gguf, &text)?;
    }
    Ok(())
}

fn merge(args: MergeArgs) -> AppResult<()> {
    let (adapter, base) = adapter_and_base(&args.adapter, args.model.as_deref())?;
    let format = args.format.unwrap_or(
        if args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            MergeFormat::Gguf
        } else {
            MergeFormat::Hf
        },
    );
    let bar = CountBar::new("merging", "tensors");
    let report = match format {
        MergeFormat::Gguf => {
            if base.path.is_dir() {
                return Err(AppError::from(TrainError::setting(
                    "format",
                    "the base is a Hugging Face folder: merge with --format hf, then convert \
                     the folder with llama.cpp's convert_hf_to_gguf.py",
                )));
            }
            let dtype = args.r#type.as_deref().map(parse_quantization).transpose()?;
            merge_to_gguf(
                &base.path,
                &adapter,
                &args.out,
                dtype,
                &mut |done, total| bar.update(done, total),
            )?
        }
        MergeFormat::Hf => {
            let dtype = args.r#type.as_deref().map(parse_hf_dtype).transpose()?;
            merge_to_hf(
                &base.path,
                &adapter,
                &args.out,
                dtype,
                &mut |done, total| bar.update(done, total),
            )?
        }
    };
    bar.finish();
    print_merge(&args.out, &report);
    if args.modelfile {
        if format != MergeFormat::Gguf {
            eprintln!("warning: --modelfile applies to a merged GGUF; none written");
        } else {
            let from = format!("./{}", file_name(&args.out));
            write_modelfile(&args.out, &modelfile_for(&base.path, &from, None)?)?;
        }
    }
    Ok(())
}

fn print_merge(out: &Path, report: &MergeReport) {
    println!(
        "wrote {}: {} tensors, {} with the adapter merged, {:.1} MiB of weights",
        out.display(),
        report.tensors,
        report.merged,
        report.bytes as f64 / (1024.0 * 1024.0)
    );
    if !report.fallbacks.is_empty() {
        let first = &report.fallbacks[0];
        println!(
            "{} weight(s) whose rows do not hold whole {} blocks were written as {} (e.g. {})",
            report.fallbacks.len(),
            first.wanted,
            first.used,
            first.tensor
        );
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `Modelfile` in the folder of `beside`.
fn write_modelfile(beside: &Path, text: &str) -> AppResult<()> {
    let path = beside
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("Modelfile");
    std::fs::write(&path, text).map_err(|e| AppError::io(&path, e))?;
    println!(
        "wrote {} (ollama create NAME -f {})",
        path.display(),
        path.display()
    );
    Ok(())
}
