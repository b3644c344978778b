//! Whole tiles of weight rows, one row per 32-bit vector lane: eight on AVX2
//! ([`avx2::rows8_32`], [`panel`]), sixteen on AVX-512 ([`avx512::rows16_32`], [`panel16`]).
//! The 32-element types transpose each block of the tile's rows as they read it; the K types
//! are repacked once per tile into a panel that every input row then reuses. The rows a width
//! leaves (fewer than a tile) go to the next width down, then to the row-by-row tiles.

#![allow(unsafe_op_in_unsafe_fn)]

use super::activation::{Q8KRows, Q8Rows};
use super::avx512::ROWS16;
use super::blocks::BlockType;
use super::{avx2, avx512, panel, panel16, Isa, OutPtr, QuantizedInput, WeightRows, TILE};

/// A tile width and the instruction set it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lanes {
    width: usize,
    needs: Isa,
    decoded: &'static [BlockType],
}

/// Eight rows in 256-bit vectors. Decode takes them for the 4- and 5-bit 32-element types,
/// bound by unpacking rather than by memory (Q4_1 decode +4%, Q5_0 +3% in-model, up to +40% in
/// cache); Q8_0 decode is bound by memory and measured 6% faster on four rows at a time, and
/// the K types' panel is repacked per product, worth it only for a tile of input rows.
pub(crate) const EIGHT: Lanes = Lanes {
    width: avx2::ROWS8,
    needs: Isa::Avx2,
    decoded: &[BlockType::Q4_0, BlockType::Q4_1, BlockType::Q5_0],
};

/// Sixteen rows in 512-bit vectors, for prefill only: in decode, transposing sixteen rows per
/// block cost more than the wider products gained (`cargo bench -p citrus-kernels`, Xeon with
/// AVX-512 VNNI: Q4_0 17.6 GB/s against 21.8 on eight rows, Q8_0 35 against 45 on four), so
/// decode keeps the AVX2 tiles.
pub(crate) const SIXTEEN: Lanes = Lanes {
    width: ROWS16,
    needs: Isa::Avx512,
    decoded: &[],
};

impl Lanes {
    /// Whether a CPU with `isa` runs these tiles.
    pub(crate) fn runs_on(self, isa: Isa) -> bool {
        isa >= self.needs
    }

    /// Whether decode (one input row) takes these tiles for `kind`.
    pub(crate) fn decodes(self, kind: BlockType) -> bool {
        self.decoded.contains(&kind)
    }
}

/// Rows `range` of `rows` by whole tiles of `lanes`, times every input row, written to `out`
/// `(m, weight.rows)`. Returns the first row it left (fewer than a tile remain).
///
/// # Safety
/// `out` points to `m · weight.rows` floats that no other task writes in these columns; the CPU
/// runs `lanes` ([`Lanes::runs_on`]) with `isa`, which it supports.
pub(crate) unsafe fn tiles(
    lanes: Lanes,
    isa: Isa,
    rows: &WeightRows,
    input: &QuantizedInput,
    range: std::ops::Range<usize>,
    out: OutPtr,
) -> usize {
    let (kind, n, m) = (rows.weight.kind(), rows.weight.rows(), input.rows());
    let blocks = rows.weight.cols() / kind.block_elements();
    let mut panel = kind.is_k_quant().then(|| KPanel::new(lanes, kind, blocks));
    let mut j = range.start;
    while range.end - j >= lanes.width {
        // Narrower tiles read the first `width` rows.
        let tile: [&[u8]; ROWS16] = std::array::from_fn(|i| rows.row(j + i.min(lanes.width - 1)));
        if let Some(panel) = &mut panel {
            panel.pack(&tile);
        }
        let mut r = 0;
        while r < m {
            let dst = out.at(r * n + j);
            r += match &panel {
                Some(panel) => panel.tile(isa, input.q8k(), r, dst, n, m - r),
                None => rows_tile(lanes, isa, kind, &tile, input.q8(), r, dst, n, m - r),
            };
        }
        j += lanes.width;
    }
    j
}

/// One tile of a 32-element type: eight input rows from `r`, or four, or one (`left` remain).
/// Returns the rows done.
///
/// # Safety
/// As [`avx2::rows8_32`] or [`avx512::rows16_32`] (and `_vnni`) for `lanes` on `isa`.
#[allow(clippy::too_many_arguments)]
unsafe fn rows_tile(
    lanes: Lanes,
    isa: Isa,
    kind: BlockType,
    tile: &[&[u8]; ROWS16],
    a: &Q8Rows,
    r: usize,
    dst: *mut f32,
    n: usize,
    left: usize,
) -> usize {
    if lanes == EIGHT {
        let w = std::array::from_fn(|i| tile[i]);
        return match left {
            8.. => avx2::rows8_32::<8>(kind, w, a, r, dst, n),
            TILE.. => avx2::rows8_32::<TILE>(kind, w, a, r, dst, n),
            _ => avx2::rows8_32::<1>(kind, w, a, r, dst, n),
        };
    }
    let w = *tile;
    match (left, isa >= Isa::Avx512Vnni) {
        (8.., true) => avx512::rows16_32_vnni::<8>(kind, w, a, r, dst, n),
        (8.., false) => avx512::rows16_32::<8>(kind, w, a, r, dst, n),
        (TILE.., true) => avx512::rows16_32_vnni::<TILE>(kind, w, a, r, dst, n),
        (TILE.., false) => avx512::rows16_32::<TILE>(kind, w, a, r, dst, n),
        (_, true) => avx512::rows16_32_vnni::<1>(kind, w, a, r, dst, n),
        (_, false) => avx512::rows16_32::<1>(kind, w, a, r, dst, n),
    }
}

/// A K type's tile of rows, repacked: eight rows or sixteen.
enum KPanel {
    Eight(panel::Panel),
    Sixteen(panel16::Panel16),
}

impl KPanel {
    fn new(lanes: Lanes, kind: BlockType, blocks: usize) -> Self {
        if lanes == EIGHT {
            Self::Eight(panel::Panel::new(kind, blocks))
        } else {
            Self::Sixteen(panel16::Panel16::new(kind, blocks))
        }
    }

    /// Repacks the tile's rows (the first eight for an eight-row panel).
    ///
    /// # Safety
    /// The CPU runs the panel's width; the rows hold the panel's super-blocks.
    unsafe fn pack(&mut self, tile: &[&[u8]; ROWS16]) {
        match self {
            Self::Eight(panel) => panel.pack(std::array::from_fn(|i| tile[i])),
            Self::Sixteen(panel) => panel.pack(*tile),
        }
    }

    /// One tile of input rows from `r`: the kernel's token tile, or one (`left` remain).
    /// Returns the rows done.
    ///
    /// # Safety
    /// As [`panel::multiply`] or [`panel16::multiply`] (and `_vnni` where `isa` has VNNI).
    unsafe fn tile(
        &self,
        isa: Isa,
        a: &Q8KRows,
        r: usize,
        dst: *mut f32,
        n: usize,
        left: usize,
    ) -> usize {
        let vnni = isa >= Isa::Avx512Vnni;
        match self {
            Self::Eight(p) if left >= panel::TOKENS => {
                panel::multiply::<{ panel::TOKENS }>(p, a, r, dst, n);
                panel::TOKENS
            }
            Self::Eight(p) => {
                panel::multiply::<1>(p, a, r, dst, n);
                1
            }
            Self::Sixteen(p) if left >= panel16::TOKENS => {
                if vnni {
                    panel16::multiply_vnni::<{ panel16::TOKENS }>(p, a, r, dst, n);
                } else {
                    panel16::multiply::<{ panel16::TOKENS }>(p, a, r, dst, n);
                }
                panel16::TOKENS
            }
            Self::Sixteen(p) => {
                if vnni {
                    panel16::multiply_vnni::<1>(p, a, r, dst, n);
                } else {
                    panel16::multiply::<1>(p, a, r, dst, n);
                }
                1
            }
        }
    }
}
