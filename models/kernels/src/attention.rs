//! Causal grouped-query attention on the CPU, reading the KV cache in place.
//!
//! For each query head and query position the scores over the visible cached positions are
//! computed, soft-maxed and used to sum the values in one pass, with one scratch row per task:
//! no score matrix, no mask tensor and no copy of the cache, whatever the depth. Query rows run
//! in parallel on the kernels' thread pool.

use std::sync::OnceLock;

use super::pool::Pool;
use super::OutPtr;

/// The shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (each shared by `heads / kv_heads` query heads).
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// New query positions.
    pub t: usize,
    /// Cached positions before them (the first query is at position `start`).
    pub start: usize,
    /// Positions each key/value head's buffer holds (its stride).
    pub capacity: usize,
}

/// `softmax(q·kᵀ·scale + causal mask)·v` for `q` `(heads, t, head_dim)` against `k`/`v`
/// `(kv_heads, capacity, head_dim)` whose first `start + t` positions are filled; returns
/// `(t, heads · head_dim)`, the layout the output projection reads.
pub fn causal_attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: AttentionShape,
    scale: f32,
) -> Vec<f32> {
    let (d, t) = (s.head_dim, s.t);
    let group = s.heads / s.kv_heads;
    let mut out = vec![0f32; t * s.heads * d];
    let row = |index: usize, out: &mut [f32]| {
        let (i, h) = (index / s.heads, index % s.heads);
        let kv = h / group;
        let visible = s.start + i + 1;
        let query = &q[(h * t + i) * d..(h * t + i + 1) * d];
        let keys = &k[kv * s.capacity * d..(kv * s.capacity + visible) * d];
        let values = &v[kv * s.capacity * d..(kv * s.capacity + visible) * d];
        attend_row(query, keys, values, scale, out);
    };
    let rows = t * s.heads;
    let pool = Pool::global();
    let tasks = if (s.start + t) * rows * d > 1 << 15 {
        rows.min(pool.threads() * 4)
    } else {
        1
    };
    let per_task = rows.div_ceil(tasks);
    let target = OutPtr(out.as_mut_ptr());
    pool.run(tasks, &|task| {
        for index in task * per_task..((task + 1) * per_task).min(rows) {
            // SAFETY: each task writes its own rows of `out`, which outlives the job.
            let o = unsafe { std::slice::from_raw_parts_mut(target.at(index * d), d) };
            row(index, o);
        }
    });
    out
}

/// One query row against `keys`/`values` (`n × d` each), written to `out` (`d`).
fn attend_row(query: &[f32], keys: &[f32], values: &[f32], scale: f32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { attend_row_avx2(query, keys, values, scale, out) };
    }
    attend_row_body(query, keys, values, scale, out)
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    static YES: OnceLock<bool> = OnceLock::new();
    *YES.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// [`attend_row_body`] compiled for AVX2 + FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_row_avx2(
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    scale: f32,
    out: &mut [f32],
) {
    attend_row_body(query, keys, values, scale, out)
}

#[inline(always)]
fn attend_row_body(query: &[f32], keys: &[f32], values: &[f32], scale: f32, out: &mut [f32]) {
    let d = query.len();
    let n = keys.len() / d;
    thread_local! {
        static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCORES.with_borrow_mut(|scores| {
        scores.clear();
        scores.extend(keys.chunks_exact(d).map(|key| dot(query, key) * scale));
        let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut total = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            total += *s;
        }
        out.fill(0.0);
        for (p, value) in scores.iter().zip(values.chunks_exact(d)) {
            for (o, &x) in out.iter_mut().zip(value) {
                *o += p * x;
            }
        }
        let inv = 1.0 / total;
        out.iter_mut().for_each(|o| *o *= inv);
        debug_assert_eq!(scores.len(), n);
    });
}

/// `Σ a·b` with eight independent lanes (so it vectorizes without reassociation).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// The reference: candle's matmul, mask and softmax, as the transformer computed it.
    fn reference(q: &[f32], k: &[f32], v: &[f32], s: AttentionShape, scale: f32) -> Vec<f32> {
        let dev = Device::Cpu;
        let (d, t, n) = (s.head_dim, s.t, s.start + s.t);
        let q = Tensor::from_vec(q.to_vec(), (s.heads, t, d), &dev).unwrap();
        let kv = |x: &[f32]| {
            Tensor::from_vec(x.to_vec(), (s.kv_heads, s.capacity, d), &dev)
                .unwrap()
                .narrow(1, 0, n)
                .unwrap()
                .repeat_interleave_heads(s.heads / s.kv_heads)
        };
        let (k, v) = (kv(k), kv(v));
        let scores = (q.matmul(&k.t().unwrap()).unwrap() * scale as f64).unwrap();
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| {
                (0..n).map(move |j| {
                    if j > s.start + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let mask = Tensor::from_vec(mask, (t, n), &dev).unwrap();
        let weights =
            candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&mask).unwrap()).unwrap();
        let y = weights.matmul(&v).unwrap(); // (heads, t, d)
        y.transpose(0, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    }

    trait RepeatHeads {
        fn repeat_interleave_heads(self, group: usize) -> Tensor;
    }

    impl RepeatHeads for Tensor {
        fn repeat_interleave_heads(self, group: usize) -> Tensor {
            let (h, n, d) = self.dims3().unwrap();
            self.unsqueeze(1)
                .unwrap()
                .broadcast_as((h, group, n, d))
                .unwrap()
                .reshape((h * group, n, d))
                .unwrap()
        }
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn matches_masked_softmax_attention_in_prefill_and_decode() {
        for (t, start) in [(5, 0), (3, 4), (1, 40)] {
            let s = AttentionShape {
                heads: 6,
                kv_heads: 2,
                head_dim: 12,
                t,
                start,
                capacity: 64,
            };
            let q = values(s.heads * t * s.head_dim, 1);
            let k = values(s.kv_heads * s.capacity * s.head_dim, 2);
            let v = values(s.kv_heads * s.capacity * s.head_dim, 3);
            let ours = causal_attention(&q, &k, &v, s, 0.3);
            let theirs = reference(&q, &k, &v, s, 0.3);
            let diff = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "t={t} start={start}: max |Δ| {diff}");
        }
    }
}
