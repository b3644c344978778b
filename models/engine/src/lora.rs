//! Linear layers with a LoRA hook.
//!
//! Every projection of the transformer is a [`Linear`]: a (possibly quantized) base weight,
//! an optional bias, and an optional low-rank delta `scale · B·A` added to its output. The
//! delta is off by default; training attaches trainable `A`/`B` tensors, and inference can
//! switch adapters without reloading the base model.
//!
//! In a training pass the base weight is frozen ([`crate::frozen`]: input gradient only) and
//! the delta's input may go through dropout, as PEFT does: `B·A·dropout(x)`.

use candle_core::quantized::QMatMul;
use candle_core::{CpuStorage, DType, Module, Storage, Tensor};

use crate::cpu_view::cpu_slice;
use crate::frozen::{dense_weight, frozen_linear, frozen_output};
use crate::seeded::SeededRng;
use citrus_formats::error::{ModelError, Result};
use citrus_kernels::dense::{matmul, Operand};
use citrus_kernels::{matmul_shared, Kernels, QuantWeight};

/// The projections of a transformer block that can carry a LoRA delta.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
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

    /// The Hugging Face module name (`q_proj` … `down_proj`), as PEFT's `target_modules`.
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::Q => "q_proj",
            Self::K => "k_proj",
            Self::V => "v_proj",
            Self::O => "o_proj",
            Self::Gate => "gate_proj",
            Self::Up => "up_proj",
            Self::Down => "down_proj",
        }
    }

    /// The Hugging Face parent module (`self_attn` or `mlp`).
    pub fn hf_parent(self) -> &'static str {
        match self {
            Self::Q | Self::K | Self::V | Self::O => "self_attn",
            Self::Gate | Self::Up | Self::Down => "mlp",
        }
    }

    /// The GGUF tensor stem (`attn_q` … `ffn_down`).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Self::Q => "attn_q",
            Self::K => "attn_k",
            Self::V => "attn_v",
            Self::O => "attn_output",
            Self::Gate => "ffn_gate",
            Self::Up => "ffn_up",
            Self::Down => "ffn_down",
        }
    }

    /// The projection's weight shape `(out, in)` in a model with `config`.
    pub fn shape(self, config: &citrus_formats::config::TransformerConfig) -> (usize, usize) {
        let attention = config.num_heads * config.head_dim;
        let kv = config.num_kv_heads * config.head_dim;
        let (hidden, ffn) = (config.hidden_size, config.intermediate_size);
        match self {
            Self::Q => (attention, hidden),
            Self::K | Self::V => (kv, hidden),
            Self::O => (hidden, attention),
            Self::Gate | Self::Up => (ffn, hidden),
            Self::Down => (hidden, ffn),
        }
    }

    /// The short name used on the command line (`q`, `k`, `v`, `o`, `gate`, `up`, `down`).
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Q => "q",
            Self::K => "k",
            Self::V => "v",
            Self::O => "o",
            Self::Gate => "gate",
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    /// Parses a short name, a Hugging Face name or a GGUF stem.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| name == t.short_name() || name == t.hf_name() || name == t.gguf_name())
    }

    /// Position in [`LoraTarget::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// LoRA dropout in a training pass: the probability and the stream its mask is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct LoraDropout {
    /// Probability of zeroing an input element of the delta (0 = off).
    pub probability: f32,
    /// The random stream for this layer in this step.
    pub rng: SeededRng,
}

impl LoraDropout {
    fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        let Some(mask) = self.mask(x.elem_count()) else {
            return Ok(x.clone());
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }

    /// The mask of an input of `len` values, in order: 0 where dropped, `1 / (1 − p)` where
    /// kept (None when the probability is 0).
    pub(crate) fn mask(self, len: usize) -> Option<Vec<f32>> {
        let p = self.probability;
        if p <= 0.0 {
            return None;
        }
        let keep = 1.0 / (1.0 - p);
        let mut rng = self.rng;
        Some(
            (0..len)
                .map(|_| if rng.next_f32() < p { 0.0 } else { keep })
                .collect(),
        )
    }
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
    /// The weight as the project's CPU kernels read it, when they have one for its type.
    kernel: Option<QuantWeight>,
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
        let kernel = match &weight {
            QMatMul::QTensor(q) if Kernels::enabled() => QuantWeight::new(q.clone()),
            _ => None,
        };
        Self {
            weight,
            kernel,
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

    /// Whether the project's CPU kernels compute this layer ([`citrus_kernels`]).
    pub fn uses_project_kernels(&self) -> bool {
        self.kernel.is_some()
    }

    /// Computes this layer with candle's quantized matmul from now on (the reference kernels).
    pub fn use_candle_matmul(&mut self) {
        self.kernel = None;
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

    /// Applies the layer to `x` of shape `(…, in_features)` for inference.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.kernel.is_some() {
            let mut outputs = Self::forward_shared(&[self], x)?;
            return Ok(outputs.remove(0));
        }
        self.forward_candle(x)
    }

    /// The layer with candle's matmul (dense weights, types without a kernel, accelerators).
    fn forward_candle(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.weight {
            // Dense weights may be stored in half precision on accelerators.
            QMatMul::Tensor(w) if w.dtype() != x.dtype() => self
                .weight
                .forward(&x.to_dtype(w.dtype())?)?
                .to_dtype(x.dtype())?,
            _ => self.weight.forward(x)?,
        };
        self.add_bias_and_delta(y, x)
    }

    /// Applies several layers that read the same input `x` (q/k/v, gate/up) for inference.
    /// With the project's kernels the input is quantized once and every layer's rows run in
    /// one parallel dispatch; otherwise each layer runs on its own.
    pub fn forward_shared(layers: &[&Linear], x: &Tensor) -> candle_core::Result<Vec<Tensor>> {
        let Some(products) = Self::kernel_products(layers, x)? else {
            return layers.iter().map(|l| l.forward_candle(x)).collect();
        };
        layers
            .iter()
            .zip(products)
            .map(|(layer, y)| layer.add_bias_and_delta(y, x))
            .collect()
    }

    /// `x · Wᵀ` of each layer on the project's kernels (the input quantized once), without
    /// bias or delta; `None` where a layer has no kernel or `x` is not f32 on the CPU.
    fn kernel_products(layers: &[&Linear], x: &Tensor) -> candle_core::Result<Option<Vec<Tensor>>> {
        let kernels: Option<Vec<&QuantWeight>> = layers.iter().map(|l| l.kernel.as_ref()).collect();
        let (Some(kernels), DType::F32, true) = (kernels, x.dtype(), x.device().is_cpu()) else {
            return Ok(None);
        };
        let k = x.dim(candle_core::D::Minus1)?;
        let x = x.contiguous()?;
        let outputs = {
            let (storage, layout) = x.storage_and_layout();
            let Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
                unreachable!("a CPU f32 tensor has CPU f32 storage")
            };
            let values = &data[layout.start_offset()..layout.start_offset() + x.elem_count()];
            matmul_shared(values, k, &kernels)
        };
        let mut dims = x.dims().to_vec();
        layers
            .iter()
            .zip(outputs)
            .map(|(layer, y)| {
                *dims.last_mut().expect("an input has a last dimension") = layer.out_features;
                Tensor::from_vec(y, dims.as_slice(), x.device())
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .map(Some)
    }

    /// Applies the layer in a training pass: the base weight frozen (input gradient only), the
    /// delta's input through `dropout` when given.
    pub fn forward_train(
        &self,
        x: &Tensor,
        dropout: Option<LoraDropout>,
    ) -> candle_core::Result<Tensor> {
        // A quantized base multiplies on the project's kernels, as in inference.
        let y = match Self::kernel_products(&[self], &x.detach())? {
            Some(mut products) => frozen_output(&self.weight, x, products.remove(0))?,
            None => frozen_linear(&self.weight, x)?,
        };
        match dropout {
            Some(dropout) if self.lora.is_some() => self.add_bias_and_delta(y, &dropout.apply(x)?),
            _ => self.add_bias_and_delta(y, x),
        }
    }

    /// `y [+]= x · Wᵀ + bias` for `rows` rows of `x` on the CPU, without a graph (added to `y`
    /// when `accumulate`): the frozen part of [`Linear::forward_train`] (a quantized base on the
    /// project's kernels, as in inference).
    pub(crate) fn frozen_rows_into(
        &self,
        x: &[f32],
        rows: usize,
        y: &mut [f32],
        accumulate: bool,
    ) -> candle_core::Result<()> {
        match &self.kernel {
            Some(kernel) => {
                let product = matmul_shared(x, self.in_features, &[kernel]).remove(0);
                if accumulate {
                    y.iter_mut().zip(&product).for_each(|(y, p)| *y += p);
                } else {
                    y.copy_from_slice(&product);
                }
            }
            None => {
                let weight = self.dense_weight()?;
                let w = cpu_slice::<f32>(&weight)?;
                matmul(
                    y,
                    (rows, self.out_features, self.in_features),
                    Operand::Rows {
                        data: x,
                        width: self.in_features,
                    },
                    Operand::Transposed {
                        data: &w,
                        width: self.in_features,
                    },
                    accumulate,
                    1.0,
                );
            }
        }
        if let Some(bias) = &self.bias {
            let bias = bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            for row in y.chunks_exact_mut(self.out_features) {
                row.iter_mut().zip(&bias).for_each(|(y, b)| *y += b);
            }
        }
        Ok(())
    }

    /// `dx += dy · W` for `rows` rows of the output gradient `dy` on the CPU: the input gradient
    /// of [`Linear::frozen_rows_into`] (a quantized weight dequantized for the product and dropped).
    pub(crate) fn add_input_grad(
        &self,
        dy: &[f32],
        rows: usize,
        dx: &mut [f32],
    ) -> candle_core::Result<()> {
        let (inp, out) = (self.in_features, self.out_features);
        let product = |w: &[f32], dx: &mut [f32]| {
            let dy = Operand::Rows {
                data: dy,
                width: out,
            };
            let w = Operand::Rows {
                data: w,
                width: inp,
            };
            matmul(dx, (rows, inp, out), dy, w, true, 1.0);
        };
        match &self.kernel {
            // Dequantized on the pool for this product and dropped after it (QLoRA-style).
            Some(kernel) => product(&kernel.dequantize(), dx),
            None => product(&cpu_slice::<f32>(&self.dense_weight()?)?, dx),
        }
        Ok(())
    }

    /// The base weight as a contiguous f32 CPU tensor `(out, in)` (shared when it is one).
    fn dense_weight(&self) -> candle_core::Result<Tensor> {
        dense_weight(&self.weight, &candle_core::Device::Cpu, DType::F32)?.contiguous()
    }

    /// `y + bias + scale · B·A·delta_input`.
    fn add_bias_and_delta(&self, y: Tensor, delta_input: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.bias {
            Some(bias) => y.broadcast_add(bias)?,
            None => y,
        };
        let Some(delta) = &self.lora else {
            return Ok(y);
        };
        let x = delta_input.to_dtype(delta.a.dtype())?;
        let low = x.broadcast_matmul(&delta.a.t()?)?;
        let update = (low.broadcast_matmul(&delta.b.t()?)? * delta.scale)?;
        let update = update.to_dtype(y.dtype())?;
        y + update
    }
}
