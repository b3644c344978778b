//! The feed-forward gate `silu(gate) ⊙ up` as one graph node on the CPU.
//!
//! Forward and backward are the kernels' single passes ([`citrus_kernels::swiglu`]): candle's
//! `silu` and product keep the sigmoid chain's temporaries, and its backward builds
//! `σ(g)·(1 + g·(1 − σ(g)))` from half a dozen full-size tensors, on the widest activations of
//! each block. Accelerators keep candle's ops.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use citrus_kernels::swiglu::{swiglu as swiglu_values, swiglu_backward};

use crate::cpu_view::{cpu_slice, storage_values};

/// `silu(gate) ⊙ up`, differentiable in both.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    let on_kernels = gate.device().is_cpu()
        && gate.dtype() == DType::F32
        && up.dtype() == DType::F32
        && gate.shape() == up.shape();
    if !on_kernels {
        return candle_nn::ops::silu(gate)? * up;
    }
    gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu)
}

/// The graph node.
struct SwiGlu;

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "citrus-swiglu"
    }

    fn cpu_fwd(
        &self,
        gate: &CpuStorage,
        gate_layout: &Layout,
        up: &CpuStorage,
        up_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (gate, up) = (
            storage_values(gate, gate_layout)?,
            storage_values(up, up_layout)?,
        );
        let mut out = vec![0f32; gate.len()];
        swiglu_values(gate, up, &mut out);
        Ok((CpuStorage::F32(out), gate_layout.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let n = gate.elem_count();
        let (mut d_gate, mut d_up) = (vec![0f32; n], vec![0f32; n]);
        swiglu_backward(
            &cpu_slice::<f32>(gate)?,
            &cpu_slice::<f32>(up)?,
            &cpu_slice::<f32>(&grad)?,
            &mut d_gate,
            &mut d_up,
        );
        let device = gate.device();
        Ok((
            Some(Tensor::from_vec(d_gate, gate.shape(), device)?),
            Some(Tensor::from_vec(d_up, up.shape(), device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;
    use crate::custom_grad::tests::max_diff;

    fn var(seed: u32) -> Var {
        let data: Vec<f32> = (0..2 * 7 * 96)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 2001) as f32)
            .map(|v| v / 250.0 - 4.0)
            .collect();
        Var::from_tensor(&Tensor::from_vec(data, (2, 7, 96), &Device::Cpu).unwrap()).unwrap()
    }

    #[test]
    fn value_and_gradients_equal_candles_ops() {
        let (gate, up) = (var(1), var(2));
        let weights = var(3);
        // A non-contiguous gate, as a projection's transposed output can be.
        let gate_t = gate.as_tensor().transpose(1, 2).unwrap();
        let gate_t = gate_t.contiguous().unwrap().transpose(1, 2).unwrap();
        let ours = swiglu(&gate_t, up.as_tensor()).unwrap();
        let generic = (candle_nn::ops::silu(gate.as_tensor()).unwrap() * up.as_tensor()).unwrap();
        assert!(max_diff(&ours, &generic) < 1e-5);
        let loss = |y: &Tensor| (y * weights.as_tensor()).unwrap().sum_all().unwrap();
        let (ours_grads, generic_grads) = (
            loss(&ours).backward().unwrap(),
            loss(&generic).backward().unwrap(),
        );
        for v in [&gate, &up] {
            let (a, b) = (
                ours_grads.get(v.as_tensor()).expect("a gradient"),
                generic_grads.get(v.as_tensor()).expect("a gradient"),
            );
            assert!(
                max_diff(a, b) < 1e-4,
                "gradient differs by {}",
                max_diff(a, b)
            );
        }
    }
}
