//! The GGUF weight block types the kernels read, and their byte layouts (as ggml defines them).
//!
//! | type | elements | bytes | layout |
//! |---|---|---|---|
//! | Q4_0 | 32 | 18 | `d: f16`, 16 bytes of nibbles (low = 0..16, high = 16..32); `w = d·(q − 8)` |
//! | Q4_1 | 32 | 20 | `d: f16`, `m: f16`, 16 bytes of nibbles; `w = d·q + m` |
//! | Q5_0 | 32 | 22 | `d: f16`, `qh: u32` (fifth bits), 16 bytes of nibbles; `w = d·(q − 16)` |
//! | Q8_0 | 32 | 34 | `d: f16`, 32 × i8; `w = d·q` |
//! | Q4_K | 256 | 144 | `d, dmin: f16`, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles |
//! | Q6_K | 256 | 210 | 128 bytes low nibbles, 64 bytes high bits, 16 × i8 scales, `d: f16` |

use candle_core::quantized::GgmlDType;

/// A weight block type with a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockType {
    /// 4-bit, one scale per 32.
    Q4_0,
    /// 4-bit, scale and offset per 32.
    Q4_1,
    /// 5-bit, one scale per 32.
    Q5_0,
    /// 8-bit, one scale per 32.
    Q8_0,
    /// 4-bit K-quant: super-blocks of 256 with 6-bit sub-block scales and minimums.
    Q4K,
    /// 6-bit K-quant: super-blocks of 256 with 8-bit sub-block scales.
    Q6K,
}

impl BlockType {
    /// Every type with a kernel.
    pub const ALL: [BlockType; 6] = [
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q8_0,
        Self::Q4K,
        Self::Q6K,
    ];

    /// The kernel type of a ggml type, if it has one.
    pub fn from_ggml(dtype: GgmlDType) -> Option<Self> {
        Some(match dtype {
            GgmlDType::Q4_0 => Self::Q4_0,
            GgmlDType::Q4_1 => Self::Q4_1,
            GgmlDType::Q5_0 => Self::Q5_0,
            GgmlDType::Q8_0 => Self::Q8_0,
            GgmlDType::Q4K => Self::Q4K,
            GgmlDType::Q6K => Self::Q6K,
            _ => return None,
        })
    }

    /// The ggml type.
    pub fn ggml(self) -> GgmlDType {
        match self {
            Self::Q4_0 => GgmlDType::Q4_0,
            Self::Q4_1 => GgmlDType::Q4_1,
            Self::Q5_0 => GgmlDType::Q5_0,
            Self::Q8_0 => GgmlDType::Q8_0,
            Self::Q4K => GgmlDType::Q4K,
            Self::Q6K => GgmlDType::Q6K,
        }
    }

    /// Elements per block.
    pub fn block_elements(self) -> usize {
        if self.is_k_quant() {
            256
        } else {
            32
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q8_0 => 34,
            Self::Q4K => 144,
            Self::Q6K => 210,
        }
    }

    /// Whether the type's activations are quantized in super-blocks of 256.
    pub fn is_k_quant(self) -> bool {
        matches!(self, Self::Q4K | Self::Q6K)
    }
}

/// The f16 at `bytes[at..at + 2]` as f32.
#[inline(always)]
pub fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

/// The eight 6-bit scales and eight 6-bit minimums of a Q4_K block's 12 scale bytes.
#[inline(always)]
pub fn q4k_scales_and_mins(q: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut scales = [0u8; 8];
    let mut mins = [0u8; 8];
    for j in 0..8 {
        if j < 4 {
            scales[j] = q[j] & 63;
            mins[j] = q[j + 4] & 63;
        } else {
            scales[j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            mins[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }
    (scales, mins)
}
