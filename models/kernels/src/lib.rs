//! Quantized matrix multiplication on the CPU: the project's own kernels for the block types
//! model files carry (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K).
//!
//! A layer input is quantized to 8 bits once ([`activation`]) and reused by every projection
//! that reads it (q/k/v, gate/up: [`matmul_shared`]). Products run in tiles: in decode an input
//! block is loaded once for four weight rows; in prefill a tile of weight rows is unpacked once
//! for a tile of tokens. On AVX2 whole tiles take eight weight rows at once, one per vector
//! lane, and on AVX-512 sixteen (`lanes`), so scales and sums work on a tile of rows per
//! instruction: the 32-element types transpose each block of the rows as they read it, the K
//! types are repacked once into a panel (`panel`, `panel16`). Decode does the same for the
//! 32-element types whose decode is bound by unpacking rather than by memory. The rows of all
//! the projections are split into chunks of about equal size and run on the kernels' thread
//! pool ([`pool`], sized by `--threads`), one dispatch per layer input. The instruction set is
//! chosen at run time ([`Isa`]): AVX-512 (F + BW + VL, with VNNI's `vpdpbusd` where present),
//! else AVX2 + FMA + F16C on x86-64, else a portable kernel (including aarch64, where candle's
//! own NEON kernels are the faster path: see [`Kernels::enabled`]).
//!
//! The training pass's CPU work lives here too: dense f32 products on the same pool
//! ([`dense`]), blocked causal attention forward and backward ([`attention_blocked`]), RMS norm
//! ([`norm`]), rotary embedding ([`rotary`]), SwiGLU ([`swiglu`]) and the head's loss
//! ([`nll`]), each with its gradient.
//!
//! Above `citrus-host` (for huge pages); it must never import the model formats, the engine or
//! anything above them: the kernels know block types and tensors, not models.

pub mod activation;
pub mod attention;
pub mod attention_blocked;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod blocks;
pub mod dense;
mod dequantize;
mod exp;
mod isa;
#[cfg(target_arch = "x86_64")]
mod lanes;
pub mod nll;
pub mod norm;
#[cfg(target_arch = "x86_64")]
mod panel;
#[cfg(target_arch = "x86_64")]
mod panel16;
pub mod pool;
mod portable;
mod quantize;
pub mod rotary;
pub mod swiglu;

use std::sync::{Arc, OnceLock};

use candle_core::quantized::QTensor;

use activation::{Q8KRows, Q8Rows};
pub use blocks::BlockType;
use citrus_host::memory::back_with_huge_pages;
pub use isa::Isa;
use pool::Pool;

/// Whether linear layers use these kernels (on by default on x86-64; `CITRUS_KERNELS=candle`
/// switches to candle's quantized matmul, e.g. to compare).
pub struct Kernels;

impl Kernels {
    /// Whether the project's kernels are used for quantized weights on the CPU.
    pub fn enabled() -> bool {
        static ENABLED: OnceLock<bool> = OnceLock::new();
        *ENABLED.get_or_init(|| {
            let choice = std::env::var("CITRUS_KERNELS").unwrap_or_default();
            match choice.as_str() {
                "candle" => false,
                "citrus" => true,
                _ => Isa::detect() != Isa::Portable,
            }
        })
    }
}

/// A quantized weight matrix `(rows, cols)` the kernels can multiply.
#[derive(Debug, Clone)]
pub struct QuantWeight {
    kind: BlockType,
    rows: usize,
    cols: usize,
    tensor: Arc<QTensor>,
}

impl QuantWeight {
    /// The kernel view of `tensor` when it is a 2-D CPU tensor of a type with a kernel. Its
    /// bytes, read once per token, move to huge pages ([`back_with_huge_pages`]).
    pub fn new(tensor: Arc<QTensor>) -> Option<Self> {
        let kind = BlockType::from_ggml(tensor.dtype())?;
        let &[rows, cols] = tensor.shape().dims() else {
            return None;
        };
        if !tensor.device().is_cpu() || !cols.is_multiple_of(kind.block_elements()) {
            return None;
        }
        if let Ok(bytes) = tensor.data() {
            back_with_huge_pages(&bytes);
        }
        Some(Self {
            kind,
            rows,
            cols,
            tensor,
        })
    }

    /// Output width.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The block type.
    pub fn kind(&self) -> BlockType {
        self.kind
    }

    fn row_bytes(&self) -> usize {
        self.cols / self.kind.block_elements() * self.kind.block_bytes()
    }
}

/// An input quantized for the kernels: each layout computed once, when a weight needs it.
pub struct QuantizedInput<'a> {
    x: &'a [f32],
    k: usize,
    q8: OnceLock<Q8Rows>,
    q8k: OnceLock<Q8KRows>,
}

impl<'a> QuantizedInput<'a> {
    /// `x` holds `x.len() / k` rows of `k` values.
    pub fn new(x: &'a [f32], k: usize) -> Self {
        Self {
            x,
            k,
            q8: OnceLock::new(),
            q8k: OnceLock::new(),
        }
    }

    /// Rows of input.
    pub fn rows(&self) -> usize {
        self.x.len() / self.k
    }

    pub(crate) fn q8(&self) -> &Q8Rows {
        self.q8.get_or_init(|| Q8Rows::quantize(self.x, self.k))
    }

    pub(crate) fn q8k(&self) -> &Q8KRows {
        self.q8k.get_or_init(|| Q8KRows::quantize(self.x, self.k))
    }
}

/// `x · Wᵀ` for each of `weights` (all `k` columns wide): one output `(m, rows)` per weight,
/// row-major, where `x` holds `m` rows of `k`.
///
/// # Panics
/// When a weight's width is not `k` (a caller's bug: shapes are checked at load).
pub fn matmul_shared(x: &[f32], k: usize, weights: &[&QuantWeight]) -> Vec<Vec<f32>> {
    matmul_with(Isa::detect(), x, k, weights)
}

/// [`matmul_shared`] with the kernels of `isa`, or of the best instruction set this CPU has
/// when it lacks `isa` (benchmarks compare the paths with it).
pub fn matmul_with(isa: Isa, x: &[f32], k: usize, weights: &[&QuantWeight]) -> Vec<Vec<f32>> {
    let isa = isa.min(Isa::best_supported());
    let input = QuantizedInput::new(x, k);
    let m = input.rows();
    assert!(
        weights.iter().all(|w| w.cols == k),
        "weight width is not {k}"
    );
    if weights.iter().any(|w| !w.kind.is_k_quant()) {
        input.q8();
    }
    if weights.iter().any(|w| w.kind.is_k_quant()) {
        input.q8k();
    }
    let mut outputs: Vec<Vec<f32>> = weights.iter().map(|w| vec![0.0; m * w.rows]).collect();
    let tasks = split_rows(weights, m);
    let targets: Vec<OutPtr> = outputs.iter_mut().map(|o| OutPtr(o.as_mut_ptr())).collect();
    let run = |task: &Task| {
        let weight = weights[task.weight];
        let data = weight
            .tensor
            .data()
            .expect("CPU tensors expose their bytes");
        // SAFETY: tasks cover disjoint weight rows, so each writes its own output columns.
        unsafe { multiply_rows(isa, weight, &data, &input, task, targets[task.weight]) };
    };
    Pool::global().run(tasks.len(), &|i| run(&tasks[i]));
    outputs
}

/// An output buffer shared by the tasks that write disjoint parts of it.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: every task writes a disjoint set of elements (its weight rows).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The element at `offset` (a method, so closures capture the whole `Send` wrapper).
    ///
    /// # Safety
    /// `offset` is inside the buffer.
    pub(crate) unsafe fn at(self, offset: usize) -> *mut f32 {
        self.0.add(offset)
    }
}

/// A chunk of one weight's rows.
struct Task {
    weight: usize,
    rows: std::ops::Range<usize>,
}

/// Below this many multiply-adds a product runs on one thread (a dispatch costs more).
const PARALLEL_THRESHOLD: usize = 1 << 16;

/// Splits the weights' rows into chunks of about equal work: a few per thread, so a thread
/// slowed by other work on its core is balanced by the others.
fn split_rows(weights: &[&QuantWeight], m: usize) -> Vec<Task> {
    let total_rows: usize = weights.iter().map(|w| w.rows).sum();
    let work = total_rows * m * weights.first().map_or(0, |w| w.cols);
    let threads = Pool::global().threads();
    let chunks = if work < PARALLEL_THRESHOLD || threads == 1 {
        weights.len()
    } else {
        threads * 4
    };
    // Whole tiles of sixteen rows (the widest prefill kernels' width).
    let chunk_rows = total_rows.div_ceil(chunks).next_multiple_of(16);
    weights
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            (0..w.rows).step_by(chunk_rows).map(move |start| Task {
                weight: i,
                rows: start..(start + chunk_rows).min(w.rows),
            })
        })
        .collect()
}

/// Rows `task.rows` of `weight` times every input row, written to `out` `(m, weight.rows)`.
/// On AVX2 whole groups of eight rows go to [`rows8`] (in decode, only for the types of
/// [`decodes_by_eight_rows`]). The rest: with fewer than [`TILE`] input rows (decode) an input
/// block is loaded once per [`TILE`] weight rows; with more (prefill) weight blocks are
/// unpacked once per tile of input rows.
///
/// # Safety
/// `out` points to `m · weight.rows` floats that no other task writes in these columns.
unsafe fn multiply_rows(
    isa: Isa,
    weight: &QuantWeight,
    data: &[u8],
    input: &QuantizedInput,
    task: &Task,
    out: OutPtr,
) {
    let rows = WeightRows {
        weight,
        data,
        row_bytes: weight.row_bytes(),
    };
    let decode = input.rows() < TILE;
    let mut rest = task.rows.clone();
    #[cfg(target_arch = "x86_64")]
    for lanes in [lanes::SIXTEEN, lanes::EIGHT] {
        if lanes.runs_on(isa) && (!decode || lanes.decodes(weight.kind)) {
            rest.start = lanes::tiles(lanes, isa, &rows, input, rest.clone(), out);
        }
    }
    if decode {
        decode_tiles(isa, &rows, input, rest, out);
    } else {
        prefill_tiles(isa, &rows, input, rest, out);
    }
}

/// A weight's rows, as bytes.
pub(crate) struct WeightRows<'a> {
    pub(crate) weight: &'a QuantWeight,
    data: &'a [u8],
    row_bytes: usize,
}

impl WeightRows<'_> {
    /// Row `j`'s blocks.
    pub(crate) fn row(&self, j: usize) -> &[u8] {
        &self.data[j * self.row_bytes..(j + 1) * self.row_bytes]
    }
}

/// Decode: [`TILE`] weight rows per loaded input block (one row at a time for Q6_K, which
/// unpacks into more registers than AVX2 has for four).
fn decode_tiles(
    isa: Isa,
    rows: &WeightRows,
    input: &QuantizedInput,
    range: std::ops::Range<usize>,
    out: OutPtr,
) {
    let (kind, n) = (rows.weight.kind, rows.weight.rows);
    // SAFETY (of the writes): the caller owns these output columns.
    let write = |j: usize, r: usize, value: f32| unsafe { *out.at(r * n + j) = value };
    let mut tile = [0f32; TILE];
    let mut j = range.start;
    while j < range.end {
        let wide = range.end - j >= TILE && kind != BlockType::Q6K;
        for r in 0..input.rows() {
            if wide {
                let tile_rows = std::array::from_fn(|i| rows.row(j + i));
                dot_tile::<TILE, 1>(isa, kind, tile_rows, input, r, &mut tile);
                (0..TILE).for_each(|i| write(j + i, r, tile[i]));
            } else {
                dot_tile::<1, 1>(isa, kind, [rows.row(j)], input, r, &mut tile);
                write(j, r, tile[0]);
            }
        }
        j += if wide { TILE } else { 1 };
    }
}

/// Prefill: two weight rows by [`TILE`] input rows (eight accumulators, within AVX2's
/// registers), then the remaining input rows one by one.
fn prefill_tiles(
    isa: Isa,
    rows: &WeightRows,
    input: &QuantizedInput,
    range: std::ops::Range<usize>,
    out: OutPtr,
) {
    let (kind, n, m) = (rows.weight.kind, rows.weight.rows, input.rows());
    // SAFETY (of the writes): the caller owns these output columns.
    let write = |j: usize, r: usize, value: f32| unsafe { *out.at(r * n + j) = value };
    let mut j = range.start;
    while j < range.end {
        let pair = range.end - j >= 2 && kind != BlockType::Q6K;
        let mut r = 0;
        while r + TILE <= m {
            if pair {
                let mut tile = [0f32; 2 * TILE];
                let tile_rows = [rows.row(j), rows.row(j + 1)];
                dot_tile::<2, TILE>(isa, kind, tile_rows, input, r, &mut tile);
                (0..TILE).for_each(|i| write(j, r + i, tile[i]));
                (0..TILE).for_each(|i| write(j + 1, r + i, tile[TILE + i]));
            } else {
                let mut tile = [0f32; TILE];
                dot_tile::<1, TILE>(isa, kind, [rows.row(j)], input, r, &mut tile);
                (0..TILE).for_each(|i| write(j, r + i, tile[i]));
            }
            r += TILE;
        }
        for j in j..j + if pair { 2 } else { 1 } {
            for r in r..m {
                let mut tile = [0f32; 1];
                dot_tile::<1, 1>(isa, kind, [rows.row(j)], input, r, &mut tile);
                write(j, r, tile[0]);
            }
        }
        j += if pair { 2 } else { 1 };
    }
}

/// Weight rows or input rows per tile.
pub(crate) const TILE: usize = 4;

/// Dots of the `W` weight rows `w` with input rows `r0..r0+R`: `out[i·R + r]`.
#[inline]
fn dot_tile<const W: usize, const R: usize>(
    isa: Isa,
    kind: BlockType,
    w: [&[u8]; W],
    input: &QuantizedInput,
    r0: usize,
    out: &mut [f32],
) {
    match (isa, kind) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` and above are only detected on CPUs with AVX2, FMA and F16C; the rows and
        // the input have the widths checked in `matmul_with`.
        (isa, BlockType::Q4K) if isa.has_avx2() => unsafe {
            avx2::dot_q4k::<W, R>(w, input.q8k(), r0, out)
        },
        #[cfg(target_arch = "x86_64")]
        (isa, BlockType::Q6K) if isa.has_avx2() => unsafe {
            avx2::dot_q6k::<W, R>(w, input.q8k(), r0, out)
        },
        #[cfg(target_arch = "x86_64")]
        (isa, _) if isa.has_avx2() => unsafe { avx2::dot_32::<W, R>(kind, w, input.q8(), r0, out) },
        (_, BlockType::Q4K) => portable::dot_q4k::<W, R>(w, input.q8k(), r0, out),
        (_, BlockType::Q6K) => portable::dot_q6k::<W, R>(w, input.q8k(), r0, out),
        _ => portable::dot_32::<W, R>(kind, w, input.q8(), r0, out),
    }
}

#[cfg(test)]
mod tests;
