//! AVX-512 kernels (F + BW + VL, and VNNI where present; x86-64, detected at run time) for
//! the 32-element types: [`avx2::rows8_32`]'s scheme on sixteen weight rows, one per 32-bit
//! lane of a 512-bit vector. Each block of the sixteen rows is transposed in registers (two
//! eight-row transposes joined), so scales, offsets and sums work on sixteen rows at once.
//!
//! With VNNI one `vpdpbusd` multiplies unsigned weight bytes by signed input bytes and adds
//! the four products of each lane into 32 bits, where AVX2 needs `maddubs` + `madd` + `add`;
//! it never saturates, so Q8_0 joins the unsigned types (stored `q + 128`, the offset taken
//! through the input's block sums). Without VNNI the products are AVX2's, twice as wide.
//!
//! [`avx2::rows8_32`]: super::avx2::rows8_32

#![allow(unsafe_op_in_unsafe_fn)]
// Tiles index several per-row arrays (accumulators, unpacked weights, scales) in lockstep.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::activation::{Q8Rows, QK};
use super::avx2::{block_values_32, scales_and_offsets_32, transpose_dwords, ROWS8};
use super::blocks::BlockType;

/// Weight rows per tile: one per 32-bit lane.
pub const ROWS16: usize = 16;

/// Two halves of eight lanes as one vector of sixteen: `lo` in lanes 0–7, `hi` in 8–15.
#[inline(always)]
pub(super) unsafe fn join_i32(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// [`join_i32`] for f32 lanes.
#[inline(always)]
pub(super) unsafe fn join_ps(lo: __m256, hi: __m256) -> __m512 {
    _mm512_castsi512_ps(join_i32(_mm256_castps_si256(lo), _mm256_castps_si256(hi)))
}

/// The first eight and the last eight of sixteen.
#[inline(always)]
fn halves<T: Copy>(all: [T; ROWS16]) -> ([T; ROWS8], [T; ROWS8]) {
    (
        std::array::from_fn(|i| all[i]),
        std::array::from_fn(|i| all[ROWS8 + i]),
    )
}

/// Sixteen weight rows `w` of a 32-element type against input rows `r0..r0+R` of `a`: writes
/// `out[r·n + i]` for input row `r0 + r` and weight row `i`; returns `R`, the input rows done.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VL, AVX2, FMA and F16C ([`super::Isa::Avx512`]); each of `w`
/// is whole blocks of `kind` covering `a.k` elements; `r0 + R` rows exist in `a`; `out` has room
/// for `R` rows of stride `n`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn rows16_32<const R: usize>(
    kind: BlockType,
    w: [&[u8]; ROWS16],
    a: &Q8Rows,
    r0: usize,
    out: *mut f32,
    n: usize,
) -> usize {
    rows16_32_per_kind::<R, false>(kind, w, a, r0, out, n)
}

/// [`rows16_32`] with VNNI products.
///
/// # Safety
/// As [`rows16_32`], and the CPU has AVX-512 VNNI ([`super::Isa::Avx512Vnni`]).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn rows16_32_vnni<const R: usize>(
    kind: BlockType,
    w: [&[u8]; ROWS16],
    a: &Q8Rows,
    r0: usize,
    out: *mut f32,
    n: usize,
) -> usize {
    rows16_32_per_kind::<R, true>(kind, w, a, r0, out, n)
}

/// One copy of the loop per type, so the block decoding is resolved at compile time.
#[inline(always)]
unsafe fn rows16_32_per_kind<const R: usize, const VNNI: bool>(
    kind: BlockType,
    w: [&[u8]; ROWS16],
    a: &Q8Rows,
    r0: usize,
    out: *mut f32,
    n: usize,
) -> usize {
    match kind {
        BlockType::Q4_0 => rows16_32_of::<R, VNNI>(BlockType::Q4_0, w, a, r0, out, n),
        BlockType::Q4_1 => rows16_32_of::<R, VNNI>(BlockType::Q4_1, w, a, r0, out, n),
        BlockType::Q5_0 => rows16_32_of::<R, VNNI>(BlockType::Q5_0, w, a, r0, out, n),
        _ => rows16_32_of::<R, VNNI>(BlockType::Q8_0, w, a, r0, out, n),
    }
    R
}

/// One block of the sixteen rows, transposed: `groups[c]` holds bytes `4c..4c+4` of each row
/// (row `i` in lane `i`), with each row's scale `d` and offset `m` (`w = d·q + m`).
struct Block16 {
    groups: [__m512i; 8],
    d: __m512,
    m: __m512,
}

/// Block `b` of the rows `w`; Q8_0's signed bytes become unsigned (`q + 128`, offset
/// `−128·d`) when `unsigned_q8` (the VNNI products).
#[inline(always)]
unsafe fn block16(kind: BlockType, w: &[&[u8]; ROWS16], b: usize, unsigned_q8: bool) -> Block16 {
    let bytes = kind.block_bytes();
    let row_bytes = w[0].len();
    let mut values = [_mm256_setzero_si256(); ROWS16];
    let mut heads = [0i32; ROWS16];
    for i in 0..ROWS16 {
        let block = w[i].as_ptr().add(b * bytes);
        // The same block sixteen rows on: the next tile of this thread.
        _mm_prefetch::<_MM_HINT_T0>(block.add(ROWS16 * row_bytes) as *const i8);
        values[i] = block_values_32(kind, block);
        heads[i] = std::ptr::read_unaligned(block as *const i32);
    }
    let (values_lo, values_hi) = halves(values);
    let (lo, hi) = (transpose_dwords(values_lo), transpose_dwords(values_hi));
    let mut groups: [__m512i; 8] = std::array::from_fn(|c| join_i32(lo[c], hi[c]));
    let (heads_lo, heads_hi) = halves(heads);
    let ((d_lo, m_lo), (d_hi, m_hi)) = (
        scales_and_offsets_32(kind, heads_lo),
        scales_and_offsets_32(kind, heads_hi),
    );
    let d = join_ps(d_lo, d_hi);
    let mut m = join_ps(m_lo, m_hi);
    if kind == BlockType::Q8_0 && unsigned_q8 {
        let bias = _mm512_set1_epi8(i8::MIN);
        groups = groups.map(|g| _mm512_xor_si512(g, bias));
        m = _mm512_mul_ps(d, _mm512_set1_ps(-128.0));
    }
    Block16 { groups, d, m }
}

/// The integer dot of each lane's 32 weights with the 32 input bytes at `act` (broadcast to
/// every lane four at a time). `signed` is Q8_0 without VNNI: `abs` holds `|w|` and the sign
/// moves to the input (`maddubs` takes unsigned × signed).
#[inline(always)]
unsafe fn lane_dots<const VNNI: bool>(
    groups: &[__m512i; 8],
    abs: &[__m512i; 8],
    signed: bool,
    act: *const i32,
) -> __m512i {
    let input = |g: usize| _mm512_set1_epi32(std::ptr::read_unaligned(act.add(g)));
    if VNNI {
        // Two chains, so the adds of one wait less on the other.
        let mut sums = [_mm512_setzero_si512(); 2];
        for g in 0..8 {
            sums[g % 2] = _mm512_dpbusd_epi32(sums[g % 2], groups[g], input(g));
        }
        return _mm512_add_epi32(sums[0], sums[1]);
    }
    let ones = _mm512_set1_epi16(1);
    if signed {
        let mut sum = _mm512_setzero_si512();
        for g in 0..8 {
            let negative = _mm512_movepi8_mask(groups[g]);
            let x = input(g);
            let x = _mm512_mask_sub_epi8(x, negative, _mm512_setzero_si512(), x);
            sum = _mm512_add_epi32(
                sum,
                _mm512_madd_epi16(_mm512_maddubs_epi16(abs[g], x), ones),
            );
        }
        return sum;
    }
    // Up to four products of 31 × 127 pairs stay within i16.
    let mut pairs = [_mm512_setzero_si512(); 2];
    for g in 0..8 {
        let p = _mm512_maddubs_epi16(groups[g], input(g));
        pairs[g / 4] = _mm512_add_epi16(pairs[g / 4], p);
    }
    _mm512_add_epi32(
        _mm512_madd_epi16(pairs[0], ones),
        _mm512_madd_epi16(pairs[1], ones),
    )
}

#[inline(always)]
unsafe fn rows16_32_of<const R: usize, const VNNI: bool>(
    kind: BlockType,
    w: [&[u8]; ROWS16],
    a: &Q8Rows,
    r0: usize,
    out: *mut f32,
    n: usize,
) {
    let nb = a.blocks_per_row();
    debug_assert!(
        w.iter().all(|w| w.len() >= nb * kind.block_bytes()) && a.d.len() >= (r0 + R) * nb
    );
    // Q8_0 without VNNI keeps its signs (unsigned, `maddubs` pairs would saturate).
    let signed = kind == BlockType::Q8_0 && !VNNI;
    let mut acc = [_mm512_setzero_ps(); R];
    let (qs, ds, sums) = (a.qs.as_ptr(), a.d.as_ptr(), a.sums.as_ptr());
    let k = a.k;
    for b in 0..nb {
        let block = block16(kind, &w, b, VNNI);
        let abs = if signed {
            block.groups.map(|g| _mm512_abs_epi8(g))
        } else {
            block.groups
        };
        for r in 0..R {
            let at = (r0 + r) * nb + b;
            let act = qs.add((r0 + r) * k + b * QK) as *const i32;
            let dot = lane_dots::<VNNI>(&block.groups, &abs, signed, act);
            let scale = _mm512_mul_ps(block.d, _mm512_set1_ps(*ds.add(at)));
            acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(dot), acc[r]);
            if !signed {
                acc[r] = _mm512_fmadd_ps(block.m, _mm512_set1_ps(*sums.add(at)), acc[r]);
            }
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(out.add(r * n), acc[r]);
    }
}
