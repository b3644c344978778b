//! LoRA adapters: one in-memory form ([`LoraAdapter`], B's rows in Hugging Face order) read
//! from and written to the formats other tools use, and attached to a loaded model without
//! reloading the base.
//!
//! - [`peft`]: Hugging Face PEFT folders (`adapter_config.json`, `adapter_model.safetensors`),
//!   with Citrus' metadata (`citrus_adapter.json`: base identity, chat-template hash, dataset,
//!   settings, metrics) beside them;
//! - [`gguf`]: llama.cpp / Ollama GGUF LoRA adapters;
//! - [`merge`]: base + adapter written as one GGUF or Hugging Face folder;
//! - [`modelfile`]: Ollama Modelfiles;
//! - [`library`]: the adapters imported into the data folder.
//!
//! GGUF llama models hold q/k rows permuted for interleaved RoPE: B's rows are moved between
//! the two orders wherever a GGUF side is involved; A is untouched.

pub mod base;
pub mod gguf;
pub mod library;
pub mod merge;
pub mod modelfile;
pub mod peft;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use citrus_engine::lora::{LoraDelta, LoraTarget};
use citrus_engine::model::Model;
use citrus_formats::config::{Architecture, TransformerConfig};
use citrus_formats::weights::{gguf_qk_rows_to_hf, hf_qk_rows_to_gguf};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{LoraSettings, TrainConfig};
use crate::error::{Result, TrainError};

pub use base::{BaseFacts, BaseIdentity};
pub use peft::{peft_tensor_name, write_json, write_safetensors};

/// PEFT's config file.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// PEFT's weights file.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// Citrus' metadata file.
pub const META_FILE: &str = "citrus_adapter.json";

/// What Citrus records beside the PEFT files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterMeta {
    /// The base model.
    pub base: BaseIdentity,
    /// The dataset's source and content hash.
    pub dataset_source: Option<String>,
    /// The dataset's content hash.
    pub dataset_hash: Option<String>,
    /// The training settings.
    pub training: Option<TrainConfig>,
    /// Final metrics (loss, validation loss, steps, tokens…).
    pub metrics: Value,
    /// Where an adapter trained elsewhere was imported from (its base is then the one it was
    /// checked against at import, or the hand-off bundle's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
}

impl AdapterMeta {
    /// Metadata for an adapter trained elsewhere, on `base`, about which nothing else is
    /// known yet.
    pub fn untrained(base: BaseIdentity) -> Self {
        Self {
            base,
            dataset_source: None,
            dataset_hash: None,
            training: None,
            metrics: Value::Null,
            imported_from: None,
        }
    }
}

/// One projection's low-rank delta.
#[derive(Debug, Clone)]
pub struct LoraModule {
    /// `A`, `(r, in)`.
    pub a: Tensor,
    /// `B`, `(out, r)`, rows in Hugging Face order.
    pub b: Tensor,
    /// The scale applied to `B·A`.
    pub scale: f64,
}

impl LoraModule {
    /// The rank: A's rows.
    pub fn rank(&self) -> Result<usize> {
        Ok(self.a.dim(0)?)
    }
}

/// A LoRA adapter: settings, one delta per (layer, projection), and metadata.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// Rank, alpha, rsLoRA, dropout, targets.
    pub settings: LoraSettings,
    /// The deltas, keyed by (layer, projection).
    pub modules: BTreeMap<(usize, LoraTarget), LoraModule>,
    /// Citrus' metadata, when the adapter has it.
    pub meta: Option<AdapterMeta>,
}

/// Which order a q/k projection's rows are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// Hugging Face's (rotate-half RoPE): PEFT adapters and safetensors models.
    HuggingFace,
    /// llama.cpp's interleaved-RoPE permutation (GGUF llama models).
    GgufLlama,
}

impl RowOrder {
    /// The order of a loaded model's own q/k weights.
    pub fn of_model(config: &TransformerConfig) -> Self {
        if config.rope_interleaved {
            Self::GgufLlama
        } else {
            Self::HuggingFace
        }
    }

    /// The order llama.cpp's converter gives this architecture's GGUF files.
    pub fn of_gguf(architecture: Architecture) -> Self {
        if architecture == Architecture::Llama {
            Self::GgufLlama
        } else {
            Self::HuggingFace
        }
    }
}

/// Moves B's rows between Hugging Face's order and `order`: only q/k of a permuted model
/// differ.
fn b_rows(
    b: &Tensor,
    target: LoraTarget,
    config: &TransformerConfig,
    order: RowOrder,
    to_hf: bool,
) -> Result<Tensor> {
    let heads = match target {
        LoraTarget::Q => config.num_heads,
        LoraTarget::K => config.num_kv_heads,
        _ => return Ok(b.clone()),
    };
    if order == RowOrder::HuggingFace {
        return Ok(b.clone());
    }
    Ok(if to_hf {
        gguf_qk_rows_to_hf(b, heads)?
    } else {
        hf_qk_rows_to_gguf(b, heads)?
    })
}

impl LoraAdapter {
    /// An adapter from deltas in the model's own row order (as training holds them).
    pub fn from_model_order(
        settings: LoraSettings,
        deltas: Vec<(usize, LoraTarget, Tensor, Tensor)>,
        config: &TransformerConfig,
        meta: Option<AdapterMeta>,
    ) -> Result<Self> {
        let scale = settings.scale();
        let mut modules = BTreeMap::new();
        for (layer, target, a, b) in deltas {
            let b = b_rows(
                &b.to_device(&Device::Cpu)?,
                target,
                config,
                RowOrder::of_model(config),
                true,
            )?;
            let a = a.to_device(&Device::Cpu)?;
            modules.insert((layer, target), LoraModule { a, b, scale });
        }
        Ok(Self {
            settings,
            modules,
            meta,
        })
    }

    /// Checks the adapter against a base: a different family is an error; another base file
    /// or chat template than the adapter was trained with gives a warning.
    pub fn check_base(&self, base: &BaseFacts) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        let Some(meta) = &self.meta else {
            return Ok(warnings);
        };
        if meta.base.architecture != base.architecture {
            return Err(TrainError::adapter(
                Path::new(&meta.base.path),
                format!(
                    "the adapter was trained on a {} model; this model is {}",
                    meta.base.architecture.as_str(),
                    base.architecture.as_str()
                ),
            ));
        }
        if meta.base.fingerprint != base.fingerprint {
            warnings.push(format!(
                "the adapter was trained on `{}` ({}), not on this model file",
                meta.base.name, meta.base.path
            ));
        }
        if meta.base.template_hash != base.template_hash {
            warnings.push(
                "the adapter was trained with another chat template than this model's: \
                 its replies may be malformed"
                    .into(),
            );
        }
        Ok(warnings)
    }

    /// Checks that every delta fits a projection of a model with `config`, naming the first
    /// tensor that does not.
    pub fn check_shapes(&self, config: &TransformerConfig) -> Result<()> {
        for (&(layer, target), module) in &self.modules {
            let name = |matrix| peft_tensor_name(layer, target, matrix);
            if layer >= config.num_layers {
                return Err(TrainError::adapter(
                    Path::new(&name('A')),
                    format!(
                        "layer {layer} does not exist: the base has {} layers",
                        config.num_layers
                    ),
                ));
            }
            let (out, inp) = target.shape(config);
            let rank = module.rank()?;
            for (matrix, tensor, expected) in
                [('A', &module.a, [rank, inp]), ('B', &module.b, [out, rank])]
            {
                if tensor.dims() != expected {
                    return Err(TrainError::adapter(
                        Path::new(&name(matrix)),
                        format!(
                            "shape {:?} does not fit the base's {out}×{inp} {} (expected {expected:?})",
                            tensor.dims(),
                            target.hf_name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// One module's `A` and `B` with B's rows in the order of a model with `config` (as
    /// training holds them), f32 on the CPU; None where the adapter has no such module.
    pub fn model_order_module(
        &self,
        layer: usize,
        target: LoraTarget,
        config: &TransformerConfig,
    ) -> Result<Option<(Tensor, Tensor)>> {
        let Some(module) = self.modules.get(&(layer, target)) else {
            return Ok(None);
        };
        let b = b_rows(&module.b, target, config, RowOrder::of_model(config), false)?;
        Ok(Some((
            module.a.to_dtype(DType::F32)?,
            b.to_dtype(DType::F32)?,
        )))
    }

    /// `scale · B·A` of one module, with B's rows in `order` (f32, on the CPU).
    pub fn delta(
        &self,
        layer: usize,
        target: LoraTarget,
        config: &TransformerConfig,
        order: RowOrder,
    ) -> Result<Option<Tensor>> {
        let Some(module) = self.modules.get(&(layer, target)) else {
            return Ok(None);
        };
        let b = b_rows(&module.b, target, config, order, false)?.to_dtype(DType::F32)?;
        let a = module.a.to_dtype(DType::F32)?;
        Ok(Some((b.matmul(&a)? * module.scale)?))
    }

    /// Attaches the adapter to `model` under `label` (its folder, recorded with each run),
    /// replacing any attached one, without reloading the base. Everything is checked before
    /// anything changes; returns warnings (see [`LoraAdapter::check_base`]).
    pub fn attach(&self, model: &mut Model, label: &str) -> Result<Vec<String>> {
        let config = model.info().config.clone();
        let warnings = self.check_base(&BaseFacts::of_model(model))?;
        self.check_shapes(&config)?;
        let device = model.transformer().device().clone();
        let mut deltas = Vec::with_capacity(self.modules.len());
        for (&(layer, target), module) in &self.modules {
            let b = b_rows(
                &module.b,
                target,
                &config,
                RowOrder::of_model(&config),
                false,
            )?;
            deltas.push((
                layer,
                target,
                LoraDelta {
                    a: module.a.to_dtype(DType::F32)?.to_device(&device)?,
                    b: b.to_dtype(DType::F32)?.to_device(&device)?,
                    scale: module.scale,
                },
            ));
        }
        model.set_adapter(None);
        for (layer, target, delta) in deltas {
            if let Some(linear) = model.transformer_mut().linear_mut(layer, target) {
                linear.set_lora(Some(delta))?;
            }
        }
        model.set_adapter(Some(label.to_string()));
        Ok(warnings)
    }
}

/// Removes any attached adapter: the model is its base again.
pub fn detach(model: &mut Model) {
    model.set_adapter(None);
}

/// What `citrus adapters inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterSummary {
    /// The folder.
    pub path: PathBuf,
    /// Rank, alpha, rsLoRA, dropout, targets.
    pub settings: LoraSettings,
    /// Layers that carry deltas.
    pub layers: usize,
    /// Delta tensors (A and B counted separately).
    pub tensors: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Citrus' metadata, when present.
    pub meta: Option<AdapterMeta>,
}

impl LoraAdapter {
    /// A summary for display.
    pub fn summary(&self, path: &Path) -> AdapterSummary {
        let mut layers: Vec<usize> = self.modules.keys().map(|(l, _)| *l).collect();
        layers.dedup();
        AdapterSummary {
            path: path.to_path_buf(),
            settings: self.settings.clone(),
            layers: layers.len(),
            tensors: self.modules.len() * 2,
            parameters: self
                .modules
                .values()
                .map(|m| m.a.elem_count() + m.b.elem_count())
                .sum(),
            meta: self.meta.clone(),
        }
    }
}
