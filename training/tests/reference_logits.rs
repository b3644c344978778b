//! The transformer against PyTorch, the reference implementation of every family it runs.
//!
//! The fixtures in `tests/fixtures/reference/` are written by `scripts/reference-logits` (never
//! in CI) with transformers, PEFT and llama.cpp's converter; `versions.json` names the versions.
//!
//! - Tiny random-weight models of every supported family and RoPE setting (Llama plain, tied,
//!   llama3 scaling, linear, dynamic NTK, q/k/v/o and MLP biases; Qwen2 plain and YaRN; Qwen3;
//!   a DeepSeek-R1-Distill-Qwen config), each loaded from its Hugging Face folder in the
//!   transformers 5 form (`rope_parameters`) and the transformers 4 form (`rope_theta`,
//!   `rope_scaling`), and from its GGUF conversion, with and without a PEFT adapter: every logit
//!   at every position of two prompts within [`TOLERANCE`] of PyTorch's.
//! - The default model, exported by this project as a Hugging Face folder and in the form
//!   transformers 5 saves it: PyTorch's 40 greedy tokens, with and without an adapter trained
//!   by `citrus train`.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use citrus_engine::model::{LoadOptions, Model};
use citrus_engine::sampling::argmax;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::config::RopeScaling;
use citrus_training::adapter::{detach, LoraAdapter};
use common::{max_abs, model_path, TempDir};
use serde_json::Value;

/// Largest difference allowed between a logit and PyTorch's: the computation is f32 in both,
/// in a different order of summation.
const TOLERANCE: f32 = 1e-4;

/// A greedy step whose two best PyTorch logits are closer than this may go either way in
/// another f32 implementation (the default model's logits differ from PyTorch's by about 1e-4).
const NEAR_TIE: f32 = 2e-3;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

/// Logits at every position of `prompt`, from an empty cache, as rows.
fn all_logits(model: &mut Model, prompt: &[u32]) -> Tensor {
    let transformer = model.transformer_mut();
    transformer.clear_cache();
    let logits = transformer.forward(prompt, true).unwrap();
    transformer.clear_cache();
    logits
}

fn max_abs_difference(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    max_abs(&(a - b).unwrap())
}

/// One tiny model's fixture: prompts, PyTorch's logits, and what it can tell apart.
struct TinyReference {
    name: String,
    dir: PathBuf,
    prompt_texts: Vec<String>,
    prompt_ids: Vec<Vec<u32>>,
    logits: HashMap<String, Tensor>,
}

impl TinyReference {
    fn read(dir: PathBuf) -> Self {
        let reference = read_json(&dir.join("reference.json"));
        let tolerance = reference["tolerance"].as_f64().unwrap() as f32;
        assert_eq!(tolerance, TOLERANCE, "the script's tolerance is the test's");
        // The fixture must be able to fail: a loader that misread the RoPE settings would be off
        // by far more than the tolerance (0 where the setting is the default anyway).
        for (what, off) in reference["sensitivity"].as_object().unwrap() {
            let off = off.as_f64().unwrap() as f32;
            assert!(
                off == 0.0 || off > 100.0 * TOLERANCE,
                "{}: reading {what} would be off by only {off}",
                dir.display()
            );
        }
        assert!(reference["adapter_effect"].as_f64().unwrap() > 0.1);
        let logits =
            candle_core::safetensors::load(dir.join("logits.safetensors"), &Device::Cpu).unwrap();
        Self {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            prompt_texts: reference["prompts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect(),
            prompt_ids: reference["prompt_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(ids)
                .collect(),
            logits,
            dir,
        }
    }

    /// The largest logit difference from PyTorch over every prompt and position, without and
    /// with the PEFT adapter; checks the tokenizer and greedy tokens on the way.
    fn compare(&self, path: &Path, form: &str) -> (f32, f32) {
        let mut model = Model::load(path, &common::test_load_options(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{} ({form}): {e}", self.name));
        let mut worst = [0f32; 2];
        for (with_adapter, worst) in [false, true].into_iter().zip(&mut worst) {
            if with_adapter {
                LoraAdapter::attach_path(&self.dir.join("adapter"), &mut model)
                    .unwrap_or_else(|e| panic!("{} ({form}) adapter: {e}", self.name));
            }
            for (i, (text, ids)) in self.prompt_texts.iter().zip(&self.prompt_ids).enumerate() {
                assert_eq!(
                    &model.tokenizer().encode(text).unwrap(),
                    ids,
                    "{} ({form}): tokens of prompt {i}",
                    self.name
                );
                let key = if with_adapter {
                    format!("prompt{i}.adapter")
                } else {
                    format!("prompt{i}")
                };
                let ours = all_logits(&mut model, ids);
                let theirs = self.logits[&key].to_dtype(DType::F32).unwrap();
                let delta = max_abs_difference(&ours, &theirs);
                assert!(
                    delta < TOLERANCE,
                    "{} ({form}, {key}): max |Δlogit| = {delta} from PyTorch",
                    self.name
                );
                assert_eq!(
                    ours.argmax(1).unwrap().to_vec1::<u32>().unwrap(),
                    theirs.argmax(1).unwrap().to_vec1::<u32>().unwrap(),
                    "{} ({form}, {key}): greedy tokens",
                    self.name
                );
                *worst = worst.max(delta);
            }
        }
        detach(&mut model);
        (worst[0], worst[1])
    }
}

/// A copy of a Hugging Face folder with `config` as its config.json.
fn with_config(folder: &Path, config: &Path, name: &str) -> TempDir {
    let copy = TempDir::new(name);
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(config, copy.path().join("config.json")).unwrap();
    copy
}

#[test]
fn tiny_models_of_every_family_and_config_form_match_pytorch() {
    let mut variants: Vec<PathBuf> = std::fs::read_dir(fixtures().join("tiny"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    variants.sort();
    assert_eq!(variants.len(), 10, "every family and RoPE setting");
    let mut table =
        String::from("variant                   form            base Δ     adapter Δ\n");
    let mut largest = 0f32;
    for dir in variants {
        let reference = TinyReference::read(dir.clone());
        let hf = dir.join("hf");
        let v4 = with_config(&hf, &hf.join("config.transformers4.json"), &reference.name);
        let forms = [
            ("transformers 5", hf.clone()),
            ("transformers 4", v4.path().to_path_buf()),
            ("GGUF", dir.join("model.gguf")),
        ];
        for (form, path) in forms {
            let (base, adapter) = reference.compare(&path, form);
            largest = largest.max(base).max(adapter);
            writeln!(
                table,
                "{:<25} {form:<15} {base:.2e}   {adapter:.2e}",
                reference.name
            )
            .unwrap();
        }
    }
    println!("{table}largest |Δlogit| from PyTorch: {largest:.2e}");
}

#[test]
fn the_context_follows_the_rope_scaling() {
    let tiny = fixtures().join("tiny");
    let inspect = |path: PathBuf| {
        citrus_engine::model::inspect(&path, &LoadOptions::default())
            .unwrap()
            .config
    };
    // YaRN ×4 from 32 positions; the GGUF conversion says the same in its own keys.
    for path in [
        tiny.join("qwen2-yarn/hf"),
        tiny.join("qwen2-yarn/model.gguf"),
    ] {
        let config = inspect(path);
        assert_eq!(config.context_length, 128);
        assert!(matches!(config.rope.scaling, RopeScaling::Yarn(s) if s.factor == 4.0));
    }
    // Dynamic NTK stays within the declared context, where it is plain RoPE.
    let dynamic = inspect(tiny.join("llama-dynamic/hf"));
    assert_eq!(dynamic.context_length, 64);
    // llama.cpp stores Llama-3.1 scaling as a table of divisors.
    let table = inspect(tiny.join("llama31/model.gguf"));
    assert!(
        matches!(table.rope.scaling, RopeScaling::Table { ref divisors } if divisors.len() == 8)
    );
    let hf = inspect(tiny.join("llama31/hf"));
    assert!(matches!(hf.rope.scaling, RopeScaling::Llama3(s) if s.factor == 8.0));
    assert_eq!(hf.rope.theta, 500_000.0);
}

/// PyTorch's greedy run of the default model as the fixture records it.
struct GreedyReference {
    tokens: Vec<u32>,
    top2_gaps: Vec<f32>,
}

impl GreedyReference {
    fn read(value: &Value) -> Self {
        Self {
            tokens: ids(&value["tokens"]),
            top2_gaps: value["top2_gaps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_f64().unwrap() as f32)
                .collect(),
        }
    }

    /// Tokens that must match: all of them, or those before PyTorch's first near-tie.
    fn decided(&self) -> usize {
        self.top2_gaps
            .iter()
            .position(|gap| *gap < NEAR_TIE)
            .unwrap_or(self.tokens.len())
    }
}

/// `count` greedy tokens after `prompt` (no repetition penalty, no stop token).
fn greedy(model: &mut Model, prompt: &[u32], count: usize) -> Vec<u32> {
    let transformer = model.transformer_mut();
    transformer.clear_cache();
    let mut logits = transformer
        .forward(prompt, false)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let mut tokens = Vec::with_capacity(count);
    for _ in 0..count {
        let token = argmax(&logits);
        tokens.push(token);
        logits = transformer
            .forward(&[token], false)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
    }
    transformer.clear_cache();
    tokens
}

#[test]
fn the_default_model_in_both_hugging_face_forms_generates_what_pytorch_generates() {
    let fixture = fixtures().join("default-model");
    let reference = read_json(&fixture.join("reference.json"));
    let runs = [
        ("base", GreedyReference::read(&reference["base"])),
        ("adapter", GreedyReference::read(&reference["adapter"])),
    ];
    for (run, greedy) in &runs {
        // A fixture with an early near-tie would check too little.
        assert!(
            greedy.decided() >= 20,
            "{run}: PyTorch near-tie at step {}",
            greedy.decided()
        );
    }
    let count = reference["new_tokens"].as_u64().unwrap() as usize;

    let exported = TempDir::new("reference-default-hf");
    citrus_formats::hf_export::export_hf_folder(&model_path(), exported.path(), DType::F32, 1)
        .unwrap();
    for form in ["this project's export", "transformers 5 form"] {
        if form == "transformers 5 form" {
            // The same weights, described as transformers 5 saves the model.
            let config = fixture.join("config.transformers5.json");
            std::fs::copy(config, exported.path().join("config.json")).unwrap();
        }
        let mut model =
            Model::load(exported.path(), &common::test_load_options(), &mut |_| {}).unwrap();
        let prompt = model
            .chat_prompt(&[ChatMessage::user(reference["question"].as_str().unwrap())])
            .unwrap();
        assert_eq!(
            prompt,
            ids(&reference["prompt_ids"]),
            "{form}: prompt tokens"
        );
        for (run, expected) in &runs {
            if *run == "adapter" {
                LoraAdapter::attach_path(&fixture.join("adapter"), &mut model).unwrap();
            }
            let ours = greedy(&mut model, &prompt, count);
            let decided = expected.decided();
            println!(
                "{form}, {run}: {decided} of {count} tokens decided (PyTorch's top-2 gap ≥ \
                 {NEAR_TIE}), {} equal",
                ours.iter()
                    .zip(&expected.tokens)
                    .take_while(|(a, b)| a == b)
                    .count()
            );
            assert_eq!(
                ours[..decided],
                expected.tokens[..decided],
                "{form}, {run}: greedy tokens differ from PyTorch's"
            );
        }
        detach(&mut model);
    }
}
