//! LoRA fine-tuning for Citrus Workstation, on the candle core that runs inference.
//!
//! - [`dataset`]: the supported formats with a line-by-line validation report, tokenizing
//!   through the model's chat template with the prompt masked, previews, statistics, split, hash;
//! - [`trainer`]: the SFT loop on the shared transformer (frozen dense or quantized base);
//! - [`preflight`]: memory and time before a run, refused with numbers when it will not fit;
//! - [`checkpoint`]: atomic checkpoints for exact resume;
//! - [`adapter`]: LoRA adapters in PEFT and GGUF form, attached, merged, imported;
//! - [`bundle`]: hand-off bundles for distributed trainers (LLaMA-Factory, axolotl);
//! - [`bench`]: step time, tokens/s and peak memory for standard settings.

pub mod adapter;
pub mod bench;
pub mod bundle;
pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod error;
pub mod optim;
pub mod preference;
pub mod preflight;
pub mod trainer;

use candle_core::quantized::GgmlDType;
use citrus_engine::model::LoadOptions;

pub use error::{Result, TrainError};

/// How to load a base for training: dequantized to f32 (dense), or kept as stored (quantized).
pub fn load_options(quantized_base: bool) -> LoadOptions {
    LoadOptions {
        requantize: (!quantized_base).then_some(GgmlDType::F32),
        context_length: Some(4096),
        ..Default::default()
    }
}
