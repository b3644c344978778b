//! LoRA adapters as the Models screen lists them: what each holds, the base it was trained on,
//! its final metrics, and whether reasoning uses it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One adapter of the library, or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AdapterListing {
    /// Its name in the library.
    pub name: String,
    /// Its folder.
    pub path: PathBuf,
    /// Whether reasoning applies it to the loaded model.
    pub active: bool,
    /// Why it cannot be read (the other facts are then empty).
    pub error: Option<String>,
    /// Rank `r`.
    pub rank: usize,
    /// `lora_alpha`.
    pub alpha: f64,
    /// The adapted projections (`q`, `k`, … `down`).
    pub targets: Vec<String>,
    /// Trainable parameters.
    pub parameters: usize,
    /// The base model's name, when recorded.
    pub base_name: Option<String>,
    /// The base model's file or folder, when recorded.
    pub base_path: Option<String>,
    /// The base's family (`llama`, `qwen2`, …), when recorded.
    pub base_architecture: Option<String>,
    /// SHA-256 of the chat template it was trained with, when recorded.
    pub template_hash: Option<String>,
    /// The data it was trained on (examples, or a preference pair set), when recorded.
    pub dataset: Option<String>,
    /// How it was trained ("sft", or "cpo-simpo (β 10, γ 5.4, α 0.05)"…), when recorded.
    pub method: Option<String>,
    /// A preference run's held-out reward accuracy at the end.
    pub reward_accuracy: Option<f64>,
    /// Optimizer steps taken.
    pub steps: Option<usize>,
    /// The last training loss.
    pub final_loss: Option<f64>,
    /// The last validation loss.
    pub final_validation_loss: Option<f64>,
    /// Where it was imported from (trained elsewhere).
    pub imported_from: Option<String>,
}

/// How an adapter is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterExport {
    /// A Hugging Face PEFT folder (`adapter_config.json` + `adapter_model.safetensors`).
    Peft,
    /// A GGUF LoRA file for llama.cpp and Ollama.
    Gguf,
    /// The base with the adapter merged in, one GGUF file (the base's own quantization).
    MergedGguf,
}
