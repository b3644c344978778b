//! Qwen2 (q/k/v bias), Qwen3 (q/k norm, explicit head_dim) and Llama-3.1 (llama3 RoPE scaling)
//! against candle-transformers' own implementations, on tiny random-weight Hugging Face folders:
//! the same logits at every position.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{llama, qwen2, qwen3};
use citrus_engine::model::{LoadOptions, Model};
use citrus_engine::sampling::argmax;
use citrus_formats::config::Architecture;
use common::{shared_model, TempDir};
use serde_json::{json, Value};

const HIDDEN: usize = 64;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FFN: usize = 96;
const VOCAB: usize = 512;
const TOKENS: [u32; 12] = [5, 17, 300, 42, 42, 7, 511, 128, 64, 3, 250, 99];

/// Deterministic uniform values in (-scale, scale) around `center`.
fn values(count: usize, seed: u64, center: f32, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let unit =
                (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
            center + (unit * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Writes config.json, tokenizer.json and random weights for every tensor in `shapes`.
fn write_folder(dir: &Path, config: &Value, shapes: &[(String, Vec<usize>)]) {
    let tensors: HashMap<String, Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let count = shape.iter().product();
            let (center, scale) = if name.contains("norm") {
                (1.0, 0.1)
            } else {
                (0.0, 0.15)
            };
            let data = values(count, i as u64 + 1, center, scale);
            (
                name.clone(),
                Tensor::from_vec(data, shape.as_slice(), &Device::Cpu).unwrap(),
            )
        })
        .collect();
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    shared_model()
        .tokenizer()
        .inner()
        .save(dir.join("tokenizer.json"), false)
        .unwrap();
}

fn shapes(head_dim: usize, bias: bool, qk_norm: bool, tied: bool) -> Vec<(String, Vec<usize>)> {
    let (q, kv) = (HEADS * head_dim, KV_HEADS * head_dim);
    let mut shapes = vec![
        ("model.embed_tokens.weight".to_string(), vec![VOCAB, HIDDEN]),
        ("model.norm.weight".to_string(), vec![HIDDEN]),
    ];
    if !tied {
        shapes.push(("lm_head.weight".into(), vec![VOCAB, HIDDEN]));
    }
    for layer in 0..LAYERS {
        let p = format!("model.layers.{layer}");
        let mut add = |name: &str, shape: Vec<usize>| shapes.push((format!("{p}.{name}"), shape));
        add("input_layernorm.weight", vec![HIDDEN]);
        add("post_attention_layernorm.weight", vec![HIDDEN]);
        add("self_attn.q_proj.weight", vec![q, HIDDEN]);
        add("self_attn.k_proj.weight", vec![kv, HIDDEN]);
        add("self_attn.v_proj.weight", vec![kv, HIDDEN]);
        add("self_attn.o_proj.weight", vec![HIDDEN, q]);
        add("mlp.gate_proj.weight", vec![FFN, HIDDEN]);
        add("mlp.up_proj.weight", vec![FFN, HIDDEN]);
        add("mlp.down_proj.weight", vec![HIDDEN, FFN]);
        if bias {
            add("self_attn.q_proj.bias", vec![q]);
            add("self_attn.k_proj.bias", vec![kv]);
            add("self_attn.v_proj.bias", vec![kv]);
        }
        if qk_norm {
            add("self_attn.q_norm.weight", vec![head_dim]);
            add("self_attn.k_norm.weight", vec![head_dim]);
        }
    }
    shapes
}

/// Our logits at every position (one prefill).
fn ours(dir: &Path, expected: Architecture) -> Vec<Vec<f32>> {
    let mut model = Model::load(dir, &LoadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(model.info().architecture, expected);
    let t = model.transformer_mut();
    t.forward(&TOKENS, true).unwrap().to_vec2::<f32>().unwrap()
}

fn reference_weights(dir: &Path) -> VarBuilder<'static> {
    let file = dir.join("model.safetensors");
    // SAFETY: the test wrote the file and does not modify it while mapped.
    unsafe { VarBuilder::from_mmaped_safetensors(&[file], DType::F32, &Device::Cpu).unwrap() }
}

fn token(t: u32) -> Tensor {
    Tensor::new(&[t], &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap()
}

fn to_rows(logits: Tensor) -> Vec<f32> {
    logits.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// The reference's logits at every position, one token at a time through its KV cache.
fn token_by_token(
    mut forward: impl FnMut(&Tensor, usize) -> candle_core::Result<Tensor>,
) -> Vec<Vec<f32>> {
    TOKENS
        .iter()
        .enumerate()
        .map(|(pos, &t)| to_rows(forward(&token(t), pos).unwrap()))
        .collect()
}

fn assert_close(ours: &[Vec<f32>], theirs: &[Vec<f32>], what: &str) {
    let mut worst = 0f32;
    for (pos, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(
            argmax(a),
            argmax(b),
            "{what}: argmax differs at position {pos}"
        );
        worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(worst, f32::max);
    }
    println!("{what}: {} positions, max |Δlogit| = {worst:e}", ours.len());
    assert!(worst < 1e-3, "{what}: max |Δlogit| = {worst}");
}

#[test]
fn qwen2_with_qkv_bias_matches_candle_transformers() {
    let dir = TempDir::new("arch-qwen2");
    let config = json!({
        "model_type": "qwen2", "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "max_position_embeddings": 256, "sliding_window": 256, "max_window_layers": LAYERS,
        "tie_word_embeddings": true, "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6,
        "use_sliding_window": false, "hidden_act": "silu"
    });
    write_folder(
        dir.path(),
        &config,
        &shapes(HIDDEN / HEADS, true, false, true),
    );
    let cfg: qwen2::Config = serde_json::from_value(config).unwrap();
    let mut reference = qwen2::ModelForCausalLM::new(&cfg, reference_weights(dir.path())).unwrap();
    let theirs = token_by_token(|t, pos| reference.forward(t, pos));
    assert_close(&ours(dir.path(), Architecture::Qwen2), &theirs, "qwen2");
}

#[test]
fn qwen3_with_qk_norm_matches_candle_transformers() {
    let dir = TempDir::new("arch-qwen3");
    // head_dim 32 ≠ hidden / heads (16), as in real Qwen3 models.
    let config = json!({
        "model_type": "qwen3", "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "head_dim": 32, "attention_bias": false, "max_position_embeddings": 256,
        "sliding_window": null, "max_window_layers": LAYERS, "tie_word_embeddings": false,
        "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6, "use_sliding_window": false, "hidden_act": "silu"
    });
    write_folder(dir.path(), &config, &shapes(32, false, true, false));
    let cfg: qwen3::Config = serde_json::from_value(config).unwrap();
    let mut reference = qwen3::ModelForCausalLM::new(&cfg, reference_weights(dir.path())).unwrap();
    let theirs = token_by_token(|t, pos| reference.forward(t, pos));
    assert_close(&ours(dir.path(), Architecture::Qwen3), &theirs, "qwen3");
}

#[test]
fn llama31_rope_scaling_matches_candle_transformers() {
    let dir = TempDir::new("arch-llama31");
    // A short original context puts most frequencies in the scaled and smoothed bands.
    let config = json!({
        "model_type": "llama", "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-5, "rope_theta": 500_000.0, "max_position_embeddings": 256,
        "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": [2, 3],
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64, "rope_type": "llama3"}
    });
    write_folder(
        dir.path(),
        &config,
        &shapes(HIDDEN / HEADS, false, false, false),
    );
    let cfg: llama::LlamaConfig = serde_json::from_value(config).unwrap();
    let cfg = cfg.into_config(false);
    let reference = llama::Llama::load(reference_weights(dir.path()), &cfg).unwrap();
    let mut cache = llama::Cache::new(true, DType::F32, &cfg, &Device::Cpu).unwrap();
    let theirs = token_by_token(|t, pos| reference.forward(t, pos, &mut cache));
    let ours = ours(dir.path(), Architecture::Llama);
    assert_close(&ours, &theirs, "llama-3.1");

    // Without the scaling the logits would differ: the test does exercise it.
    let mut unscaled: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    unscaled.as_object_mut().unwrap().remove("rope_scaling");
    std::fs::write(dir.path().join("config.json"), unscaled.to_string()).unwrap();
    let plain = self::ours(dir.path(), Architecture::Llama);
    let shift = plain
        .last()
        .unwrap()
        .iter()
        .zip(ours.last().unwrap())
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(shift > 1e-3, "rope scaling made no difference ({shift})");
}
