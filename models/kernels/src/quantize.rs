//! One block of activations quantized to 8 bits: the scalar quantizer, the AVX2 one (the same
//! values, eight at a time) and the choice between them for this CPU.

#![allow(unsafe_op_in_unsafe_fn)]

use crate::isa::Isa;

/// Quantizes one block of `src` into `dst`, returning its scale.
type BlockQuantizer = fn(&[f32], &mut [i8]) -> f32;

/// The block quantizer for this CPU, chosen once per input: AVX2 where the CPU has it (the
/// same values as [`quantize_block_scalar`], eight at a time), else the scalar one.
pub(crate) fn block_quantizer() -> BlockQuantizer {
    #[cfg(target_arch = "x86_64")]
    if Isa::detect().has_avx2() {
        return quantize_block_avx2;
    }
    quantize_block_scalar
}

/// [`quantize_block`], only ever returned by [`block_quantizer`] on AVX2 CPUs.
#[cfg(target_arch = "x86_64")]
fn quantize_block_avx2(src: &[f32], dst: &mut [i8]) -> f32 {
    // SAFETY: the CPU has AVX2 (`Isa::Avx2`); blocks are 32 or 256 values, whole vectors.
    unsafe { quantize_block(src, dst) }
}

/// Quantizes `src` into `dst` symmetrically, returning the scale `d = max|x| / 127`, with each
/// `x / d` rounded half away from zero.
pub(crate) fn quantize_block_scalar(src: &[f32], dst: &mut [i8]) -> f32 {
    let amax = src.iter().fold(0f32, |m, &v| m.max(v.abs()));
    if amax == 0.0 || !amax.is_finite() {
        dst.fill(0);
        return if amax.is_finite() { 0.0 } else { amax };
    }
    let d = amax / 127.0;
    let inv = 1.0 / d;
    for (q, &v) in dst.iter_mut().zip(src) {
        *q = (v * inv).round() as i8;
    }
    d
}

/// Quantizes `src` (whole vectors of eight) into `dst` as
/// [`quantize_block_scalar`] does, to the same values: `x / d` is rounded
/// half away from zero by adding ± the float just below ½ and truncating (exact for the
/// magnitudes here, up to 127; the test checks ties).
///
/// # Safety
/// The CPU must have AVX2 ([`Isa::Avx2`]); `src.len()` is a multiple of 32 and `dst` as long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_block(src: &[f32], dst: &mut [i8]) -> f32 {
    debug_assert!(src.len().is_multiple_of(32) && dst.len() == src.len());
    use std::arch::x86_64::*;
    let sign = _mm256_set1_ps(-0.0);
    let mut amax = _mm256_setzero_ps();
    for v in src.chunks_exact(8) {
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(v.as_ptr())));
    }
    let amax = {
        let m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
    };
    if amax == 0.0 || !amax.is_finite() {
        return quantize_block_scalar(src, dst);
    }
    let d = amax / 127.0;
    let inv = _mm256_set1_ps(1.0 / d);
    let half = _mm256_set1_ps(0.49999997);
    let rounded = |v: &[f32]| {
        let x = _mm256_mul_ps(_mm256_loadu_ps(v.as_ptr()), inv);
        let away = _mm256_or_ps(half, _mm256_and_ps(sign, x));
        _mm256_cvttps_epi32(_mm256_add_ps(x, away))
    };
    for (v, q) in src.chunks_exact(32).zip(dst.chunks_exact_mut(32)) {
        let words = [
            _mm256_packs_epi32(rounded(&v[..8]), rounded(&v[8..16])),
            _mm256_packs_epi32(rounded(&v[16..24]), rounded(&v[24..])),
        ];
        // The packs interleave 128-bit lanes: dwords 0 2 4 6 1 3 5 7 → 0 1 … 7.
        let bytes = _mm256_packs_epi16(words[0], words[1]);
        let ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, ordered);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{QK, QK_K};

    #[test]
    fn vector_quantization_matches_the_scalar_one() {
        // Values with ties (x / d = n + 0.5) and every magnitude up to the block's maximum.
        let mut x: Vec<f32> = (0..QK_K * 8)
            .map(|i| ((i * 7919 % 4001) as f32 - 2000.0) / 13.0)
            .collect();
        // A block whose scale is exactly 1, so that every other value is a tie.
        let ties: [f32; QK] = std::array::from_fn(|i| if i == 0 { 127.0 } else { i as f32 - 16.5 });
        x[..QK].copy_from_slice(&ties);
        for block in [QK, QK_K] {
            for (src, _) in x.chunks_exact(block).zip(0..) {
                let (mut fast, mut slow) = (vec![0i8; block], vec![0i8; block]);
                let d = block_quantizer()(src, &mut fast);
                assert_eq!(d, quantize_block_scalar(src, &mut slow));
                assert_eq!(fast, slow);
            }
        }
    }
}
