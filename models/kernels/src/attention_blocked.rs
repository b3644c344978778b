//! Causal grouped-query attention in blocks of query rows, for training: the forward and
//! backward passes of a step. (Inference stays on the row kernel: prefill and decode then sum
//! in the same order, so scoring a continuation in one chunk equals decoding it.)
//!
//! Each task takes a block of up to [`BLOCK`] query rows of one head and every key they see,
//! and does its work as a handful of matrix products (the `gemm` crate's kernels, one thread
//! per task, tasks on the kernels' pool), the schedule of flash attention 2 without its tiling
//! of the keys: at these lengths a block's scores fit in cache. Neither pass keeps a
//! `heads × t × t` matrix; the backward pass recomputes a block's probabilities from `q` and
//! `k`. For a block of rows `B` (scores `S`, probabilities `P`, output `Y`):
//!
//! ```text
//! forward    S = scale · Q_B Kᵀ   P = softmax(S + causal mask)   Y_B = P V
//! backward   dP = dY_B Vᵀ   D = rowsum(dY_B ⊙ Y_B)   dS = scale · P ⊙ (dP − D)
//!            dQ_B = dS K     dK += dSᵀ Q_B     dV += Pᵀ dY_B
//! ```
//!
//! In the backward pass a task takes a run of consecutive blocks of one head, in order, and
//! accumulates `dK` and `dV` in buffers of its own; the runs' buffers are summed in a fixed
//! order at the end. No two tasks write the same element, and the sums do not depend on which
//! thread ran what: the gradients are the same, bit for bit, from one run to the next (a
//! resumed training run repeats the uninterrupted one exactly).

use std::cell::RefCell;
use std::sync::Mutex;

use super::attention::{dot, AttentionShape};
use super::dense::{cols_of, product, product_raw, rows_of, rows_with};
use super::exp::exp_shifted_sum;
use super::pool::Pool;
use super::OutPtr;

/// Query rows per task.
const BLOCK: usize = 64;

/// The gradients of one attention call's inputs, in the layouts of the inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionGrads {
    /// `(heads, t, head_dim)`.
    pub dq: Vec<f32>,
    /// `(kv_heads, t, head_dim)`.
    pub dk: Vec<f32>,
    /// `(kv_heads, t, head_dim)`.
    pub dv: Vec<f32>,
}

/// The inputs of the backward pass: the forward's inputs, output and output gradient.
#[derive(Debug, Clone, Copy)]
pub struct AttentionGradInputs<'a> {
    /// Queries `(heads, t, head_dim)`.
    pub q: &'a [f32],
    /// Keys `(kv_heads, t, head_dim)`.
    pub k: &'a [f32],
    /// Values `(kv_heads, t, head_dim)`.
    pub v: &'a [f32],
    /// The forward's output `(t, heads · head_dim)`.
    pub y: &'a [f32],
    /// The gradient of the output, same layout.
    pub dy: &'a [f32],
}

/// A backward task's accumulated `(dk, dv)` for the keys its rows see, `(seen, head_dim)` each.
type KeyValueGrads = (Vec<f32>, Vec<f32>);

/// A block of query rows of one head.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Block {
    head: usize,
    /// First row and one past the last.
    rows: (usize, usize),
}

/// The blocks of a call, the largest (last rows: most keys) first, so the pool's dynamic claim
/// ends with the small ones.
fn blocks(heads: usize, t: usize) -> Vec<Block> {
    let per_head = t.div_ceil(BLOCK);
    (0..per_head)
        .rev()
        .flat_map(|b| {
            (0..heads).map(move |head| Block {
                head,
                rows: (b * BLOCK, ((b + 1) * BLOCK).min(t)),
            })
        })
        .collect()
}

/// Consecutive rows of one head, taken by one backward task in blocks of [`BLOCK`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    head: usize,
    rows: (usize, usize),
}

/// Runs per head: a fixed number, so the order of the sums, and so the gradients' last bits, do
/// not depend on the machine's thread count.
const RUNS_PER_HEAD: usize = 4;

/// Splits each head's blocks into [`RUNS_PER_HEAD`] runs of about equal causal work (a block of
/// rows ending at `r` costs about `r`); the largest first.
fn block_runs(heads: usize, t: usize) -> Vec<Run> {
    let per_head = RUNS_PER_HEAD.clamp(1, t.div_ceil(BLOCK).max(1));
    let mut runs = Vec::with_capacity(heads * per_head);
    for head in 0..heads {
        let mut begin = 0;
        for run in 1..=per_head {
            // Work up to row r grows as r², so equal shares end at t·√(run / runs), on a
            // block boundary.
            let share = (t as f64 * (run as f64 / per_head as f64).sqrt()) as usize;
            let end = if run == per_head {
                t
            } else {
                (share.div_ceil(BLOCK) * BLOCK).min(t)
            };
            if end > begin {
                runs.push(Run {
                    head,
                    rows: (begin, end),
                });
                begin = end;
            }
        }
    }
    runs.sort_by_key(|run| {
        std::cmp::Reverse((run.rows.1 - run.rows.0) * (run.rows.0 + run.rows.1))
    });
    runs
}

thread_local! {
    /// A task's score/probability block and its gradient, reused between tasks.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `softmax(q·kᵀ·scale + causal mask)·v` for `q` `(heads, t, head_dim)` against `k`/`v`
/// `(kv_heads, capacity, head_dim)` whose first `start + t` positions are filled; returns
/// `(t, heads · head_dim)`. The same values as
/// [`causal_attention`](super::attention::causal_attention), computed a block of rows at a time.
pub fn causal_attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: AttentionShape,
    scale: f32,
) -> Vec<f32> {
    let (d, t) = (s.head_dim, s.t);
    let group = s.heads / s.kv_heads;
    let mut out = vec![0f32; t * s.heads * d];
    let target = OutPtr(out.as_mut_ptr());
    let tasks = blocks(s.heads, t);
    Pool::global().run(tasks.len(), &|index| {
        let Block { head, rows } = tasks[index];
        let kv = head / group;
        let (m, n) = (rows.1 - rows.0, s.start + rows.1);
        let keys = &k[kv * s.capacity * d..];
        let values = &v[kv * s.capacity * d..];
        SCRATCH.with_borrow_mut(|(probs, _)| {
            let queries = &q[(head * t + rows.0) * d..];
            let scores = Scores { m, n, d, scale };
            scores.probabilities(probs, queries, keys, s.start + rows.0);
            // SAFETY: this block's rows of this head's columns are written by this task alone.
            unsafe {
                let y = target.at((rows.0 * s.heads + head) * d);
                product_raw(
                    m,
                    d,
                    n,
                    y,
                    s.heads * d,
                    false,
                    rows_of(probs, n),
                    rows_of(values, d),
                    1.0,
                );
            }
        });
    });
    out
}

/// Gradients of [`causal_attention_forward`] over a whole sequence (`shape.start` 0,
/// `shape.capacity` equal to `shape.t`).
pub fn causal_attention_backward(
    inputs: AttentionGradInputs<'_>,
    s: AttentionShape,
    scale: f32,
) -> AttentionGrads {
    assert!(
        s.start == 0 && s.capacity == s.t,
        "training attention covers the whole sequence"
    );
    let (d, t) = (s.head_dim, s.t);
    let group = s.heads / s.kv_heads;
    let pool = Pool::global();
    let runs = block_runs(s.heads, t);
    let mut dq = vec![0f32; s.heads * t * d];
    let dq_out = OutPtr(dq.as_mut_ptr());
    // Each run's (dk, dv) over the keys its last block sees.
    let partials: Vec<Mutex<KeyValueGrads>> = runs
        .iter()
        .map(|run| Mutex::new((vec![0f32; run.rows.1 * d], vec![0f32; run.rows.1 * d])))
        .collect();
    pool.run(runs.len(), &|index| {
        let run = runs[index];
        let mut partial = partials[index].lock().unwrap_or_else(|p| p.into_inner());
        let (dk, dv) = &mut *partial;
        let mut begin = run.rows.0;
        while begin < run.rows.1 {
            let block = Block {
                head: run.head,
                rows: (begin, (begin + BLOCK).min(run.rows.1)),
            };
            // SAFETY: the block's dq rows belong to this run alone.
            unsafe { block_backward(inputs, s, scale, block, dq_out, dk, dv) };
            begin = block.rows.1;
        }
    });
    let mut dk = vec![0f32; s.kv_heads * t * d];
    let mut dv = vec![0f32; s.kv_heads * t * d];
    for (run, partial) in runs.iter().zip(partials) {
        let (run_dk, run_dv) = partial.into_inner().unwrap_or_else(|p| p.into_inner());
        let at = run.head / group * t * d;
        add(&mut dk[at..at + run_dk.len()], &run_dk);
        add(&mut dv[at..at + run_dv.len()], &run_dv);
    }
    AttentionGrads { dq, dk, dv }
}

/// One block's share of the backward pass: its dq rows into `dq_out`, its contributions to the
/// keys and values of its head's KV head into `dk` and `dv` (`seen × head_dim`).
///
/// # Safety
/// No one else writes the block's rows of `dq_out` meanwhile.
unsafe fn block_backward(
    inputs: AttentionGradInputs<'_>,
    s: AttentionShape,
    scale: f32,
    Block { head, rows }: Block,
    dq_out: OutPtr,
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let (d, t) = (s.head_dim, s.t);
    let kv = head / (s.heads / s.kv_heads);
    let stride = s.heads * d;
    let (m, n) = (rows.1 - rows.0, rows.1);
    let (keys, values) = (&inputs.k[kv * t * d..], &inputs.v[kv * t * d..]);
    let queries = &inputs.q[(head * t + rows.0) * d..];
    let grad = &inputs.dy[(rows.0 * s.heads + head) * d..];
    let output = &inputs.y[(rows.0 * s.heads + head) * d..];
    SCRATCH.with_borrow_mut(|(probs, dprobs)| {
        Scores { m, n, d, scale }.probabilities(probs, queries, keys, rows.0);
        dprobs.resize(m * n, 0.0);
        // SAFETY (all products): the views stay inside their slices, and the outputs are
        // this task's own (its dq rows, its run's accumulators, its scratch).
        unsafe {
            product(
                m,
                n,
                d,
                dprobs,
                n,
                false,
                rows_with(grad, stride),
                cols_of(values, d),
                1.0,
            );
        }
        for (a, (p, dp)) in probs
            .chunks_exact(n)
            .zip(dprobs.chunks_exact_mut(n))
            .enumerate()
        {
            let along = dot(
                &grad[a * stride..a * stride + d],
                &output[a * stride..a * stride + d],
            );
            for (dp, &p) in dp.iter_mut().zip(p) {
                *dp = scale * p * (*dp - along);
            }
        }
        unsafe {
            let dq_rows = dq_out.at((head * t + rows.0) * d);
            product_raw(
                m,
                d,
                n,
                dq_rows,
                d,
                false,
                rows_of(dprobs, n),
                rows_of(keys, d),
                1.0,
            );
            let dk_rows = &mut *dk;
            product(
                n,
                d,
                m,
                dk_rows,
                d,
                true,
                cols_of(dprobs, n),
                rows_of(queries, d),
                1.0,
            );
            let dv_rows = &mut *dv;
            product(
                n,
                d,
                m,
                dv_rows,
                d,
                true,
                cols_of(probs, n),
                rows_with(grad, stride),
                1.0,
            );
        }
    });
}

/// The score block of `m` query rows against `n` keys of width `d`.
struct Scores {
    m: usize,
    n: usize,
    d: usize,
    scale: f32,
}

impl Scores {
    /// `probs` (`m × n`) = the causal soft-max of `scale · queries · keysᵀ`, the first query
    /// row at position `first` (it sees keys `0..=first`).
    fn probabilities(&self, probs: &mut Vec<f32>, queries: &[f32], keys: &[f32], first: usize) {
        let Self { m, n, d, scale } = *self;
        probs.resize(m * n, 0.0);
        // SAFETY: the views address `m × d` queries and `n × d` keys inside their slices.
        unsafe {
            product(
                m,
                n,
                d,
                probs,
                n,
                false,
                rows_of(queries, d),
                cols_of(keys, d),
                scale,
            );
        }
        for (a, row) in probs.chunks_exact_mut(n).enumerate() {
            softmax_prefix(row, first + a + 1);
        }
    }
}

/// Soft-max of `row[..valid]` in place; the masked rest becomes 0.
fn softmax_prefix(row: &mut [f32], valid: usize) {
    let (seen, masked) = row.split_at_mut(valid);
    let max = seen.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let total = exp_shifted_sum(seen, max);
    let inv = 1.0 / total;
    seen.iter_mut().for_each(|x| *x *= inv);
    masked.fill(0.0);
}

/// `out += x`.
fn add(out: &mut [f32], x: &[f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o += x;
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};

    use super::*;
    use crate::attention::causal_attention;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// Candle's autograd through matmul, causal mask and softmax: the reference gradients.
    fn reference(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        dy: &[f32],
        s: AttentionShape,
        scale: f32,
    ) -> AttentionGrads {
        let dev = Device::Cpu;
        let (d, t, group) = (s.head_dim, s.t, s.heads / s.kv_heads);
        let q = Var::from_vec(q.to_vec(), (s.heads, t, d), &dev).unwrap();
        let k = Var::from_vec(k.to_vec(), (s.kv_heads, t, d), &dev).unwrap();
        let v = Var::from_vec(v.to_vec(), (s.kv_heads, t, d), &dev).unwrap();
        let repeat = |x: &Tensor| {
            x.unsqueeze(1)
                .unwrap()
                .broadcast_as((s.kv_heads, group, t, d))
                .unwrap()
                .reshape((s.heads, t, d))
                .unwrap()
        };
        let (kr, vr) = (repeat(k.as_tensor()), repeat(v.as_tensor()));
        let scores = (q.as_tensor().matmul(&kr.t().unwrap()).unwrap() * scale as f64).unwrap();
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (t, t), &dev).unwrap();
        // The generic softmax: differentiable op by op (the fused one has no backward).
        let weights = candle_nn::ops::softmax(
            &scores.broadcast_add(&mask).unwrap(),
            candle_core::D::Minus1,
        )
        .unwrap();
        let y = weights.matmul(&vr).unwrap().transpose(0, 1).unwrap(); // (t, heads, d)
        let dy = Tensor::from_vec(dy.to_vec(), (t, s.heads, d), &dev).unwrap();
        let grads = (y * dy).unwrap().sum_all().unwrap().backward().unwrap();
        let flat = |var: &Var| {
            grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        AttentionGrads {
            dq: flat(&q),
            dk: flat(&k),
            dv: flat(&v),
        }
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    #[test]
    fn matches_autograd_through_masked_softmax() {
        for (heads, kv_heads, head_dim, t) in [
            (6, 2, 12, 7),
            (4, 4, 16, 1),
            (3, 1, 64, 33),
            (3, 1, 64, 150),
        ] {
            let s = AttentionShape {
                heads,
                kv_heads,
                head_dim,
                t,
                start: 0,
                capacity: t,
            };
            let q = values(heads * t * head_dim, 1);
            let k = values(kv_heads * t * head_dim, 2);
            let v = values(kv_heads * t * head_dim, 3);
            let dy = values(t * heads * head_dim, 4);
            let y = causal_attention_forward(&q, &k, &v, s, 0.3);
            let inputs = AttentionGradInputs {
                q: &q,
                k: &k,
                v: &v,
                y: &y,
                dy: &dy,
            };
            let ours = causal_attention_backward(inputs, s, 0.3);
            let theirs = reference(&q, &k, &v, &dy, s, 0.3);
            for (name, a, b) in [
                ("dq", &ours.dq, &theirs.dq),
                ("dk", &ours.dk, &theirs.dk),
                ("dv", &ours.dv, &theirs.dv),
            ] {
                let diff = max_diff(a, b);
                assert!(
                    diff < 1e-4,
                    "{heads}/{kv_heads} heads, t={t}: {name} max |Δ| {diff}"
                );
            }
        }
    }

    #[test]
    fn forward_equals_the_row_by_row_kernel_with_and_without_a_cache() {
        for (t, start, capacity) in [(70, 0, 70), (5, 0, 5), (3, 4, 64), (130, 10, 150)] {
            let s = AttentionShape {
                heads: 6,
                kv_heads: 2,
                head_dim: 12,
                t,
                start,
                capacity,
            };
            let q = values(s.heads * t * s.head_dim, 5);
            let k = values(s.kv_heads * capacity * s.head_dim, 6);
            let v = values(s.kv_heads * capacity * s.head_dim, 7);
            let blocked = causal_attention_forward(&q, &k, &v, s, 0.3);
            let rows = causal_attention(&q, &k, &v, s, 0.3);
            let diff = max_diff(&blocked, &rows);
            assert!(diff < 1e-5, "t={t} start={start}: max |Δ| {diff}");
        }
    }

    #[test]
    fn runs_cover_every_row_of_every_head_once_on_block_boundaries() {
        for (heads, t) in [(9, 512), (1, 5), (3, 1), (2, 130), (9, 1024)] {
            let runs = block_runs(heads, t);
            for head in 0..heads {
                let mut rows: Vec<_> = runs
                    .iter()
                    .filter(|r| r.head == head)
                    .map(|r| r.rows)
                    .collect();
                rows.sort();
                assert_eq!((rows.first().unwrap().0, rows.last().unwrap().1), (0, t));
                assert!(rows
                    .windows(2)
                    .all(|w| w[0].1 == w[1].0 && w[0].1 % BLOCK == 0));
            }
        }
    }

    /// The same inputs give the same gradients, bit for bit, however the pool ran the tasks.
    #[test]
    fn backward_is_deterministic() {
        let s = AttentionShape {
            heads: 6,
            kv_heads: 2,
            head_dim: 16,
            t: 300,
            start: 0,
            capacity: 300,
        };
        let q = values(s.heads * s.t * s.head_dim, 11);
        let k = values(s.kv_heads * s.t * s.head_dim, 12);
        let v = values(s.kv_heads * s.t * s.head_dim, 13);
        let dy = values(s.t * s.heads * s.head_dim, 14);
        let y = causal_attention_forward(&q, &k, &v, s, 0.2);
        let inputs = AttentionGradInputs {
            q: &q,
            k: &k,
            v: &v,
            y: &y,
            dy: &dy,
        };
        let first = causal_attention_backward(inputs, s, 0.2);
        for _ in 0..5 {
            assert_eq!(causal_attention_backward(inputs, s, 0.2), first);
        }
    }

    #[test]
    fn blocks_cover_every_row_of_every_head_once_largest_first() {
        for (heads, t) in [(9, 512), (1, 5), (3, 1), (2, 130)] {
            let tasks = blocks(heads, t);
            for head in 0..heads {
                let mut rows: Vec<_> = tasks
                    .iter()
                    .filter(|b| b.head == head)
                    .map(|b| b.rows)
                    .collect();
                rows.sort();
                assert_eq!(rows.first().unwrap().0, 0);
                assert_eq!(rows.last().unwrap().1, t);
                assert!(rows.windows(2).all(|w| w[0].1 == w[1].0));
            }
            assert!(tasks.windows(2).all(|w| w[0].rows.1 >= w[1].rows.1));
        }
    }
}
