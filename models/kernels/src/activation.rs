//! Activations quantized to 8 bits, once per layer input, for the integer dot products.
//!
//! Two layouts, matching the two families of weight blocks: [`Q8Rows`] in blocks of 32 (for
//! Q4_0, Q4_1, Q5_0, Q8_0) and [`Q8KRows`] in super-blocks of 256 (for Q4_K, Q6_K). Both are
//! symmetric: `x ≈ d · q` with `q` in −127..=127 and one `d` per block ([`crate::quantize`]).

use crate::quantize::block_quantizer;

/// Elements per block of the 32-element family.
pub const QK: usize = 32;
/// Elements per super-block of the K family.
pub const QK_K: usize = 256;

/// Rows of activations in blocks of 32: `qs` row-major, one scale and one scaled sum per block.
#[derive(Debug, Clone)]
pub struct Q8Rows {
    /// Elements per row.
    pub k: usize,
    /// Quantized values, `rows × k`.
    pub qs: Vec<i8>,
    /// Scale of each block, `rows × k/32`.
    pub d: Vec<f32>,
    /// `d · Σq` of each block (the term a block's offset multiplies, as in Q4_1).
    pub sums: Vec<f32>,
}

impl Q8Rows {
    /// Quantizes the `x.len() / k` rows of `x`; `k` must be a multiple of 32.
    pub fn quantize(x: &[f32], k: usize) -> Self {
        let blocks = x.len() / QK;
        let quantize_block = block_quantizer();
        let mut rows = Self {
            k,
            qs: vec![0; x.len()],
            d: vec![0.0; blocks],
            sums: vec![0.0; blocks],
        };
        for (b, (src, dst)) in x
            .chunks_exact(QK)
            .zip(rows.qs.chunks_exact_mut(QK))
            .enumerate()
        {
            let d = quantize_block(src, dst);
            rows.d[b] = d;
            rows.sums[b] = d * dst.iter().map(|&q| q as i32).sum::<i32>() as f32;
        }
        rows
    }

    /// Blocks per row.
    pub fn blocks_per_row(&self) -> usize {
        self.k / QK
    }

    /// Row `r`: its values, scales and sums.
    #[inline(always)]
    pub fn row(&self, r: usize) -> (&[i8], &[f32], &[f32]) {
        let nb = self.blocks_per_row();
        (
            &self.qs[r * self.k..(r + 1) * self.k],
            &self.d[r * nb..(r + 1) * nb],
            &self.sums[r * nb..(r + 1) * nb],
        )
    }
}

/// Rows of activations in super-blocks of 256: one scale per super-block and the sum of every
/// 16 values (what the K types' block minimums and offsets multiply).
#[derive(Debug, Clone)]
pub struct Q8KRows {
    /// Elements per row.
    pub k: usize,
    /// Quantized values, `rows × k`.
    pub qs: Vec<i8>,
    /// Scale of each super-block, `rows × k/256`.
    pub d: Vec<f32>,
    /// `Σq` of each 16 values, `rows × k/16`.
    pub bsums: Vec<i16>,
}

impl Q8KRows {
    /// Quantizes the `x.len() / k` rows of `x`; `k` must be a multiple of 256.
    pub fn quantize(x: &[f32], k: usize) -> Self {
        let mut rows = Self {
            k,
            qs: vec![0; x.len()],
            d: vec![0.0; x.len() / QK_K],
            bsums: vec![0; x.len() / 16],
        };
        let quantize_block = block_quantizer();
        let blocks = x.chunks_exact(QK_K).zip(rows.qs.chunks_exact_mut(QK_K));
        for (b, (src, dst)) in blocks.enumerate() {
            rows.d[b] = quantize_block(src, dst);
            for (g, group) in dst.chunks_exact(16).enumerate() {
                rows.bsums[b * 16 + g] = group.iter().map(|&q| q as i16).sum();
            }
        }
        rows
    }

    /// Super-blocks per row.
    pub fn blocks_per_row(&self) -> usize {
        self.k / QK_K
    }

    /// Row `r`: its values, scales and 16-sums.
    #[inline(always)]
    pub fn row(&self, r: usize) -> (&[i8], &[f32], &[i16]) {
        let nb = self.blocks_per_row();
        (
            &self.qs[r * self.k..(r + 1) * self.k],
            &self.d[r * nb..(r + 1) * nb],
            &self.bsums[r * self.k / 16..(r + 1) * self.k / 16],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_reconstruct_their_values() {
        let x: Vec<f32> = (0..512)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let q = Q8Rows::quantize(&x, 256);
        let qk = Q8KRows::quantize(&x, 256);
        for (i, &v) in x.iter().enumerate() {
            let a = q.qs[i] as f32 * q.d[i / QK];
            let b = qk.qs[i] as f32 * qk.d[i / QK_K];
            assert!((a - v).abs() <= q.d[i / QK] * 0.5 + 1e-6);
            assert!((b - v).abs() <= qk.d[i / QK_K] * 0.5 + 1e-6);
        }
        let (values, _, sums) = qk.row(1);
        assert_eq!(sums[0], values[..16].iter().map(|&v| v as i16).sum::<i16>());
        let (values, d, s) = q.row(1);
        let expected = d[0] * values[..32].iter().map(|&v| v as i32).sum::<i32>() as f32;
        assert_eq!(s[0], expected);
    }

    #[test]
    fn zero_and_non_finite_blocks_do_not_divide_by_zero() {
        let q = Q8Rows::quantize(&[0.0; 32], 32);
        assert_eq!(q.d[0], 0.0);
        assert!(q.qs.iter().all(|&v| v == 0));
        let q = Q8Rows::quantize(&[f32::INFINITY; 32], 32);
        assert!(q.d[0].is_infinite());
    }
}
