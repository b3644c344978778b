//! One transformer block of a training pass on the CPU, forward and backward, without candle's
//! graph.
//!
//! The block is `x₂ = x + o(attention(rope(q(n₁(x))), rope(k(n₁(x))), v(n₁(x))))`, then
//! `out = x₂ + down(silu(gate(n₂(x₂))) ⊙ up(n₂(x₂)))`, every projection frozen with an optional
//! LoRA delta `scale · B·A·dropout(·)`. Its gradient is written out by hand, each step one pass
//! or one matrix product on the kernels' pool:
//!
//! ```text
//! projection   y = x·Wᵀ + s·(x̃·Aᵀ)·Bᵀ        x̃ = x ⊙ mask, ℓ = x̃·Aᵀ
//!   backward   dx = dy·W + ((s·dy·B)·A) ⊙ mask    dB = s·dyᵀ·ℓ    dA = (s·dy·B)ᵀ·x̃
//! rms norm     see citrus_kernels::norm           rope: the rotation by −sin
//! attention    see citrus_kernels::attention_blocked   swiglu: citrus_kernels::swiglu
//! ```
//!
//! As a candle graph the same block is some sixty nodes, and its backward pass gives each
//! node's inputs a zero-filled gradient buffer and a full-size add, copies each custom node's
//! output, and runs most element-wise work on one thread: about half a step's time at 512
//! tokens went there, besides the products. Here the products write where their result is
//! needed (residuals accumulate in place) and nothing is kept but what the backward pass reads.
//! The values are those of the graph ([`crate::transformer::Transformer::forward_train`]),
//! which stays the reference and the path on other devices.

use std::collections::HashMap;

use candle_core::{Result, Tensor, TensorId};
use citrus_kernels::attention::AttentionShape;
use citrus_kernels::attention_blocked::{
    causal_attention_backward, causal_attention_forward, AttentionGradInputs,
};
use citrus_kernels::dense::{matmul, Operand};
use citrus_kernels::norm::{rms_norm, rms_norm_backward};
use citrus_kernels::rotary::{rotate, Direction, Heads, Rotation};
use citrus_kernels::swiglu::{swiglu, swiglu_backward};

use crate::cpu_view::cpu_slice;
use crate::lora::{Linear, LoraDelta, LoraDropout, LoraTarget};

/// The gradients one segment of a checkpointed backward pass gives, looked up by tensor:
/// candle's store for a segment run as a graph, or the ones this module computed.
pub enum SegmentGrads<'a> {
    /// A graph's backward pass.
    Graph(&'a candle_core::backprop::GradStore),
    /// Computed by hand, by tensor id.
    Computed(&'a HashMap<TensorId, Tensor>),
}

impl SegmentGrads<'_> {
    /// The gradient of `tensor`, if the segment gave one.
    pub fn get(&self, tensor: &Tensor) -> Option<&Tensor> {
        match self {
            Self::Graph(store) => store.get(tensor),
            Self::Computed(map) => map.get(&tensor.id()),
        }
    }
}

/// An RMS norm's weight and ε.
pub(crate) struct Norm {
    pub weight: Vec<f32>,
    pub eps: f32,
}

/// A block's weights and shape, as this module reads them.
pub(crate) struct BlockParts<'a> {
    pub attn_norm: Norm,
    pub ffn_norm: Norm,
    /// q, k, v, o, gate, up, down: the order of [`LoraTarget::ALL`].
    pub projections: [&'a Linear; 7],
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl BlockParts<'_> {
    /// `(heads, head_dim)` of the queries.
    fn q_heads(&self) -> (usize, usize) {
        (self.heads, self.head_dim)
    }

    /// `(kv_heads, head_dim)` of the keys and values.
    fn kv_heads(&self) -> (usize, usize) {
        (self.kv_heads, self.head_dim)
    }
}

/// The rotary tables of positions `0..t`: `cos`, `sin`, `−sin`, `(t, head_dim / 2)` each.
pub(crate) struct RotaryTables {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub neg_sin: Vec<f32>,
    pub interleaved: bool,
}

/// The shape of a pass: `batch` sequences of `t` positions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    pub batch: usize,
    pub t: usize,
}

impl Dims {
    fn rows(self) -> usize {
        self.batch * self.t
    }
}

/// What a projection's backward pass reads of its LoRA delta's forward.
struct DeltaSaved {
    /// The dropout mask, and the input through it (`x̃`); None without dropout (`x̃ = x`).
    dropped: Option<(Vec<f32>, Vec<f32>)>,
    /// `x̃·Aᵀ`, `(rows, rank)`.
    low: Vec<f32>,
}

/// What the backward pass reads of the forward (the norms' outputs and the SwiGLU product it
/// recomputes: one pass each, and a third less to keep).
pub(crate) struct Saved {
    /// Rotated queries `(batch, heads, t, head_dim)`.
    q: Vec<f32>,
    /// Rotated keys `(batch, kv_heads, t, head_dim)`.
    k: Vec<f32>,
    /// Values, as the keys.
    v: Vec<f32>,
    /// The attention's output `(rows, heads · head_dim)`.
    y: Vec<f32>,
    /// The residual after attention `(rows, hidden)`.
    x2: Vec<f32>,
    /// The gate projection `(rows, ffn)`.
    gate: Vec<f32>,
    /// The up projection `(rows, ffn)`.
    up: Vec<f32>,
    /// What each projection's LoRA delta keeps, in [`LoraTarget::ALL`] order.
    deltas: [Option<DeltaSaved>; 7],
}

#[cfg(test)]
impl Saved {
    /// The bytes held (what [`saved_bytes`] predicts).
    fn bytes(&self) -> u64 {
        let deltas: usize = self
            .deltas
            .iter()
            .flatten()
            .map(|d| d.low.len() + d.dropped.as_ref().map_or(0, |(m, x)| m.len() + x.len()))
            .sum();
        let own = [
            &self.q, &self.k, &self.v, &self.y, &self.x2, &self.gate, &self.up,
        ];
        4 * (own.iter().map(|v| v.len()).sum::<usize>() + deltas) as u64
    }
}

/// The bytes [`forward`] keeps for a block of `parts` in a pass of `dims` with `dropouts`
/// (what [`Saved::bytes`] will say).
pub(crate) fn saved_bytes(
    parts: &BlockParts,
    dims: Dims,
    dropouts: &[Option<LoraDropout>; 7],
) -> u64 {
    let rows = dims.rows();
    let [q, k, v, _, gate, up, _] = parts.projections.map(|l| l.out_features());
    let hidden = parts.projections[LoraTarget::O.index()].out_features();
    let deltas: usize = parts
        .projections
        .iter()
        .zip(dropouts)
        .filter_map(|(linear, dropout)| {
            let delta = linear.lora()?;
            let dropped = dropout
                .as_ref()
                .filter(|d| d.probability > 0.0)
                .map_or(0, |_| 2 * rows * linear.in_features());
            Some(rows * delta.rank() + dropped)
        })
        .sum();
    4 * (rows * (2 * q + k + v + hidden + gate + up) + deltas) as u64
}

/// The block's output for input `x` `(rows, hidden)`, and with `keep` what its backward pass
/// reads. `dropouts` holds each projection's dropout, in [`LoraTarget::ALL`] order.
pub(crate) fn forward(
    parts: &BlockParts,
    rotary: &RotaryTables,
    x: &[f32],
    dims: Dims,
    dropouts: &[Option<LoraDropout>; 7],
    keep: bool,
) -> Result<(Vec<f32>, Option<Saved>)> {
    let rows = dims.rows();
    let mut deltas: [Option<DeltaSaved>; 7] = Default::default();
    let mut run = |target: LoraTarget, input: &[f32], y: &mut [f32], accumulate: bool| {
        let linear = parts.projections[target.index()];
        let dropout = dropouts[target.index()];
        deltas[target.index()] = project(linear, input, rows, dropout, y, accumulate)?;
        Ok::<_, candle_core::Error>(())
    };
    let h1 = normed(&parts.attn_norm, x);
    let width = |target: LoraTarget| rows * parts.projections[target.index()].out_features();
    let (mut q, mut k, mut v) = (
        vec![0f32; width(LoraTarget::Q)],
        vec![0f32; width(LoraTarget::K)],
        vec![0f32; width(LoraTarget::V)],
    );
    run(LoraTarget::Q, &h1, &mut q, false)?;
    run(LoraTarget::K, &h1, &mut k, false)?;
    run(LoraTarget::V, &h1, &mut v, false)?;
    let (into, q_heads, kv_heads) = (Direction::IntoHeads, parts.q_heads(), parts.kv_heads());
    let (qh, kh, vh) = (
        move_heads(&q, dims, q_heads, Some(rotary), into),
        move_heads(&k, dims, kv_heads, Some(rotary), into),
        move_heads(&v, dims, kv_heads, None, into),
    );
    drop((q, k, v));
    let y = attend(parts, dims, &qh, &kh, &vh);
    let mut x2 = x.to_vec();
    run(LoraTarget::O, &y, &mut x2, true)?;
    let h2 = normed(&parts.ffn_norm, &x2);
    let (mut gate, mut up) = (
        vec![0f32; width(LoraTarget::Gate)],
        vec![0f32; width(LoraTarget::Up)],
    );
    run(LoraTarget::Gate, &h2, &mut gate, false)?;
    run(LoraTarget::Up, &h2, &mut up, false)?;
    let mut act = vec![0f32; gate.len()];
    swiglu(&gate, &up, &mut act);
    let mut out = x2.clone();
    run(LoraTarget::Down, &act, &mut out, true)?;
    let saved = keep.then_some(Saved {
        q: qh,
        k: kh,
        v: vh,
        y,
        x2,
        gate,
        up,
        deltas,
    });
    Ok((out, saved))
}

/// The input gradient of the block for the output gradient `grad`, and the LoRA gradients by
/// tensor (`x` is the block's input, `saved` what [`forward`] kept for it).
pub(crate) fn backward(
    parts: &BlockParts,
    rotary: &RotaryTables,
    x: &[f32],
    saved: &Saved,
    grad: &[f32],
    dims: Dims,
) -> Result<(Vec<f32>, HashMap<TensorId, Tensor>)> {
    let rows = dims.rows();
    let mut lora = HashMap::new();
    let mut back = |target: LoraTarget, input: &[f32], dy: &[f32], dx: &mut [f32]| {
        let linear = parts.projections[target.index()];
        let delta = saved.deltas[target.index()].as_ref();
        project_backward(linear, input, delta, dy, rows, dx, &mut lora)
    };
    // Feed-forward half: out = x₂ + down(swiglu(gate(h₂), up(h₂))), h₂ = n₂(x₂).
    let mut act = vec![0f32; saved.gate.len()];
    swiglu(&saved.gate, &saved.up, &mut act);
    let mut d_act = vec![0f32; act.len()];
    back(LoraTarget::Down, &act, grad, &mut d_act)?;
    drop(act);
    let (mut d_gate, mut d_up) = (vec![0f32; d_act.len()], vec![0f32; d_act.len()]);
    swiglu_backward(&saved.gate, &saved.up, &d_act, &mut d_gate, &mut d_up);
    drop(d_act);
    let h2 = normed(&parts.ffn_norm, &saved.x2);
    let mut d_h2 = vec![0f32; h2.len()];
    back(LoraTarget::Gate, &h2, &d_gate, &mut d_h2)?;
    back(LoraTarget::Up, &h2, &d_up, &mut d_h2)?;
    drop((d_gate, d_up, h2));
    let mut d_x2 = grad.to_vec();
    let norm = &parts.ffn_norm;
    rms_norm_backward(&saved.x2, &norm.weight, norm.eps, &d_h2, &mut d_x2, true);
    drop(d_h2);
    // Attention half: x₂ = x + o(attention(…(h₁))), h₁ = n₁(x).
    let mut d_y = vec![0f32; saved.y.len()];
    back(LoraTarget::O, &saved.y, &d_x2, &mut d_y)?;
    let (dq, dk, dv) = attend_backward(parts, dims, saved, &d_y);
    drop(d_y);
    let (out, q_heads, kv_heads) = (Direction::FromHeads, parts.q_heads(), parts.kv_heads());
    let dq = move_heads(&dq, dims, q_heads, Some(rotary), out);
    let dk = move_heads(&dk, dims, kv_heads, Some(rotary), out);
    let dv = move_heads(&dv, dims, kv_heads, None, out);
    let h1 = normed(&parts.attn_norm, x);
    let mut d_h1 = vec![0f32; h1.len()];
    back(LoraTarget::Q, &h1, &dq, &mut d_h1)?;
    back(LoraTarget::K, &h1, &dk, &mut d_h1)?;
    back(LoraTarget::V, &h1, &dv, &mut d_h1)?;
    let norm = &parts.attn_norm;
    rms_norm_backward(x, &norm.weight, norm.eps, &d_h1, &mut d_x2, true);
    Ok((d_x2, lora))
}

/// Causal attention of each sequence: queries, keys and values in the heads' layout, the
/// output `(rows, heads · head_dim)`.
fn attend(parts: &BlockParts, dims: Dims, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f32> {
    let shape = attention_shape(parts, dims.t);
    let (q_len, kv_len) = (q.len() / dims.batch, k.len() / dims.batch);
    let mut y = Vec::with_capacity(q.len());
    for item in 0..dims.batch {
        let (qs, kvs) = (
            item * q_len..(item + 1) * q_len,
            item * kv_len..(item + 1) * kv_len,
        );
        let (q, k, v) = (&q[qs], &k[kvs.clone()], &v[kvs]);
        y.extend(causal_attention_forward(q, k, v, shape, scale(parts)));
    }
    y
}

/// The gradients of [`attend`]'s queries, keys and values (the heads' layout) from its output's.
fn attend_backward(
    parts: &BlockParts,
    dims: Dims,
    saved: &Saved,
    d_y: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let shape = attention_shape(parts, dims.t);
    let (q_len, kv_len) = (saved.q.len() / dims.batch, saved.k.len() / dims.batch);
    let (mut dq, mut dk, mut dv) = (
        Vec::with_capacity(saved.q.len()),
        Vec::with_capacity(saved.k.len()),
        Vec::with_capacity(saved.v.len()),
    );
    for item in 0..dims.batch {
        let (qs, kvs) = (
            item * q_len..(item + 1) * q_len,
            item * kv_len..(item + 1) * kv_len,
        );
        let inputs = AttentionGradInputs {
            q: &saved.q[qs.clone()],
            k: &saved.k[kvs.clone()],
            v: &saved.v[kvs],
            y: &saved.y[qs.clone()],
            dy: &d_y[qs],
        };
        let grads = causal_attention_backward(inputs, shape, scale(parts));
        dq.extend(grads.dq);
        dk.extend(grads.dk);
        dv.extend(grads.dv);
    }
    (dq, dk, dv)
}

/// The attention's score scale, `1 / √head_dim`.
fn scale(parts: &BlockParts) -> f32 {
    1.0 / (parts.head_dim as f32).sqrt()
}

fn attention_shape(parts: &BlockParts, t: usize) -> AttentionShape {
    AttentionShape {
        heads: parts.heads,
        kv_heads: parts.kv_heads,
        head_dim: parts.head_dim,
        t,
        start: 0,
        capacity: t,
    }
}

/// `x` through `norm`, row by row.
pub(crate) fn normed(norm: &Norm, x: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    rms_norm(x, &norm.weight, norm.eps, &mut out);
    out
}

/// Moves `x` between `(batch, t, heads · head_dim)` and `(batch, heads, t, head_dim)` in
/// `direction`, rotated when `rotary` is given: into the heads by each position's angles, out of
/// them (a gradient's way back) by the opposite ones.
fn move_heads(
    x: &[f32],
    dims: Dims,
    (heads, head_dim): (usize, usize),
    rotary: Option<&RotaryTables>,
    direction: Direction,
) -> Vec<f32> {
    let rotation = rotary.map(|r| Rotation {
        cos: &r.cos,
        sin: match direction {
            Direction::IntoHeads => &r.sin,
            Direction::FromHeads => &r.neg_sin,
        },
        interleaved: r.interleaved,
    });
    per_item(x, dims, heads, head_dim, rotation, direction)
}

fn per_item(
    x: &[f32],
    dims: Dims,
    heads: usize,
    head_dim: usize,
    rotation: Option<Rotation>,
    direction: Direction,
) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    let len = x.len() / dims.batch;
    let shape = Heads {
        heads,
        t: dims.t,
        head_dim,
    };
    for (src, dst) in x.chunks_exact(len).zip(out.chunks_exact_mut(len)) {
        rotate(src, dst, shape, rotation, direction);
    }
    out
}

/// `y [+]= ` the projection of `rows` rows of `x` (added when `accumulate`); returns what its
/// delta's backward pass reads.
fn project(
    linear: &Linear,
    x: &[f32],
    rows: usize,
    dropout: Option<LoraDropout>,
    y: &mut [f32],
    accumulate: bool,
) -> Result<Option<DeltaSaved>> {
    linear.frozen_rows_into(x, rows, y, accumulate)?;
    match linear.lora() {
        Some(delta) => Ok(Some(add_delta(delta, x, rows, dropout, y)?)),
        None => Ok(None),
    }
}

/// `y += s·(x̃·Aᵀ)·Bᵀ`.
fn add_delta(
    delta: &LoraDelta,
    x: &[f32],
    rows: usize,
    dropout: Option<LoraDropout>,
    y: &mut [f32],
) -> Result<DeltaSaved> {
    let (a, b) = (cpu_slice::<f32>(&delta.a)?, cpu_slice::<f32>(&delta.b)?);
    let (rank, inp) = (delta.rank(), x.len() / rows);
    let out = y.len() / rows;
    let dropped = dropout
        .and_then(|d| d.mask(x.len()))
        .map(|mask| (x.iter().zip(&mask).map(|(x, m)| x * m).collect(), mask));
    let input = dropped.as_ref().map_or(x, |(xd, _): &(Vec<f32>, _)| xd);
    let mut low = vec![0f32; rows * rank];
    matmul(
        &mut low,
        (rows, rank, inp),
        Operand::Rows {
            data: input,
            width: inp,
        },
        Operand::Transposed {
            data: &a,
            width: inp,
        },
        false,
        1.0,
    );
    matmul(
        y,
        (rows, out, rank),
        Operand::Rows {
            data: &low,
            width: rank,
        },
        Operand::Transposed {
            data: &b,
            width: rank,
        },
        true,
        delta.scale as f32,
    );
    Ok(DeltaSaved {
        dropped: dropped.map(|(xd, mask)| (mask, xd)),
        low,
    })
}

/// `dx += dy·W` and the delta's share; the delta's `dA` and `dB` into `grads`.
fn project_backward(
    linear: &Linear,
    x: &[f32],
    saved: Option<&DeltaSaved>,
    dy: &[f32],
    rows: usize,
    dx: &mut [f32],
    grads: &mut HashMap<TensorId, Tensor>,
) -> Result<()> {
    linear.add_input_grad(dy, rows, dx)?;
    let (Some(delta), Some(saved)) = (linear.lora(), saved) else {
        return Ok(());
    };
    let (a, b) = (cpu_slice::<f32>(&delta.a)?, cpu_slice::<f32>(&delta.b)?);
    let (rank, inp, out) = (delta.rank(), linear.in_features(), linear.out_features());
    let scale = delta.scale as f32;
    let mut d_low = vec![0f32; rows * rank];
    let dy_rows = Operand::Rows {
        data: dy,
        width: out,
    };
    let b_rows = Operand::Rows {
        data: &b,
        width: rank,
    };
    matmul(&mut d_low, (rows, rank, out), dy_rows, b_rows, false, scale);
    let mut d_b = vec![0f32; out * rank];
    let dy_t = Operand::Transposed {
        data: dy,
        width: out,
    };
    let low = Operand::Rows {
        data: &saved.low,
        width: rank,
    };
    matmul(&mut d_b, (out, rank, rows), dy_t, low, false, scale);
    let input = saved.dropped.as_ref().map_or(x, |(_, xd)| xd);
    let mut d_a = vec![0f32; rank * inp];
    let d_low_t = Operand::Transposed {
        data: &d_low,
        width: rank,
    };
    let input = Operand::Rows {
        data: input,
        width: inp,
    };
    matmul(&mut d_a, (rank, inp, rows), d_low_t, input, false, 1.0);
    let d_low_rows = Operand::Rows {
        data: &d_low,
        width: rank,
    };
    let a_rows = Operand::Rows {
        data: &a,
        width: inp,
    };
    match &saved.dropped {
        None => matmul(dx, (rows, inp, rank), d_low_rows, a_rows, true, 1.0),
        Some((mask, _)) => {
            let mut d_input = vec![0f32; rows * inp];
            matmul(
                &mut d_input,
                (rows, inp, rank),
                d_low_rows,
                a_rows,
                false,
                1.0,
            );
            for ((dx, d), m) in dx.iter_mut().zip(&d_input).zip(mask) {
                *dx += d * m;
            }
        }
    }
    let device = delta.a.device();
    grads.insert(
        delta.a.id(),
        Tensor::from_vec(d_a, delta.a.shape(), device)?,
    );
    grads.insert(
        delta.b.id(),
        Tensor::from_vec(d_b, delta.b.shape(), device)?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::QMatMul;
    use candle_core::Device;

    use super::*;
    use crate::seeded::SeededRng;

    fn ramp(rows: usize, cols: usize, seed: usize) -> Tensor {
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 + seed * 13) % 101) as f32 / 250.0 - 0.2)
            .collect();
        Tensor::from_vec(data, (rows, cols), &Device::Cpu).unwrap()
    }

    /// What the forward pass keeps is what [`saved_bytes`] predicts, with and without dropout.
    #[test]
    fn the_kept_activations_are_the_predicted_size() {
        let (hidden, ffn, heads, kv_heads, head_dim) = (32, 48, 4, 2, 8);
        let shapes = [
            (32, hidden),
            (16, hidden),
            (16, hidden),
            (hidden, 32),
            (ffn, hidden),
            (ffn, hidden),
            (hidden, ffn),
        ];
        let linears: Vec<Linear> = shapes
            .iter()
            .enumerate()
            .map(|(i, &(out, inp))| {
                let mut linear = Linear::new(QMatMul::Tensor(ramp(out, inp, i)), None, out, inp);
                if i % 2 == 0 {
                    let delta = LoraDelta {
                        a: ramp(4, inp, i + 7),
                        b: ramp(out, 4, i + 9),
                        scale: 2.0,
                    };
                    linear.set_lora(Some(delta)).unwrap();
                }
                linear
            })
            .collect();
        let norm = || Norm {
            weight: vec![1.0; hidden],
            eps: 1e-5,
        };
        let parts = BlockParts {
            attn_norm: norm(),
            ffn_norm: norm(),
            projections: std::array::from_fn(|i| &linears[i]),
            heads,
            kv_heads,
            head_dim,
        };
        let dims = Dims { batch: 2, t: 5 };
        let half = head_dim / 2;
        let rotary = RotaryTables {
            cos: vec![1.0; dims.t * half],
            sin: vec![0.0; dims.t * half],
            neg_sin: vec![0.0; dims.t * half],
            interleaved: false,
        };
        let x: Vec<f32> = (0..dims.rows() * hidden)
            .map(|i| (i % 7) as f32 - 3.0)
            .collect();
        for probability in [0.0, 0.25] {
            let dropouts = std::array::from_fn(|i| {
                Some(LoraDropout {
                    probability,
                    rng: SeededRng::derive(3, &[i as u64]),
                })
            });
            let (out, saved) = forward(&parts, &rotary, &x, dims, &dropouts, true).unwrap();
            assert_eq!(out.len(), x.len());
            let saved = saved.unwrap();
            assert_eq!(saved.bytes(), saved_bytes(&parts, dims, &dropouts));
            let (dx, grads) = backward(&parts, &rotary, &x, &saved, &out, dims).unwrap();
            assert_eq!(dx.len(), x.len());
            assert_eq!(
                grads.len(),
                2 * 4,
                "A and B of the four adapted projections"
            );
        }
    }
}
