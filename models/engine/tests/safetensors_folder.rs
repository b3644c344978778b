//! Hugging Face folders: the default GGUF written out as safetensors (single file and sharded,
//! Hugging Face row layout) loads back and computes the same logits.

mod common;

use std::path::Path;

use candle_core::quantized::GgmlDType;
use candle_core::DType;
use citrus_engine::model::{inspect, LoadOptions, Model, ModelFormat};
use citrus_engine::sampling::argmax;
use citrus_formats::chat_template::ChatMessage;
use common::{last_logits, max_delta, model_path, TempDir};

/// Writes the default model as a Hugging Face folder with weights in `dtype`.
fn export_hf_folder(dir: &Path, dtype: DType, shards: usize) {
    citrus_formats::hf_export::export_hf_folder(&model_path(), dir, dtype, shards).unwrap();
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
    let mut hf = Model::load(single.path(), &common::test_load_options(), &mut |_| {}).unwrap();
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
