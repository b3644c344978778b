//! RMS normalisation of rows and its input gradient, rows split over the kernels' pool.
//!
//! `y = x / rms(x) ⊙ w` with `rms(x) = √(mean(x²) + ε)` (candle's fused kernel computes the
//! same values in the same order); the gradient with respect to `x` for a frozen `w` is
//! `dx = r·u − x · r³ · mean(u ⊙ x)` with `u = dy ⊙ w` and `r = 1 / rms(x)`.

use crate::pool::Pool;
use crate::OutPtr;

/// Rows per task.
const TASK_ROWS: usize = 32;

/// `out = x / rms(x) ⊙ weight` for each row of `x` (rows of `weight.len()` values).
///
/// # Panics
/// When the lengths do not fit (a caller's bug).
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let n = weight.len();
    assert!(n > 0 && x.len().is_multiple_of(n) && out.len() == x.len());
    let target = OutPtr(out.as_mut_ptr());
    for_each_row(x.len() / n, &|row| {
        let x = &x[row * n..(row + 1) * n];
        let m = (x.iter().map(|v| v * v).sum::<f32>() / n as f32 + eps).sqrt();
        for (i, (x, w)) in x.iter().zip(weight).enumerate() {
            // SAFETY: each row is written by one task.
            unsafe { *target.at(row * n + i) = x / m * w };
        }
    });
}

/// The input gradient of [`rms_norm`] from the output's gradient `grad`, written to `dx`, or
/// added to it when `accumulate`.
///
/// # Panics
/// When the lengths do not fit (a caller's bug).
pub fn rms_norm_backward(
    x: &[f32],
    weight: &[f32],
    eps: f32,
    grad: &[f32],
    dx: &mut [f32],
    accumulate: bool,
) {
    let n = weight.len();
    assert!(n > 0 && x.len().is_multiple_of(n) && grad.len() == x.len() && dx.len() == x.len());
    let target = OutPtr(dx.as_mut_ptr());
    for_each_row(x.len() / n, &|row| {
        let (x, g) = (&x[row * n..(row + 1) * n], &grad[row * n..(row + 1) * n]);
        let mean_square = x.iter().map(|v| v * v).sum::<f32>() / n as f32;
        let r = 1.0 / (mean_square + eps).sqrt();
        let along = x
            .iter()
            .zip(g)
            .zip(weight)
            .map(|((x, g), w)| x * g * w)
            .sum::<f32>()
            / n as f32;
        let c = r * r * r * along;
        for (i, ((x, g), w)) in x.iter().zip(g).zip(weight).enumerate() {
            let value = r * g * w - x * c;
            // SAFETY: each row is written by one task.
            unsafe {
                let d = target.at(row * n + i);
                *d = if accumulate { *d + value } else { value };
            }
        }
    });
}

/// Runs `f` on each of `rows` rows, [`TASK_ROWS`] per task on the pool.
fn for_each_row(rows: usize, f: &(dyn Fn(usize) + Sync)) {
    Pool::global().run(rows.div_ceil(TASK_ROWS), &|task| {
        (task * TASK_ROWS..((task + 1) * TASK_ROWS).min(rows)).for_each(f)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient equals central differences of `Σ c ⊙ rms_norm(x)` in f64.
    #[test]
    fn the_gradient_matches_finite_differences() {
        let n = 24;
        let x: Vec<f32> = (0..3 * n)
            .map(|i| ((i * 29 % 53) as f32 - 26.0) / 13.0)
            .collect();
        let w: Vec<f32> = (0..n).map(|i| 0.5 + (i % 7) as f32 / 7.0).collect();
        let c: Vec<f32> = (0..3 * n)
            .map(|i| ((i * 17 % 31) as f32 - 15.0) / 15.0)
            .collect();
        let eps = 1e-5;
        let value = |x: &[f64]| -> f64 {
            x.chunks(n)
                .zip(c.chunks(n))
                .map(|(x, c)| {
                    let m = (x.iter().map(|v| v * v).sum::<f64>() / n as f64 + eps as f64).sqrt();
                    x.iter()
                        .zip(c)
                        .zip(&w)
                        .map(|((x, c), w)| x / m * *w as f64 * *c as f64)
                        .sum::<f64>()
                })
                .sum()
        };
        let mut dx = vec![1f32; x.len()];
        rms_norm_backward(&x, &w, eps, &c, &mut dx, true);
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        for i in 0..x.len() {
            let (mut plus, mut minus) = (x64.clone(), x64.clone());
            plus[i] += 1e-4;
            minus[i] -= 1e-4;
            let numeric = (value(&plus) - value(&minus)) / 2e-4;
            assert!(
                (dx[i] as f64 - 1.0 - numeric).abs() < 1e-4,
                "{i}: {} vs {numeric}",
                dx[i] - 1.0
            );
        }
        let mut y = vec![0f32; x.len()];
        rms_norm(&x, &w, eps, &mut y);
        let m = (x[..n].iter().map(|v| v * v).sum::<f32>() / n as f32 + eps).sqrt();
        assert_eq!(y[3], x[3] / m * w[3]);
    }
}
