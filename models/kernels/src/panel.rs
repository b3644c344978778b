//! Prefill for the K types (Q4_K, Q6_K) on AVX2: eight weight rows are repacked once into a
//! panel, and every token of the prompt then runs over the panel.
//!
//! The panel is the eight rows' super-blocks unpacked to one byte per weight and transposed:
//! vector `t` of a super-block holds weights `4t..4t+4` of each row, row `i` in 32-bit lane `i`.
//! One `maddubs` with four input values broadcast to every lane then gives all eight rows'
//! products, so scales, minimums and sums work on eight rows at once and no horizontal sum is
//! left. Sub-block scales are stored as 16-bit pairs ready for `madd`. The panel lives only
//! while its rows are multiplied (a few KiB per super-block column, in the core's cache): the
//! weights stay in their file layout, with no second copy.

#![allow(unsafe_op_in_unsafe_fn)]
// Tiles index per-token arrays (partial sums, accumulators) in lockstep.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::activation::{Q8KRows, QK_K};
use super::avx2::{q4k_scales_and_mins_i16, transpose_dwords, ROWS8};
use super::blocks::BlockType;

/// Input rows per tile: partial sums, integer sums and accumulators of four tokens fit AVX2's
/// sixteen registers.
pub const TOKENS: usize = 4;

/// Vectors of four weights per super-block (256 / 4).
pub(super) const GROUPS: usize = QK_K / 4;

/// Panel vectors per Q4_K super-block: the weights, eight scales, four minimum pairs, `d` and
/// `dmin`.
pub(super) const Q4K_STRIDE: usize = GROUPS + 8 + 4 + 2;
/// Panel vectors per Q6_K super-block: the weights, sixteen scales, eight scale pairs, `d`.
pub(super) const Q6K_STRIDE: usize = GROUPS + 16 + 8 + 1;

/// Eight rows of a K type, repacked for [`multiply`].
pub struct Panel {
    kind: BlockType,
    blocks: usize,
    vectors: Vec<__m256i>,
}

impl Panel {
    /// An empty panel for rows of `blocks` super-blocks of `kind` (Q4_K or Q6_K).
    pub fn new(kind: BlockType, blocks: usize) -> Self {
        let stride = match kind {
            BlockType::Q4K => Q4K_STRIDE,
            _ => Q6K_STRIDE,
        };
        // SAFETY: an all-zero bit pattern is a valid `__m256i`.
        let zero = unsafe { _mm256_setzero_si256() };
        Self {
            kind,
            blocks,
            vectors: vec![zero; stride * blocks],
        }
    }

    /// The packed vectors: [`Q4K_STRIDE`] or [`Q6K_STRIDE`] per super-block.
    pub(super) fn vectors(&self) -> &[__m256i] {
        &self.vectors
    }

    /// Repacks the eight rows `w`.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; each of `w` holds `blocks` super-blocks of the kind.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn pack(&mut self, w: [&[u8]; ROWS8]) {
        debug_assert!(w
            .iter()
            .all(|w| w.len() >= self.blocks * self.kind.block_bytes()));
        match self.kind {
            BlockType::Q4K => pack_q4k(w, self.blocks, &mut self.vectors),
            _ => pack_q6k(w, self.blocks, &mut self.vectors),
        }
    }
}

/// Broadcasts the 16-bit lane `i` of each 32-bit pair to both halves: `0xA0` copies the even
/// lanes, `0xF5` the odd ones.
#[inline(always)]
unsafe fn duplicate_i16<const IMM: i32>(v: __m256i) -> __m256i {
    _mm256_shufflehi_epi16::<IMM>(_mm256_shufflelo_epi16::<IMM>(v))
}

/// The f16 at offset `at` of each of the eight blocks as f32 lanes.
#[inline(always)]
unsafe fn f16_lanes(blocks: [*const u8; ROWS8], at: usize) -> __m256 {
    let bits: [u16; ROWS8] =
        std::array::from_fn(|i| std::ptr::read_unaligned(blocks[i].add(at) as *const u16));
    _mm256_cvtph_ps(_mm_loadu_si128(bits.as_ptr() as *const __m128i))
}

#[inline(always)]
unsafe fn pack_q4k(w: [&[u8]; ROWS8], blocks: usize, out: &mut [__m256i]) {
    let bytes = BlockType::Q4K.block_bytes();
    let low = _mm256_set1_epi8(0xF);
    for b in 0..blocks {
        let block: [*const u8; ROWS8] = std::array::from_fn(|i| w[i].as_ptr().add(b * bytes));
        let p = &mut out[b * Q4K_STRIDE..(b + 1) * Q4K_STRIDE];
        // 32 bytes of nibbles per chunk: low nibbles are sub-block 2j, high nibbles 2j + 1.
        for j in 0..4 {
            let chunk = transpose_dwords(std::array::from_fn(|i| {
                _mm256_loadu_si256(block[i].add(16 + 32 * j) as *const __m256i)
            }));
            for c in 0..8 {
                p[16 * j + c] = _mm256_and_si256(chunk[c], low);
                p[16 * j + 8 + c] = _mm256_and_si256(_mm256_srli_epi16(chunk[c], 4), low);
            }
        }
        // Per row: scales s0..s7 then minimums m0..m7 as i16, i.e. pairs (s0,s1) … (m6,m7).
        let pairs = transpose_dwords(std::array::from_fn(|i| {
            q4k_scales_and_mins_i16(block[i].add(4))
        }));
        for c in 0..4 {
            p[GROUPS + 2 * c] = duplicate_i16::<0xA0>(pairs[c]);
            p[GROUPS + 2 * c + 1] = duplicate_i16::<0xF5>(pairs[c]);
            p[GROUPS + 8 + c] = pairs[4 + c];
        }
        p[GROUPS + 12] = _mm256_castps_si256(f16_lanes(block, 0));
        p[GROUPS + 13] = _mm256_castps_si256(f16_lanes(block, 2));
    }
}

/// The 32 six-bit values `32·v ..` (`v` in 0..8) of a Q6_K block as unsigned bytes.
#[inline(always)]
unsafe fn q6k_values(block: *const u8, v: usize) -> __m256i {
    let (half, g) = (v / 4, v % 4);
    let ql = _mm256_loadu_si256(block.add(half * 64 + (g & 1) * 32) as *const __m256i);
    let qh = _mm256_loadu_si256(block.add(128 + half * 32) as *const __m256i);
    let low = _mm256_set1_epi8(0xF);
    let nibbles = if g < 2 {
        _mm256_and_si256(ql, low)
    } else {
        _mm256_and_si256(_mm256_srli_epi16(ql, 4), low)
    };
    let two_bits = match g {
        0 => qh,
        1 => _mm256_srli_epi16(qh, 2),
        2 => _mm256_srli_epi16(qh, 4),
        _ => _mm256_srli_epi16(qh, 6),
    };
    let high = _mm256_slli_epi16(_mm256_and_si256(two_bits, _mm256_set1_epi8(3)), 4);
    _mm256_or_si256(nibbles, high)
}

#[inline(always)]
unsafe fn pack_q6k(w: [&[u8]; ROWS8], blocks: usize, out: &mut [__m256i]) {
    let bytes = BlockType::Q6K.block_bytes();
    for b in 0..blocks {
        let block: [*const u8; ROWS8] = std::array::from_fn(|i| w[i].as_ptr().add(b * bytes));
        let p = &mut out[b * Q6K_STRIDE..(b + 1) * Q6K_STRIDE];
        for v in 0..8 {
            let chunk = transpose_dwords(std::array::from_fn(|i| q6k_values(block[i], v)));
            p[8 * v..8 * v + 8].copy_from_slice(&chunk);
        }
        // Sixteen signed scales per row as i16, i.e. pairs (s0,s1) … (s14,s15).
        let pairs = transpose_dwords(std::array::from_fn(|i| {
            _mm256_cvtepi8_epi16(_mm_loadu_si128(block[i].add(192) as *const __m128i))
        }));
        for c in 0..8 {
            p[GROUPS + 2 * c] = duplicate_i16::<0xA0>(pairs[c]);
            p[GROUPS + 2 * c + 1] = duplicate_i16::<0xF5>(pairs[c]);
            p[GROUPS + 16 + c] = pairs[c];
        }
        p[GROUPS + 24] = _mm256_castps_si256(f16_lanes(block, 208));
    }
}

/// Four input values `4t..4t+4` of super-block `b` of input row `r`, broadcast to every lane.
#[inline(always)]
unsafe fn input_group(a: &Q8KRows, r: usize, b: usize, t: usize) -> __m256i {
    let at = a.qs.as_ptr().add(r * a.k + b * QK_K + 4 * t) as *const i32;
    _mm256_set1_epi32(std::ptr::read_unaligned(at))
}

/// The sums of the input's values per sub-block of super-block `b` of input row `r`, as the
/// i16 pairs of `pairs` sub-block weights multiply them: sixteen sums of 16 values (Q6_K, eight
/// pairs) or eight sums of 32 (Q4_K, four pairs), two per i32.
#[inline(always)]
pub(super) unsafe fn sub_block_sums(a: &Q8KRows, r: usize, b: usize, pairs: usize) -> [i32; 8] {
    let at = (r * a.k / QK_K + b) * 16;
    let sixteens = _mm256_loadu_si256(a.bsums.as_ptr().add(at) as *const __m256i);
    let mut sums = [0i32; 8];
    if pairs == 4 {
        // Sub-blocks of 32 values: add the input's 16-sums in pairs.
        let halves = (
            _mm256_castsi256_si128(sixteens),
            _mm256_extracti128_si256(sixteens, 1),
        );
        let thirty_twos = _mm_hadd_epi16(halves.0, halves.1);
        _mm_storeu_si128(sums.as_mut_ptr() as *mut __m128i, thirty_twos);
    } else {
        _mm256_storeu_si256(sums.as_mut_ptr() as *mut __m256i, sixteens);
    }
    sums
}

/// `Σ_s w_s · (sum of the input's values in sub-block s)` per lane, for super-block `b` of
/// input row `r`. `pairs` holds each row's sub-block weights as i16 pairs `(w_2c, w_2c+1)`: four
/// pairs are Q4_K's eight sub-blocks of 32 values, eight pairs Q6_K's sixteen of 16.
#[inline(always)]
unsafe fn sub_block_dot(pairs: &[__m256i], a: &Q8KRows, r: usize, b: usize) -> __m256i {
    let sums = sub_block_sums(a, r, b, pairs.len());
    let mut total = _mm256_setzero_si256();
    for (c, &w) in pairs.iter().enumerate() {
        total = _mm256_add_epi32(total, _mm256_madd_epi16(w, _mm256_set1_epi32(sums[c])));
    }
    total
}

/// The panel's eight rows against input rows `r0..r0+R` of `a`: writes `out[r·n + i]`.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; `a` has `r0 + R` rows as wide as the panel's; `out` has room
/// for `R` rows of stride `n`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn multiply<const R: usize>(
    panel: &Panel,
    a: &Q8KRows,
    r0: usize,
    out: *mut f32,
    n: usize,
) {
    debug_assert_eq!(a.k, panel.blocks * QK_K);
    let acc = match panel.kind {
        BlockType::Q4K => q4k::<R>(panel, a, r0),
        _ => q6k::<R>(panel, a, r0),
    };
    for r in 0..R {
        _mm256_storeu_ps(out.add(r * n), acc[r]);
    }
}

#[inline(always)]
unsafe fn q4k<const R: usize>(panel: &Panel, a: &Q8KRows, r0: usize) -> [__m256; R] {
    let mut acc = [_mm256_setzero_ps(); R];
    for b in 0..panel.blocks {
        let p = &panel.vectors[b * Q4K_STRIDE..(b + 1) * Q4K_STRIDE];
        let mut isum = [_mm256_setzero_si256(); R];
        for s in 0..8 {
            // Eight products of 15 × 127 pairs stay within i16.
            let mut part = [_mm256_setzero_si256(); R];
            for t in 8 * s..8 * s + 8 {
                for r in 0..R {
                    let x = input_group(a, r0 + r, b, t);
                    part[r] = _mm256_add_epi16(part[r], _mm256_maddubs_epi16(p[t], x));
                }
            }
            for r in 0..R {
                isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(part[r], p[GROUPS + s]));
            }
        }
        let (d, dmin) = (
            _mm256_castsi256_ps(p[GROUPS + 12]),
            _mm256_castsi256_ps(p[GROUPS + 13]),
        );
        for r in 0..R {
            let msum = sub_block_dot(&p[GROUPS + 8..GROUPS + 12], a, r0 + r, b);
            let dy = _mm256_set1_ps(a.d[(r0 + r) * panel.blocks + b]);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_mul_ps(d, dy), acc[r]);
            acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(dmin, dy), acc[r]);
        }
    }
    acc
}

#[inline(always)]
unsafe fn q6k<const R: usize>(panel: &Panel, a: &Q8KRows, r0: usize) -> [__m256; R] {
    let mut acc = [_mm256_setzero_ps(); R];
    for b in 0..panel.blocks {
        let p = &panel.vectors[b * Q6K_STRIDE..(b + 1) * Q6K_STRIDE];
        let mut isum = [_mm256_setzero_si256(); R];
        for s in 0..16 {
            // Two products of 63 × 127 pairs stay within i16; a sub-block has four.
            for half in 0..2 {
                let t = 4 * s + 2 * half;
                for r in 0..R {
                    let p0 = _mm256_maddubs_epi16(p[t], input_group(a, r0 + r, b, t));
                    let p1 = _mm256_maddubs_epi16(p[t + 1], input_group(a, r0 + r, b, t + 1));
                    let scaled = _mm256_madd_epi16(_mm256_add_epi16(p0, p1), p[GROUPS + s]);
                    isum[r] = _mm256_add_epi32(isum[r], scaled);
                }
            }
        }
        let d = _mm256_castsi256_ps(p[GROUPS + 24]);
        for r in 0..R {
            // The stored values are q + 32: subtract 32 · Σ scale · (sum of 16 inputs).
            let offset = sub_block_dot(&p[GROUPS + 16..GROUPS + 24], a, r0 + r, b);
            let exact = _mm256_sub_epi32(isum[r], _mm256_slli_epi32(offset, 5));
            let dy = _mm256_set1_ps(a.d[(r0 + r) * panel.blocks + b]);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), _mm256_mul_ps(d, dy), acc[r]);
        }
    }
    acc
}
