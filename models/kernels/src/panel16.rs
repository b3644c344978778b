//! Prefill for the K types (Q4_K, Q6_K) on AVX-512: [`panel`]'s scheme on sixteen weight rows,
//! one per 32-bit lane of a 512-bit vector. The sixteen rows are packed as two eight-row
//! panels whose vectors are then joined (rows 0–7 in the low half, 8–15 in the high half), so
//! the layout and its arithmetic are [`panel`]'s, twice as wide.
//!
//! With VNNI the four-weight products of a sub-block are summed by `vpdpbusd` straight into 32
//! bits (where AVX2 needs `maddubs` + 16-bit adds) and scaled once per sub-block.
//!
//! [`panel`]: super::panel

#![allow(unsafe_op_in_unsafe_fn)]
// Tiles index per-token arrays (partial sums, accumulators) in lockstep.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::activation::{Q8KRows, QK_K};
use super::avx2::ROWS8;
use super::avx512::{join_i32, ROWS16};
use super::blocks::BlockType;
use super::panel::{sub_block_sums, Panel, GROUPS, Q4K_STRIDE, Q6K_STRIDE};

/// Input rows per tile.
pub const TOKENS: usize = 8;

/// Sixteen rows of a K type, repacked for [`multiply`].
pub struct Panel16 {
    kind: BlockType,
    blocks: usize,
    halves: [Panel; 2],
    vectors: Vec<__m512i>,
}

impl Panel16 {
    /// An empty panel for rows of `blocks` super-blocks of `kind` (Q4_K or Q6_K).
    pub fn new(kind: BlockType, blocks: usize) -> Self {
        let halves = [Panel::new(kind, blocks), Panel::new(kind, blocks)];
        // SAFETY: an all-zero bit pattern is a valid `__m512i`.
        let zero = unsafe { std::mem::zeroed::<__m512i>() };
        let vectors = vec![zero; halves[0].vectors().len()];
        Self {
            kind,
            blocks,
            halves,
            vectors,
        }
    }

    /// Repacks the sixteen rows `w`.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VL, AVX2, FMA and F16C; each of `w` holds `blocks`
    /// super-blocks of the kind.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub unsafe fn pack(&mut self, w: [&[u8]; ROWS16]) {
        for (h, half) in self.halves.iter_mut().enumerate() {
            half.pack(std::array::from_fn(|i| w[h * ROWS8 + i]));
        }
        let (lo, hi) = (self.halves[0].vectors(), self.halves[1].vectors());
        for (v, (&lo, &hi)) in self.vectors.iter_mut().zip(lo.iter().zip(hi)) {
            *v = join_i32(lo, hi);
        }
    }
}

/// Four input values `4t..4t+4` of super-block `b` of input row `r`, broadcast to every lane.
#[inline(always)]
unsafe fn input_group(a: &Q8KRows, r: usize, b: usize, t: usize) -> __m512i {
    let at = a.qs.as_ptr().add(r * a.k + b * QK_K + 4 * t) as *const i32;
    _mm512_set1_epi32(std::ptr::read_unaligned(at))
}

/// `Σ_s w_s · (sum of the input's values in sub-block s)` per lane (as [`panel`]'s).
///
/// [`panel`]: super::panel
#[inline(always)]
unsafe fn sub_block_dot(pairs: &[__m512i], a: &Q8KRows, r: usize, b: usize) -> __m512i {
    let sums = sub_block_sums(a, r, b, pairs.len());
    let mut total = _mm512_setzero_si512();
    for (c, &w) in pairs.iter().enumerate() {
        total = _mm512_add_epi32(total, _mm512_madd_epi16(w, _mm512_set1_epi32(sums[c])));
    }
    total
}

/// A sub-block's scale, stored as the i16 pair `(s, s)` for `madd`, as an i32 `s`.
#[inline(always)]
unsafe fn scale_i32(pair: __m512i) -> __m512i {
    _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(pair))
}

/// The panel's sixteen rows against input rows `r0..r0+R` of `a`: writes `out[r·n + i]`.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VL, AVX2, FMA and F16C; `a` has `r0 + R` rows as wide as the
/// panel's; `out` has room for `R` rows of stride `n`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn multiply<const R: usize>(
    panel: &Panel16,
    a: &Q8KRows,
    r0: usize,
    out: *mut f32,
    n: usize,
) {
    store::<R>(panel_products::<R, false>(panel, a, r0), out, n);
}

/// [`multiply`] with VNNI products.
///
/// # Safety
/// As [`multiply`], and the CPU has AVX-512 VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn multiply_vnni<const R: usize>(
    panel: &Panel16,
    a: &Q8KRows,
    r0: usize,
    out: *mut f32,
    n: usize,
) {
    store::<R>(panel_products::<R, true>(panel, a, r0), out, n);
}

#[inline(always)]
unsafe fn store<const R: usize>(acc: [__m512; R], out: *mut f32, n: usize) {
    for r in 0..R {
        _mm512_storeu_ps(out.add(r * n), acc[r]);
    }
}

#[inline(always)]
unsafe fn panel_products<const R: usize, const VNNI: bool>(
    panel: &Panel16,
    a: &Q8KRows,
    r0: usize,
) -> [__m512; R] {
    debug_assert_eq!(a.k, panel.blocks * QK_K);
    match panel.kind {
        BlockType::Q4K => q4k::<R, VNNI>(panel, a, r0),
        _ => q6k::<R, VNNI>(panel, a, r0),
    }
}

/// The dots of `R` input rows with a sub-block's groups `t` (four weights per lane each),
/// scaled by the sub-block's scale pair `scale`, added to `isum`. VNNI sums in 32 bits; AVX-512
/// BW sums `maddubs` pairs in 16 bits (the caller keeps the groups few enough not to saturate).
#[inline(always)]
unsafe fn scaled_sub_block<const R: usize, const VNNI: bool>(
    p: &[__m512i],
    groups: std::ops::Range<usize>,
    scale: __m512i,
    a: &Q8KRows,
    r0: usize,
    b: usize,
    isum: &mut [__m512i; R],
) {
    let mut part = [_mm512_setzero_si512(); R];
    for t in groups {
        for r in 0..R {
            let x = input_group(a, r0 + r, b, t);
            part[r] = if VNNI {
                _mm512_dpbusd_epi32(part[r], p[t], x)
            } else {
                _mm512_add_epi16(part[r], _mm512_maddubs_epi16(p[t], x))
            };
        }
    }
    for r in 0..R {
        let scaled = if VNNI {
            _mm512_mullo_epi32(part[r], scale_i32(scale))
        } else {
            _mm512_madd_epi16(part[r], scale)
        };
        isum[r] = _mm512_add_epi32(isum[r], scaled);
    }
}

#[inline(always)]
unsafe fn q4k<const R: usize, const VNNI: bool>(
    panel: &Panel16,
    a: &Q8KRows,
    r0: usize,
) -> [__m512; R] {
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..panel.blocks {
        let p = &panel.vectors[b * Q4K_STRIDE..(b + 1) * Q4K_STRIDE];
        let mut isum = [_mm512_setzero_si512(); R];
        for s in 0..8 {
            // Eight products of 15 × 127 pairs stay within i16.
            let groups = 8 * s..8 * s + 8;
            scaled_sub_block::<R, VNNI>(p, groups, p[GROUPS + s], a, r0, b, &mut isum);
        }
        let (d, dmin) = (
            _mm512_castsi512_ps(p[GROUPS + 12]),
            _mm512_castsi512_ps(p[GROUPS + 13]),
        );
        for r in 0..R {
            let msum = sub_block_dot(&p[GROUPS + 8..GROUPS + 12], a, r0 + r, b);
            let dy = _mm512_set1_ps(a.d[(r0 + r) * panel.blocks + b]);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(d, dy), acc[r]);
            acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dmin, dy), acc[r]);
        }
    }
    acc
}

#[inline(always)]
unsafe fn q6k<const R: usize, const VNNI: bool>(
    panel: &Panel16,
    a: &Q8KRows,
    r0: usize,
) -> [__m512; R] {
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..panel.blocks {
        let p = &panel.vectors[b * Q6K_STRIDE..(b + 1) * Q6K_STRIDE];
        let mut isum = [_mm512_setzero_si512(); R];
        for s in 0..16 {
            // Two products of 63 × 127 pairs stay within i16; a sub-block has four, so without
            // VNNI each half is scaled on its own.
            if VNNI {
                scaled_sub_block::<R, VNNI>(
                    p,
                    4 * s..4 * s + 4,
                    p[GROUPS + s],
                    a,
                    r0,
                    b,
                    &mut isum,
                );
            } else {
                for half in 0..2 {
                    let groups = 4 * s + 2 * half..4 * s + 2 * half + 2;
                    scaled_sub_block::<R, VNNI>(p, groups, p[GROUPS + s], a, r0, b, &mut isum);
                }
            }
        }
        let d = _mm512_castsi512_ps(p[GROUPS + 24]);
        for r in 0..R {
            // The stored values are q + 32: subtract 32 · Σ scale · (sum of 16 inputs).
            let offset = sub_block_dot(&p[GROUPS + 16..GROUPS + 24], a, r0 + r, b);
            let exact = _mm512_sub_epi32(isum[r], _mm512_slli_epi32::<5>(offset));
            let dy = _mm512_set1_ps(a.d[(r0 + r) * panel.blocks + b]);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(d, dy), acc[r]);
        }
    }
    acc
}
