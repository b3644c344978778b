//! Throughput of the quantized matmul kernels against candle's, for every block type: one
//! decode-shaped product (1 input row) and one prefill-shaped product (64 rows), weight bytes
//! read per second and multiply-adds per second, on the kernels' pool (`RAYON_NUM_THREADS` threads, as `--threads` sets).
//!
//! `cargo bench -p citrus-models --bench kernels`

use std::sync::Arc;
use std::time::Instant;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use citrus_models::kernels::{matmul_shared, BlockType, Isa, QuantWeight};

/// Weight columns: the width of a 1.5B model's hidden state.
const COLS: usize = 1536;

fn main() {
    // 8960 rows (a 1.5B model's feed-forward projection, in cache) or more with
    // CITRUS_BENCH_ROWS (e.g. 65536: weights larger than the last-level cache, as in a model).
    let rows: usize = std::env::var("CITRUS_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(8960);
    println!(
        "{} threads, kernels: {}; weight {rows}×{COLS}; GB/s of weights (decode), GMAC/s (prefill)",
        citrus_models::kernels::pool::Pool::global().threads(),
        Isa::detect().name()
    );
    println!(
        "{:<6} {:>22} {:>22}",
        "type", "decode citrus / candle", "prefill citrus / candle"
    );
    let dev = Device::Cpu;
    let values: Vec<f32> = (0..rows * COLS)
        .map(|i| ((i * 7919 % 2003) as f32 / 1001.0) - 1.0)
        .collect();
    let dense = Tensor::from_vec(values, (rows, COLS), &dev).expect("weights");
    for kind in BlockType::ALL {
        let q = Arc::new(QTensor::quantize(&dense, kind.ggml()).expect("quantize"));
        let bytes = q.storage_size_in_bytes() as f64;
        let ours = QuantWeight::new(q.clone()).expect("kernel");
        let theirs = QMatMul::from_arc(q).expect("qmatmul");
        let mut cells = Vec::new();
        for m in [1usize, 64] {
            let x: Vec<f32> = (0..m * COLS)
                .map(|i| ((i * 31 % 97) as f32 / 48.0) - 1.0)
                .collect();
            let xt = Tensor::from_vec(x.clone(), (m, COLS), &dev).expect("input");
            let repeats = if m == 1 { 40 } else { 4 };
            let ours_s = seconds(repeats, || {
                std::hint::black_box(matmul_shared(&x, COLS, &[&ours]));
            });
            let theirs_s = seconds(repeats, || {
                std::hint::black_box(theirs.forward(&xt).expect("forward"));
            });
            let work = if m == 1 {
                bytes
            } else {
                (m * rows * COLS) as f64
            };
            cells.push(format!(
                "{:>9.1} / {:<9.1}",
                work / ours_s / 1e9,
                work / theirs_s / 1e9
            ));
        }
        println!(
            "{:<6} {:>22} {:>22}",
            format!("{kind:?}"),
            cells[0],
            cells[1]
        );
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
