//! A quantized weight as f32 values, rows split over the kernels' pool: what the training pass's
//! backward multiplies by (`dx = dy · W`) when the base stays quantized. candle's own
//! dequantization runs on one thread; this runs its per-type block conversion on row chunks, so
//! the values are the same.

use candle_core::quantized::k_quants::{
    BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ6K, BlockQ8_0, GgmlType,
};

use crate::blocks::BlockType;
use crate::pool::Pool;
use crate::{OutPtr, QuantWeight};

/// Rows per task.
const TASK_ROWS: usize = 64;

impl QuantWeight {
    /// The weight as f32 values `(rows, cols)`, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        let bytes = self
            .tensor
            .data()
            .expect("a kernel weight is a CPU tensor with bytes");
        let mut out = vec![0f32; self.rows * self.cols];
        let done = match self.kind {
            BlockType::Q4_0 => rows_to_float::<BlockQ4_0>(&bytes, self.cols, &mut out),
            BlockType::Q4_1 => rows_to_float::<BlockQ4_1>(&bytes, self.cols, &mut out),
            BlockType::Q5_0 => rows_to_float::<BlockQ5_0>(&bytes, self.cols, &mut out),
            BlockType::Q8_0 => rows_to_float::<BlockQ8_0>(&bytes, self.cols, &mut out),
            BlockType::Q4K => rows_to_float::<BlockQ4K>(&bytes, self.cols, &mut out),
            BlockType::Q6K => rows_to_float::<BlockQ6K>(&bytes, self.cols, &mut out),
        };
        if !done {
            // Bytes not laid out as the block type (never for candle's own storage).
            let dense = self
                .tensor
                .dequantize(&candle_core::Device::Cpu)
                .and_then(|t| t.flatten_all()?.to_vec1::<f32>());
            out = dense.expect("a CPU quantized tensor dequantizes");
        }
        out
    }
}

/// Converts the blocks in `bytes` (rows of `cols` values) into `out` on the pool; false when the
/// bytes are not a whole, aligned array of `B`.
fn rows_to_float<B: GgmlType>(bytes: &[u8], cols: usize, out: &mut [f32]) -> bool {
    let size = std::mem::size_of::<B>();
    let aligned = bytes.as_ptr().align_offset(std::mem::align_of::<B>()) == 0;
    if !aligned || !bytes.len().is_multiple_of(size) || !cols.is_multiple_of(B::BLCK_SIZE) {
        return false;
    }
    // SAFETY: aligned, and a whole number of blocks; the block types are plain data.
    let blocks: &[B] =
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / size) };
    let (per_row, rows) = (cols / B::BLCK_SIZE, out.len() / cols.max(1));
    if blocks.len() != rows * per_row {
        return false;
    }
    let target = OutPtr(out.as_mut_ptr());
    Pool::global().run(rows.div_ceil(TASK_ROWS), &|task| {
        let (from, to) = (task * TASK_ROWS, ((task + 1) * TASK_ROWS).min(rows));
        // SAFETY: each task writes its own rows.
        let ys =
            unsafe { std::slice::from_raw_parts_mut(target.at(from * cols), (to - from) * cols) };
        B::to_float(&blocks[from * per_row..to * per_row], ys);
    });
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    use super::*;

    /// Every block type gives candle's values exactly.
    #[test]
    fn every_block_type_dequantizes_to_candles_values() {
        let (rows, cols) = (150, 512);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.2)
            .collect();
        let dense = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        for dtype in [
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q5_0,
            GgmlDType::Q8_0,
            GgmlDType::Q4K,
            GgmlDType::Q6K,
        ] {
            let q = Arc::new(QTensor::quantize(&dense, dtype).unwrap());
            let want = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap();
            let weight = QuantWeight::new(q).unwrap();
            assert_eq!(
                weight.dequantize(),
                want.to_vec1::<f32>().unwrap(),
                "{dtype:?}"
            );
        }
    }
}
