//! AVX2 + FMA + F16C kernels (x86-64, detected at run time): the portable kernels' arithmetic on 32
//! bytes at a time. A weight block is unpacked once and multiplied with `R` activation rows
//! (`R` = 4 in prefill tiles), so each weight byte is read and unpacked once per tile. The
//! 32-element types transpose eight weight rows into the lanes instead ([`rows8_32`]), for one
//! input row (decode) or a tile of them.
//!
//! The integer products use `maddubs` (unsigned × signed bytes → i16 pairs), as ggml does:
//! signed weights go through the sign trick (`|w|`, `sign(w)·a`).

#![allow(unsafe_op_in_unsafe_fn)]
// Tiles index several per-row arrays (accumulators, unpacked weights, scales) in lockstep.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::activation::{Q8KRows, Q8Rows, QK, QK_K};
use super::blocks::BlockType;

/// The f16 at `p` as f32, with the F16C instruction.
#[inline(always)]
unsafe fn f16(p: *const u8) -> f32 {
    let bits = u16::from_le_bytes(*(p as *const [u8; 2]));
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
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

/// Prefetches the weights one tile ahead: the same block of the rows `W` rows further on (the
/// rows of a tile are adjacent, so this runs ahead of the whole tile). Streams of weights cross
/// 4 KiB pages, where the hardware prefetcher stops.
#[inline(always)]
unsafe fn prefetch_next_tile<const W: usize>(block: *const u8, row_bytes: usize) {
    _mm_prefetch::<_MM_HINT_T0>(block.add(W * row_bytes) as *const i8);
}

#[inline(always)]
unsafe fn load(p: *const i8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// Weight rows `w` (a tile of `W`) of a 32-element type (Q4_0, Q4_1, Q5_0, Q8_0) against input
/// rows `r0..r0+R` of `a`: `out[i·R + r]` is the dot of weight row `i` with input row `r0 + r`.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C ([`available`]); each of `w` is whole blocks of `kind`
/// covering `a.k` elements and `r0 + R` rows exist in `a`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_32<const W: usize, const R: usize>(
    kind: BlockType,
    w: [&[u8]; W],
    a: &Q8Rows,
    r0: usize,
    out: &mut [f32],
) {
    // One copy of the loop per type, so the block decoding is resolved at compile time.
    match kind {
        BlockType::Q4_0 => dot_32_of::<W, R>(BlockType::Q4_0, w, a, r0, out),
        BlockType::Q4_1 => dot_32_of::<W, R>(BlockType::Q4_1, w, a, r0, out),
        BlockType::Q5_0 => dot_32_of::<W, R>(BlockType::Q5_0, w, a, r0, out),
        _ => dot_32_of::<W, R>(BlockType::Q8_0, w, a, r0, out),
    }
}

/// The 32 weights of a block as bytes and its `(d, m)`: signed values for Q4_0, Q5_0 and Q8_0
/// (`w = d·q`), unsigned ones for Q4_1 (`w = d·q + m`).
#[inline(always)]
unsafe fn decode_32(kind: BlockType, block: *const u8) -> (__m256i, f32, f32) {
    let (q, d) = (block_values_32(kind, block), f16(block));
    match kind {
        BlockType::Q4_0 => (_mm256_sub_epi8(q, _mm256_set1_epi8(8)), d, 0.0),
        BlockType::Q4_1 => (q, d, f16(block.add(2))),
        BlockType::Q5_0 => (_mm256_sub_epi8(q, _mm256_set1_epi8(16)), d, 0.0),
        _ => (q, d, 0.0),
    }
}

#[inline(always)]
unsafe fn dot_32_of<const W: usize, const R: usize>(
    kind: BlockType,
    w: [&[u8]; W],
    a: &Q8Rows,
    r0: usize,
    out: &mut [f32],
) {
    let nb = a.blocks_per_row();
    let bytes = kind.block_bytes();
    debug_assert!(w.iter().all(|w| w.len() >= nb * bytes) && a.d.len() >= (r0 + R) * nb);
    let mut acc = [[_mm256_setzero_ps(); R]; W];
    let mut offset_sum = [[0f32; R]; W];
    let (qs, ds, sums) = (a.qs.as_ptr(), a.d.as_ptr(), a.sums.as_ptr());
    let k = a.k;
    for b in 0..nb {
        let mut weights = [_mm256_setzero_si256(); W];
        let mut abs = [_mm256_setzero_si256(); W];
        let mut d = [0f32; W];
        let mut m = [0f32; W];
        for i in 0..W {
            let block = w[i].as_ptr().add(b * bytes);
            prefetch_next_tile::<W>(block, nb * bytes);
            (weights[i], d[i], m[i]) = decode_32(kind, block);
            // The sign trick once per block: |w| is shared by the R input rows.
            abs[i] = _mm256_sign_epi8(weights[i], weights[i]);
        }
        for r in 0..R {
            let at = (r0 + r) * nb + b;
            let act = load(qs.add((r0 + r) * k + b * QK));
            let dy = *ds.add(at);
            for i in 0..W {
                let dot = if kind == BlockType::Q4_1 {
                    offset_sum[i][r] += m[i] * *sums.add(at);
                    dot_u8_i8(weights[i], act)
                } else {
                    dot_u8_i8(abs[i], _mm256_sign_epi8(act, weights[i]))
                };
                let scale = _mm256_set1_ps(d[i] * dy);
                acc[i][r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot), acc[i][r]);
            }
        }
    }
    for i in 0..W {
        for r in 0..R {
            out[i * R + r] = hsum(acc[i][r]) + offset_sum[i][r];
        }
    }
}

/// Weight rows per tile of [`rows8_32`]: one per f32 lane.
pub const ROWS8: usize = 8;

/// The 8×8 transpose of 32-bit lanes: `g[c]` holds dword `c` of each of `r[0..8]`, row `i` in
/// lane `i`.
#[inline(always)]
pub(super) unsafe fn transpose_dwords(r: [__m256i; ROWS8]) -> [__m256i; ROWS8] {
    let t = [
        _mm256_unpacklo_epi32(r[0], r[1]),
        _mm256_unpackhi_epi32(r[0], r[1]),
        _mm256_unpacklo_epi32(r[2], r[3]),
        _mm256_unpackhi_epi32(r[2], r[3]),
        _mm256_unpacklo_epi32(r[4], r[5]),
        _mm256_unpackhi_epi32(r[4], r[5]),
        _mm256_unpacklo_epi32(r[6], r[7]),
        _mm256_unpackhi_epi32(r[6], r[7]),
    ];
    // Dwords (0|4), (1|5), (2|6), (3|7) of rows 0–3, then of rows 4–7.
    let u = [
        _mm256_unpacklo_epi64(t[0], t[2]),
        _mm256_unpackhi_epi64(t[0], t[2]),
        _mm256_unpacklo_epi64(t[1], t[3]),
        _mm256_unpackhi_epi64(t[1], t[3]),
        _mm256_unpacklo_epi64(t[4], t[6]),
        _mm256_unpackhi_epi64(t[4], t[6]),
        _mm256_unpacklo_epi64(t[5], t[7]),
        _mm256_unpackhi_epi64(t[5], t[7]),
    ];
    [
        _mm256_permute2x128_si256(u[0], u[4], 0x20),
        _mm256_permute2x128_si256(u[1], u[5], 0x20),
        _mm256_permute2x128_si256(u[2], u[6], 0x20),
        _mm256_permute2x128_si256(u[3], u[7], 0x20),
        _mm256_permute2x128_si256(u[0], u[4], 0x31),
        _mm256_permute2x128_si256(u[1], u[5], 0x31),
        _mm256_permute2x128_si256(u[2], u[6], 0x31),
        _mm256_permute2x128_si256(u[3], u[7], 0x31),
    ]
}

/// The 32 weights of a block as bytes `q`, with `w = d·q + m`: unsigned for the 4- and 5-bit
/// types (Q4_0 and Q5_0 store `q − 8` and `q − 16`: see [`offsets_32`]), signed for Q8_0.
#[inline(always)]
pub(super) unsafe fn block_values_32(kind: BlockType, block: *const u8) -> __m256i {
    match kind {
        BlockType::Q4_0 => nibbles(block.add(2)),
        BlockType::Q4_1 => nibbles(block.add(4)),
        BlockType::Q5_0 => {
            let qh = u32::from_le_bytes(*(block.add(2) as *const [u8; 4]));
            let high = _mm256_and_si256(bytes_from_bits(qh), _mm256_set1_epi8(0x10));
            _mm256_or_si256(nibbles(block.add(6)), high)
        }
        _ => _mm256_loadu_si256(block.add(2) as *const __m256i),
    }
}

/// The scales `d` and offsets `m` of eight blocks of unsigned values ([`block_values_32`]),
/// from each block's first four bytes: its f16 `d`, then (Q4_1) its f16 `m`.
#[inline(always)]
pub(super) unsafe fn scales_and_offsets_32(
    kind: BlockType,
    heads: [i32; ROWS8],
) -> (__m256, __m256) {
    let [h0, h1, h2, h3, h4, h5, h6, h7] = heads;
    let heads = _mm256_setr_epi32(h0, h1, h2, h3, h4, h5, h6, h7);
    // Per 128-bit lane: the four low halves (d), then the four high halves (m) …
    let split = _mm256_setr_epi8(
        0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, //
        0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
    );
    // … then the eight d of both lanes in the low half, the eight m in the high half.
    let halves = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(heads, split), 0b11_01_10_00);
    let d = _mm256_cvtph_ps(_mm256_castsi256_si128(halves));
    let m = match kind {
        BlockType::Q4_0 => _mm256_mul_ps(d, _mm256_set1_ps(-8.0)),
        BlockType::Q4_1 => _mm256_cvtph_ps(_mm256_extracti128_si256(halves, 1)),
        BlockType::Q5_0 => _mm256_mul_ps(d, _mm256_set1_ps(-16.0)),
        _ => _mm256_setzero_ps(),
    };
    (d, m)
}

/// Eight weight rows `w` of a 32-element type against input rows `r0..r0+R` of `a`:
/// each block of the eight rows is transposed in registers so that lane `i` of a product is
/// row `i`. Scales, offsets and sums then work on eight rows at once, with no horizontal sums,
/// and the four- and five-bit types multiply unsigned values (their offset is applied through
/// the input's block sums). Writes `out[r·n + i]` for input row `r0 + r` and weight row `i`;
/// returns `R`, the input rows done.
///
/// # Safety
/// As [`dot_32`]; `out` has room for `R` rows of stride `n` from `r0`'s row on.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows8_32<const R: usize>(
    kind: BlockType,
    w: [&[u8]; ROWS8],
    a: &Q8Rows,
    r0: usize,
    out: *mut f32,
    n: usize,
) -> usize {
    match kind {
        BlockType::Q4_0 => rows8_32_of::<R>(BlockType::Q4_0, w, a, r0, out, n),
        BlockType::Q4_1 => rows8_32_of::<R>(BlockType::Q4_1, w, a, r0, out, n),
        BlockType::Q5_0 => rows8_32_of::<R>(BlockType::Q5_0, w, a, r0, out, n),
        _ => rows8_32_of::<R>(BlockType::Q8_0, w, a, r0, out, n),
    }
    R
}

#[inline(always)]
unsafe fn rows8_32_of<const R: usize>(
    kind: BlockType,
    w: [&[u8]; ROWS8],
    a: &Q8Rows,
    r0: usize,
    out: *mut f32,
    n: usize,
) {
    let nb = a.blocks_per_row();
    let bytes = kind.block_bytes();
    let signed = kind == BlockType::Q8_0;
    debug_assert!(w.iter().all(|w| w.len() >= nb * bytes) && a.d.len() >= (r0 + R) * nb);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); R];
    let (qs, ds, sums) = (a.qs.as_ptr(), a.d.as_ptr(), a.sums.as_ptr());
    let k = a.k;
    for b in 0..nb {
        let mut rows = [_mm256_setzero_si256(); ROWS8];
        let mut heads = [0i32; ROWS8];
        for i in 0..ROWS8 {
            let block = w[i].as_ptr().add(b * bytes);
            prefetch_next_tile::<ROWS8>(block, nb * bytes);
            rows[i] = block_values_32(kind, block);
            heads[i] = std::ptr::read_unaligned(block as *const i32);
        }
        let groups = transpose_dwords(rows);
        // The eight rows' f16 scales (and Q4_1's offsets) converted at once.
        let (d, m) = scales_and_offsets_32(kind, heads);
        // Q8_0's sign trick: |w| once per block, shared by the R input rows.
        let abs = if signed {
            groups.map(|g| _mm256_sign_epi8(g, g))
        } else {
            groups
        };
        for r in 0..R {
            let at = (r0 + r) * nb + b;
            let act = qs.add((r0 + r) * k + b * QK) as *const i32;
            let dot = if signed {
                let mut sum = _mm256_setzero_si256();
                for g in 0..ROWS8 {
                    let x = _mm256_set1_epi32(std::ptr::read_unaligned(act.add(g)));
                    let x = _mm256_sign_epi8(x, groups[g]);
                    sum = _mm256_add_epi32(sum, dot_u8_i8(abs[g], x));
                }
                sum
            } else {
                // Up to four products of 31 × 127 pairs stay within i16.
                let mut halves = [_mm256_setzero_si256(); 2];
                for g in 0..ROWS8 {
                    let x = _mm256_set1_epi32(std::ptr::read_unaligned(act.add(g)));
                    let p = _mm256_maddubs_epi16(groups[g], x);
                    halves[g / 4] = _mm256_add_epi16(halves[g / 4], p);
                }
                _mm256_add_epi32(
                    _mm256_madd_epi16(halves[0], ones),
                    _mm256_madd_epi16(halves[1], ones),
                )
            };
            let scale = _mm256_mul_ps(d, _mm256_set1_ps(*ds.add(at)));
            acc[r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot), acc[r]);
            if !signed {
                acc[r] = _mm256_fmadd_ps(m, _mm256_set1_ps(*sums.add(at)), acc[r]);
            }
        }
    }
    for r in 0..R {
        _mm256_storeu_ps(out.add(r * n), acc[r]);
    }
}

/// Q4_K's twelve scale bytes as sixteen i16: the eight 6-bit scales, then the eight minimums.
#[inline(always)]
pub(super) unsafe fn q4k_scales_and_mins_i16(p: *const u8) -> __m256i {
    const LOW6: u32 = 0x3f3f3f3f;
    const LOW4: u32 = 0x0f0f0f0f;
    const LOW2: u32 = 0x03030303;
    let q = *(p as *const [u32; 3]);
    let mins_hi = ((q[2] >> 4) & LOW4) | (((q[1] >> 6) & LOW2) << 4);
    let mins_lo = q[1] & LOW6;
    let scales_hi = (q[2] & LOW4) | (((q[0] >> 6) & LOW2) << 4);
    let scales_lo = q[0] & LOW6;
    _mm256_cvtepu8_epi16(_mm_set_epi32(
        mins_hi as i32,
        mins_lo as i32,
        scales_hi as i32,
        scales_lo as i32,
    ))
}

/// Q4_K weight rows `w` against input rows `r0..r0+R` of `a` (output as [`dot_32`]).
///
/// # Safety
/// As [`dot_32`], for super-blocks of 256.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_q4k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: &Q8KRows,
    r0: usize,
    out: &mut [f32],
) {
    let nb = a.blocks_per_row();
    let bytes = BlockType::Q4K.block_bytes();
    debug_assert!(w.iter().all(|w| w.len() >= nb * bytes) && a.d.len() >= (r0 + R) * nb);
    let mut acc = [[_mm256_setzero_ps(); R]; W];
    let mut min_acc = [[_mm_setzero_ps(); R]; W];
    let low = _mm256_set1_epi8(0xF);
    let k = a.k;
    for b in 0..nb {
        let mut d = [0f32; W];
        let mut dmin = [0f32; W];
        let mut scales = [_mm256_setzero_si256(); W];
        let mut mins = [_mm_setzero_si128(); W];
        for i in 0..W {
            let block = w[i].as_ptr().add(b * bytes);
            for line in (0..bytes).step_by(64) {
                prefetch_next_tile::<W>(block.add(line), nb * bytes);
            }
            (d[i], dmin[i]) = (f16(block), f16(block.add(2)));
            let both = q4k_scales_and_mins_i16(block.add(4));
            let scales128 = _mm256_castsi256_si128(both);
            scales[i] = _mm256_set_m128i(scales128, scales128);
            mins[i] = _mm256_extracti128_si256(both, 1);
        }
        // Minimums: Σ_j min_j · (sum of input block j), with the input's 16-sums paired.
        for r in 0..R {
            let at = (r0 + r) * nb + b;
            let bsums = _mm256_loadu_si256(a.bsums.as_ptr().add(at * 16) as *const __m256i);
            let pairs = _mm_hadd_epi16(
                _mm256_castsi256_si128(bsums),
                _mm256_extracti128_si256(bsums, 1),
            );
            for i in 0..W {
                let prod = _mm_cvtepi32_ps(_mm_madd_epi16(mins[i], pairs));
                let scale = _mm_set1_ps(-a.d[at] * dmin[i]);
                min_acc[i][r] = _mm_fmadd_ps(scale, prod, min_acc[i][r]);
            }
        }
        let mut sumi = [[_mm256_setzero_si256(); R]; W];
        for chunk in 0..4 {
            let mut lo = [_mm256_setzero_si256(); W];
            let mut hi = [_mm256_setzero_si256(); W];
            let mut scale_lo = [_mm256_setzero_si256(); W];
            let mut scale_hi = [_mm256_setzero_si256(); W];
            for i in 0..W {
                let q4 = w[i].as_ptr().add(b * bytes + 16 + chunk * 32);
                let bits = _mm256_loadu_si256(q4 as *const __m256i);
                lo[i] = _mm256_and_si256(bits, low);
                hi[i] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low);
                scale_lo[i] = _mm256_shuffle_epi8(scales[i], broadcast_i16(2 * chunk));
                scale_hi[i] = _mm256_shuffle_epi8(scales[i], broadcast_i16(2 * chunk + 1));
            }
            for r in 0..R {
                let q8 = a.qs.as_ptr().add((r0 + r) * k + b * QK_K + chunk * 64);
                let (act_lo, act_hi) = (load(q8), load(q8.add(32)));
                for i in 0..W {
                    let p = _mm256_add_epi32(
                        _mm256_madd_epi16(scale_lo[i], _mm256_maddubs_epi16(lo[i], act_lo)),
                        _mm256_madd_epi16(scale_hi[i], _mm256_maddubs_epi16(hi[i], act_hi)),
                    );
                    sumi[i][r] = _mm256_add_epi32(sumi[i][r], p);
                }
            }
        }
        for r in 0..R {
            let dy = a.d[(r0 + r) * nb + b];
            for i in 0..W {
                let scale = _mm256_set1_ps(dy * d[i]);
                acc[i][r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sumi[i][r]), acc[i][r]);
            }
        }
    }
    for i in 0..W {
        for r in 0..R {
            let m = min_acc[i][r];
            let m = _mm_add_ps(m, _mm_movehl_ps(m, m));
            let m = _mm_add_ss(m, _mm_movehdup_ps(m));
            out[i * R + r] = hsum(acc[i][r]) + _mm_cvtss_f32(m);
        }
    }
}

/// A shuffle that copies the i16 lane `lane` (of each 128-bit half) to every lane.
#[inline(always)]
unsafe fn broadcast_i16(lane: usize) -> __m256i {
    let pair = (((2 * lane + 1) << 8) | (2 * lane)) as i16;
    _mm256_set1_epi16(pair)
}

/// Q6_K weight rows `w` against input rows `r0..r0+R` of `a` (output as [`dot_32`]). The
/// sixteen scales are loaded once per block and the values' offset of 32 is applied through
/// the input's 16-sums, so the inner loop is one unsigned × signed product per 32 values.
///
/// # Safety
/// As [`dot_32`], for super-blocks of 256.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_q6k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: &Q8KRows,
    r0: usize,
    out: &mut [f32],
) {
    let nb = a.blocks_per_row();
    let bytes = BlockType::Q6K.block_bytes();
    debug_assert!(w.iter().all(|w| w.len() >= nb * bytes) && a.d.len() >= (r0 + R) * nb);
    let mut acc = [[_mm256_setzero_ps(); R]; W];
    let (low, two_bits) = (_mm256_set1_epi8(0xF), _mm256_set1_epi8(3));
    let (qs, ds, bsums) = (a.qs.as_ptr(), a.d.as_ptr(), a.bsums.as_ptr());
    let k = a.k;
    for b in 0..nb {
        let mut scales = [_mm_setzero_si128(); W];
        let mut sumi = [[_mm256_setzero_si256(); R]; W];
        for i in 0..W {
            let block = w[i].as_ptr().add(b * bytes);
            for line in (0..bytes).step_by(64) {
                prefetch_next_tile::<W>(block.add(line), nb * bytes);
            }
            scales[i] = _mm_loadu_si128(block.add(192) as *const __m128i);
            // The sums start at −32 · Σ_j scale_j · (sum of input group j).
            let wide = _mm256_cvtepi8_epi16(scales[i]);
            for r in 0..R {
                let at = (r0 + r) * nb + b;
                let sums = _mm256_loadu_si256(bsums.add(at * 16) as *const __m256i);
                let offset = _mm256_madd_epi16(wide, sums);
                sumi[i][r] = _mm256_sub_epi32(sumi[i][r], _mm256_slli_epi32(offset, 5));
            }
        }
        for half in 0..2 {
            let mut ql = [[_mm256_setzero_si256(); 2]; W];
            let mut qh = [_mm256_setzero_si256(); W];
            for i in 0..W {
                let block = w[i].as_ptr().add(b * bytes);
                ql[i] = [0, 1].map(|l| load(block.add(half * 64 + l * 32) as *const i8));
                qh[i] = load(block.add(128 + half * 32) as *const i8);
            }
            for g in 0..4 {
                let mut q6 = [_mm256_setzero_si256(); W];
                let mut sc = [_mm256_setzero_si256(); W];
                for i in 0..W {
                    let bits = ql[i][g & 1];
                    let nib = if g < 2 {
                        _mm256_and_si256(bits, low)
                    } else {
                        _mm256_and_si256(_mm256_srli_epi16(bits, 4), low)
                    };
                    let high = match g {
                        0 => high_bits(qh[i], two_bits),
                        1 => high_bits(_mm256_srli_epi16(qh[i], 2), two_bits),
                        2 => high_bits(_mm256_srli_epi16(qh[i], 4), two_bits),
                        _ => high_bits(_mm256_srli_epi16(qh[i], 6), two_bits),
                    };
                    q6[i] = _mm256_or_si256(nib, high);
                    let pair = _mm_shuffle_epi8(scales[i], scale_pair_shuffle(half * 4 + g));
                    sc[i] = _mm256_cvtepi8_epi16(pair);
                }
                for r in 0..R {
                    let act = load(qs.add((r0 + r) * k + b * QK_K + half * 128 + g * 32));
                    for i in 0..W {
                        let p = _mm256_maddubs_epi16(q6[i], act);
                        sumi[i][r] = _mm256_add_epi32(sumi[i][r], _mm256_madd_epi16(sc[i], p));
                    }
                }
            }
        }
        for i in 0..W {
            let d = f16(w[i].as_ptr().add(b * bytes + 208));
            for r in 0..R {
                let scale = _mm256_set1_ps(*ds.add((r0 + r) * nb + b) * d);
                acc[i][r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sumi[i][r]), acc[i][r]);
            }
        }
    }
    for i in 0..W {
        for r in 0..R {
            out[i * R + r] = hsum(acc[i][r]);
        }
    }
}

/// A byte shuffle that spreads scales `2g` and `2g + 1` of sixteen over eight bytes each (they
/// scale the first and the second 16 values of group `g`).
#[inline(always)]
unsafe fn scale_pair_shuffle(g: usize) -> __m128i {
    let spread = |s: usize| (s as i64) * 0x0101010101010101;
    _mm_set_epi64x(spread(2 * g + 1), spread(2 * g))
}

/// The two low bits of each byte of `bits`, moved to bits 4 and 5 (Q6_K's high bits).
#[inline(always)]
unsafe fn high_bits(bits: __m256i, two_bits: __m256i) -> __m256i {
    _mm256_slli_epi16(_mm256_and_si256(bits, two_bits), 4)
}
