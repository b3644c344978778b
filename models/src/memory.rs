//! Memory estimates and the memory-fit check made before loading.

use crate::config::TransformerConfig;
use crate::generation::PREFILL_CHUNK;

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

/// Allocations of at least this many bytes get their own pages from the system.
const OWN_PAGES_FROM: i32 = 1 << 20;

/// Makes allocations of a megabyte or more map their own pages (glibc): a freed KV cache or
/// activation goes back to the system at once, and a zeroed allocation (the KV cache) is only
/// resident where written. Without this glibc raises its threshold after the first large free
/// and serves later ones from the heap, zeroing them by hand and keeping them resident after
/// they are freed. Idempotent.
pub fn use_own_pages_for_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only changes the allocator's tuning; M_MMAP_THRESHOLD takes a size.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_PAGES_FROM);
        });
    }
}

/// Memory the system can give a new allocation now (Linux `MemAvailable`), if known.
pub fn available_system_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_kib(&text, "MemAvailable:").map(|kib| kib * 1024)
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
pub fn peak_resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_meminfo_kib(&text, "VmHWM:").map(|kib| kib * 1024)
}

/// Current resident memory of this process (Linux `VmRSS`), if known.
pub fn resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_meminfo_kib(&text, "VmRSS:").map(|kib| kib * 1024)
}

fn parse_meminfo_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|line| line.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Bytes to whole MiB, rounded up.
pub fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_lines() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n";
        assert_eq!(parse_meminfo_kib(text, "MemAvailable:"), Some(1000));
        assert_eq!(parse_meminfo_kib(text, "Nope:"), None);
        assert!(available_system_memory().unwrap() > 0);
    }
}
