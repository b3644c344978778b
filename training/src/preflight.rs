//! The pre-flight check: peak memory and time per step before a run starts, estimated from the
//! model's shape and calibrated by real steps on this device, against what the device has.

use citrus_formats::config::TransformerConfig;
use citrus_host::memory::mib;

use crate::error::{Result, TrainError};

pub use citrus_types::training::{MemoryPlan, Preflight};

/// The largest micro-batch of a run, as the step's activations see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepShape {
    /// Sequences.
    pub batch: usize,
    /// Tokens in each.
    pub tokens: usize,
    /// Trained positions in all.
    pub trained_rows: usize,
    /// Whether attention keeps `heads × t × t` score matrices (candle's matmul and softmax, on
    /// accelerators); on the CPU the kernels' attention keeps none.
    pub score_matrices: bool,
}

/// Estimates where a run's memory goes for `config`, `lora_parameters` trainable values and a
/// micro-batch of `step`'s shape.
pub fn estimate_memory(
    config: &TransformerConfig,
    quantized_weight_bytes: u64,
    quantized_base: bool,
    lora_parameters: usize,
    step: StepShape,
) -> MemoryPlan {
    let StepShape {
        batch,
        tokens,
        trained_rows,
        score_matrices,
    } = step;
    let f = 4u64;
    let (h, ffn) = (config.hidden_size as u64, config.intermediate_size as u64);
    let q = (config.num_heads * config.head_dim) as u64;
    let kv = (config.num_kv_heads * config.head_dim) as u64;
    let bt = (batch * tokens) as u64;
    // Per token and layer: residual, norms, projections and their rotary intermediates, the
    // SwiGLU's four products, and where attention keeps them four copies of the scores (scaled,
    // masked, exp, softmax).
    let scores = if score_matrices {
        4 * config.num_heads as u64 * tokens as u64
    } else {
        0
    };
    let per_token = 12 * h + 4 * (q + 2 * kv) + 5 * ffn + scores;
    let layer = bt * per_token * f;
    let logits = trained_rows as u64 * config.vocab_size as u64 * f * 3;
    let inputs = bt * h * f * (config.num_layers as u64 + 1);
    let activation_bytes = inputs + 3 * layer + logits;
    let base_dense_bytes = config.parameter_count() * f;
    let widest = config.vocab_size.max(config.intermediate_size) as u64 * h * f;
    let base_quantized_bytes = quantized_weight_bytes + widest;
    MemoryPlan {
        base_dense_bytes,
        base_quantized_bytes,
        base_bytes: if quantized_base {
            base_quantized_bytes
        } else {
            base_dense_bytes
        },
        lora_bytes: lora_parameters as u64 * f * 5,
        activation_bytes,
    }
}

/// Bytes of block activations a step may keep from its forward pass instead of recomputing
/// them ([`citrus_engine::transformer::TrainingPass::activation_budget`]): half of what the
/// device has beyond the run's need, none where that is unknown. On a workstation with memory
/// to spare a small model's step then skips the recomputation; a model that fills the memory
/// recomputes every block, as before.
pub fn activation_budget(available: Option<u64>, needed: u64) -> u64 {
    available.map_or(0, |available| available.saturating_sub(needed) / 2)
}

/// "base 540 MiB + LoRA state 3 MiB + activations 800 MiB".
pub fn describe(plan: &MemoryPlan) -> String {
    format!(
        "base {} MiB + LoRA state {} MiB + activations {} MiB",
        mib(plan.base_bytes),
        mib(plan.lora_bytes),
        mib(plan.activation_bytes)
    )
}

/// Refuses the run when the estimate (or the measured peak) exceeds what is available, with
/// the numbers.
pub fn check_fits(preflight: &Preflight) -> Result<()> {
    match preflight.available_bytes {
        Some(available) if preflight.needed_bytes() > available => Err(TrainError::TooLarge {
            needed_mib: mib(preflight.needed_bytes()),
            detail: describe(&preflight.memory),
            available_mib: available >> 20,
            device: preflight.device.clone(),
        }),
        _ => Ok(()),
    }
}

/// Resets the process's peak-RSS mark (Linux), so a later [`peak_since_reset`] reads the peak
/// of what ran in between.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory since the last [`reset_peak`].
pub fn peak_since_reset() -> Option<u64> {
    citrus_host::memory::peak_resident_memory()
}

#[cfg(test)]
mod tests {
    use super::*;
    use citrus_formats::config::Architecture;
    use citrus_formats::rope::Rope;

    fn smollm() -> TransformerConfig {
        TransformerConfig {
            architecture: Architecture::Llama,
            vocab_size: 49152,
            hidden_size: 576,
            intermediate_size: 1536,
            num_layers: 30,
            num_heads: 9,
            num_kv_heads: 3,
            head_dim: 64,
            rms_norm_eps: 1e-5,
            rope: Rope::plain(1e5),
            rope_interleaved: true,
            context_length: 8192,
            attention_bias: false,
            attention_output_bias: false,
            mlp_bias: false,
            qk_norm: false,
            tie_embeddings: true,
        }
    }

    #[test]
    fn estimates_scale_with_length_and_refuse_with_numbers() {
        let step = |tokens, score_matrices| StepShape {
            batch: 1,
            tokens,
            trained_rows: 100,
            score_matrices,
        };
        let short = estimate_memory(&smollm(), 100 << 20, false, 1_000_000, step(256, false));
        let long = estimate_memory(&smollm(), 100 << 20, false, 1_000_000, step(512, false));
        assert!(long.activation_bytes > short.activation_bytes * 3 / 2);
        // Without score matrices activations grow linearly; with them, faster.
        assert!(long.activation_bytes < short.activation_bytes * 2);
        let scored = estimate_memory(&smollm(), 100 << 20, false, 1_000_000, step(512, true));
        assert!(scored.activation_bytes > long.activation_bytes);
        assert!(short.base_dense_bytes > 500 << 20);
        let quantized = estimate_memory(&smollm(), 100 << 20, true, 1_000_000, step(256, false));
        assert!(quantized.total_bytes() < short.total_bytes());
        let preflight = Preflight {
            memory: long,
            device: "cpu".into(),
            available_bytes: Some(64 << 20),
            trainable_parameters: 1_000_000,
            total_steps: 10,
            remaining_steps: 10,
            measured_peak_bytes: None,
            seconds_per_step: Some(2.0),
        };
        let err = check_fits(&preflight).unwrap_err();
        assert_eq!(err.code(), "train.too_large");
        assert!(err.to_string().contains("64 MiB available"), "{err}");
        assert_eq!(preflight.eta_seconds(), Some(20.0));
    }
}
