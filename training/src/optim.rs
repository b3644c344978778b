//! AdamW with decoupled weight decay, the warmup + cosine learning-rate schedule and global
//! gradient-norm clipping. The moments are plain tensors so checkpoints can save them.

use candle_core::{Tensor, Var};

use crate::error::Result;

/// AdamW's constants (Hugging Face's defaults).
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// AdamW over a fixed list of variables.
#[derive(Debug)]
pub struct AdamW {
    vars: Vec<Var>,
    /// First moments, one per variable.
    pub first: Vec<Tensor>,
    /// Second moments, one per variable.
    pub second: Vec<Tensor>,
    /// Updates taken so far.
    pub steps: usize,
    weight_decay: f64,
}

impl AdamW {
    /// An optimizer with zero moments.
    pub fn new(vars: Vec<Var>, weight_decay: f64) -> Result<Self> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        let first = vars.iter().map(zeros).collect::<candle_core::Result<_>>()?;
        let second = vars.iter().map(zeros).collect::<candle_core::Result<_>>()?;
        Ok(Self {
            vars,
            first,
            second,
            steps: 0,
            weight_decay,
        })
    }

    /// One update with learning rate `lr`; `grads[i]` belongs to the i-th variable.
    pub fn step(&mut self, grads: &[Tensor], lr: f64) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for (i, var) in self.vars.iter().enumerate() {
            let g = &grads[i];
            let m = ((&self.first[i] * BETA1)? + (g * (1.0 - BETA1))?)?;
            let v = ((&self.second[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + EPSILON)?)?;
            let theta = var.as_tensor();
            let decayed = (theta * (1.0 - lr * self.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
            self.first[i] = m;
            self.second[i] = v;
        }
        Ok(())
    }
}

/// Linear warmup over `warmup` steps, then cosine decay to zero at `total` (Hugging Face's
/// `get_cosine_schedule_with_warmup`); `step` counts from 0.
pub fn learning_rate(peak: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (0 = no clipping); returns
/// the norm before clipping.
pub fn clip_global_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let mut sum = 0.0f64;
    for g in grads.iter() {
        sum += g
            .sqr()?
            .sum_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
    }
    let norm = sum.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let factor = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            *g = (&*g * factor)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert!((learning_rate(1.0, 0, 4, 20) - 0.25).abs() < 1e-12);
        assert!((learning_rate(1.0, 3, 4, 20) - 1.0).abs() < 1e-12);
        assert!((learning_rate(1.0, 4, 4, 20) - 1.0).abs() < 1e-12);
        assert!((learning_rate(1.0, 12, 4, 20) - 0.5).abs() < 1e-12);
        assert!(learning_rate(1.0, 20, 4, 20).abs() < 1e-12);
        assert!((learning_rate(2.0, 0, 0, 10) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn adamw_first_step_moves_by_the_learning_rate() {
        let var = Var::from_slice(&[1.0f32, -2.0], 2, &Device::Cpu).unwrap();
        let mut adam = AdamW::new(vec![var.clone()], 0.0).unwrap();
        let grad = Tensor::new(&[0.5f32, -3.0], &Device::Cpu).unwrap();
        adam.step(&[grad], 0.1).unwrap();
        let values = var.as_tensor().to_vec1::<f32>().unwrap();
        // m̂ / √v̂ = sign(g) on the first step.
        assert!(
            (values[0] - 0.9).abs() < 1e-5 && (values[1] + 1.9).abs() < 1e-5,
            "{values:?}"
        );
        let mut decayed = AdamW::new(vec![var.clone()], 0.5).unwrap();
        decayed
            .step(
                &[Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap()],
                0.1,
            )
            .unwrap();
        let after = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!((after[0] - 0.9 * 0.95).abs() < 1e-5, "{after:?}");
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let mut grads = vec![
            Tensor::new(&[3.0f32], &Device::Cpu).unwrap(),
            Tensor::new(&[4.0f32], &Device::Cpu).unwrap(),
        ];
        let norm = clip_global_norm(&mut grads, 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-6);
        let a = grads[0].to_vec1::<f32>().unwrap()[0];
        assert!((a - 0.6).abs() < 1e-4, "{a}");
    }
}
