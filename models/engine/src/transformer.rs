//! The one decoder-only transformer: Llama, Qwen2 and Qwen3 in a single definition.
//!
//! The three families differ only in switches of [`TransformerConfig`]: q/k/v bias (Qwen2),
//! per-head q/k RMS norm (Qwen3), the RoPE layout (interleaved for GGUF llama files, rotate-half
//! otherwise) and the RoPE frequencies ([`citrus_formats::rope`]). Weights may be block-quantized (GGUF) or dense
//! (safetensors); every projection is a [`Linear`] with a LoRA hook. Inference keeps a KV cache
//! per block.
//!
//! The same blocks run in two passes ([`Pass`]): inference, with candle's fused kernels and the
//! cache; and training, with frozen base weights and no cache. A training step on the CPU
//! ([`Transformer::nll_backward`]) runs each block and the head as computed steps, forward and
//! backward written out by hand ([`crate::training_block`], `training_head`); elsewhere, and as
//! the reference the tests compare with ([`Transformer::forward_train`]), the blocks are candle
//! graphs of differentiable nodes ([`crate::custom_grad`], [`crate::training_attention`],
//! [`crate::training_swiglu`]) — candle's fused kernels have no backward pass and would silently
//! stop the gradients.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Tensor, Var};

use crate::cpu_view::cpu_slice;
use crate::kv_cache::KvCache;
use crate::lora::{Linear, LoraDropout, LoraTarget};
use crate::seeded::SeededRng;
use crate::training_attention::causal_attention_train;
use crate::training_block::{
    self, saved_bytes, BlockParts, Dims, Norm, RotaryTables, Saved, SegmentGrads,
};
use crate::training_head;
use crate::training_swiglu::swiglu;
use citrus_formats::config::TransformerConfig;
use citrus_formats::error::{ModelError, Result};
use citrus_formats::weights::{compute_dtype, requantize_target, Weight, WeightSource};
use citrus_kernels::attention::{causal_attention, AttentionShape};

/// How to build the transformer from its weights.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Device to load onto.
    pub device: Device,
    /// Re-quantize linear weights to this type while loading (e.g. Q4_1 → Q8_0).
    pub requantize: Option<GgmlDType>,
    /// Longest sequence (prompt + generation) to support; at most the model's context length.
    pub context_length: usize,
}

/// A training pass: what differs from inference besides the kernels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingPass {
    /// LoRA dropout probability (0 = off).
    pub lora_dropout: f32,
    /// Seed of this pass's dropout masks (derived from the run's seed and the step).
    pub seed: u64,
    /// Bytes of block activations the backward pass may keep from its forward pass instead of
    /// recomputing them (the top blocks', as many as fit); 0 recomputes every block, the
    /// least memory. Where blocks run as a graph, each is recomputed.
    pub activation_budget: u64,
}

/// Which kernels a forward pass uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pass {
    /// Fused kernels, KV cache.
    Inference,
    /// Differentiable kernels, frozen base weights, no cache.
    Training(TrainingPass),
}

impl Pass {
    /// The dropout of the LoRA delta on projection `target` of block `layer`.
    fn dropout(self, layer: usize, target: LoraTarget) -> Option<LoraDropout> {
        match self {
            Self::Training(t) if t.lora_dropout > 0.0 => Some(LoraDropout {
                probability: t.lora_dropout,
                rng: SeededRng::derive(t.seed, &[layer as u64, target.index() as u64]),
            }),
            _ => None,
        }
    }
}

/// A projection of block `layer` applied in `pass`.
fn project(
    linear: &Linear,
    x: &Tensor,
    pass: Pass,
    layer: usize,
    target: LoraTarget,
) -> candle_core::Result<Tensor> {
    match pass {
        Pass::Inference => linear.forward(x),
        Pass::Training(_) => linear.forward_train(x, pass.dropout(layer, target)),
    }
}

/// Projections of block `layer` that read the same input `x`: in inference the input is
/// quantized once for all of them ([`Linear::forward_shared`]).
fn project_shared<const N: usize>(
    linears: [(&Linear, LoraTarget); N],
    x: &Tensor,
    pass: Pass,
    layer: usize,
) -> candle_core::Result<[Tensor; N]> {
    let outputs = match pass {
        Pass::Inference => Linear::forward_shared(&linears.map(|(l, _)| l), x)?,
        Pass::Training(_) => linears
            .iter()
            .map(|(l, target)| project(l, x, pass, layer, *target))
            .collect::<candle_core::Result<Vec<_>>>()?,
    };
    Ok(outputs
        .try_into()
        .unwrap_or_else(|_| unreachable!("one output per projection")))
}

/// The token embedding table, quantized rows or dense.
#[derive(Debug, Clone)]
enum TokenEmbedding {
    Quantized(Arc<QTensor>),
    Dense(Tensor),
}

impl TokenEmbedding {
    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Quantized(table) => table.embedding(ids),
            Self::Dense(table) => {
                let (b, t) = ids.dims2()?;
                let rows = table.index_select(&ids.flatten_all()?, 0)?;
                rows.reshape((b, t, table.dim(1)?))
            }
        }
    }
}

/// RMS normalisation over the last dimension.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn load(
        source: &mut dyn WeightSource,
        name: &str,
        width: usize,
        eps: f64,
        device: &Device,
    ) -> Result<Self> {
        let weight = source
            .load_checked(name, &[width], device)?
            .to_dense(device)?;
        Ok(Self {
            weight: weight.to_dtype(DType::F32)?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor, pass: Pass) -> candle_core::Result<Tensor> {
        match pass {
            Pass::Inference => candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps),
            Pass::Training(_) => crate::custom_grad::rms_norm(x, &self.weight, self.eps),
        }
    }
}

/// Precomputed rotary-embedding tables.
#[derive(Debug, Clone)]
struct Rotary {
    cos: Tensor,
    sin: Tensor,
    /// −sin: the inverse rotation, a training pass's backward.
    neg_sin: Tensor,
    interleaved: bool,
}

impl Rotary {
    /// The tables for `positions` positions, with the frequencies and attention factor of the
    /// model's RoPE settings ([`citrus_formats::rope::Rope`]).
    fn new(config: &TransformerConfig, positions: usize, device: &Device) -> Result<Self> {
        let dim = config.head_dim;
        let inv_freq = config.rope.inverse_frequencies(dim);
        let inv_freq = Tensor::new(inv_freq.as_slice(), device)?;
        let angles = Tensor::arange(0u32, positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((positions, 1))?
            .matmul(&inv_freq.reshape((1, dim / 2))?)?;
        let factor = f64::from(config.rope.attention_factor());
        let sin = (angles.sin()? * factor)?;
        Ok(Self {
            cos: (angles.cos()? * factor)?,
            neg_sin: sin.neg()?,
            sin,
            interleaved: config.rope_interleaved,
        })
    }

    fn positions(&self) -> usize {
        self.cos.dims()[0]
    }

    /// Rotates `x` of shape `(batch, heads, seq, head_dim)` starting at position `start`.
    fn apply(&self, x: &Tensor, start: usize, pass: Pass) -> candle_core::Result<Tensor> {
        use candle_nn::rotary_emb::{rope, rope_i};
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        let x = x.contiguous()?;
        match (pass, self.interleaved) {
            (Pass::Inference, true) => rope_i(&x, &cos, &sin),
            (Pass::Inference, false) => rope(&x, &cos, &sin),
            (Pass::Training(_), interleaved) => {
                let neg_sin = self.neg_sin.narrow(0, start, seq)?;
                crate::custom_grad::rope(&x, &cos, &sin, &neg_sin, interleaved)
            }
        }
    }
}

/// Grouped-query self-attention with a KV cache.
#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    cache: KvCache,
    /// Attend with candle's matmul and softmax even on the CPU (the reference).
    reference_kernels: bool,
}

impl Attention {
    /// Inference: caches this chunk, then attends over the cached positions. On the CPU the
    /// attention reads the cache in place ([`causal_attention`]); elsewhere it uses `mask`.
    fn forward(
        &mut self,
        x: &Tensor,
        start: usize,
        mask: Option<&Tensor>,
        rotary: &Rotary,
        layer: usize,
    ) -> candle_core::Result<Tensor> {
        let (q, k, v) = self.qkv(x, start, rotary, Pass::Inference, layer)?;
        let (k, v) = self.cache.append(start, &k, &v)?;
        if attends_on_kernels(x.device(), self.reference_kernels) {
            let y = self.attend_in_cache(&q, start)?;
            return project(&self.o, &y, Pass::Inference, layer, LoraTarget::O);
        }
        let (k, v) = (k.to_dtype(q.dtype())?, v.to_dtype(q.dtype())?);
        self.attend(x, &q, &k, &v, mask, Pass::Inference, layer)
    }

    /// CPU attention of `q` `(1, heads, t, head_dim)` at positions `start..` over the cache,
    /// returning `(1, t, heads · head_dim)`.
    fn attend_in_cache(&self, q: &Tensor, start: usize) -> candle_core::Result<Tensor> {
        let (_, heads, t, head_dim) = q.dims4()?;
        let (k, v) = self.cache.buffers().expect("the chunk was just cached");
        let shape = AttentionShape {
            heads,
            kv_heads: self.num_kv_heads,
            head_dim,
            t,
            start,
            capacity: self.cache.capacity(),
        };
        let q = q.to_dtype(DType::F32)?.contiguous()?;
        let scale = 1.0 / (head_dim as f32).sqrt();
        let y = {
            let (q_data, k_data, v_data) = (
                cpu_slice::<f32>(&q)?,
                cpu_slice::<f32>(k)?,
                cpu_slice::<f32>(v)?,
            );
            causal_attention(&q_data, &k_data, &v_data, shape, scale)
        };
        Tensor::from_vec(y, (1, t, heads * head_dim), q.device())
    }

    /// Training: the whole sequence at once, no cache.
    fn forward_train(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        rotary: &Rotary,
        pass: Pass,
        layer: usize,
    ) -> candle_core::Result<Tensor> {
        let (q, k, v) = self.qkv(x, 0, rotary, pass, layer)?;
        self.attend(x, &q, &k, &v, mask, pass, layer)
    }

    /// Queries, keys and values `(b, heads, t, head_dim)`, rotated from position `start`.
    fn qkv(
        &self,
        x: &Tensor,
        start: usize,
        rotary: &Rotary,
        pass: Pass,
        layer: usize,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let (b, t, _) = x.dims3()?;
        let heads = |y: Tensor, n: usize, norm: &Option<RmsNorm>| -> candle_core::Result<Tensor> {
            let y = y.reshape((b, t, n, self.head_dim))?;
            let y = match norm {
                Some(norm) => norm.forward(&y, pass)?,
                None => y,
            };
            y.transpose(1, 2)
        };
        let [q, k, v] = project_shared(
            [
                (&self.q, LoraTarget::Q),
                (&self.k, LoraTarget::K),
                (&self.v, LoraTarget::V),
            ],
            x,
            pass,
            layer,
        )?;
        let q = heads(q, self.num_heads, &self.q_norm)?;
        let k = heads(k, self.num_kv_heads, &self.k_norm)?;
        let v = heads(v, self.num_kv_heads, &None)?.contiguous()?;
        Ok((
            rotary.apply(&q, start, pass)?,
            rotary.apply(&k, start, pass)?,
            v,
        ))
    }

    /// Scaled dot-product attention of `q` over `k`/`v`, then the output projection.
    #[allow(clippy::too_many_arguments)]
    fn attend(
        &self,
        x: &Tensor,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        pass: Pass,
        layer: usize,
    ) -> candle_core::Result<Tensor> {
        if matches!(pass, Pass::Training(_))
            && attends_on_kernels(x.device(), self.reference_kernels)
        {
            let scale = 1.0 / (self.head_dim as f32).sqrt();
            let y = causal_attention_train(q, k, v, scale)?;
            return project(&self.o, &y, pass, layer, LoraTarget::O);
        }
        let (b, t, _) = x.dims3()?;
        // Grouped-query attention without copying K/V: the query heads that share a KV head
        // are stacked along the sequence axis, `(b, kv_heads, group·t, head_dim)`.
        let group = self.num_heads / self.num_kv_heads;
        let q = q.reshape((b, self.num_kv_heads, group * t, self.head_dim))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let weights = match pass {
            Pass::Inference => candle_nn::ops::softmax_last_dim(&scores)?,
            Pass::Training(_) => crate::custom_grad::softmax_last_dim(&scores)?,
        };
        let y = weights.matmul(v)?;
        let y = y
            .reshape((b, self.num_heads, t, self.head_dim))?
            .transpose(1, 2)?
            .reshape((b, t, self.num_heads * self.head_dim))?;
        project(&self.o, &y, pass, layer, LoraTarget::O)
    }
}

/// SwiGLU feed-forward layer.
#[derive(Debug, Clone)]
struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor, pass: Pass, layer: usize) -> candle_core::Result<Tensor> {
        let [gate, up] = project_shared(
            [(&self.gate, LoraTarget::Gate), (&self.up, LoraTarget::Up)],
            x,
            pass,
            layer,
        )?;
        // Training takes the fused node (inference keeps candle's ops, whose values it was
        // validated with).
        let gated = match pass {
            Pass::Inference => (candle_nn::ops::silu(&gate)? * up)?,
            Pass::Training(_) => swiglu(&gate, &up)?,
        };
        project(&self.down, &gated, pass, layer, LoraTarget::Down)
    }
}

/// One transformer block.
#[derive(Debug, Clone)]
struct Block {
    attn_norm: RmsNorm,
    attention: Attention,
    ffn_norm: RmsNorm,
    mlp: Mlp,
}

/// The decoder: embedding, blocks, final norm and output head.
#[derive(Debug, Clone)]
pub struct Transformer {
    config: TransformerConfig,
    embedding: TokenEmbedding,
    blocks: Vec<Block>,
    final_norm: RmsNorm,
    lm_head: Linear,
    rotary: Rotary,
    device: Device,
    /// Token ids whose keys and values are in the cache, in order.
    cached_ids: Vec<u32>,
}

/// Loads the weights of one block.
struct BlockLoader<'a> {
    source: &'a mut dyn WeightSource,
    config: &'a TransformerConfig,
    options: &'a BuildOptions,
    progress: &'a mut dyn FnMut(u64),
    prefix: String,
}

impl BlockLoader<'_> {
    fn weight(&mut self, name: &str, dims: &[usize]) -> Result<Weight> {
        let full = format!("{}.{name}", self.prefix);
        let weight = self
            .source
            .load_checked(&full, dims, &self.options.device)?;
        (self.progress)(self.source.stored_bytes(&full));
        Ok(weight)
    }

    fn linear(&mut self, name: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let weight = self
            .weight(&format!("{name}.weight"), &[out, inp])?
            .into_matmul(self.options.requantize, &self.options.device)?;
        let bias = if bias {
            let b = self.weight(&format!("{name}.bias"), &[out])?;
            Some(b.to_dense(&self.options.device)?)
        } else {
            None
        };
        Ok(Linear::new(weight, bias, out, inp))
    }

    fn norm(&mut self, name: &str, width: usize) -> Result<RmsNorm> {
        let full = format!("{}.{name}", self.prefix);
        let norm = RmsNorm::load(
            self.source,
            &full,
            width,
            self.config.rms_norm_eps,
            &self.options.device,
        )?;
        (self.progress)(self.source.stored_bytes(&full));
        Ok(norm)
    }

    fn block(&mut self) -> Result<Block> {
        let c = self.config;
        let (h, q_width, kv_width) = (
            c.hidden_size,
            c.num_heads * c.head_dim,
            c.num_kv_heads * c.head_dim,
        );
        let bias = c.attention_bias;
        let (q_norm, k_norm) = if c.qk_norm {
            (
                Some(self.norm("attn_q_norm.weight", c.head_dim)?),
                Some(self.norm("attn_k_norm.weight", c.head_dim)?),
            )
        } else {
            (None, None)
        };
        let attention = Attention {
            q: self.linear("attn_q", q_width, h, bias)?,
            k: self.linear("attn_k", kv_width, h, bias)?,
            v: self.linear("attn_v", kv_width, h, bias)?,
            o: self.linear("attn_output", h, q_width, c.attention_output_bias)?,
            q_norm,
            k_norm,
            num_heads: c.num_heads,
            num_kv_heads: c.num_kv_heads,
            head_dim: c.head_dim,
            cache: KvCache::new(
                positions(c, self.options),
                compute_dtype(&self.options.device),
            ),
            reference_kernels: false,
        };
        let mlp = Mlp {
            gate: self.linear("ffn_gate", c.intermediate_size, h, c.mlp_bias)?,
            up: self.linear("ffn_up", c.intermediate_size, h, c.mlp_bias)?,
            down: self.linear("ffn_down", h, c.intermediate_size, c.mlp_bias)?,
        };
        Ok(Block {
            attn_norm: self.norm("attn_norm.weight", h)?,
            attention,
            ffn_norm: self.norm("ffn_norm.weight", h)?,
            mlp,
        })
    }
}

impl Transformer {
    /// Builds the transformer from `source`, calling `progress` with the bytes of each tensor
    /// as it is read.
    pub fn load(
        config: TransformerConfig,
        source: &mut dyn WeightSource,
        options: &BuildOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        citrus_host::memory::use_own_pages_for_large_allocations();
        crate::device::quiet_candle_spinning();
        let device = &options.device;
        let (vocab, hidden) = (config.vocab_size, config.hidden_size);
        let embed_weight = source.load_checked("token_embd.weight", &[vocab, hidden], device)?;
        progress(source.stored_bytes("token_embd.weight"));
        let embedding = match embed_weight {
            Weight::Quantized(q) if hidden.is_multiple_of(q.dtype().block_size()) => {
                TokenEmbedding::Quantized(Arc::new(q))
            }
            other => {
                TokenEmbedding::Dense(other.to_dense(device)?.to_dtype(compute_dtype(device))?)
            }
        };
        let lm_head_weight = if source.has("output.weight") {
            let w = source.load_checked("output.weight", &[vocab, hidden], device)?;
            progress(source.stored_bytes("output.weight"));
            w.into_matmul(options.requantize, device)?
        } else {
            tied_head(&embedding, options)?
        };
        let lm_head = Linear::new(lm_head_weight, None, vocab, hidden);

        let rotary = Rotary::new(&config, positions(&config, options), device)?;

        let mut blocks = Vec::with_capacity(config.num_layers);
        for layer in 0..config.num_layers {
            let mut loader = BlockLoader {
                source: &mut *source,
                config: &config,
                options,
                progress: &mut *progress,
                prefix: format!("blk.{layer}"),
            };
            blocks.push(loader.block()?);
        }
        let final_norm = RmsNorm::load(
            source,
            "output_norm.weight",
            hidden,
            config.rms_norm_eps,
            device,
        )?;
        progress(source.stored_bytes("output_norm.weight"));
        Ok(Self {
            config,
            embedding,
            blocks,
            final_norm,
            lm_head,
            rotary,
            device: device.clone(),
            cached_ids: Vec::new(),
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Longest sequence this instance supports (its rotary table length).
    pub fn max_positions(&self) -> usize {
        self.rotary.positions()
    }

    /// Tokens currently held in the KV cache.
    pub fn cached_tokens(&self) -> usize {
        self.cached_ids.len()
    }

    /// The token ids held in the KV cache, in order.
    pub fn cached_ids(&self) -> &[u32] {
        &self.cached_ids
    }

    /// Empties the KV cache; the next [`Transformer::forward`] starts a new sequence.
    pub fn clear_cache(&mut self) {
        self.truncate_cache(0);
    }

    /// Keeps only the first `len` cached positions (to reuse a shared prompt prefix).
    pub fn truncate_cache(&mut self, len: usize) {
        if len >= self.cached_ids.len() {
            return;
        }
        for block in &mut self.blocks {
            block.attention.cache.truncate(len);
        }
        self.cached_ids.truncate(len);
    }

    /// A projection of block `layer`, for attaching or removing a LoRA delta.
    pub fn linear_mut(&mut self, layer: usize, target: LoraTarget) -> Option<&mut Linear> {
        let block = self.blocks.get_mut(layer)?;
        Some(match target {
            LoraTarget::Q => &mut block.attention.q,
            LoraTarget::K => &mut block.attention.k,
            LoraTarget::V => &mut block.attention.v,
            LoraTarget::O => &mut block.attention.o,
            LoraTarget::Gate => &mut block.mlp.gate,
            LoraTarget::Up => &mut block.mlp.up,
            LoraTarget::Down => &mut block.mlp.down,
        })
    }

    /// Computes with candle's kernels from now on instead of the project's: every projection
    /// with candle's quantized matmul, attention with its matmul and softmax. The reference, to
    /// compare the two.
    pub fn use_reference_kernels(&mut self) {
        for block in &mut self.blocks {
            let attention = &mut block.attention;
            attention.reference_kernels = true;
            attention.cache = attention.cache.emptied_as(DType::F32);
        }
        self.cached_ids.clear();
        for layer in 0..self.blocks.len() {
            for target in LoraTarget::ALL {
                if let Some(linear) = self.linear_mut(layer, target) {
                    linear.use_candle_matmul();
                }
            }
        }
        self.lm_head.use_candle_matmul();
    }

    /// Removes every LoRA delta.
    pub fn clear_lora(&mut self) {
        for layer in 0..self.blocks.len() {
            for target in LoraTarget::ALL {
                if let Some(linear) = self.linear_mut(layer, target) {
                    // Removing a delta cannot fail its shape check.
                    let _ = linear.set_lora(None);
                }
            }
        }
    }

    /// Feeds `tokens` after the cached ones and returns f32 logits: `(vocab)` for the last
    /// token, or `(tokens, vocab)` for every token when `all_positions` is set.
    pub fn forward(&mut self, tokens: &[u32], all_positions: bool) -> Result<Tensor> {
        let start = self.cached_ids.len();
        let end = start + tokens.len();
        if tokens.is_empty() {
            return Err(ModelError::invalid_setting("tokens", "nothing to process"));
        }
        if end > self.max_positions() {
            return Err(ModelError::PromptTooLong {
                prompt_tokens: end,
                context_length: self.max_positions(),
            });
        }
        let device = self.device.clone();
        let logits = device.with_context(|| self.forward_inner(tokens, start, all_positions));
        match logits {
            Ok(logits) => {
                self.cached_ids.extend_from_slice(tokens);
                Ok(logits)
            }
            Err(e) => {
                // A failed step leaves the cache half-updated: drop it.
                self.clear_cache();
                Err(e.into())
            }
        }
    }

    fn forward_inner(
        &mut self,
        tokens: &[u32],
        start: usize,
        all_positions: bool,
    ) -> candle_core::Result<Tensor> {
        let t = tokens.len();
        let ids = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let mut x = self.embedding.forward(&ids)?.to_dtype(DType::F32)?;
        let group = self.config.num_heads / self.config.num_kv_heads;
        // The CPU attends without a mask tensor (`causal_attention`).
        let reference = self.blocks.iter().any(|b| b.attention.reference_kernels);
        let mask = if t > 1 && !attends_on_kernels(&self.device, reference) {
            Some(causal_mask(t, start, group, &self.device)?)
        } else {
            None
        };
        let pass = Pass::Inference;
        for (layer, block) in self.blocks.iter_mut().enumerate() {
            let h = block.attn_norm.forward(&x, pass)?;
            let h = block
                .attention
                .forward(&h, start, mask.as_ref(), &self.rotary, layer)?;
            x = (x + h)?;
            let h = block
                .mlp
                .forward(&block.ffn_norm.forward(&x, pass)?, pass, layer)?;
            x = (x + h)?;
        }
        let x = self.final_norm.forward(&x, pass)?;
        let x = if all_positions {
            x.squeeze(0)?
        } else {
            x.narrow(1, t - 1, 1)?.squeeze(0)?
        };
        let logits = self.lm_head.forward(&x)?.to_dtype(DType::F32)?;
        if all_positions {
            Ok(logits)
        } else {
            logits.squeeze(0)
        }
    }
}

impl Transformer {
    /// A training pass over a batch of right-padded sequences `ids` `(b, t)`: returns the
    /// logits `(n, vocab)` of the `n` flattened positions `rows` (indices into `b·t`, e.g. the
    /// positions whose next token is trained). The graph is differentiable with respect to the
    /// LoRA tensors; the base weights are frozen and the KV cache is neither read nor written.
    /// Right padding needs no padding mask: under the causal mask no real token sees a pad.
    pub fn forward_train(&self, ids: &Tensor, rows: &Tensor, pass: TrainingPass) -> Result<Tensor> {
        let (_, t) = ids.dims2()?;
        if t > self.max_positions() {
            return Err(ModelError::PromptTooLong {
                prompt_tokens: t,
                context_length: self.max_positions(),
            });
        }
        let logits = self
            .device
            .with_context(|| self.forward_train_inner(ids, rows, Pass::Training(pass)))?;
        Ok(logits)
    }

    fn forward_train_inner(
        &self,
        ids: &Tensor,
        rows: &Tensor,
        pass: Pass,
    ) -> candle_core::Result<Tensor> {
        let mask = self.training_mask(ids)?;
        let mut x = self.embedding.forward(ids)?.to_dtype(DType::F32)?;
        for layer in 0..self.blocks.len() {
            x = self.block_train(layer, &x, mask.as_ref(), pass)?;
        }
        self.head_train(&x, rows, pass)
    }

    /// The training pass's causal mask for `ids` `(b, t)` (none for a single token, nor where the
    /// kernels attend).
    fn training_mask(&self, ids: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let t = ids.dim(1)?;
        let group = self.config.num_heads / self.config.num_kv_heads;
        let reference = self.blocks.iter().any(|b| b.attention.reference_kernels);
        (t > 1 && !attends_on_kernels(&self.device, reference))
            .then(|| causal_mask(t, 0, group, &self.device))
            .transpose()
    }

    /// Block `layer` in a training pass: `x + attention(norm(x))`, then `+ mlp(norm(·))`.
    fn block_train(
        &self,
        layer: usize,
        x: &Tensor,
        mask: Option<&Tensor>,
        pass: Pass,
    ) -> candle_core::Result<Tensor> {
        let block = &self.blocks[layer];
        let h = block.attn_norm.forward(x, pass)?;
        let h = block
            .attention
            .forward_train(&h, mask, &self.rotary, pass, layer)?;
        let x = (x + h)?;
        let h = block
            .mlp
            .forward(&block.ffn_norm.forward(&x, pass)?, pass, layer)?;
        x + h
    }

    /// The final norm and the frozen head on the flattened positions `rows` of `x` `(b, t, h)`.
    fn head_train(&self, x: &Tensor, rows: &Tensor, pass: Pass) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let x = self.final_norm.forward(x, pass)?;
        let x = x.reshape((b * t, h))?.index_select(rows, 0)?;
        self.lm_head.forward_train(&x, None)
    }

    /// The summed negative log-likelihood of `targets` at the positions `rows` of `ids`, and
    /// its gradient (times `scale`) with respect to the LoRA tensors, computed with activation
    /// checkpointing: the forward pass keeps only each block's input; the backward pass
    /// recomputes one block at a time and differentiates it from its output's gradient. Peak
    /// memory holds one block's activations instead of all of them, for one more forward pass.
    /// `on_grads` receives the gradients of each segment (head, then blocks from the top) to
    /// accumulate the variables' share; returns the loss.
    pub fn nll_backward(
        &self,
        ids: &Tensor,
        rows: &Tensor,
        targets: &Tensor,
        scale: f64,
        pass: TrainingPass,
        on_grads: &mut dyn FnMut(&SegmentGrads) -> candle_core::Result<()>,
    ) -> Result<f32> {
        let loss = Loss {
            ids,
            rows,
            targets,
            scale,
        };
        let pass = Pass::Training(pass);
        let value = if self.trains_block_by_block() {
            self.nll_backward_by_block(loss, pass, on_grads)
        } else {
            self.nll_backward_by_graph(loss, pass, on_grads)
        };
        Ok(value?)
    }

    /// The summed negative log-likelihood of `targets` at the positions `rows` of `ids`, with no
    /// graph kept: each block's graph is dropped as soon as its output is (the forward half of
    /// [`Transformer::nll_backward`]). Peak memory is one block's activations.
    pub fn nll_value(
        &self,
        ids: &Tensor,
        rows: &Tensor,
        targets: &Tensor,
        pass: TrainingPass,
    ) -> Result<f32> {
        let pass = Pass::Training(pass);
        let value = || -> candle_core::Result<f32> {
            if self.trains_block_by_block() {
                let x = self.block_inputs(ids, pass, 0)?.output;
                let (rows, targets) = (rows.to_vec1::<u32>()?, targets.to_vec1::<u32>()?);
                let nll = training_head::nll(&self.head_parts()?, &x, &rows, &targets)?;
                return Ok(nll as f32);
            }
            let mask = self.training_mask(ids)?;
            let mut x = self.embedding.forward(ids)?.to_dtype(DType::F32)?;
            for layer in 0..self.blocks.len() {
                x = self.block_train(layer, &x, mask.as_ref(), pass)?.detach();
            }
            let logits = self.head_train(&x, rows, pass)?.detach();
            nll_sum(&logits, targets)?.to_scalar::<f32>()
        };
        Ok(value()?)
    }

    /// Whether the training pass runs each block as one computed step
    /// ([`crate::training_block`]) rather than as a graph: on the CPU with the project's kernels,
    /// f32 LoRA tensors and no per-head q/k norm.
    fn trains_block_by_block(&self) -> bool {
        self.device.is_cpu()
            && self.blocks.iter().all(|b| {
                let a = &b.attention;
                let projections = [&a.q, &a.k, &a.v, &a.o, &b.mlp.gate, &b.mlp.up, &b.mlp.down];
                !a.reference_kernels
                    && a.q_norm.is_none()
                    && a.k_norm.is_none()
                    && projections.iter().all(|l| {
                        l.lora()
                            .is_none_or(|d| d.a.dtype() == DType::F32 && d.b.dtype() == DType::F32)
                    })
            })
    }

    /// Block `layer` as [`training_block`] reads it.
    fn block_parts(&self, layer: usize) -> candle_core::Result<BlockParts<'_>> {
        let block = &self.blocks[layer];
        let norm = |n: &RmsNorm| -> candle_core::Result<Norm> {
            Ok(Norm {
                weight: n.weight.to_dtype(DType::F32)?.to_vec1()?,
                eps: n.eps,
            })
        };
        let (a, m) = (&block.attention, &block.mlp);
        Ok(BlockParts {
            attn_norm: norm(&block.attn_norm)?,
            ffn_norm: norm(&block.ffn_norm)?,
            projections: [&a.q, &a.k, &a.v, &a.o, &m.gate, &m.up, &m.down],
            heads: a.num_heads,
            kv_heads: a.num_kv_heads,
            head_dim: a.head_dim,
        })
    }

    /// Each projection's LoRA dropout in block `layer`, in [`LoraTarget::ALL`] order.
    fn dropouts(pass: Pass, layer: usize) -> [Option<LoraDropout>; 7] {
        LoraTarget::ALL.map(|target| pass.dropout(layer, target))
    }

    /// The block-by-block forward pass of `ids`, no graph kept: each block's input, what the top
    /// blocks keep for their backward pass (as many as `budget` bytes hold; None for the
    /// others), and the last block's output `(b, t, hidden)`.
    fn block_inputs(
        &self,
        ids: &Tensor,
        pass: Pass,
        budget: u64,
    ) -> candle_core::Result<BlockForward> {
        let (batch, t) = ids.dims2()?;
        let dims = Dims { batch, t };
        let rotary = self.rotary_tables(t)?;
        let mut x = self
            .embedding
            .forward(ids)?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let layers = self.blocks.len();
        let mut first_kept = layers;
        let mut kept_bytes = 0;
        while first_kept > 0 {
            let layer = first_kept - 1;
            let bytes = saved_bytes(
                &self.block_parts(layer)?,
                dims,
                &Self::dropouts(pass, layer),
            );
            if kept_bytes + bytes > budget {
                break;
            }
            kept_bytes += bytes;
            first_kept = layer;
        }
        let (mut inputs, mut kept) = (Vec::with_capacity(layers), Vec::with_capacity(layers));
        for layer in 0..layers {
            let parts = self.block_parts(layer)?;
            let dropouts = Self::dropouts(pass, layer);
            let keep = layer >= first_kept;
            let (next, saved) =
                training_block::forward(&parts, &rotary, &x, dims, &dropouts, keep)?;
            inputs.push(std::mem::replace(&mut x, next));
            kept.push(saved);
        }
        Ok(BlockForward {
            inputs,
            kept,
            output: x,
        })
    }

    /// The rotary tables of positions `0..t` as slices.
    fn rotary_tables(&self, t: usize) -> candle_core::Result<RotaryTables> {
        let table = |x: &Tensor| x.narrow(0, 0, t)?.flatten_all()?.to_vec1::<f32>();
        Ok(RotaryTables {
            cos: table(&self.rotary.cos)?,
            sin: table(&self.rotary.sin)?,
            neg_sin: table(&self.rotary.neg_sin)?,
            interleaved: self.rotary.interleaved,
        })
    }

    /// [`Transformer::nll_backward`] block by block ([`training_block`]).
    fn nll_backward_by_block(
        &self,
        loss: Loss,
        pass: Pass,
        on_grads: &mut OnGrads,
    ) -> candle_core::Result<f32> {
        let (batch, t) = loss.ids.dims2()?;
        let dims = Dims { batch, t };
        let budget = match pass {
            Pass::Training(t) => t.activation_budget,
            Pass::Inference => 0,
        };
        let BlockForward {
            inputs,
            mut kept,
            output: top,
        } = self.block_inputs(loss.ids, pass, budget)?;
        let (rows, targets) = (loss.rows.to_vec1::<u32>()?, loss.targets.to_vec1::<u32>()?);
        let head = self.head_parts()?;
        let (nll, mut grad) =
            training_head::nll_backward(&head, &top, &rows, &targets, loss.scale as f32)?;
        drop(top);
        // The head has no LoRA tensors: its segment hands over none.
        on_grads(&SegmentGrads::Computed(&HashMap::new()))?;
        let rotary = self.rotary_tables(t)?;
        for layer in (0..self.blocks.len()).rev() {
            let parts = self.block_parts(layer)?;
            let dropouts = Self::dropouts(pass, layer);
            let x = &inputs[layer];
            let saved = match kept[layer].take() {
                Some(saved) => saved,
                None => training_block::forward(&parts, &rotary, x, dims, &dropouts, true)?
                    .1
                    .expect("kept on request"),
            };
            let (dx, lora) = training_block::backward(&parts, &rotary, x, &saved, &grad, dims)?;
            on_grads(&SegmentGrads::Computed(&lora))?;
            grad = dx;
        }
        Ok(nll as f32)
    }

    /// The final norm and the output head as [`training_head`] reads them.
    fn head_parts(&self) -> candle_core::Result<training_head::Head<'_>> {
        Ok(training_head::Head {
            norm: Norm {
                weight: self.final_norm.weight.to_dtype(DType::F32)?.to_vec1()?,
                eps: self.final_norm.eps,
            },
            linear: &self.lm_head,
        })
    }

    /// [`Transformer::nll_backward`] with each block recomputed as a graph (accelerators,
    /// per-head q/k norms, the reference kernels).
    fn nll_backward_by_graph(
        &self,
        loss: Loss,
        pass: Pass,
        on_grads: &mut OnGrads,
    ) -> candle_core::Result<f32> {
        let mask = self.training_mask(loss.ids)?;
        let mut inputs = Vec::with_capacity(self.blocks.len());
        let mut x = self.embedding.forward(loss.ids)?.to_dtype(DType::F32)?;
        for layer in 0..self.blocks.len() {
            let next = self.block_train(layer, &x, mask.as_ref(), pass)?.detach();
            inputs.push(x);
            x = next;
        }
        let top = Var::from_tensor(&x)?;
        let logits = self.head_train(top.as_tensor(), loss.rows, pass)?;
        let nll = nll_sum(&logits, loss.targets)?;
        let grads = (&nll * loss.scale)?.backward()?;
        on_grads(&SegmentGrads::Graph(&grads))?;
        let mut grad = grads.get(top.as_tensor()).cloned();
        for layer in (0..self.blocks.len()).rev() {
            let Some(grad_out) = grad.take() else { break };
            let input = Var::from_tensor(&inputs[layer])?;
            let out = self.block_train(layer, input.as_tensor(), mask.as_ref(), pass)?;
            let grads = (out * grad_out)?.sum_all()?.backward()?;
            on_grads(&SegmentGrads::Graph(&grads))?;
            grad = grads.get(input.as_tensor()).cloned();
        }
        nll.to_scalar::<f32>()
    }
}

/// What [`Transformer::nll_backward`] hands each segment's LoRA gradients to.
type OnGrads<'a> = dyn FnMut(&SegmentGrads) -> candle_core::Result<()> + 'a;

/// What [`Transformer::nll_backward`] differentiates: the summed NLL of `targets` at the
/// flattened positions `rows` of `ids`, times `scale`.
#[derive(Clone, Copy)]
struct Loss<'a> {
    ids: &'a Tensor,
    rows: &'a Tensor,
    targets: &'a Tensor,
    scale: f64,
}

/// The block-by-block forward pass of a training step ([`Transformer::nll_backward`]).
struct BlockForward {
    /// Each block's input `(rows, hidden)`.
    inputs: Vec<Vec<f32>>,
    /// What each block keeps for its backward pass (None: recomputed).
    kept: Vec<Option<Saved>>,
    /// The last block's output `(rows, hidden)`.
    output: Vec<f32>,
}

/// `−Σ log softmax(logits)[target]` over the rows of `logits` `(n, vocab)`.
pub fn nll_sum(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, candle_core::D::Minus1)?;
    log_probs
        .gather(&targets.unsqueeze(1)?, 1)?
        .sum_all()?
        .neg()?
        .to_dtype(DType::F32)
}

/// Whether attention on `device` runs on the project's kernels: [`causal_attention`] over the
/// cache in place for inference, [`causal_attention_train`] for training (no mask either way).
fn attends_on_kernels(device: &Device, reference_kernels: bool) -> bool {
    device.is_cpu() && !reference_kernels
}

/// Positions a model built with `options` supports: the requested context, at most the model's.
fn positions(config: &TransformerConfig, options: &BuildOptions) -> usize {
    options.context_length.min(config.context_length).max(1)
}

/// The output head when it shares the embedding matrix.
fn tied_head(embedding: &TokenEmbedding, options: &BuildOptions) -> Result<QMatMul> {
    Ok(match embedding {
        TokenEmbedding::Quantized(q) => {
            match requantize_target(q.shape().dims(), options.requantize) {
                Some(dtype) if dtype != q.dtype() => {
                    let dense = q.dequantize(&options.device)?;
                    QMatMul::from_qtensor(QTensor::quantize(&dense, dtype)?)?
                }
                _ => QMatMul::from_arc(q.clone())?,
            }
        }
        TokenEmbedding::Dense(t) => {
            Weight::Dense(t.clone()).into_matmul(options.requantize, &options.device)?
        }
    })
}

/// Additive causal mask for `t` new tokens after `start` cached ones, repeated for each of the
/// `group` query heads that share a KV head: shape `(group·t, start + t)`.
fn causal_mask(
    t: usize,
    start: usize,
    group: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let total = start + t;
    let values: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j > start + i {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    let mask = Tensor::from_vec(values, (1, t, total), device)?;
    mask.broadcast_as((group, t, total))?
        .reshape((group * t, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_mask_blocks_future_positions() {
        let mask = causal_mask(2, 1, 2, &Device::Cpu).unwrap();
        let rows = mask.to_vec2::<f32>().unwrap();
        let inf = f32::NEG_INFINITY;
        assert_eq!(
            rows,
            vec![
                vec![0., 0., inf],
                vec![0., 0., 0.],
                vec![0., 0., inf],
                vec![0., 0., 0.]
            ]
        );
    }

    #[test]
    fn masked_positions_get_no_attention() {
        let mask = causal_mask(3, 0, 1, &Device::Cpu).unwrap();
        let scores = Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap();
        let weights = candle_nn::ops::softmax_last_dim(&(scores + mask).unwrap()).unwrap();
        let rows = weights.to_vec2::<f32>().unwrap();
        assert_eq!(rows[0], vec![1.0, 0.0, 0.0]);
        assert!((rows[2][0] - 1.0 / 3.0).abs() < 1e-6);
    }
}
