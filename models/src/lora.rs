//! Linear layers with a LoRA hook.
//!
//! Every projection of the transformer is a [`Linear`]: a (possibly quantized) base weight,
//! an optional bias, and an optional low-rank delta `scale · B·A` added to its output. The
//! delta is off by default; training attaches trainable `A`/`B` tensors, and inference can
//! switch adapters without reloading the base model.

use candle_core::quantized::QMatMul;
use candle_core::{Module, Tensor};

use crate::error::{ModelError, Result};

/// The projections of a transformer block that can carry a LoRA delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoraTarget {
    /// Attention query projection.
    Q,
    /// Attention key projection.
    K,
    /// Attention value projection.
    V,
    /// Attention output projection.
    O,
    /// Feed-forward gate projection.
    Gate,
    /// Feed-forward up projection.
    Up,
    /// Feed-forward down projection.
    Down,
}

impl LoraTarget {
    /// All targets, in block order.
    pub const ALL: [LoraTarget; 7] = [
        Self::Q,
        Self::K,
        Self::V,
        Self::O,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];
}

/// A low-rank update `scale · B·A` for one linear layer.
#[derive(Debug, Clone)]
pub struct LoraDelta {
    /// Down-projection, shape `(rank, in_features)`.
    pub a: Tensor,
    /// Up-projection, shape `(out_features, rank)`.
    pub b: Tensor,
    /// `alpha / rank`.
    pub scale: f64,
}

impl LoraDelta {
    /// The delta's rank.
    pub fn rank(&self) -> usize {
        self.a.dims().first().copied().unwrap_or(0)
    }
}

/// A linear layer `y = x·Wᵀ + bias + scale · (x·Aᵀ)·Bᵀ`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
    in_features: usize,
    out_features: usize,
    lora: Option<LoraDelta>,
}

impl Linear {
    /// A layer over `weight` of shape `(out_features, in_features)`.
    pub fn new(
        weight: QMatMul,
        bias: Option<Tensor>,
        out_features: usize,
        in_features: usize,
    ) -> Self {
        Self {
            weight,
            bias,
            in_features,
            out_features,
            lora: None,
        }
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The base weight.
    pub fn weight(&self) -> &QMatMul {
        &self.weight
    }

    /// The attached LoRA delta, if any.
    pub fn lora(&self) -> Option<&LoraDelta> {
        self.lora.as_ref()
    }

    /// Attaches (or with `None`, removes) a LoRA delta, checking its shapes.
    pub fn set_lora(&mut self, delta: Option<LoraDelta>) -> Result<()> {
        if let Some(delta) = &delta {
            let rank = delta.rank();
            let a_ok = delta.a.dims() == [rank, self.in_features];
            let b_ok = delta.b.dims() == [self.out_features, rank];
            if rank == 0 || !a_ok || !b_ok {
                return Err(ModelError::invalid_setting(
                    "lora",
                    format!(
                        "A {:?} and B {:?} do not fit a {}×{} layer",
                        delta.a.dims(),
                        delta.b.dims(),
                        self.out_features,
                        self.in_features
                    ),
                ));
            }
        }
        self.lora = delta;
        Ok(())
    }

    /// Applies the layer to `x` of shape `(…, in_features)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = match &self.weight {
            // Dense weights may be stored in half precision on accelerators.
            QMatMul::Tensor(w) if w.dtype() != x.dtype() => self
                .weight
                .forward(&x.to_dtype(w.dtype())?)?
                .to_dtype(x.dtype())?,
            _ => self.weight.forward(x)?,
        };
        if let Some(bias) = &self.bias {
            y = y.broadcast_add(bias)?;
        }
        if let Some(delta) = &self.lora {
            let x = x.to_dtype(delta.a.dtype())?;
            let low = x.broadcast_matmul(&delta.a.t()?)?;
            let update = (low.broadcast_matmul(&delta.b.t()?)? * delta.scale)?;
            let update = update.to_dtype(y.dtype())?;
            y = (y + update)?;
        }
        Ok(y)
    }
}
