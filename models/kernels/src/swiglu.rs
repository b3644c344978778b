//! The gated feed-forward activation `h = silu(g) ⊙ u` (SwiGLU) and its gradient, each one
//! pass over the data on the kernels' pool, with the vectorised `exp` ([`crate::exp`]).
//!
//! As separate tensor operations the training pass spends a dozen full-size temporaries on it:
//! the sigmoid, the product, and for the gradient candle's `σ(g)·(1 + g·(1 − σ(g)))` chain,
//! each with an allocation and a pass of its own, on the widest activations of the model.

use crate::exp::exp_shifted_sum;
use crate::pool::Pool;
use crate::OutPtr;

/// Elements per task: a few tasks per thread for a 512-token step of a small model.
const TASK_ELEMENTS: usize = 1 << 15;
/// Elements per pass over the stack buffer of sigmoids.
const STRIP: usize = 512;

/// `out = silu(gate) ⊙ up`.
///
/// # Panics
/// When the three slices differ in length (a caller's bug).
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(gate.len() == up.len() && up.len() == out.len());
    let out_ptr = OutPtr(out.as_mut_ptr());
    for_each_strip(gate.len(), &|range| {
        let mut sigmoid = [0f32; STRIP];
        let sigmoid = sigmoids(&gate[range.clone()], &mut sigmoid);
        for (i, s) in range.zip(sigmoid) {
            // SAFETY: strips are disjoint ranges of `out`.
            unsafe { *out_ptr.at(i) = gate[i] * s * up[i] };
        }
    });
}

/// The gradients of [`swiglu`] from the output's gradient `grad`:
/// `d_gate = grad ⊙ up ⊙ σ(g)·(1 + g·(1 − σ(g)))`, `d_up = grad ⊙ silu(g)`.
///
/// # Panics
/// When the five slices differ in length (a caller's bug).
pub fn swiglu_backward(
    gate: &[f32],
    up: &[f32],
    grad: &[f32],
    d_gate: &mut [f32],
    d_up: &mut [f32],
) {
    let n = gate.len();
    assert!([up.len(), grad.len(), d_gate.len(), d_up.len()]
        .iter()
        .all(|&len| len == n));
    let (d_gate_ptr, d_up_ptr) = (OutPtr(d_gate.as_mut_ptr()), OutPtr(d_up.as_mut_ptr()));
    for_each_strip(n, &|range| {
        let mut sigmoid = [0f32; STRIP];
        let sigmoid = sigmoids(&gate[range.clone()], &mut sigmoid);
        for (i, s) in range.zip(sigmoid) {
            let g = gate[i];
            // SAFETY: strips are disjoint ranges of both outputs.
            unsafe {
                *d_gate_ptr.at(i) = grad[i] * up[i] * s * (1.0 + g * (1.0 - s));
                *d_up_ptr.at(i) = grad[i] * g * s;
            }
        }
    });
}

/// `σ(g)` of each of `gate` (at most [`STRIP`] values) in `buffer`.
fn sigmoids<'a>(gate: &[f32], buffer: &'a mut [f32; STRIP]) -> &'a [f32] {
    let sigmoid = &mut buffer[..gate.len()];
    sigmoid.iter_mut().zip(gate).for_each(|(s, g)| *s = -g);
    exp_shifted_sum(sigmoid, 0.0);
    sigmoid.iter_mut().for_each(|s| *s = 1.0 / (1.0 + *s));
    sigmoid
}

/// Runs `f` on strips of at most [`STRIP`] of `0..n`, tasks of [`TASK_ELEMENTS`] on the pool.
fn for_each_strip(n: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
    let tasks = n.div_ceil(TASK_ELEMENTS);
    Pool::global().run(tasks, &|task| {
        let end = ((task + 1) * TASK_ELEMENTS).min(n);
        let mut start = task * TASK_ELEMENTS;
        while start < end {
            let stop = (start + STRIP).min(end);
            f(start..stop);
            start = stop;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 20_001) as f32)
            .map(|v| v / 1000.0 - 10.0)
            .collect()
    }

    #[test]
    fn value_and_gradients_match_the_closed_forms_in_f64() {
        // Not a multiple of a strip or a task, and past the saturation of σ at both ends.
        let n = 3 * TASK_ELEMENTS + STRIP + 37;
        let (mut gate, up, grad) = (values(n, 1), values(n, 2), values(n, 3));
        gate[0] = -120.0;
        gate[1] = 120.0;
        let mut out = vec![0f32; n];
        swiglu(&gate, &up, &mut out);
        let (mut d_gate, mut d_up) = (vec![0f32; n], vec![0f32; n]);
        swiglu_backward(&gate, &up, &grad, &mut d_gate, &mut d_up);
        for i in 0..n {
            let (g, u, dy) = (gate[i] as f64, up[i] as f64, grad[i] as f64);
            let s = 1.0 / (1.0 + (-g).exp());
            let expected = [g * s * u, dy * u * s * (1.0 + g * (1.0 - s)), dy * g * s];
            // `1 + g·(1 − σ)` cancels near g ≈ −1.28: measure d_gate against its terms' size.
            let d_gate_size = (dy * u * s).abs() * (1.0 + g.abs());
            for (name, got, want, size) in [
                ("value", out[i], expected[0], expected[0].abs()),
                ("d_gate", d_gate[i], expected[1], d_gate_size),
                ("d_up", d_up[i], expected[2], expected[2].abs()),
            ] {
                let error = (got as f64 - want).abs();
                assert!(
                    error <= 1e-5 * size + 1e-30,
                    "{name} at g={g}, u={u}: {got} against {want}"
                );
            }
        }
    }
}
