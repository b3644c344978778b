//! Frozen base weights inside a training graph.
//!
//! Two candle behaviours make a plain matmul wrong for a frozen base: its quantized matmul has
//! no backward pass at all (gradients silently stop there), and the dense matmul's backward
//! also computes the gradient of the weight (time and memory nobody uses). [`frozen_linear`]
//! computes the forward exactly as inference does — the same quantized or dense kernel, on a
//! detached input — and attaches a backward pass that returns only the input gradient,
//! `grad_y · W`, with `W` dequantized on the fly and dropped straight after (QLoRA-style).

use candle_core::quantized::QMatMul;
use candle_core::{DType, Module, Result, Tensor};

use crate::custom_grad::with_backward;

/// `x · Wᵀ` for a frozen `weight` of shape `(out, in)`, differentiable with respect to `x` only.
pub fn frozen_linear(weight: &QMatMul, x: &Tensor) -> Result<Tensor> {
    let y = match weight {
        QMatMul::Tensor(w) if w.dtype() != x.dtype() => weight
            .forward(&x.detach().to_dtype(w.dtype())?)?
            .to_dtype(x.dtype())?,
        _ => weight.forward(&x.detach())?,
    };
    frozen_output(weight, x, y)
}

/// `y`, the product `x · Wᵀ` computed by some other kernel on a detached `x`, as a node of
/// `x`'s graph with [`frozen_linear`]'s backward pass.
pub fn frozen_output(weight: &QMatMul, x: &Tensor, y: Tensor) -> Result<Tensor> {
    let weight = weight.clone();
    // The input gradient `grad_y · W`, with W dequantized on the fly and dropped straight after.
    with_backward(
        x,
        y,
        Box::new(move |x, _, grad| {
            let dense = dense_weight(&weight, x.device(), grad.dtype())?;
            grad.broadcast_matmul(&dense)?.to_dtype(x.dtype())
        }),
    )
}

/// The weight of a frozen projection as a dense tensor of `dtype`, `(out, in)`.
pub fn dense_weight(
    weight: &QMatMul,
    device: &candle_core::Device,
    dtype: DType,
) -> Result<Tensor> {
    match weight {
        QMatMul::QTensor(q) => q.dequantize(device)?.to_dtype(dtype),
        QMatMul::Tensor(w) | QMatMul::TensorF16(w) => w.to_dtype(dtype),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Var};

    fn ramp(rows: usize, cols: usize, scale: f32) -> Tensor {
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * scale)
            .collect();
        Tensor::from_vec(data, (rows, cols), &Device::Cpu).unwrap()
    }

    /// The input gradient equals the dense matmul's; the weight gets none.
    fn check(weight: QMatMul, dense: &Tensor) {
        let x = Var::from_tensor(&ramp(3, 64, 1.0).unsqueeze(0).unwrap()).unwrap();
        let y = frozen_linear(&weight, x.as_tensor()).unwrap();
        let expected = x.as_tensor().broadcast_matmul(&dense.t().unwrap()).unwrap();
        let diff = (&y - &expected).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 0.05, "forward differs");
        let loss = (y.sqr().unwrap()).sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let got = grads.get(x.as_tensor()).expect("input gradient");
        let want = (expected * 2.0).unwrap().broadcast_matmul(dense).unwrap();
        let diff = (got - &want).unwrap().abs().unwrap().max_all().unwrap();
        let scale = want
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            diff.to_scalar::<f32>().unwrap() / scale < 0.02,
            "gradient differs"
        );
    }

    #[test]
    fn dense_and_quantized_weights_give_the_input_gradient() {
        let w = ramp(32, 64, 0.2);
        check(QMatMul::Tensor(w.clone()), &w);
        let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        let dense = q.dequantize(&Device::Cpu).unwrap();
        check(QMatMul::from_qtensor(q).unwrap(), &dense);
    }
}
