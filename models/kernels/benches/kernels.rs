//! Throughput of the quantized matmul kernels against candle's, for every block type and every
//! instruction set this CPU runs (AVX2, AVX-512, AVX-512 VNNI: one row each, so the paths
//! compare side by side): one decode-shaped product (1 input row) and one prefill-shaped
//! product (64 rows), weight bytes read per second and multiply-adds per second, on the
//! kernels' pool (`RAYON_NUM_THREADS` threads, as `--threads` sets).
//!
//! `cargo bench -p citrus-kernels --bench kernels`

use std::sync::Arc;
use std::time::Instant;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use citrus_kernels::{matmul_with, BlockType, Isa, QuantWeight};

/// A size from the environment variable `name`, or `default`.
fn size_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // 8960 rows (a 1.5B model's feed-forward projection, in cache) or more with
    // CITRUS_BENCH_ROWS (e.g. 65536: weights larger than the last-level cache, as in a model).
    let rows = size_from_env("CITRUS_BENCH_ROWS", 8960);
    // Weight columns: the width of a 1.5B model's hidden state, or CITRUS_BENCH_COLS.
    let cols = size_from_env("CITRUS_BENCH_COLS", 1536);
    // Input rows of the prefill-shaped product.
    let prefill_rows = size_from_env("CITRUS_BENCH_PREFILL", 64);
    println!(
        "{} threads, best kernels: {}; weight {rows}×{cols}; GB/s of weights (decode), GMAC/s (prefill)",
        citrus_kernels::pool::Pool::global().threads(),
        Isa::best_supported().name()
    );
    println!(
        "{:<6} {:<11} {:>22} {:>22}",
        "type", "kernels", "decode citrus / candle", "prefill citrus / candle"
    );
    let isas: Vec<Isa> = Isa::supported()
        .into_iter()
        .filter(|isa| isa.has_avx2() || *isa == Isa::best_supported())
        .collect();
    let dev = Device::Cpu;
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919 % 2003) as f32 / 1001.0) - 1.0)
        .collect();
    let dense = Tensor::from_vec(values, (rows, cols), &dev).expect("weights");
    for kind in BlockType::ALL {
        if !cols.is_multiple_of(kind.block_elements()) {
            continue;
        }
        let q = Arc::new(QTensor::quantize(&dense, kind.ggml()).expect("quantize"));
        let bytes = q.storage_size_in_bytes() as f64;
        let ours = QuantWeight::new(q.clone()).expect("kernel");
        let theirs = QMatMul::from_arc(q).expect("qmatmul");
        for &isa in &isas {
            let mut cells = Vec::new();
            for m in [1usize, prefill_rows] {
                let x: Vec<f32> = (0..m * cols)
                    .map(|i| ((i * 31 % 97) as f32 / 48.0) - 1.0)
                    .collect();
                let xt = Tensor::from_vec(x.clone(), (m, cols), &dev).expect("input");
                let repeats = if m == 1 { 40 } else { 4 };
                let ours_s = seconds(repeats, || {
                    std::hint::black_box(matmul_with(isa, &x, cols, &[&ours]));
                });
                let theirs_s = seconds(repeats, || {
                    std::hint::black_box(theirs.forward(&xt).expect("forward"));
                });
                let work = if m == 1 {
                    bytes
                } else {
                    (m * rows * cols) as f64
                };
                cells.push(format!(
                    "{:>9.1} / {:<9.1}",
                    work / ours_s / 1e9,
                    work / theirs_s / 1e9
                ));
            }
            println!(
                "{:<6} {:<11} {:>22} {:>22}",
                format!("{kind:?}"),
                isa.name(),
                cells[0],
                cells[1]
            );
        }
    }
}

/// Seconds per call of `f`, the best of three batches of `repeats` calls.
fn seconds(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..3)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..repeats {
                f();
            }
            started.elapsed().as_secs_f64() / repeats as f64
        })
        .fold(f64::INFINITY, f64::min)
}
