//! The backward pass of causal grouped-query attention, for training.
//!
//! The forward pass of a training step is [`causal_attention`](super::attention::causal_attention)
//! over the whole sequence (no cache: `start` 0, `capacity` t). Its backward recomputes each
//! query row's probabilities from `q` and `k` (as flash attention does) instead of keeping a
//! `heads × t × t` matrix, so neither pass allocates anything that grows with the square of the
//! length. For each query row `i` of head `h`:
//!
//! ```text
//! p_j  = softmax_j(q_i · k_j · scale)          j ≤ i
//! D    = dy_i · y_i
//! ds_j = p_j (dy_i · v_j − D)
//! dq_i = scale Σ_j ds_j k_j     dk_j += scale ds_j q_i     dv_j += p_j dy_i
//! ```
//!
//! Query rows run in parallel on the kernels' pool: each task takes a run of rows of one head
//! (runs of about equal causal work) with its own `dk`/`dv` accumulators, summed per key/value
//! head at the end, so no two tasks write the same element.

use std::sync::OnceLock;

use super::attention::AttentionShape;
use super::pool::Pool;
use super::OutPtr;

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

/// A run of query rows of one head, with its own key/value gradient accumulators.
#[derive(Debug, Clone, Copy)]
struct Task {
    head: usize,
    rows: (usize, usize),
}

/// Gradients of `causal_attention(q, k, v, shape, scale)` over a whole sequence
/// (`shape.start` 0, `shape.capacity` equal to `shape.t`).
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
    let tasks = row_runs(s.heads, t, pool.threads());
    let mut dq = vec![0f32; s.heads * t * d];
    // Each task's dk and dv cover the keys its last row sees: rows 0..end.
    let mut partials: Vec<Vec<f32>> = tasks
        .iter()
        .map(|task| vec![0f32; 2 * task.rows.1 * d])
        .collect();
    let dq_out = OutPtr(dq.as_mut_ptr());
    let partial_out: Vec<OutPtr> = partials
        .iter_mut()
        .map(|p| OutPtr(p.as_mut_ptr()))
        .collect();
    pool.run(tasks.len(), &|index| {
        let task = tasks[index];
        let seen = task.rows.1 * d;
        // SAFETY: a task writes the dq rows of its own run and its own accumulators only.
        let (dk_part, dv_part) = unsafe {
            (
                std::slice::from_raw_parts_mut(partial_out[index].at(0), seen),
                std::slice::from_raw_parts_mut(partial_out[index].at(seen), seen),
            )
        };
        let kv = task.head / group;
        let keys = &inputs.k[kv * t * d..(kv * t + task.rows.1) * d];
        let values = &inputs.v[kv * t * d..(kv * t + task.rows.1) * d];
        for i in task.rows.0..task.rows.1 {
            let q_at = (task.head * t + i) * d;
            let y_at = (i * s.heads + task.head) * d;
            // SAFETY: row `i` of head `task.head` belongs to this task alone.
            let dq_row = unsafe { std::slice::from_raw_parts_mut(dq_out.at(q_at), d) };
            let row = Row {
                query: &inputs.q[q_at..q_at + d],
                output: &inputs.y[y_at..y_at + d],
                grad: &inputs.dy[y_at..y_at + d],
                keys: &keys[..(i + 1) * d],
                values: &values[..(i + 1) * d],
            };
            row_backward(row, scale, dq_row, dk_part, dv_part);
        }
    });
    let mut dk = vec![0f32; s.kv_heads * t * d];
    let mut dv = vec![0f32; s.kv_heads * t * d];
    for (task, partial) in tasks.iter().zip(&partials) {
        let kv = task.head / group;
        let seen = task.rows.1 * d;
        let (dk_part, dv_part) = partial.split_at(seen);
        add(&mut dk[kv * t * d..kv * t * d + seen], dk_part);
        add(&mut dv[kv * t * d..kv * t * d + seen], dv_part);
    }
    AttentionGrads { dq, dk, dv }
}

/// Splits each head's `t` rows into runs of about equal causal work (row `i` costs `i + 1`),
/// enough of them to keep `threads` busy.
fn row_runs(heads: usize, t: usize, threads: usize) -> Vec<Task> {
    let per_head = (4 * threads).div_ceil(heads).clamp(1, t.max(1));
    let mut tasks = Vec::with_capacity(heads * per_head);
    for head in 0..heads {
        let mut begin = 0;
        for run in 1..=per_head {
            // Work up to row r grows as r², so equal shares end at t·√(run / runs).
            let end = if run == per_head {
                t
            } else {
                ((t as f64) * (run as f64 / per_head as f64).sqrt()).round() as usize
            };
            if end > begin {
                tasks.push(Task {
                    head,
                    rows: (begin, end),
                });
                begin = end;
            }
        }
    }
    tasks
}

/// One query row's forward values and output gradient, with the keys and values it sees.
#[derive(Clone, Copy)]
struct Row<'a> {
    query: &'a [f32],
    output: &'a [f32],
    grad: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
}

fn row_backward(row: Row<'_>, scale: f32, dq: &mut [f32], dk: &mut [f32], dv: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU has the features each variant is compiled for.
        Simd::Avx512 => return unsafe { row_backward_avx512(row, scale, dq, dk, dv) },
        Simd::Avx2 => return unsafe { row_backward_avx2(row, scale, dq, dk, dv) },
        Simd::None => {}
    }
    row_backward_body(row, scale, dq, dk, dv)
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Simd {
    Avx512,
    Avx2,
    None,
}

#[cfg(target_arch = "x86_64")]
fn simd_level() -> Simd {
    static LEVEL: OnceLock<Simd> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if is_x86_feature_detected!("avx512f") {
            Simd::Avx512
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Simd::Avx2
        } else {
            Simd::None
        }
    })
}

/// [`row_backward_body`] compiled for AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn row_backward_avx512(
    row: Row<'_>,
    scale: f32,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    row_backward_body(row, scale, dq, dk, dv)
}

/// [`row_backward_body`] compiled for AVX2 + FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_backward_avx2(
    row: Row<'_>,
    scale: f32,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    row_backward_body(row, scale, dq, dk, dv)
}

#[inline(always)]
fn row_backward_body(row: Row<'_>, scale: f32, dq: &mut [f32], dk: &mut [f32], dv: &mut [f32]) {
    let d = row.query.len();
    thread_local! {
        static PROBS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    PROBS.with_borrow_mut(|probs| {
        probs.clear();
        probs.extend(
            row.keys
                .chunks_exact(d)
                .map(|key| dot(row.query, key) * scale),
        );
        let max = probs.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut total = 0.0;
        for p in probs.iter_mut() {
            *p = (*p - max).exp();
            total += *p;
        }
        let inv = 1.0 / total;
        let along = dot(row.grad, row.output);
        for (j, &p) in probs.iter().enumerate() {
            let p = p * inv;
            let (key, value) = (
                &row.keys[j * d..(j + 1) * d],
                &row.values[j * d..(j + 1) * d],
            );
            let ds = scale * p * (dot(row.grad, value) - along);
            axpy(dq, ds, key);
            axpy(&mut dk[j * d..(j + 1) * d], ds, row.query);
            axpy(&mut dv[j * d..(j + 1) * d], p, row.grad);
        }
    });
}

/// `out += a · x`.
#[inline(always)]
fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o += a * x;
    }
}

/// `out += x`.
fn add(out: &mut [f32], x: &[f32]) {
    axpy(out, 1.0, x)
}

/// `Σ a·b` with sixteen independent lanes (so it vectorizes without reassociation).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = a16
        .remainder()
        .iter()
        .zip(b16.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a16.zip(b16) {
        for l in 0..16 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
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
        for (heads, kv_heads, head_dim, t) in [(6, 2, 12, 7), (4, 4, 16, 1), (3, 1, 64, 33)] {
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
            let y = causal_attention(&q, &k, &v, s, 0.3);
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
    fn runs_cover_every_row_once_with_balanced_work() {
        for (heads, t, threads) in [(9, 512, 2), (1, 5, 8), (3, 1, 2), (32, 1024, 16)] {
            let tasks = row_runs(heads, t, threads);
            for head in 0..heads {
                let runs: Vec<_> = tasks.iter().filter(|r| r.head == head).collect();
                assert_eq!(runs.first().unwrap().rows.0, 0);
                assert_eq!(runs.last().unwrap().rows.1, t);
                assert!(runs.windows(2).all(|w| w[0].rows.1 == w[1].rows.0));
            }
            let work = |r: &Task| (r.rows.0..r.rows.1).map(|i| i + 1).sum::<usize>();
            let most = tasks.iter().map(work).max().unwrap();
            let total: usize = tasks.iter().map(work).sum();
            // No run holds more than twice its fair share (or the single row it cannot split).
            assert!(
                most <= (2 * total / tasks.len()).max(t),
                "{heads} heads, t={t}: {most} of {total}"
            );
        }
    }
}
