//! GGUF LoRA adapters, the form llama.cpp (`--lora`) and Ollama (`ADAPTER`) load.
//!
//! Metadata: `general.type = adapter`, `general.architecture` of the base, `adapter.type =
//! lora`, `adapter.lora.alpha`. Tensors: the base tensor's name + `.lora_a` (`[r, in]`) /
//! `.lora_b` (`[out, r]`), f32, B's q/k rows in the order llama.cpp's converter gives the
//! base. llama.cpp scales each tensor by `alpha / rank`, or by 1 when alpha is 0: when the
//! modules' scales are not one plain `alpha / r` (rsLoRA, rank or alpha patterns), alpha 0 is
//! written and each B carries its own scale, so every delta is exact. Citrus' metadata rides
//! along as JSON under [`META_KEY`] (llama.cpp ignores unknown keys).

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use citrus_engine::lora::LoraTarget;
use citrus_formats::config::{Architecture, TransformerConfig};
use citrus_formats::gguf::GgufFile;
use citrus_formats::gguf_writer::GgufWriter;

use super::{b_rows, AdapterMeta, LoraAdapter, LoraModule, RowOrder};
use crate::config::{lora_scale, LoraSettings};
use crate::error::{Result, TrainError};

/// The metadata key holding Citrus' adapter metadata as JSON.
pub const META_KEY: &str = "citrus.adapter.meta";

/// What [`LoraAdapter::write_gguf`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufAdapterExport {
    /// Tensors written (A and B counted separately).
    pub tensors: usize,
    /// The `adapter.lora.alpha` written.
    pub alpha: f32,
    /// Whether each B carries its module's scale (alpha written as 0).
    pub prescaled: bool,
}

/// The GGUF tensor name of one half of a delta, e.g. `blk.3.attn_q.weight.lora_a`.
pub fn gguf_lora_name(layer: usize, target: LoraTarget, matrix: char) -> String {
    let half = if matrix == 'A' { "lora_a" } else { "lora_b" };
    format!("blk.{layer}.{}.weight.{half}", target.gguf_name())
}

/// Parses a GGUF LoRA tensor name into (layer, target, 'A' or 'B').
fn parse_gguf_lora_name(name: &str) -> Option<(usize, LoraTarget, char)> {
    let (base, matrix) = if let Some(base) = name.strip_suffix(".weight.lora_a") {
        (base, 'A')
    } else {
        (name.strip_suffix(".weight.lora_b")?, 'B')
    };
    let (layer, target) = base.strip_prefix("blk.")?.split_once('.')?;
    Some((layer.parse().ok()?, LoraTarget::parse(target)?, matrix))
}

impl LoraAdapter {
    /// The alpha to write: the settings' when every module is scaled by plain `alpha / r`,
    /// else None (write 0 and pre-scale B).
    fn plain_alpha(&self) -> Result<Option<f64>> {
        let alpha = self.settings.alpha;
        for module in self.modules.values() {
            let plain = lora_scale(alpha, module.rank()?, false);
            if (plain - module.scale).abs() > 1e-9 * plain.abs().max(1.0) {
                return Ok(None);
            }
        }
        Ok(Some(alpha))
    }

    /// Writes the adapter as a GGUF LoRA file for a base with `config` (its family and head
    /// counts: llama.cpp's q/k row order depends on them).
    pub fn write_gguf(&self, path: &Path, config: &TransformerConfig) -> Result<GgufAdapterExport> {
        let alpha = self.plain_alpha()?;
        let order = RowOrder::of_gguf(config.architecture);
        let mut writer = GgufWriter::new();
        writer.set("general.type", Value::String("adapter".into()));
        writer.set(
            "general.architecture",
            Value::String(config.architecture.as_str().into()),
        );
        if let Some(meta) = &self.meta {
            writer.set(
                "general.name",
                Value::String(format!("LoRA for {}", meta.base.name)),
            );
        }
        writer.set("adapter.type", Value::String("lora".into()));
        writer.set(
            "adapter.lora.alpha",
            Value::F32(alpha.unwrap_or(0.0) as f32),
        );
        if let Some(meta) = &self.meta {
            let json = serde_json::to_string(meta).unwrap_or_default();
            writer.set(META_KEY, Value::String(json));
        }
        let mut tensors = Vec::with_capacity(self.modules.len() * 2);
        for (&(layer, target), module) in &self.modules {
            let b = b_rows(&module.b, target, config, order, false)?;
            let b = match alpha {
                Some(_) => b,
                None => (b * module.scale)?,
            };
            tensors.push((gguf_lora_name(layer, target, 'A'), f32_tensor(&module.a)?));
            tensors.push((gguf_lora_name(layer, target, 'B'), f32_tensor(&b)?));
        }
        let count = tensors.len();
        writer.write_tensors(path, &tensors)?;
        Ok(GgufAdapterExport {
            tensors: count,
            alpha: alpha.unwrap_or(0.0) as f32,
            prescaled: alpha.is_none(),
        })
    }

    /// Reads a GGUF LoRA adapter meant for a base with `config`: its architecture must match,
    /// and B's q/k rows are brought back to Hugging Face order.
    pub fn read_gguf(path: &Path, config: &TransformerConfig) -> Result<Self> {
        let mut file = GgufFile::open(path)?;
        let bad = |detail: String| TrainError::adapter(path, detail);
        match (file.string_opt("general.type"), file.string_opt("adapter.type")) {
            (Some("adapter"), Some("lora")) => {}
            (general, adapter) => {
                return Err(bad(format!(
                    "not a GGUF LoRA adapter (general.type {}, adapter.type {}): a model file cannot be imported as an adapter",
                    general.unwrap_or("absent"),
                    adapter.unwrap_or("absent")
                )))
            }
        }
        let architecture = file.string("general.architecture")?.to_string();
        if Architecture::parse(&architecture) != Some(config.architecture) {
            return Err(bad(format!(
                "the adapter is for a `{architecture}` model; the base is `{}`",
                config.architecture.as_str()
            )));
        }
        let alpha = file.float_opt("adapter.lora.alpha")?.unwrap_or(0.0);
        let meta: Option<AdapterMeta> = file
            .string_opt(META_KEY)
            .and_then(|json| serde_json::from_str(json).ok());
        let names: Vec<String> = file.tensor_names().map(str::to_string).collect();
        let mut halves: BTreeMap<(usize, LoraTarget), [Option<Tensor>; 2]> = BTreeMap::new();
        for name in names {
            if name.ends_with("_norm.weight") {
                // llama.cpp skips norm vectors in adapters too.
                continue;
            }
            let (layer, target, matrix) = parse_gguf_lora_name(&name).ok_or_else(|| {
                bad(format!(
                    "tensor `{name}` is not a LoRA delta of a q/k/v/o/gate/up/down projection"
                ))
            })?;
            let tensor = file
                .read_tensor(&name, &Device::Cpu)?
                .dequantize(&Device::Cpu)?;
            halves.entry((layer, target)).or_default()[usize::from(matrix == 'B')] = Some(tensor);
        }
        let order = RowOrder::of_gguf(config.architecture);
        let mut modules = BTreeMap::new();
        for ((layer, target), [a, b]) in halves {
            let (Some(a), Some(b)) = (a, b) else {
                return Err(bad(format!(
                    "{} has only one of lora_a and lora_b",
                    gguf_lora_name(layer, target, 'A').trim_end_matches(".lora_a")
                )));
            };
            let rank = a.dim(0)?;
            if b.dim(1)? != rank {
                return Err(bad(format!(
                    "{}: lora_a {:?} and lora_b {:?} do not share a rank",
                    gguf_lora_name(layer, target, 'A').trim_end_matches(".lora_a"),
                    a.dims(),
                    b.dims()
                )));
            }
            let b = b_rows(&b, target, config, order, true)?;
            let scale = if alpha == 0.0 {
                1.0
            } else {
                alpha / rank as f64
            };
            modules.insert((layer, target), LoraModule { a, b, scale });
        }
        if modules.is_empty() {
            return Err(bad("the adapter holds no LoRA tensors".into()));
        }
        let settings = match &meta {
            Some(meta) => meta
                .training
                .as_ref()
                .map(|t| t.lora.clone())
                .unwrap_or_else(|| settings_of(&modules, alpha)),
            None => settings_of(&modules, alpha),
        };
        Ok(Self {
            settings,
            modules,
            meta,
        })
    }
}

/// Settings describing imported modules: the most common rank, an alpha giving the most
/// common scale (the PEFT writer records any module that differs as a pattern).
fn settings_of(modules: &BTreeMap<(usize, LoraTarget), LoraModule>, alpha: f64) -> LoraSettings {
    let mut ranks: BTreeMap<usize, usize> = BTreeMap::new();
    let mut targets: Vec<LoraTarget> = Vec::new();
    for (&(_, target), module) in modules {
        *ranks.entry(module.a.dims()[0]).or_default() += 1;
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets.sort();
    let rank = ranks
        .iter()
        .max_by_key(|(_, count)| **count)
        .map_or(1, |(rank, _)| *rank);
    LoraSettings {
        rank,
        alpha: if alpha == 0.0 { rank as f64 } else { alpha },
        rslora: false,
        dropout: 0.0,
        targets,
    }
}

fn f32_tensor(tensor: &Tensor) -> Result<QTensor> {
    Ok(QTensor::quantize(
        &tensor.to_dtype(candle_core::DType::F32)?,
        GgmlDType::F32,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_lora_names_round_trip() {
        let name = gguf_lora_name(12, LoraTarget::Down, 'B');
        assert_eq!(name, "blk.12.ffn_down.weight.lora_b");
        assert_eq!(
            parse_gguf_lora_name(&name),
            Some((12, LoraTarget::Down, 'B'))
        );
        assert_eq!(
            parse_gguf_lora_name("blk.0.attn_q.weight.lora_a"),
            Some((0, LoraTarget::Q, 'A'))
        );
        assert_eq!(parse_gguf_lora_name("token_embd.weight.lora_a"), None);
        assert_eq!(parse_gguf_lora_name("blk.0.attn_q.weight"), None);
    }
}
