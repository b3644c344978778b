//! The training loss at the output head: the negative log-likelihood of each row's target under
//! the soft-max of its logits, and the gradient with respect to the logits, in one pass per row
//! on the kernels' pool (with the vectorised `exp`).
//!
//! For a row `l` with target `y`: `nll = log Σ exp(l) − l_y`, and `∂nll/∂l = softmax(l) − e_y`.

use crate::exp::exp_shifted_sum;
use crate::pool::Pool;
use crate::OutPtr;

/// Replaces each row of `logits` (rows of `vocab` values, one per target) with `scale` times the
/// gradient of its NLL, and returns each row's NLL (f64, in row order).
///
/// # Panics
/// When the shapes do not fit or a target is not below `vocab` (a caller's bug).
pub fn nll_rows(logits: &mut [f32], vocab: usize, targets: &[u32], scale: f32) -> Vec<f64> {
    assert!(vocab > 0 && logits.len() == targets.len() * vocab);
    assert!(targets.iter().all(|&t| (t as usize) < vocab));
    let mut nll = vec![0f64; targets.len()];
    let (rows, losses) = (OutPtr(logits.as_mut_ptr()), nll.as_mut_ptr() as usize);
    Pool::global().run(targets.len(), &|row| {
        // SAFETY: each task takes its own row of the logits and its own loss.
        let values = unsafe { std::slice::from_raw_parts_mut(rows.at(row * vocab), vocab) };
        let target = targets[row] as usize;
        let picked = values[target];
        let max = values.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let total = exp_shifted_sum(values, max);
        unsafe { *(losses as *mut f64).add(row) = (max + total.ln() - picked) as f64 };
        let factor = scale / total;
        values.iter_mut().for_each(|v| *v *= factor);
        values[target] -= scale;
    });
    nll
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss and gradient equal the definitions computed in f64.
    #[test]
    fn loss_and_gradient_follow_the_definition() {
        let vocab = 37;
        let logits: Vec<f32> = (0..3 * vocab)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 3.0)
            .collect();
        let targets = [4u32, 0, 36];
        let mut grad = logits.clone();
        let nll = nll_rows(&mut grad, vocab, &targets, 0.5);
        for (r, &t) in targets.iter().enumerate() {
            let row: Vec<f64> = logits[r * vocab..(r + 1) * vocab]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            assert!((nll[r] - (lse - row[t as usize])).abs() < 1e-5);
            for (j, v) in row.iter().enumerate() {
                let want = 0.5 * ((v - lse).exp() - if j == t as usize { 1.0 } else { 0.0 });
                assert!((grad[r * vocab + j] as f64 - want).abs() < 1e-6);
            }
        }
    }
}
