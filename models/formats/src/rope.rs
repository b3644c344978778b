//! Rotary position embeddings (RoPE): the base frequency and the scaling a model declares, read
//! from every form the reference tools write, and the frequencies computed as the reference
//! implementations compute them.
//!
//! Hugging Face configs: transformers 4 writes `rope_theta` and `rope_scaling` at the top level,
//! transformers 5 writes `rope_parameters: {rope_theta, rope_type, …}`. Both are read with
//! transformers 5's precedence (a non-empty `rope_scaling` over `rope_parameters`, a value inside
//! the dictionary over the top-level one, a top-level `original_max_position_embeddings` over
//! the dictionary's). The scaling types are computed as in transformers'
//! `modeling_rope_utils.py`: `default`, `linear`, `dynamic`, `llama3` and `yarn`; any other type,
//! per-layer-type parameters and a partial rotary factor are refused by name
//! ([`ModelError::UnsupportedSetting`]).
//!
//! GGUF: `{arch}.rope.freq_base`, `{arch}.rope.scaling.{type,factor,original_context_length,
//! attn_factor}` (and the older `{arch}.rope.scale_linear`) and the `rope_freqs.weight` table,
//! computed as llama.cpp does (`llama_context` parameters, `ggml_rope_yarn_corr_dims`,
//! `rope_yarn`). Keys llama.cpp does not read for these architectures but transformers honours
//! (the YaRN betas, extrapolation and attention factors, the log multiplier) are refused, since
//! the two references would compute different models from them.

use std::f64::consts::PI;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;

/// The RoPE base when a model names none (transformers' `default_theta`, llama.cpp's default
/// `rope.freq_base`).
pub const DEFAULT_THETA: f32 = 10_000.0;

/// The GGUF tensor in which llama.cpp stores per-frequency divisors (Llama-3.1 scaling).
pub const GGUF_FREQ_TABLE: &str = "rope_freqs.weight";

/// A model's rotary position embedding: base frequency and scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rope {
    /// Base frequency θ: pair `i` of a head of width `d` turns by `θ^(-2i/d)` per position.
    pub theta: f32,
    /// How the frequencies are rescaled for longer contexts.
    pub scaling: RopeScaling,
}

/// The frequency scalings the transformer computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RopeScaling {
    /// Plain RoPE (transformers' `default`, llama.cpp's `none`).
    None,
    /// Position interpolation: every frequency divided by `factor`.
    Linear {
        /// The divisor.
        factor: f32,
    },
    /// Dynamic NTK: transformers raises the base once a sequence passes
    /// `max_position_embeddings`. Within it the frequencies are the plain ones, and that is the
    /// context this app allows such a model ([`Rope::context_length`]), so what it computes is
    /// exactly what transformers computes; beyond it implementations disagree (transformers'
    /// result depends on how the sequence was cached).
    Dynamic {
        /// The NTK factor.
        factor: f32,
    },
    /// Llama-3.1's smooth per-frequency interpolation (`rope_type = "llama3"`).
    Llama3(Llama3RopeScaling),
    /// YaRN (Qwen2.5's long-context setting).
    Yarn(YarnRopeScaling),
    /// Per-frequency divisors from a GGUF `rope_freqs.weight` tensor (how llama.cpp's converter
    /// stores Llama-3.1 scaling).
    Table {
        /// One divisor per rotary pair.
        divisors: Vec<f32>,
    },
}

/// Llama-3.1 style RoPE frequency scaling (`rope_type = "llama3"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Llama3RopeScaling {
    /// Overall scale factor (8 for Llama-3.1).
    pub factor: f32,
    /// Low-frequency factor (1).
    pub low_freq_factor: f32,
    /// High-frequency factor (4).
    pub high_freq_factor: f32,
    /// The context length the base model was trained with (8192).
    pub original_max_position_embeddings: usize,
}

/// YaRN frequency scaling, with its attention factor resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct YarnRopeScaling {
    /// Context extension factor.
    pub factor: f32,
    /// The context length the base model was trained with.
    pub original_max_position_embeddings: usize,
    /// Rotations at which interpolation stops (32 unless set).
    pub beta_fast: f32,
    /// Rotations at which extrapolation starts (1 unless set).
    pub beta_slow: f32,
    /// Whether the correction range is rounded outwards to whole dimensions (transformers'
    /// `truncate`, always true in llama.cpp).
    pub truncate: bool,
    /// The factor cos and sin are multiplied by (`0.1·ln(factor) + 1` unless set).
    pub attention_factor: f32,
}

impl Rope {
    /// Plain RoPE with base `theta`.
    pub fn plain(theta: f32) -> Self {
        Self {
            theta,
            scaling: RopeScaling::None,
        }
    }

    /// The inverse frequency of each rotary pair of a head of width `head_dim`.
    pub fn inverse_frequencies(&self, head_dim: usize) -> Vec<f32> {
        let plain: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1.0 / self.theta.powf(i as f32 / head_dim as f32))
            .collect();
        match &self.scaling {
            RopeScaling::None | RopeScaling::Dynamic { .. } => plain,
            RopeScaling::Linear { factor } => plain.iter().map(|f| f / factor).collect(),
            RopeScaling::Llama3(s) => s.scale(&plain),
            RopeScaling::Yarn(s) => s.scale(&plain, head_dim, self.theta),
            RopeScaling::Table { divisors } => plain
                .iter()
                .zip(divisors.iter().chain(std::iter::repeat(&1.0)))
                .map(|(f, d)| f / d)
                .collect(),
        }
    }

    /// The factor cos and sin are multiplied by (YaRN's; 1 otherwise).
    pub fn attention_factor(&self) -> f32 {
        match &self.scaling {
            RopeScaling::Yarn(s) => s.attention_factor,
            _ => 1.0,
        }
    }

    /// The longest context the model supports with this scaling, given the one it declares:
    /// YaRN extends the original context by its factor (as vLLM derives it); the others keep the
    /// declared one (dynamic NTK on purpose, see [`RopeScaling::Dynamic`]).
    pub fn context_length(&self, declared: usize) -> usize {
        match &self.scaling {
            RopeScaling::Yarn(s) => {
                let extended =
                    (s.original_max_position_embeddings as f64 * s.factor as f64).round() as usize;
                declared.max(extended)
            }
            _ => declared,
        }
    }

    /// Reads the RoPE settings of a Hugging Face `config.json` (either transformers form);
    /// `max_positions` is its `max_position_embeddings` (with the family default applied).
    pub fn from_hf(config: &Map<String, Value>, path: &Path, max_positions: usize) -> Result<Self> {
        let (dict_name, params) = hf_parameters(config, path)?;
        let reader = HfRopeReader {
            path,
            dict_name,
            params: &params,
        };
        if params.contains_key("full_attention") || params.contains_key("sliding_attention") {
            return Err(unsupported(
                path,
                dict_name,
                "per layer type",
                "different RoPE settings per layer type are not implemented",
            ));
        }
        let theta = match reader.number("rope_theta")? {
            Some(theta) => theta,
            None => number_at(config, "rope_theta", path)?.unwrap_or(DEFAULT_THETA as f64),
        } as f32;
        let partial = match reader.number("partial_rotary_factor")? {
            Some(p) => Some(p),
            None => number_at(config, "partial_rotary_factor", path)?,
        };
        if let Some(p) = partial.filter(|p| *p != 1.0) {
            return Err(unsupported(
                path,
                "partial_rotary_factor",
                &p.to_string(),
                "rotating only part of each head is not implemented",
            ));
        }
        let rope_type = reader
            .string("rope_type")?
            .or(reader.string("type")?)
            .unwrap_or("default");
        // transformers gives a top-level `original_max_position_embeddings` priority.
        let original = match number_at(config, "original_max_position_embeddings", path)? {
            Some(n) => Some(n),
            None => reader.number("original_max_position_embeddings")?,
        }
        .map_or(max_positions, |n| n as usize);
        let scaling = match rope_type {
            "default" => RopeScaling::None,
            "linear" => RopeScaling::Linear {
                factor: reader.required("factor", rope_type)? as f32,
            },
            "dynamic" => RopeScaling::Dynamic {
                factor: reader.required("factor", rope_type)? as f32,
            },
            "llama3" => RopeScaling::Llama3(Llama3RopeScaling {
                factor: reader.required("factor", rope_type)? as f32,
                low_freq_factor: reader.required("low_freq_factor", rope_type)? as f32,
                high_freq_factor: reader.required("high_freq_factor", rope_type)? as f32,
                original_max_position_embeddings: original,
            }),
            "yarn" => RopeScaling::Yarn(reader.yarn(original, max_positions)?),
            other => {
                return Err(unsupported(
                    path,
                    &format!("{dict_name}.rope_type"),
                    &format!("\"{other}\""),
                    "implemented RoPE types: default, linear, dynamic, llama3, yarn",
                ))
            }
        };
        Ok(Self { theta, scaling })
    }

    /// Reads the RoPE settings of a GGUF file of architecture `arch` whose heads are
    /// `head_dim` wide and whose declared context is `context_length`.
    pub fn from_gguf(
        file: &mut GgufFile,
        arch: &str,
        head_dim: usize,
        context_length: usize,
    ) -> Result<Self> {
        let key = |suffix: &str| format!("{arch}.{suffix}");
        let path = file.path().to_path_buf();
        if let Some(dims) = file.uint_opt(&key("rope.dimension_count"))? {
            if dims as usize != head_dim {
                return Err(unsupported(
                    &path,
                    &key("rope.dimension_count"),
                    &dims.to_string(),
                    &format!(
                        "rotating {dims} of {head_dim} dimensions per head is not implemented"
                    ),
                ));
            }
        }
        // llama.cpp ignores these for llama/qwen2/qwen3; transformers honours their sources.
        for ignored in [
            "rope.scaling.yarn_ext_factor",
            "rope.scaling.yarn_attn_factor",
            "rope.scaling.yarn_beta_fast",
            "rope.scaling.yarn_beta_slow",
            "rope.scaling.yarn_log_multiplier",
        ] {
            if let Some(value) = file.float_opt(&key(ignored))? {
                return Err(unsupported(
                    &path,
                    &key(ignored),
                    &value.to_string(),
                    "llama.cpp does not apply this setting to this architecture while the \
                     model's authors do, so the two references disagree",
                ));
            }
        }
        let theta = file
            .float_opt(&key("rope.freq_base"))?
            .map_or(DEFAULT_THETA, |t| t as f32);
        let factor = match file.float_opt(&key("rope.scaling.factor"))? {
            Some(f) => Some(f),
            None => file.float_opt(&key("rope.scale_linear"))?,
        }
        .filter(|f| *f != 0.0);
        // llama.cpp reads an absent type as "linear" (a no-op without a factor).
        let kind = file
            .string_opt(&key("rope.scaling.type"))
            .unwrap_or("linear")
            .to_string();
        let mut scaling = match kind.as_str() {
            "none" => RopeScaling::None,
            "linear" => match factor {
                Some(f) if f != 1.0 => RopeScaling::Linear { factor: f as f32 },
                _ => RopeScaling::None,
            },
            "yarn" => {
                let factor = factor.unwrap_or(1.0);
                let attn_factor = file
                    .float_opt(&key("rope.scaling.attn_factor"))?
                    .unwrap_or(1.0);
                let original = file
                    .uint_opt(&key("rope.scaling.original_context_length"))?
                    .map_or(context_length, |n| n as usize);
                RopeScaling::Yarn(YarnRopeScaling {
                    factor: factor as f32,
                    original_max_position_embeddings: original,
                    beta_fast: 32.0,
                    beta_slow: 1.0,
                    truncate: true,
                    attention_factor: (yarn_mscale(factor, 1.0) * attn_factor) as f32,
                })
            }
            other => {
                return Err(unsupported(
                    &path,
                    &key("rope.scaling.type"),
                    &format!("\"{other}\""),
                    "implemented RoPE scaling types: none, linear, yarn",
                ))
            }
        };
        if file.has_tensor(GGUF_FREQ_TABLE) {
            if scaling != RopeScaling::None {
                return Err(unsupported(
                    &path,
                    GGUF_FREQ_TABLE,
                    &format!("a table beside {kind} scaling"),
                    "combining a frequency table with another scaling is not implemented",
                ));
            }
            let divisors = file
                .read_tensor(GGUF_FREQ_TABLE, &candle_core::Device::Cpu)?
                .dequantize(&candle_core::Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            if divisors.len() != head_dim / 2 {
                return Err(ModelError::ShapeMismatch {
                    path,
                    tensor: GGUF_FREQ_TABLE.into(),
                    found: vec![divisors.len()],
                    expected: vec![head_dim / 2],
                });
            }
            scaling = RopeScaling::Table { divisors };
        }
        Ok(Self { theta, scaling })
    }

    /// The settings as a transformers 4 config writes them (`rope_theta` and `rope_scaling`,
    /// which transformers 5 reads too): `None` for the scaling when there is none. A GGUF
    /// frequency table has no config equivalent.
    pub fn to_hf(&self) -> Result<(f32, Option<Value>)> {
        let scaling = match &self.scaling {
            RopeScaling::None => None,
            RopeScaling::Linear { factor } => {
                Some(json!({"rope_type": "linear", "factor": factor}))
            }
            RopeScaling::Dynamic { factor } => {
                Some(json!({"rope_type": "dynamic", "factor": factor}))
            }
            RopeScaling::Llama3(s) => Some(json!({
                "rope_type": "llama3",
                "factor": s.factor,
                "low_freq_factor": s.low_freq_factor,
                "high_freq_factor": s.high_freq_factor,
                "original_max_position_embeddings": s.original_max_position_embeddings,
            })),
            RopeScaling::Yarn(s) => Some(json!({
                "rope_type": "yarn",
                "factor": s.factor,
                "original_max_position_embeddings": s.original_max_position_embeddings,
                "beta_fast": s.beta_fast,
                "beta_slow": s.beta_slow,
                "truncate": s.truncate,
                "attention_factor": s.attention_factor,
            })),
            RopeScaling::Table { .. } => {
                return Err(ModelError::invalid_setting(
                    "export",
                    "this model's RoPE frequency table has no Hugging Face config equivalent",
                ))
            }
        };
        Ok((self.theta, scaling))
    }
}

impl fmt::Display for Rope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base {}, ", self.theta)?;
        match &self.scaling {
            RopeScaling::None => write!(f, "no scaling"),
            RopeScaling::Linear { factor } => write!(f, "linear scaling ×{factor}"),
            RopeScaling::Dynamic { factor } => write!(
                f,
                "dynamic NTK ×{factor} (plain frequencies within the model's context, the most \
                 this app allows it)"
            ),
            RopeScaling::Llama3(s) => write!(
                f,
                "llama3 scaling ×{} (low-frequency factor {}, high-frequency factor {}, from {} \
                 positions)",
                s.factor, s.low_freq_factor, s.high_freq_factor, s.original_max_position_embeddings
            ),
            RopeScaling::Yarn(s) => write!(
                f,
                "yarn scaling ×{} from {} positions (β fast {}, β slow {}, attention factor {:.4})",
                s.factor,
                s.original_max_position_embeddings,
                s.beta_fast,
                s.beta_slow,
                s.attention_factor
            ),
            RopeScaling::Table { divisors } => {
                let (low, high) = divisors
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(l, h), d| (l.min(*d), h.max(*d)));
                write!(
                    f,
                    "per-frequency divisors from {GGUF_FREQ_TABLE} ({} pairs, {low}–{high})",
                    divisors.len()
                )
            }
        }
    }
}

impl Llama3RopeScaling {
    /// transformers' `_compute_llama3_parameters` applied to the plain inverse frequencies.
    fn scale(&self, plain: &[f32]) -> Vec<f32> {
        let old_context = self.original_max_position_embeddings as f32;
        let low_wavelen = old_context / self.low_freq_factor;
        let high_wavelen = old_context / self.high_freq_factor;
        plain
            .iter()
            .map(|&freq| {
                let wavelen = 2.0 * std::f32::consts::PI / freq;
                if wavelen < high_wavelen {
                    freq
                } else if wavelen > low_wavelen {
                    freq / self.factor
                } else {
                    let smooth = (old_context / wavelen - self.low_freq_factor)
                        / (self.high_freq_factor - self.low_freq_factor);
                    (1.0 - smooth) * freq / self.factor + smooth * freq
                }
            })
            .collect()
    }
}

impl YarnRopeScaling {
    /// transformers' `_compute_yarn_parameters` (the same as llama.cpp's `rope_yarn` with an
    /// extrapolation factor of 1) applied to the plain inverse frequencies.
    fn scale(&self, plain: &[f32], head_dim: usize, theta: f32) -> Vec<f32> {
        let correction_dim = |rotations: f64| {
            head_dim as f64
                * (self.original_max_position_embeddings as f64 / (rotations * 2.0 * PI)).ln()
                / (2.0 * (theta as f64).ln())
        };
        let (mut low, mut high) = (
            correction_dim(self.beta_fast as f64),
            correction_dim(self.beta_slow as f64),
        );
        if self.truncate {
            (low, high) = (low.floor(), high.ceil());
        }
        let (low, mut high) = (low.max(0.0) as f32, high.min(head_dim as f64 - 1.0) as f32);
        if low == high {
            high += 0.001;
        }
        plain
            .iter()
            .enumerate()
            .map(|(pair, &extrapolated)| {
                let position_frequency = theta.powf((2 * pair) as f32 / head_dim as f32);
                let interpolated = 1.0 / (self.factor * position_frequency);
                let extrapolation = 1.0 - ((pair as f32 - low) / (high - low)).clamp(0.0, 1.0);
                interpolated * (1.0 - extrapolation) + extrapolated * extrapolation
            })
            .collect()
    }
}

/// YaRN's magnitude correction `0.1·mscale·ln(scale) + 1` (1 when not extending).
fn yarn_mscale(scale: f64, mscale: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * mscale * scale.ln() + 1.0
    }
}

/// The dictionary transformers 5 takes the RoPE parameters from, and its key in config.json.
fn hf_parameters(
    config: &Map<String, Value>,
    path: &Path,
) -> Result<(&'static str, Map<String, Value>)> {
    for name in ["rope_scaling", "rope_parameters"] {
        match config.get(name) {
            Some(Value::Object(map)) if !map.is_empty() => return Ok((name, map.clone())),
            Some(Value::Object(_) | Value::Null) | None => {}
            Some(other) => {
                return Err(ModelError::MissingMetadata {
                    path: path.to_path_buf(),
                    key: name.into(),
                    detail: format!("expected an object, found {other}"),
                })
            }
        }
    }
    Ok(("rope_parameters", Map::new()))
}

/// A number at `key` of `map`: `None` when absent or null, an error when of another type.
fn number_at(map: &Map<String, Value>, key: &str, path: &Path) -> Result<Option<f64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(ModelError::MissingMetadata {
            path: path.to_path_buf(),
            key: key.into(),
            detail: format!("expected a number, found {other}"),
        }),
    }
}

/// Typed reads from the RoPE dictionary, with errors naming `dict_name.key`.
struct HfRopeReader<'a> {
    path: &'a Path,
    dict_name: &'static str,
    params: &'a Map<String, Value>,
}

impl HfRopeReader<'_> {
    fn bad(&self, key: &str, detail: String) -> ModelError {
        ModelError::MissingMetadata {
            path: self.path.to_path_buf(),
            key: format!("{}.{key}", self.dict_name),
            detail,
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>> {
        number_at(self.params, key, self.path).map_err(|_| {
            self.bad(
                key,
                format!("expected a number, found {}", self.params[key]),
            )
        })
    }

    fn required(&self, key: &str, rope_type: &str) -> Result<f64> {
        self.number(key)?
            .ok_or_else(|| self.bad(key, format!("the {rope_type} RoPE scaling needs it")))
    }

    fn string(&self, key: &str) -> Result<Option<&str>> {
        match self.params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.bad(key, format!("expected a string, found {other}"))),
        }
    }

    fn flag(&self, key: &str) -> Result<Option<bool>> {
        match self.params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.bad(key, format!("expected true or false, found {other}"))),
        }
    }

    /// YaRN as transformers 5 resolves it: a missing factor is the ratio of the declared to the
    /// original context; a missing attention factor comes from `mscale`/`mscale_all_dim`.
    fn yarn(&self, original: usize, max_positions: usize) -> Result<YarnRopeScaling> {
        let factor = self
            .number("factor")?
            .unwrap_or(max_positions as f64 / original as f64);
        let attention_factor = match self.number("attention_factor")? {
            Some(a) => a,
            None => match (self.number("mscale")?, self.number("mscale_all_dim")?) {
                (Some(m), Some(all)) if m != 0.0 && all != 0.0 => {
                    yarn_mscale(factor, m) / yarn_mscale(factor, all)
                }
                _ => yarn_mscale(factor, 1.0),
            },
        };
        // `beta_fast or 32`: zero or absent means the default.
        let beta = |key: &str, default: f64| -> Result<f32> {
            Ok(self.number(key)?.filter(|b| *b != 0.0).unwrap_or(default) as f32)
        };
        Ok(YarnRopeScaling {
            factor: factor as f32,
            original_max_position_embeddings: original,
            beta_fast: beta("beta_fast", 32.0)?,
            beta_slow: beta("beta_slow", 1.0)?,
            truncate: self.flag("truncate")?.unwrap_or(true),
            attention_factor: attention_factor as f32,
        })
    }
}

/// A [`ModelError::UnsupportedSetting`].
pub(crate) fn unsupported(path: &Path, key: &str, value: &str, detail: &str) -> ModelError {
    ModelError::UnsupportedSetting {
        path: path.to_path_buf(),
        key: key.to_string(),
        value: value.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(config: Value) -> Result<Rope> {
        Rope::from_hf(config.as_object().unwrap(), Path::new("config.json"), 4096)
    }

    #[test]
    fn both_transformers_forms_give_the_same_settings() {
        let v4 = read(json!({"rope_theta": 100000.0})).unwrap();
        let v5 = read(json!({"rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}}))
            .unwrap();
        assert_eq!(v4, v5);
        assert_eq!(v5, Rope::plain(100_000.0));

        let llama3 = json!({"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 8192});
        let mut v4 = json!({"rope_theta": 500000.0, "rope_scaling": llama3.clone()});
        v4["rope_scaling"]["rope_type"] = json!("llama3");
        let mut v5 = json!({"rope_parameters": llama3});
        v5["rope_parameters"]["rope_type"] = json!("llama3");
        v5["rope_parameters"]["rope_theta"] = json!(500000.0);
        let (v4, v5) = (read(v4).unwrap(), read(v5).unwrap());
        assert_eq!(v4, v5);
        assert!(matches!(v5.scaling, RopeScaling::Llama3(s) if s.factor == 8.0));
        assert_eq!(v5.theta, 500_000.0);
    }

    #[test]
    fn the_old_type_key_and_the_default_base_are_read() {
        let rope = read(json!({"rope_scaling": {"type": "linear", "factor": 2.0}})).unwrap();
        assert_eq!(rope.theta, DEFAULT_THETA);
        assert_eq!(rope.scaling, RopeScaling::Linear { factor: 2.0 });
        let plain = Rope::plain(DEFAULT_THETA).inverse_frequencies(8);
        let linear = rope.inverse_frequencies(8);
        for (p, l) in plain.iter().zip(&linear) {
            assert_eq!(*l, p / 2.0);
        }
    }

    #[test]
    fn yarn_resolves_its_attention_factor_and_extends_the_context() {
        let rope = read(json!({"rope_theta": 1000000.0, "rope_scaling":
            {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}))
        .unwrap();
        let RopeScaling::Yarn(s) = rope.scaling else {
            panic!("{rope:?}")
        };
        assert!((s.attention_factor - (0.1 * 4f32.ln() + 1.0)).abs() < 1e-6);
        assert_eq!((s.beta_fast, s.beta_slow, s.truncate), (32.0, 1.0, true));
        assert_eq!(rope.context_length(32768), 131_072);
        // High frequencies are kept, low ones divided by the factor.
        let scaled = rope.inverse_frequencies(128);
        let plain = Rope::plain(1e6).inverse_frequencies(128);
        assert_eq!(scaled[0], plain[0]);
        assert!((scaled[63] - plain[63] / 4.0).abs() < 1e-12);
    }

    #[test]
    fn unimplemented_settings_are_refused_by_name() {
        let cases = [
            (
                json!({"rope_scaling": {"rope_type": "longrope", "factor": 2.0}}),
                "rope_scaling.rope_type",
            ),
            (
                json!({"rope_parameters": {"rope_type": "su"}}),
                "rope_parameters.rope_type",
            ),
            (
                json!({"partial_rotary_factor": 0.5}),
                "partial_rotary_factor",
            ),
            (
                json!({"rope_parameters": {"rope_theta": 1e4, "partial_rotary_factor": 0.25}}),
                "partial_rotary_factor",
            ),
            (
                json!({"rope_parameters": {"full_attention": {"rope_type": "default"}}}),
                "rope_parameters",
            ),
        ];
        for (config, key) in cases {
            let error = read(config.clone()).unwrap_err();
            assert_eq!(error.code(), "model.unsupported_setting", "{config}");
            assert!(
                matches!(&error, ModelError::UnsupportedSetting { key: k, .. } if k == key),
                "{error}"
            );
        }
        let missing =
            read(json!({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}})).unwrap_err();
        assert!(
            missing.to_string().contains("rope_scaling.low_freq_factor"),
            "{missing}"
        );
    }
}
