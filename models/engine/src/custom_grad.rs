//! A value computed outside the graph, attached to it with a backward pass of our own: the
//! forward kernel stays the fast one (inference's), and the gradient is a closed form rather
//! than candle's differentiation of a chain of elementary ops.

use candle_core::backend::BackendStorage;
use candle_core::{
    bail, CpuStorage, CudaStorage, CustomOp2, Layout, MetalStorage, Result, Shape, Tensor,
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The closed form equals candle's differentiation of the generic softmax.
    #[test]
    fn softmax_gradient_equals_the_generic_one() {
        let values: Vec<f32> = (0..2 * 3 * 7)
            .map(|i| ((i * 29 % 17) as f32 - 8.0) * 0.37)
            .collect();
        let x = Var::from_vec(values, (2, 3, 7), &Device::Cpu).unwrap();
        let weights = Tensor::arange(0f32, 42.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3, 7))
            .unwrap();
        let grad_of = |y: Tensor| {
            let loss = (y * &weights).unwrap().sqr().unwrap().sum_all().unwrap();
            loss.backward().unwrap().get(x.as_tensor()).unwrap().clone()
        };
        let ours = softmax_last_dim(x.as_tensor()).unwrap();
        let generic = candle_nn::ops::softmax(x.as_tensor(), candle_core::D::Minus1).unwrap();
        let forward = (&ours - &generic)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(forward.to_scalar::<f32>().unwrap() < 1e-6);
        let diff = (grad_of(ours) - grad_of(generic))
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-4, "{diff}");
    }
}
