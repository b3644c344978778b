//! Options shared by every command that loads a model.

use std::path::{Path, PathBuf};

use citrus_engine::device::{set_cpu_threads, DeviceChoice};
use citrus_engine::model::{parse_quantization, LoadOptions, Model};
use citrus_engine::{ModelError, Result};
use citrus_host::home::default_model_path;
use citrus_training::adapter::library::resolve_adapter;
use citrus_training::adapter::LoraAdapter;
use clap::Args;

use crate::error::AppResult;

use super::progress::LoadBar;

/// Which model to load and how.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// A .gguf file or a Hugging Face folder [default: the installed SmolLM2-135M-Instruct].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Re-quantize weights while loading, e.g. q8_0 (for types without a CPU kernel).
    #[arg(long, value_name = "TYPE")]
    pub requantize: Option<String>,
    /// cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// CPU threads [default: physical cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Longest prompt + answer in tokens [default: 8192, capped at the model's].
    #[arg(long)]
    pub context: Option<usize>,
    /// A LoRA adapter to apply: a PEFT folder, a GGUF LoRA file, or a name from `citrus
    /// adapters list`.
    #[arg(long, value_name = "ADAPTER")]
    pub adapter: Option<PathBuf>,
}

impl ModelArgs {
    /// The model path, defaulting to the installed default model.
    pub fn model_path(&self) -> Result<PathBuf> {
        given_or_default_model(self.model.as_deref())
    }

    /// Load options from the flags (also applies the thread count).
    pub fn load_options(&self) -> Result<LoadOptions> {
        if let Some(threads) = self.threads {
            set_cpu_threads(threads)?;
        }
        Ok(LoadOptions {
            device: self.device.parse::<DeviceChoice>()?,
            requantize: self
                .requantize
                .as_deref()
                .map(parse_quantization)
                .transpose()?,
            context_length: self.context,
            memory_limit: None,
        })
    }

    /// Loads the model with a progress bar on stderr, with the adapter attached when one is
    /// given (its warnings printed).
    pub fn load(&self) -> AppResult<Model> {
        let mut model = load_with_bar(&self.model_path()?, &self.load_options()?)?;
        if let Some(dir) = &self.adapter {
            let path = resolve_adapter(dir)?;
            for warning in LoraAdapter::attach_path(&path, &mut model)? {
                eprintln!("warning: {warning}");
            }
        }
        Ok(model)
    }
}

/// `model` when given, else the installed default model (an error naming where it should be
/// when it is missing).
pub fn given_or_default_model(model: Option<&Path>) -> Result<PathBuf> {
    match model {
        Some(path) => Ok(path.to_path_buf()),
        None => {
            let path = default_model_path();
            if path.exists() {
                Ok(path)
            } else {
                Err(ModelError::DefaultModelMissing { path })
            }
        }
    }
}

/// Loads the model at `path` with a progress bar on stderr.
pub fn load_with_bar(path: &Path, options: &LoadOptions) -> Result<Model> {
    let bar = LoadBar::new(path);
    let model = Model::load(path, options, &mut |p| bar.update(p));
    bar.finish();
    model
}
