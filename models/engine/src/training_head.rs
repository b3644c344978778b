//! The output head of a training pass on the CPU, forward and backward, without a graph: the
//! final norm and the frozen head on the trained positions only, the negative log-likelihood of
//! their targets, and its gradient with respect to the last block's output
//! ([`citrus_kernels::nll`]).
//!
//! As a graph the head kept the logits several times over (the product, its copy into the
//! custom node, the log-soft-max, their gradients: each `trained × vocab`, 50 MB for 256
//! trained tokens of a 49k vocabulary); here one buffer holds the logits and then, in place,
//! their gradient.

use candle_core::Result;
use citrus_kernels::nll::nll_rows;
use citrus_kernels::norm::rms_norm_backward;

use crate::lora::Linear;
use crate::training_block::{normed, Norm};

/// The final norm and the output projection.
pub(crate) struct Head<'a> {
    pub norm: Norm,
    pub linear: &'a Linear,
}

/// The summed NLL of `targets` at the positions `rows` of `x` (rows of `hidden` values).
pub(crate) fn nll(head: &Head, x: &[f32], rows: &[u32], targets: &[u32]) -> Result<f64> {
    let picked = pick(head, x, rows);
    Ok(loss_and_logit_grads(head, &picked, targets, 1.0)?.0)
}

/// [`nll`], and the gradient of `scale ×` it with respect to `x`.
pub(crate) fn nll_backward(
    head: &Head,
    x: &[f32],
    rows: &[u32],
    targets: &[u32],
    scale: f32,
) -> Result<(f64, Vec<f32>)> {
    let hidden = head.norm.weight.len();
    let picked = pick(head, x, rows);
    let (nll, logit_grads) = loss_and_logit_grads(head, &picked, targets, scale)?;
    let n = rows.len();
    let mut d_h = vec![0f32; n * hidden];
    head.linear.add_input_grad(&logit_grads, n, &mut d_h)?;
    drop(logit_grads);
    let mut d_picked = vec![0f32; n * hidden];
    let norm = &head.norm;
    rms_norm_backward(&picked, &norm.weight, norm.eps, &d_h, &mut d_picked, false);
    let mut dx = vec![0f32; x.len()];
    for (&r, d) in rows.iter().zip(d_picked.chunks_exact(hidden)) {
        let row = &mut dx[r as usize * hidden..(r as usize + 1) * hidden];
        row.iter_mut().zip(d).for_each(|(dx, d)| *dx += d);
    }
    Ok((nll, dx))
}

/// The rows `rows` of `x`.
fn pick(head: &Head, x: &[f32], rows: &[u32]) -> Vec<f32> {
    let hidden = head.norm.weight.len();
    rows.iter()
        .flat_map(|&r| &x[r as usize * hidden..(r as usize + 1) * hidden])
        .copied()
        .collect()
}

/// The summed NLL of the picked rows' targets, and `scale ×` its gradient with respect to their
/// logits `(rows, vocab)`.
fn loss_and_logit_grads(
    head: &Head,
    picked: &[f32],
    targets: &[u32],
    scale: f32,
) -> Result<(f64, Vec<f32>)> {
    let n = targets.len();
    if n == 0 {
        return Ok((0.0, Vec::new()));
    }
    let h = normed(&head.norm, picked);
    let vocab = head.linear.out_features();
    let mut logits = vec![0f32; n * vocab];
    head.linear.frozen_rows_into(&h, n, &mut logits, false)?;
    let nll = nll_rows(&mut logits, vocab, targets, scale).iter().sum();
    Ok((nll, logits))
}
