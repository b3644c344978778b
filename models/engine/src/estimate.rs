//! Memory estimates made before loading: weights, KV cache and working memory.

use crate::generation::PREFILL_CHUNK;
use citrus_formats::config::TransformerConfig;

/// Fixed allowance for the runtime, tokenizer and buffers.
const RUNTIME_OVERHEAD: u64 = 96 << 20;

pub use citrus_types::model::MemoryEstimate;

/// What a model with `config` and `weights_bytes` of weights takes in memory at `context`
/// positions.
pub fn estimate_memory(
    config: &TransformerConfig,
    weights_bytes: u64,
    context: usize,
) -> MemoryEstimate {
    let chunk = PREFILL_CHUNK.min(context) as u64;
    let ctx = context as u64;
    let scores = config.num_heads as u64 * chunk * ctx * 4 * 2;
    let mlp = chunk * config.intermediate_size as u64 * 4 * 3;
    let logits = config.vocab_size as u64 * 4 * 2;
    let rotary = ctx * config.head_dim as u64 * 4;
    MemoryEstimate {
        weights_bytes,
        kv_cache_bytes: config.kv_cache_bytes(context),
        working_bytes: scores + mlp + logits + rotary + RUNTIME_OVERHEAD,
    }
}
