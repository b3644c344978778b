//! Causal attention for training on the CPU as one graph node.
//!
//! The forward pass is the kernels' row-by-row attention (the one inference uses) and the
//! backward pass is their recomputing backward ([`causal_attention_backward`]): the step holds
//! no `heads × t × t` score or probability matrix, no mask tensor and none of their gradients,
//! so its cost grows with the square of the length only in arithmetic, not in memory traffic.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use citrus_kernels::attention::AttentionShape;
use citrus_kernels::attention_blocked::{
    causal_attention_backward, causal_attention_forward, AttentionGradInputs,
};

use crate::cpu_view::{cpu_slice, storage_values as values};

/// `softmax(q·kᵀ·scale + causal mask)·v` for `q` `(b, heads, t, head_dim)` and `k`/`v`
/// `(b, kv_heads, t, head_dim)` on the CPU, in f32; returns `(b, t, heads · head_dim)`, the
/// layout the output projection reads. Differentiable in `q`, `k` and `v`.
pub fn causal_attention_train(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32) -> Result<Tensor> {
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    q.apply_op3(&k, &v, TrainingAttention { scale })
}

/// The graph node: forward and backward on the kernels.
struct TrainingAttention {
    scale: f32,
}

/// The shapes of a call, checked: `(batch, shape)`.
fn shapes(q: &Shape, k: &Shape, v: &Shape) -> Result<(usize, AttentionShape)> {
    let (b, heads, t, head_dim) = q.dims4()?;
    let (kb, kv_heads, kt, kd) = k.dims4()?;
    if (kb, kt, kd) != (b, t, head_dim) || k != v || kv_heads == 0 || heads % kv_heads != 0 {
        bail!("training attention: q {q:?} does not fit k {k:?} / v {v:?}")
    }
    let shape = AttentionShape {
        heads,
        kv_heads,
        head_dim,
        t,
        start: 0,
        capacity: t,
    };
    Ok((b, shape))
}

impl CustomOp3 for TrainingAttention {
    fn name(&self) -> &'static str {
        "citrus-causal-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        q_layout: &Layout,
        k: &CpuStorage,
        k_layout: &Layout,
        v: &CpuStorage,
        v_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, s) = shapes(q_layout.shape(), k_layout.shape(), v_layout.shape())?;
        let (q, k, v) = (
            values(q, q_layout)?,
            values(k, k_layout)?,
            values(v, v_layout)?,
        );
        let (q_len, kv_len) = (s.heads * s.t * s.head_dim, s.kv_heads * s.t * s.head_dim);
        let mut out = Vec::with_capacity(b * q_len);
        for item in 0..b {
            out.extend(causal_attention_forward(
                &q[item * q_len..(item + 1) * q_len],
                &k[item * kv_len..(item + 1) * kv_len],
                &v[item * kv_len..(item + 1) * kv_len],
                s,
                self.scale,
            ));
        }
        Ok((CpuStorage::F32(out), (b, s.t, s.heads * s.head_dim).into()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, s) = shapes(q.shape(), k.shape(), v.shape())?;
        let dy = dy.contiguous()?;
        let (q_data, k_data, v_data) = (cpu_slice::<f32>(q)?, cpu_slice::<f32>(k)?, cpu_slice(v)?);
        let (y_data, dy_data) = (cpu_slice::<f32>(y)?, cpu_slice::<f32>(&dy)?);
        let (q_len, kv_len) = (s.heads * s.t * s.head_dim, s.kv_heads * s.t * s.head_dim);
        let (mut dq, mut dk, mut dv) = (
            Vec::with_capacity(b * q_len),
            Vec::with_capacity(b * kv_len),
            Vec::with_capacity(b * kv_len),
        );
        for item in 0..b {
            let (qs, kvs) = (
                item * q_len..(item + 1) * q_len,
                item * kv_len..(item + 1) * kv_len,
            );
            let inputs = AttentionGradInputs {
                q: &q_data[qs.clone()],
                k: &k_data[kvs.clone()],
                v: &v_data[kvs],
                y: &y_data[qs.clone()],
                dy: &dy_data[qs],
            };
            let grads = causal_attention_backward(inputs, s, self.scale);
            dq.extend(grads.dq);
            dk.extend(grads.dk);
            dv.extend(grads.dv);
        }
        let device = q.device();
        Ok((
            Some(Tensor::from_vec(dq, q.shape(), device)?),
            Some(Tensor::from_vec(dk, k.shape(), device)?),
            Some(Tensor::from_vec(dv, v.shape(), device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var, D};

    use super::*;

    fn var<S: Into<Shape>>(shape: S, seed: u32) -> Var {
        let shape: Shape = shape.into();
        let n = shape.elem_count();
        let data: Vec<f32> = (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        Var::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    /// The node's value and gradients equal candle's matmul, mask and softmax differentiated op
    /// by op, with a batch of two and grouped heads; q is a non-contiguous view, as in the model.
    #[test]
    fn equals_the_generic_attention_and_its_gradients() {
        let (b, heads, kv_heads, t, d) = (2, 6, 2, 9, 8);
        let q = var((b, t, heads, d), 1);
        let (k, v) = (var((b, kv_heads, t, d), 2), var((b, kv_heads, t, d), 3));
        let q_heads = q.as_tensor().transpose(1, 2).unwrap();
        let weight = var((b, t, heads * d), 4);

        let ours = causal_attention_train(&q_heads, k.as_tensor(), v.as_tensor(), 0.35).unwrap();

        let group = heads / kv_heads;
        let qg = q_heads.reshape((b, kv_heads, group * t, d)).unwrap();
        let scores = (qg.matmul(&k.as_tensor().t().unwrap()).unwrap() * 0.35).unwrap();
        let mask: Vec<f32> = (0..group * t)
            .flat_map(|r| (0..t).map(move |j| if j > r % t { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (group * t, t), &Device::Cpu).unwrap();
        let weights =
            candle_nn::ops::softmax(&scores.broadcast_add(&mask).unwrap(), D::Minus1).unwrap();
        let theirs = weights
            .matmul(v.as_tensor())
            .unwrap()
            .reshape((b, heads, t, d))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b, t, heads * d))
            .unwrap();

        let diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>())
                .unwrap()
        };
        assert!(diff(&ours, &theirs) < 1e-5);
        let loss = |y: &Tensor| (y * weight.as_tensor()).unwrap().sum_all().unwrap();
        let (g_ours, g_theirs) = (
            loss(&ours).backward().unwrap(),
            loss(&theirs).backward().unwrap(),
        );
        for (name, x) in [("q", &q), ("k", &k), ("v", &v)] {
            let (a, b) = (
                g_ours.get(x.as_tensor()).unwrap(),
                g_theirs.get(x.as_tensor()).unwrap(),
            );
            assert!(diff(a, b) < 1e-4, "d{name}: {}", diff(a, b));
        }
    }
}
