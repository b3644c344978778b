//! A value computed outside the graph, attached to it with a backward pass of our own: the
//! forward kernel stays the fast one (inference's), and the gradient is a closed form rather
//! than candle's differentiation of a chain of elementary ops.

use candle_core::backend::BackendStorage;
use candle_core::{
    bail, CpuStorage, CudaStorage, CustomOp2, DType, Layout, MetalStorage, Result, Shape, Tensor, D,
};

/// The gradient of the input from (input, output, output's gradient).
pub type Backward = dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + Send + Sync;

/// `output` (computed from `input` without a graph) as a node of `input`'s graph whose input
/// gradient is `backward(input, output, grad_output)`.
pub fn with_backward(input: &Tensor, output: Tensor, backward: Box<Backward>) -> Result<Tensor> {
    // The op hands back `output`'s whole buffer: make sure it is exactly `output`.
    let output = if output.is_contiguous() && output.layout().start_offset() == 0 {
        output
    } else {
        output.copy()?
    };
    input.apply_op2(&output, PassThrough { backward })
}

/// Passes the precomputed output through; its backward is the closure's.
struct PassThrough {
    backward: Box<Backward>,
}

fn whole_buffer(layout: &Layout) -> Result<()> {
    if !layout.is_contiguous() || layout.start_offset() != 0 {
        bail!("custom gradient: the output must be a contiguous tensor at offset 0")
    }
    Ok(())
}

impl CustomOp2 for PassThrough {
    fn name(&self) -> &'static str {
        "custom-gradient"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        output: &CpuStorage,
        layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        whole_buffer(layout)?;
        Ok((output.try_clone(layout)?, layout.shape().clone()))
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        output: &CudaStorage,
        layout: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        whole_buffer(layout)?;
        Ok((output.try_clone(layout)?, layout.shape().clone()))
    }

    fn metal_fwd(
        &self,
        _: &MetalStorage,
        _: &Layout,
        output: &MetalStorage,
        layout: &Layout,
    ) -> Result<(MetalStorage, Shape)> {
        whole_buffer(layout)?;
        Ok((output.try_clone(layout)?, layout.shape().clone()))
    }

    fn bwd(
        &self,
        input: &Tensor,
        _: &Tensor,
        output: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some((self.backward)(input, output, grad)?), None))
    }
}

/// Softmax over the last dimension, differentiable: candle's fused forward kernel, and the
/// closed-form backward `dx = y ⊙ (dy − Σ dy ⊙ y)` instead of the generic softmax's graph of
/// max, subtract, exp, sum and divide (a dozen full-size temporaries, several broadcast).
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let y = candle_nn::ops::softmax_last_dim(&x.detach())?;
    with_backward(
        x,
        y,
        Box::new(|_, y, grad| {
            let dot = (grad * y)?.sum_keepdim(candle_core::D::Minus1)?;
            y * grad.broadcast_sub(&dot)?
        }),
    )
}

/// RMS normalization `x / rms(x) · weight` over the last dimension, differentiable in `x` (the
/// weight is frozen): candle's fused forward, and the closed-form backward
/// `dx = r·u − x · r³ · mean(u ⊙ x)` with `u = dy ⊙ weight`, `r = 1 / rms(x)`, in one pass per
/// row on the CPU, instead of the graph of `rms_norm_slow` (square, mean, add, root, divide,
/// multiply, each a full-size temporary forward and back).
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f32) -> Result<Tensor> {
    let y = candle_nn::ops::rms_norm(&x.detach().contiguous()?, weight, eps)?;
    let weight = weight.clone();
    with_backward(
        x,
        y,
        Box::new(move |x, _, grad| rms_norm_backward(x, &weight, eps, grad)),
    )
}

fn rms_norm_backward(x: &Tensor, weight: &Tensor, eps: f32, grad: &Tensor) -> Result<Tensor> {
    let (x, grad) = (x.contiguous()?, grad.contiguous()?);
    if x.device().is_cpu() && x.dtype() == DType::F32 && grad.dtype() == DType::F32 {
        let (xs, gs, ws) = (
            x.flatten_all()?.to_vec1::<f32>()?,
            grad.flatten_all()?.to_vec1::<f32>()?,
            weight.to_dtype(DType::F32)?.to_vec1::<f32>()?,
        );
        let mut dx = vec![0f32; xs.len()];
        citrus_kernels::norm::rms_norm_backward(&xs, &ws, eps, &gs, &mut dx, false);
        return Tensor::from_vec(dx, x.shape(), x.device());
    }
    let r = (x.sqr()?.mean_keepdim(D::Minus1)? + f64::from(eps))?
        .sqrt()?
        .recip()?;
    let u = grad.broadcast_mul(weight)?;
    let along = (&u * &x)?.mean_keepdim(D::Minus1)?;
    u.broadcast_mul(&r)? - x.broadcast_mul(&(along * r.powf(3.0)?)?)?
}

/// Rotary position embedding of `x` `(b, heads, t, head_dim)` with the tables `cos`/`sin`
/// `(t, head_dim / 2)` (`interleaved`: GPT-J's pairing), differentiable in `x`: candle's fused
/// kernel both ways, since the rotation is orthogonal and its transpose is the rotation by the
/// opposite angles (`neg_sin` = −`sin`), instead of `rope_slow`'s graph.
pub fn rope(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    neg_sin: &Tensor,
    interleaved: bool,
) -> Result<Tensor> {
    let apply = move |x: &Tensor, cos: &Tensor, sin: &Tensor| {
        if interleaved {
            candle_nn::rotary_emb::rope_i(x, cos, sin)
        } else {
            candle_nn::rotary_emb::rope(x, cos, sin)
        }
    };
    let y = apply(&x.detach().contiguous()?, cos, sin)?;
    let (cos, neg_sin) = (cos.clone(), neg_sin.clone());
    with_backward(
        x,
        y,
        Box::new(move |_, _, grad| apply(&grad.contiguous()?, &cos, &neg_sin)),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Max |a − b|.
    pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// `ours` and `generic` (functions of the same input) have the same value and the same
    /// gradient of a weighted square loss.
    fn same_value_and_gradient(
        x: &Var,
        ours: impl Fn(&Tensor) -> Tensor,
        generic: impl Fn(&Tensor) -> Tensor,
    ) {
        let (a, b) = (ours(x.as_tensor()), generic(x.as_tensor()));
        assert!(max_diff(&a, &b) < 1e-5, "value: {}", max_diff(&a, &b));
        let weights = Tensor::arange(0f32, a.elem_count() as f32, &Device::Cpu)
            .unwrap()
            .reshape(a.shape())
            .unwrap();
        let grad_of = |y: Tensor| {
            let loss = (y * &weights).unwrap().sqr().unwrap().sum_all().unwrap();
            loss.backward().unwrap().get(x.as_tensor()).unwrap().clone()
        };
        let (ga, gb) = (grad_of(a), grad_of(b));
        let scale = gb
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            max_diff(&ga, &gb) <= 1e-5 * scale.max(1.0),
            "gradient: {}",
            max_diff(&ga, &gb)
        );
    }

    fn ramp_var(shape: &[usize]) -> Var {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 29 % 17) as f32 - 8.0) * 0.37)
            .collect();
        Var::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn rms_norm_gradient_equals_the_generic_one() {
        let x = ramp_var(&[2, 3, 8]);
        let w = Tensor::arange(1f32, 9.0, &Device::Cpu).unwrap();
        same_value_and_gradient(
            &x,
            |x| rms_norm(x, &w, 1e-5).unwrap(),
            |x| candle_nn::ops::rms_norm_slow(x, &w, 1e-5).unwrap(),
        );
    }

    #[test]
    fn rope_gradient_equals_the_generic_one() {
        let x = ramp_var(&[1, 2, 5, 8]);
        let angles: Vec<f32> = (0..5 * 4).map(|i| i as f32 * 0.3).collect();
        let angles = Tensor::from_vec(angles, (5, 4), &Device::Cpu).unwrap();
        let (cos, sin) = (angles.cos().unwrap(), angles.sin().unwrap());
        let neg_sin = sin.neg().unwrap();
        for interleaved in [false, true] {
            same_value_and_gradient(
                &x,
                |x| rope(x, &cos, &sin, &neg_sin, interleaved).unwrap(),
                |x| {
                    let x = x.contiguous().unwrap();
                    if interleaved {
                        candle_nn::rotary_emb::rope_i_slow(&x, &cos, &sin).unwrap()
                    } else {
                        candle_nn::rotary_emb::rope_slow(&x, &cos, &sin).unwrap()
                    }
                },
            );
        }
    }

    /// The closed form equals candle's differentiation of the generic softmax.
    #[test]
    fn softmax_gradient_equals_the_generic_one() {
        same_value_and_gradient(
            &ramp_var(&[2, 3, 7]),
            |x| softmax_last_dim(x).unwrap(),
            |x| candle_nn::ops::softmax(x, D::Minus1).unwrap(),
        );
    }
}
