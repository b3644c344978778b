//! Bad input gets a typed error naming the file and the problem, never a panic.

mod common;

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use citrus_engine::model::{inspect, LoadOptions, Model};
use citrus_engine::ModelError;
use common::{model_path, TempDir};

fn load(path: &Path) -> Result<Model, ModelError> {
    Model::load(path, &LoadOptions::default(), &mut |_| {})
}

fn assert_error(result: Result<Model, ModelError>, code: &str, mentions: &[&str]) -> ModelError {
    let err = match result {
        Ok(_) => panic!("expected error {code}, the model loaded"),
        Err(err) => err,
    };
    assert_eq!(err.code(), code, "{err}");
    for text in mentions {
        assert!(
            err.to_string().contains(text),
            "`{err}` does not mention `{text}`"
        );
    }
    err
}

#[test]
fn truncated_gguf_is_reported_at_every_cut() {
    let dir = TempDir::new("truncated");
    let bytes = std::fs::read(model_path()).unwrap();
    // In the fixed header, inside the tokenizer metadata, and inside the tensor data.
    for (i, cut) in [10, 200_000, bytes.len() / 2, bytes.len() - 1]
        .into_iter()
        .enumerate()
    {
        let path = dir.path().join(format!("cut{i}.gguf"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = assert_error(load(&path), "model.truncated", &[path.to_str().unwrap()]);
        if cut > 1_000_000 {
            assert!(err.to_string().contains("tensor `"), "{err}");
        }
    }
}

#[test]
fn wrong_magic_is_corrupt() {
    let dir = TempDir::new("magic");
    let mut bytes = std::fs::read(model_path()).unwrap();
    bytes[..4].copy_from_slice(b"GGML");
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, &bytes).unwrap();
    assert_error(load(&path), "model.corrupt", &["bad.gguf", "magic"]);
}

#[test]
fn missing_paths_and_non_models_are_named() {
    let dir = TempDir::new("paths");
    let missing = dir.path().join("nope.gguf");
    assert_error(load(&missing), "model.not_found", &["nope.gguf"]);
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a model").unwrap();
    assert_error(load(&text), "model.not_a_model", &["notes.txt"]);
}

/// Writes a GGUF file with the given metadata and a `token_embd.weight` of `rows` × 32.
fn write_gguf_with_embedding(path: &Path, metadata: &[(&str, Value)], rows: usize) {
    let zeros = Tensor::zeros((rows, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
    let tensor = QTensor::quantize(&zeros, GgmlDType::F32).unwrap();
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &md, &[("token_embd.weight", &tensor)]).unwrap();
}

/// Writes a GGUF file with the given metadata and an embedding that fits [`llama_hparams`].
fn write_gguf(path: &Path, metadata: &[(&str, Value)]) {
    write_gguf_with_embedding(path, metadata, 4);
}

fn llama_hparams() -> Vec<(&'static str, Value)> {
    vec![
        ("general.architecture", Value::String("llama".into())),
        ("llama.embedding_length", Value::U32(32)),
        ("llama.feed_forward_length", Value::U32(64)),
        ("llama.block_count", Value::U32(1)),
        ("llama.attention.head_count", Value::U32(4)),
        ("llama.vocab_size", Value::U32(4)),
    ]
}

fn tiny_vocab() -> Vec<(&'static str, Value)> {
    let tokens = ["a", "b", "c", "d"]
        .iter()
        .map(|t| Value::String(t.to_string()))
        .collect();
    vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens", Value::Array(tokens)),
        ("tokenizer.ggml.merges", Value::Array(Vec::new())),
    ]
}

#[test]
fn unsupported_architecture_is_named() {
    let dir = TempDir::new("arch");
    let path = dir.path().join("neox.gguf");
    write_gguf(
        &path,
        &[("general.architecture", Value::String("gptneox".into()))],
    );
    assert_error(
        load(&path),
        "model.unsupported_architecture",
        &["gptneox", "neox.gguf"],
    );
}

#[test]
fn missing_hyper_parameter_is_named() {
    let dir = TempDir::new("hparam");
    let path = dir.path().join("partial.gguf");
    let mut md = llama_hparams();
    md.retain(|(k, _)| *k != "llama.block_count");
    write_gguf(&path, &md);
    assert_error(
        load(&path),
        "model.missing_metadata",
        &["llama.block_count", "partial.gguf"],
    );
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = TempDir::new("tokenizer");
    let path = dir.path().join("notok.gguf");
    write_gguf(&path, &llama_hparams());
    assert_error(
        load(&path),
        "tokenizer.missing",
        &["notok.gguf", "tokenizer.ggml.model"],
    );
}

#[test]
fn unknown_pre_tokenizer_is_named() {
    let dir = TempDir::new("pre");
    let path = dir.path().join("pre.gguf");
    let mut md = llama_hparams();
    md.extend(tiny_vocab());
    md.push(("tokenizer.ggml.pre", Value::String("chatglm-bpe".into())));
    write_gguf(&path, &md);
    assert_error(
        load(&path),
        "tokenizer.unknown_pre_tokenizer",
        &["chatglm-bpe"],
    );
}

#[test]
fn missing_and_misshapen_tensors_are_named() {
    let dir = TempDir::new("tensors");
    let mut md = llama_hparams();
    md.extend(tiny_vocab());
    // The embedding fits, the first attention weight is absent.
    let hollow = dir.path().join("hollow.gguf");
    write_gguf(&hollow, &md);
    assert_error(
        load(&hollow),
        "model.missing_tensor",
        &["blk.0.attn_q.weight", "hollow.gguf"],
    );
    assert!(inspect(&hollow, &LoadOptions::default()).is_ok());
    // An embedding of 5 rows for a vocabulary of 4.
    let misshapen = dir.path().join("misshapen.gguf");
    write_gguf_with_embedding(&misshapen, &md, 5);
    assert_error(
        load(&misshapen),
        "model.shape_mismatch",
        &["token_embd.weight", "[5, 32]", "[4, 32]"],
    );
}

#[test]
fn folder_without_config_or_tokenizer_is_named() {
    let dir = TempDir::new("folder");
    assert_error(load(dir.path()), "model.missing_config", &["config.json"]);
    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    assert_error(load(dir.path()), "model.corrupt", &["config.json"]);
    let config = r#"{"model_type":"llama","hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":4,"vocab_size":4}"#;
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    assert_error(load(dir.path()), "tokenizer.missing", &["tokenizer.json"]);
}

#[test]
fn truncated_safetensors_shard_is_named() {
    let dir = TempDir::new("shard");
    let config = r#"{"model_type":"qwen2","hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":4,"vocab_size":4}"#;
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let model = common::shared_model();
    model
        .tokenizer()
        .inner()
        .save(dir.path().join("tokenizer.json"), false)
        .unwrap();
    drop(model);
    let shard = dir.path().join("model.safetensors");
    let t = Tensor::zeros((64, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(
        &std::collections::HashMap::from([("model.embed_tokens.weight", t)]),
        &shard,
    )
    .unwrap();
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 100]).unwrap();
    assert_error(load(dir.path()), "model.truncated", &["model.safetensors"]);
}

#[test]
fn a_model_too_big_for_memory_is_refused_with_numbers() {
    let options = LoadOptions {
        memory_limit: Some(64 << 20),
        ..Default::default()
    };
    let err = Model::load(&model_path(), &options, &mut |_| {})
        .err()
        .expect("must refuse");
    assert_eq!(err.code(), "model.too_large");
    let text = err.to_string();
    assert!(text.contains("64 MiB is available"), "{text}");
    assert!(text.contains("SmolLM2"), "{text}");
    // The same model fits when the context (and so the KV cache) is small.
    let info = inspect(
        &model_path(),
        &LoadOptions {
            context_length: Some(256),
            memory_limit: Some(400 << 20),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(info.fits(), "{:?}", info.memory);
}

/// A Hugging Face folder whose config is the tiny Qwen2 config below with `edit` applied (no
/// weights needed: the settings are refused before any is read).
fn hf_folder_with(dir: &Path, edit: serde_json::Value) -> std::path::PathBuf {
    let mut config = serde_json::json!({
        "model_type": "qwen2", "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
        "vocab_size": 4, "rope_theta": 1e6, "max_position_embeddings": 64
    });
    for (key, value) in edit.as_object().unwrap() {
        config[key] = value.clone();
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("model.safetensors"), b"").unwrap();
    dir.to_path_buf()
}

#[test]
fn settings_the_transformer_does_not_compute_are_refused_by_name() {
    let dir = TempDir::new("unsupported-settings");
    let cases = [
        (
            serde_json::json!({"rope_scaling": {"rope_type": "longrope", "factor": 2.0}}),
            "longrope",
        ),
        (
            serde_json::json!({"rope_parameters": {"rope_type": "proportional", "rope_theta": 1e6}}),
            "proportional",
        ),
        (
            serde_json::json!({"partial_rotary_factor": 0.5}),
            "partial_rotary_factor",
        ),
        (
            serde_json::json!({"use_sliding_window": true, "max_window_layers": 1}),
            "use_sliding_window",
        ),
        (
            serde_json::json!({"layer_types": ["full_attention", "sliding_attention"]}),
            "layer_types",
        ),
        (
            serde_json::json!({"attn_logit_softcapping": 50.0}),
            "attn_logit_softcapping",
        ),
        (
            serde_json::json!({"final_logit_softcapping": 30.0}),
            "final_logit_softcapping",
        ),
        (serde_json::json!({"hidden_act": "gelu"}), "hidden_act"),
        (
            serde_json::json!({"quantization_config": {"quant_method": "gptq"}}),
            "gptq",
        ),
    ];
    for (i, (edit, mentions)) in cases.into_iter().enumerate() {
        let folder = hf_folder_with(&dir.path().join(format!("m{i}")), edit.clone());
        let err = assert_error(load(&folder), "model.unsupported_setting", &[mentions]);
        assert!(err.to_string().contains("config.json"), "{err}");
        // Inspecting says the same before anything is loaded.
        let inspected = inspect(&folder, &LoadOptions::default()).unwrap_err();
        assert_eq!(inspected.code(), "model.unsupported_setting", "{edit}");
    }
    // The window switched on but covering no layer (Qwen2.5's and DeepSeek-R1-Distill's
    // configs keep it off) computes nothing different: accepted.
    let folder = hf_folder_with(
        &dir.path().join("window-off"),
        serde_json::json!({"use_sliding_window": true, "max_window_layers": 28}),
    );
    let Err(err) = load(&folder) else {
        panic!("an empty weights file loaded")
    };
    assert_ne!(err.code(), "model.unsupported_setting", "{err}");
}

#[test]
fn gguf_rope_settings_the_transformer_does_not_compute_are_refused_by_name() {
    let dir = TempDir::new("unsupported-gguf");
    let cases = [
        ("llama.rope.scaling.type", Value::String("longrope".into())),
        ("llama.rope.scaling.yarn_beta_fast", Value::F32(16.0)),
        ("llama.rope.dimension_count", Value::U32(4)),
        ("llama.expert_count", Value::U32(8)),
        ("llama.final_logit_softcapping", Value::F32(30.0)),
    ];
    for (i, (key, value)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("m{i}.gguf"));
        let mut md = llama_hparams();
        md.extend(tiny_vocab());
        md.push((key, value));
        write_gguf(&path, &md);
        assert_error(load(&path), "model.unsupported_setting", &[key, "m"]);
    }
}
