//! `exp` over a row of scores, vectorised: the soft-max of the blocked training attention
//! ([`crate::attention_blocked`]) takes one exponential per score, three times per layer and
//! step (forward, recomputed forward, backward), which with libm's scalar `expf` was about 7% of
//! a LoRA step at 512 tokens.
//!
//! Cephes' single-precision method: `eˣ = 2ⁿ · eʳ` with `n = round(x·log₂e)` and
//! `r = x − n·ln 2` (ln 2 in two parts, so `r` is exact), `eʳ` by a degree-6 minimax
//! polynomial on `|r| ≤ ln 2 / 2`, `2ⁿ` built in the exponent bits. Within 2 ulp of libm's
//! `expf` for the arguments a soft-max gives (`x ≤ 0`); below −87.3 the result is clamped to
//! about 1e-38 instead of a subnormal or zero.

#![allow(unsafe_op_in_unsafe_fn)]

use crate::isa::Isa;

const LOG2_E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const LOWEST: f32 = -87.336_54;
const HIGHEST: f32 = 88.376_26;
/// Cephes' `expf` polynomial, highest degree first: `eʳ ≈ 1 + r + r²·P(r)`.
const POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

/// Replaces each `x` of `values` with `exp(x − shift)` and returns their sum.
pub(crate) fn exp_shifted_sum(values: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        let isa = Isa::detect();
        if isa.has_avx512() {
            // SAFETY: the CPU has AVX-512 F (`Isa::Avx512` and above).
            return unsafe { exp_shifted_sum_avx512(values, shift) };
        }
        if isa.has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (`Isa::Avx2` and above).
            return unsafe { exp_shifted_sum_avx2(values, shift) };
        }
    }
    exp_shifted_sum_scalar(values, shift)
}

/// The same method one value at a time (the vector loops' tails, and other CPUs).
fn exp_shifted_sum_scalar(values: &mut [f32], shift: f32) -> f32 {
    let mut total = 0.0;
    for x in values.iter_mut() {
        *x = exp(*x - shift);
        total += *x;
    }
    total
}

/// `eˣ` by the method above, one value.
fn exp(x: f32) -> f32 {
    let x = x.clamp(LOWEST, HIGHEST);
    let n = (x * LOG2_E).round_ties_even();
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let p = POLY[1..].iter().fold(POLY[0], |p, &c| p.mul_add(r, c));
    let y = p.mul_add(r * r, r) + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_shifted_sum_avx512(values: &mut [f32], shift: f32) -> f32 {
    use std::arch::x86_64::*;
    let (shift_v, mut sums) = (_mm512_set1_ps(shift), _mm512_setzero_ps());
    let mut chunks = values.chunks_exact_mut(16);
    for chunk in &mut chunks {
        let x = _mm512_sub_ps(_mm512_loadu_ps(chunk.as_ptr()), shift_v);
        let x = _mm512_min_ps(
            _mm512_max_ps(x, _mm512_set1_ps(LOWEST)),
            _mm512_set1_ps(HIGHEST),
        );
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(LOG2_E)),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
        let mut p = _mm512_set1_ps(POLY[0]);
        for &c in &POLY[1..] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let y = _mm512_add_ps(
            _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r),
            _mm512_set1_ps(1.0),
        );
        let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(
            _mm512_cvtps_epi32(n),
            _mm512_set1_epi32(127),
        ));
        let e = _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
        _mm512_storeu_ps(chunk.as_mut_ptr(), e);
        sums = _mm512_add_ps(sums, e);
    }
    _mm512_reduce_add_ps(sums) + exp_shifted_sum_scalar(chunks.into_remainder(), shift)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_shifted_sum_avx2(values: &mut [f32], shift: f32) -> f32 {
    use std::arch::x86_64::*;
    let (shift_v, mut sums) = (_mm256_set1_ps(shift), _mm256_setzero_ps());
    let mut chunks = values.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let x = _mm256_sub_ps(_mm256_loadu_ps(chunk.as_ptr()), shift_v);
        let x = _mm256_min_ps(
            _mm256_max_ps(x, _mm256_set1_ps(LOWEST)),
            _mm256_set1_ps(HIGHEST),
        );
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut p = _mm256_set1_ps(POLY[0]);
        for &c in &POLY[1..] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let y = _mm256_add_ps(
            _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r),
            _mm256_set1_ps(1.0),
        );
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        ));
        let e = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
        _mm256_storeu_ps(chunk.as_mut_ptr(), e);
        sums = _mm256_add_ps(sums, e);
    }
    let lanes: [f32; 8] = std::mem::transmute(sums);
    lanes.iter().sum::<f32>() + exp_shifted_sum_scalar(chunks.into_remainder(), shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments a soft-max gives: 0 down to far below the clamp, and the clamp's edges.
    fn arguments() -> Vec<f32> {
        let mut xs: Vec<f32> = (0..20_000).map(|i| -(i as f32) * 0.0051).collect();
        xs.extend([
            0.0,
            -1e-7,
            -0.5,
            -0.346_573_6,
            -LOWEST.abs(),
            -87.0,
            3.0,
            10.0,
        ]);
        xs
    }

    fn relative_error(ours: f32, libm: f32) -> f32 {
        ((ours - libm) / libm.max(f32::MIN_POSITIVE)).abs()
    }

    #[test]
    fn every_path_matches_libm_and_sums_its_values() {
        let xs = arguments();
        type Path = fn(&mut [f32], f32) -> f32;
        let mut paths: Vec<(&str, Path)> = vec![("scalar", exp_shifted_sum_scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            if Isa::best_supported().has_avx2() {
                paths.push(("avx2", |v, s| unsafe { exp_shifted_sum_avx2(v, s) }));
            }
            if Isa::best_supported().has_avx512() {
                paths.push(("avx512", |v, s| unsafe { exp_shifted_sum_avx512(v, s) }));
            }
        }
        for (name, path) in paths {
            let mut values = xs.clone();
            // Shifted by 1: the arguments become x − 1.
            let total = path(&mut values, 1.0);
            let mut worst = 0f32;
            for (&x, &e) in xs.iter().zip(&values) {
                let libm = (x - 1.0).exp();
                if x - 1.0 >= LOWEST {
                    worst = worst.max(relative_error(e, libm));
                } else {
                    assert!(e < 1.2e-38, "{name}: exp({}) = {e}", x - 1.0);
                }
            }
            let expected: f64 = values.iter().map(|&v| v as f64).sum();
            eprintln!(
                "{name}: worst relative error {worst:e} over {} values",
                xs.len()
            );
            assert!(worst < 3e-7, "{name}: relative error {worst}");
            assert!(
                ((total as f64 - expected) / expected).abs() < 1e-5,
                "{name}: sum"
            );
        }
    }
}
