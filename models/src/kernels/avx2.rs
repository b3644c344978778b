//! AVX2 + FMA kernels (x86-64, detected at run time): the portable kernels' arithmetic on 32
//! bytes at a time. A weight block is unpacked once and multiplied with `R` activation rows
//! (`R` = 4 in prefill tiles), so each weight byte is read and unpacked once per tile.
//!
//! The integer products use `maddubs` (unsigned × signed bytes → i16 pairs), as ggml does:
//! signed weights go through the sign trick (`|w|`, `sign(w)·a`).

#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

use super::activation::{Q8KRows, Q8Rows, QK, QK_K};
use super::blocks::{f16_at, q4k_scales_and_mins, BlockType};

/// Whether this CPU runs these kernels.
pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Sum of the eight lanes.
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Unsigned bytes × signed bytes, summed in fours → eight i32.
#[inline(always)]
unsafe fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

/// The 32 nibbles of 16 bytes: low nibbles in the low half, high nibbles in the high half.
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> __m256i {
    let tmp = _mm_loadu_si128(p as *const __m128i);
    let both = _mm256_insertf128_si256(_mm256_castsi128_si256(tmp), _mm_srli_epi16(tmp, 4), 1);
    _mm256_and_si256(both, _mm256_set1_epi8(0xF))
}

/// Each of the 32 bits of `bits` as a byte: 0xFF where set, 0 where clear.
#[inline(always)]
unsafe fn bytes_from_bits(bits: u32) -> __m256i {
    let shuffle = _mm256_set_epi64x(
        0x0303030303030303,
        0x0202020202020202,
        0x0101010101010101,
        0x0000000000000000,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(bits as i32), shuffle);
    let mask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe_u64 as i64);
    _mm256_cmpeq_epi8(_mm256_or_si256(bytes, mask), _mm256_set1_epi64x(-1))
}

#[inline(always)]
unsafe fn load(p: *const i8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// A 32-element type (Q4_0, Q4_1, Q5_0, Q8_0) against rows `r0..r0+R` of `a`.
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`available`]); `w` is whole blocks of `kind` covering
/// `a.k` elements and `r0 + R` rows exist in `a`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_32<const R: usize>(
    kind: BlockType,
    w: &[u8],
    a: &Q8Rows,
    r0: usize,
    out: &mut [f32],
) {
    let nb = a.blocks_per_row();
    let bytes = kind.block_bytes();
    debug_assert!(w.len() >= nb * bytes && a.d.len() >= (r0 + R) * nb);
    let mut acc = [_mm256_setzero_ps(); R];
    let mut offset_sum = [0f32; R];
    let (qs, ds, sums) = (a.qs.as_ptr(), a.d.as_ptr(), a.sums.as_ptr());
    let k = a.k;
    for b in 0..nb {
        let block = w.as_ptr().add(b * bytes);
        let d = f16_at(std::slice::from_raw_parts(block, 2), 0);
        // Q4_1 weights are unsigned with an offset; the others are signed.
        let (weights, m) = match kind {
            BlockType::Q4_0 => (
                _mm256_sub_epi8(nibbles(block.add(2)), _mm256_set1_epi8(8)),
                0.0,
            ),
            BlockType::Q4_1 => (
                nibbles(block.add(4)),
                f16_at(std::slice::from_raw_parts(block, 4), 2),
            ),
            BlockType::Q5_0 => {
                let qh = u32::from_le_bytes(*(block.add(2) as *const [u8; 4]));
                let high = _mm256_andnot_si256(bytes_from_bits(qh), _mm256_set1_epi8(0xF0u8 as i8));
                (_mm256_or_si256(nibbles(block.add(6)), high), 0.0)
            }
            BlockType::Q8_0 => (_mm256_loadu_si256(block.add(2) as *const __m256i), 0.0),
            BlockType::Q4K | BlockType::Q6K => unreachable!("K types have super-blocks"),
        };
        if kind == BlockType::Q4_1 {
            for r in 0..R {
                let at = (r0 + r) * nb + b;
                let act = load(qs.add((r0 + r) * k + b * QK));
                let dot = _mm256_cvtepi32_ps(dot_u8_i8(weights, act));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * *ds.add(at)), dot, acc[r]);
                offset_sum[r] += m * *sums.add(at);
            }
        } else {
            // The sign trick once per block: |w| and sign(w) are shared by the R rows.
            let abs = _mm256_sign_epi8(weights, weights);
            for r in 0..R {
                let at = (r0 + r) * nb + b;
                let act = _mm256_sign_epi8(load(qs.add((r0 + r) * k + b * QK)), weights);
                let dot = _mm256_cvtepi32_ps(dot_u8_i8(abs, act));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * *ds.add(at)), dot, acc[r]);
            }
        }
    }
    for r in 0..R {
        out[r] = hsum(acc[r]) + offset_sum[r];
    }
}

/// Q4_K against rows `r0..r0+R` of `a`.
///
/// # Safety
/// As [`dot_32`], for super-blocks of 256.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_q4k<const R: usize>(w: &[u8], a: &Q8KRows, r0: usize, out: &mut [f32]) {
    let nb = a.blocks_per_row();
    let bytes = BlockType::Q4K.block_bytes();
    debug_assert!(w.len() >= nb * bytes && a.d.len() >= (r0 + R) * nb);
    let mut acc = [_mm256_setzero_ps(); R];
    let mut min_acc = [0f32; R];
    let low = _mm256_set1_epi8(0xF);
    let k = a.k;
    for b in 0..nb {
        let block = &w[b * bytes..(b + 1) * bytes];
        let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
        let (scales, mins) = q4k_scales_and_mins(&block[4..16]);
        let mut sumi = [_mm256_setzero_si256(); R];
        let q4 = block.as_ptr().add(16);
        for chunk in 0..4 {
            let bits = _mm256_loadu_si256(q4.add(chunk * 32) as *const __m256i);
            let lo = _mm256_and_si256(bits, low);
            let hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low);
            let scale_lo = _mm256_set1_epi16(scales[2 * chunk] as i16);
            let scale_hi = _mm256_set1_epi16(scales[2 * chunk + 1] as i16);
            for r in 0..R {
                let q8 = a.qs.as_ptr().add((r0 + r) * k + b * QK_K + chunk * 64);
                let p_lo = _mm256_maddubs_epi16(lo, load(q8));
                let p_hi = _mm256_maddubs_epi16(hi, load(q8.add(32)));
                let p = _mm256_add_epi32(
                    _mm256_madd_epi16(scale_lo, p_lo),
                    _mm256_madd_epi16(scale_hi, p_hi),
                );
                sumi[r] = _mm256_add_epi32(sumi[r], p);
            }
        }
        for r in 0..R {
            let at = (r0 + r) * nb + b;
            let dy = a.d[at];
            let bsums = &a.bsums[at * 16..at * 16 + 16];
            let mut min_sum = 0i32;
            for j in 0..8 {
                min_sum += mins[j] as i32 * (bsums[2 * j] as i32 + bsums[2 * j + 1] as i32);
            }
            min_acc[r] -= dy * dmin * min_sum as f32;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dy * d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for r in 0..R {
        out[r] = hsum(acc[r]) + min_acc[r];
    }
}

/// Q6_K against rows `r0..r0+R` of `a`.
///
/// # Safety
/// As [`dot_32`], for super-blocks of 256.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_q6k<const R: usize>(w: &[u8], a: &Q8KRows, r0: usize, out: &mut [f32]) {
    let nb = a.blocks_per_row();
    let bytes = BlockType::Q6K.block_bytes();
    debug_assert!(w.len() >= nb * bytes && a.d.len() >= (r0 + R) * nb);
    let mut acc = [_mm256_setzero_ps(); R];
    let (low, two_bits, m32) = (
        _mm256_set1_epi8(0xF),
        _mm256_set1_epi8(3),
        _mm256_set1_epi8(32),
    );
    let k = a.k;
    for b in 0..nb {
        let block = &w[b * bytes..(b + 1) * bytes];
        let d = f16_at(block, 208);
        let scales = &block[192..208];
        let mut sumi = [_mm256_setzero_si256(); R];
        for half in 0..2 {
            let ql = block.as_ptr().add(half * 64);
            let qh = _mm256_loadu_si256(block.as_ptr().add(128 + half * 32) as *const __m256i);
            let bits1 = _mm256_loadu_si256(ql as *const __m256i);
            let bits2 = _mm256_loadu_si256(ql.add(32) as *const __m256i);
            let q6 = [
                _mm256_or_si256(_mm256_and_si256(bits1, low), high_bits(qh, two_bits)),
                _mm256_or_si256(
                    _mm256_and_si256(bits2, low),
                    high_bits(_mm256_srli_epi16(qh, 2), two_bits),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(bits1, 4), low),
                    high_bits(_mm256_srli_epi16(qh, 4), two_bits),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(bits2, 4), low),
                    high_bits(_mm256_srli_epi16(qh, 6), two_bits),
                ),
            ];
            let s = &scales[half * 8..half * 8 + 8];
            let sc = [
                scale_pair(s[0], s[1]),
                scale_pair(s[2], s[3]),
                scale_pair(s[4], s[5]),
                scale_pair(s[6], s[7]),
            ];
            for r in 0..R {
                let q8 = a.qs.as_ptr().add((r0 + r) * k + b * QK_K + half * 128);
                for g in 0..4 {
                    let act = load(q8.add(g * 32));
                    // (q6 − 32)·a = q6·a − 32·a, both as unsigned × signed bytes.
                    let p = _mm256_sub_epi16(
                        _mm256_maddubs_epi16(q6[g], act),
                        _mm256_maddubs_epi16(m32, act),
                    );
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(sc[g], p));
                }
            }
        }
        for r in 0..R {
            let dy = a.d[(r0 + r) * nb + b];
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dy * d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for r in 0..R {
        out[r] = hsum(acc[r]);
    }
}

/// The two low bits of each byte of `bits`, moved to bits 4 and 5 (Q6_K's high bits).
#[inline(always)]
unsafe fn high_bits(bits: __m256i, two_bits: __m256i) -> __m256i {
    _mm256_slli_epi16(_mm256_and_si256(bits, two_bits), 4)
}

/// Sixteen i16: eight of the scale `lo` (the first 16 values), eight of `hi` (the next 16).
#[inline(always)]
unsafe fn scale_pair(lo: u8, hi: u8) -> __m256i {
    _mm256_set_m128i(_mm_set1_epi16(hi as i8 as i16), _mm_set1_epi16(lo as i8 as i16))
}
