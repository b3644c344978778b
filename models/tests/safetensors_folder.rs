//! Hugging Face folders: the default GGUF written out as safetensors (single file and sharded,
//! Hugging Face row layout) loads back and computes the same logits.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};
use citrus_models::chat_template::ChatMessage;
use citrus_models::gguf::GgufFile;
use citrus_models::model::{inspect, LoadOptions, Model, ModelFormat};
use citrus_models::sampling::argmax;
use citrus_models::weights::{gguf_qk_rows_to_hf, hf_tensor_name};
use common::{model_path, shared_model, TempDir};

/// Writes the default model as a Hugging Face folder with weights in `dtype`, split into
/// `shards` files (with an index when more than one).
fn export_hf_folder(dir: &Path, dtype: DType, shards: usize) {
    let mut gguf = GgufFile::open(&model_path()).unwrap();
    let heads = 9;
    let kv_heads = 3;
    let names: Vec<String> = gguf.tensor_names().map(str::to_string).collect();
    let mut tensors: Vec<(String, Tensor)> = names
        .iter()
        .map(|name| {
            let dense = gguf
                .read_tensor(name, &Device::Cpu)
                .unwrap()
                .dequantize(&Device::Cpu)
                .unwrap();
            let dense = if name.ends_with("attn_q.weight") {
                gguf_qk_rows_to_hf(&dense, heads).unwrap()
            } else if name.ends_with("attn_k.weight") {
                gguf_qk_rows_to_hf(&dense, kv_heads).unwrap()
            } else {
                dense
            };
            (
                hf_tensor_name(name).unwrap(),
                dense.to_dtype(dtype).unwrap(),
            )
        })
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let per_shard = tensors.len().div_ceil(shards);
    let mut weight_map = serde_json::Map::new();
    for (i, chunk) in tensors.chunks(per_shard).enumerate() {
        let file = if shards == 1 {
            "model.safetensors".to_string()
        } else {
            format!("model-{:05}-of-{shards:05}.safetensors", i + 1)
        };
        let map: HashMap<&str, Tensor> =
            chunk.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        candle_core::safetensors::save(&map, dir.join(&file)).unwrap();
        for (name, _) in chunk {
            weight_map.insert(name.clone(), file.clone().into());
        }
    }
    if shards > 1 {
        let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
        std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    }
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "max_position_embeddings": 8192,
        "vocab_size": 49152, "tie_word_embeddings": true, "eos_token_id": 2, "bos_token_id": 1,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let model = shared_model();
    model
        .tokenizer()
        .inner()
        .save(dir.join("tokenizer.json"), false)
        .unwrap();
    let template = gguf
        .string_opt("tokenizer.chat_template")
        .unwrap()
        .to_string();
    let tokenizer_config = serde_json::json!({
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "add_bos_token": false,
        "chat_template": template,
    });
    std::fs::write(
        dir.join("tokenizer_config.json"),
        tokenizer_config.to_string(),
    )
    .unwrap();
}

fn last_logits(model: &mut Model, prompt: &[u32]) -> Vec<f32> {
    let t = model.transformer_mut();
    t.clear_cache();
    let logits = t.forward(prompt, false).unwrap().to_vec1::<f32>().unwrap();
    t.clear_cache();
    logits
}

fn max_delta(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

#[test]
fn hf_folders_load_and_match_the_gguf_model() {
    let options = LoadOptions {
        requantize: Some(GgmlDType::F32),
        ..Default::default()
    };
    let mut gguf_f32 = Model::load(&model_path(), &options, &mut |_| {}).unwrap();
    let prompt = gguf_f32
        .chat_prompt(&[ChatMessage::user(
            "Which electrolyte disturbance causes peaked T waves?",
        )])
        .unwrap();
    let reference = last_logits(&mut gguf_f32, &prompt);
    drop(gguf_f32);

    // f32, one file: the same numbers, through the Hugging Face row layout and rotate-half RoPE.
    let single = TempDir::new("hf-f32");
    export_hf_folder(single.path(), DType::F32, 1);
    let info = inspect(single.path(), &LoadOptions::default()).unwrap();
    assert_eq!(info.format, ModelFormat::Safetensors);
    assert_eq!(info.quantization, "F32");
    assert!(info.has_chat_template);
    let mut hf = Model::load(single.path(), &LoadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(
        hf.chat_prompt(&[ChatMessage::user(
            "Which electrolyte disturbance causes peaked T waves?"
        )])
        .unwrap(),
        prompt
    );
    let logits = last_logits(&mut hf, &prompt);
    let delta = max_delta(&reference, &logits);
    println!("f32 folder vs GGUF: max |Δlogit| = {delta:.6}");
    assert!(delta < 1e-3, "max |Δlogit| = {delta}");
    drop(hf);

    // bf16 in three shards with an index, re-quantized to Q8_0 at load.
    let sharded = TempDir::new("hf-bf16");
    export_hf_folder(sharded.path(), DType::BF16, 3);
    let q8 = LoadOptions {
        requantize: Some(GgmlDType::Q8_0),
        ..Default::default()
    };
    let mut hf = Model::load(sharded.path(), &q8, &mut |_| {}).unwrap();
    assert_eq!(hf.info().quantization, "BF16");
    let logits = last_logits(&mut hf, &prompt);
    println!(
        "bf16→Q8_0 sharded folder vs GGUF: max |Δlogit| = {:.4}",
        max_delta(&reference, &logits)
    );
    assert_eq!(argmax(&logits), argmax(&reference));
}
