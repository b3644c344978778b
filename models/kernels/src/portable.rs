//! Portable kernels: the dot products of one weight row with `R` activation rows, in plain
//! integer arithmetic. They run where no SIMD kernel does and define what the SIMD ones compute.

use super::activation::{Q8KRows, Q8Rows, QK, QK_K};
use super::blocks::{f16_at, q4k_scales_and_mins, BlockType};

/// `Σ a·b` over two i8 runs.
#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// Unpacks the 32 values of a 32-element block of `kind` into `q` and returns `(d, m)`, where
/// a weight is `d·q + m`.
#[inline(always)]
fn unpack32(kind: BlockType, block: &[u8], q: &mut [i8; QK]) -> (f32, f32) {
    let nibbles = |qs: &[u8], q: &mut [i8; QK], offset: i8| {
        for j in 0..16 {
            q[j] = (qs[j] & 0xF) as i8 - offset;
            q[j + 16] = (qs[j] >> 4) as i8 - offset;
        }
    };
    match kind {
        BlockType::Q4_0 => {
            nibbles(&block[2..18], q, 8);
            (f16_at(block, 0), 0.0)
        }
        BlockType::Q4_1 => {
            nibbles(&block[4..20], q, 0);
            (f16_at(block, 0), f16_at(block, 2))
        }
        BlockType::Q5_0 => {
            let qh = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            nibbles(&block[6..22], q, 0);
            for (j, v) in q.iter_mut().enumerate() {
                *v = (*v | ((((qh >> j) & 1) as i8) << 4)) - 16;
            }
            (f16_at(block, 0), 0.0)
        }
        BlockType::Q8_0 => {
            for (v, &b) in q.iter_mut().zip(&block[2..34]) {
                *v = b as i8;
            }
            (f16_at(block, 0), 0.0)
        }
        BlockType::Q4K | BlockType::Q6K => unreachable!("K types have super-blocks"),
    }
}

/// Weight rows `w` of a 32-element type (Q4_0, Q4_1, Q5_0, Q8_0) against input rows
/// `r0..r0+R` of `a`: `out[i·R + r]` is the dot of weight row `i` with input row `r0 + r`.
pub fn dot_32<const W: usize, const R: usize>(
    kind: BlockType,
    w: [&[u8]; W],
    a: &Q8Rows,
    r0: usize,
    out: &mut [f32],
) {
    for (i, w) in w.into_iter().enumerate() {
        row_32::<R>(kind, w, a, r0, &mut out[i * R..]);
    }
}

/// Q4_K weight rows `w` against input rows `r0..r0+R` of `a` (output as [`dot_32`]).
pub fn dot_q4k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: &Q8KRows,
    r0: usize,
    out: &mut [f32],
) {
    for (i, w) in w.into_iter().enumerate() {
        row_q4k::<R>(w, a, r0, &mut out[i * R..]);
    }
}

/// Q6_K weight rows `w` against input rows `r0..r0+R` of `a` (output as [`dot_32`]).
pub fn dot_q6k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: &Q8KRows,
    r0: usize,
    out: &mut [f32],
) {
    for (i, w) in w.into_iter().enumerate() {
        row_q6k::<R>(w, a, r0, &mut out[i * R..]);
    }
}

/// One weight row of a 32-element type against rows `r0..r0+R` of `a`.
fn row_32<const R: usize>(kind: BlockType, w: &[u8], a: &Q8Rows, r0: usize, out: &mut [f32]) {
    let mut acc = [0f32; R];
    let mut q = [0i8; QK];
    for (b, block) in w.chunks_exact(kind.block_bytes()).enumerate() {
        let (d, m) = unpack32(kind, block, &mut q);
        for (r, acc) in acc.iter_mut().enumerate() {
            let (qs, ds, sums) = a.row(r0 + r);
            let dot = dot_i8(&q, &qs[b * QK..(b + 1) * QK]);
            *acc += d * ds[b] * dot as f32 + m * sums[b];
        }
    }
    out[..R].copy_from_slice(&acc);
}

/// One Q4_K weight row against rows `r0..r0+R` of `a`.
fn row_q4k<const R: usize>(w: &[u8], a: &Q8KRows, r0: usize, out: &mut [f32]) {
    let mut acc = [0f32; R];
    let mut q = [0i8; QK_K];
    for (b, block) in w.chunks_exact(BlockType::Q4K.block_bytes()).enumerate() {
        let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
        let (scales, mins) = q4k_scales_and_mins(&block[4..16]);
        for (chunk, qs) in block[16..144].chunks_exact(32).enumerate() {
            for (l, &byte) in qs.iter().enumerate() {
                q[chunk * 64 + l] = (byte & 0xF) as i8;
                q[chunk * 64 + 32 + l] = (byte >> 4) as i8;
            }
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let (qs, ds, bsums) = a.row(r0 + r);
            let qs = &qs[b * QK_K..(b + 1) * QK_K];
            let (mut sum, mut min_sum) = (0i32, 0i32);
            for j in 0..8 {
                sum +=
                    scales[j] as i32 * dot_i8(&q[j * 32..(j + 1) * 32], &qs[j * 32..(j + 1) * 32]);
                let pair = bsums[b * 16 + 2 * j] as i32 + bsums[b * 16 + 2 * j + 1] as i32;
                min_sum += mins[j] as i32 * pair;
            }
            *acc += ds[b] * (d * sum as f32 - dmin * min_sum as f32);
        }
    }
    out[..R].copy_from_slice(&acc);
}

/// One Q6_K weight row against rows `r0..r0+R` of `a`.
fn row_q6k<const R: usize>(w: &[u8], a: &Q8KRows, r0: usize, out: &mut [f32]) {
    let mut acc = [0f32; R];
    let mut q = [0i8; QK_K];
    for (b, block) in w.chunks_exact(BlockType::Q6K.block_bytes()).enumerate() {
        let (ql, qh) = (&block[..128], &block[128..192]);
        let scales = &block[192..208];
        let d = f16_at(block, 208);
        for half in 0..2 {
            let (ql, qh) = (&ql[half * 64..], &qh[half * 32..]);
            let y = &mut q[half * 128..];
            for l in 0..32 {
                y[l] = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i8 - 32;
                y[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                y[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                y[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            }
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let (qs, ds, _) = a.row(r0 + r);
            let qs = &qs[b * QK_K..(b + 1) * QK_K];
            let sum: i32 = (0..16)
                .map(|g| {
                    let range = g * 16..(g + 1) * 16;
                    scales[g] as i8 as i32 * dot_i8(&q[range.clone()], &qs[range])
                })
                .sum();
            *acc += ds[b] * d * sum as f32;
        }
    }
    out[..R].copy_from_slice(&acc);
}
