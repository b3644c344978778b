//! Training on the real default model: the validation loss falls and a trained answer is
//! learnt; save → load gives identical logits; the PEFT adapter on the model written as a
//! Hugging Face folder gives the GGUF model's logits (q/k row order); datasets as shipped.

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use candle_core::DType;
use citrus_engine::generation::CancelToken;
use citrus_engine::model::{ChatSettings, Model};
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_training::adapter::{detach, LoraAdapter};
use citrus_training::config::{Duration, LoraSettings, TrainConfig};
use citrus_training::dataset::{preview, DataFormat, Dataset};
use citrus_training::trainer::{train, PreparedData, TrainEvent, TrainOutcome, TrainRequest};
use common::{data, last_logits, max_delta, TempDir};

/// The dense default model, loaded once for this binary.
fn model() -> MutexGuard<'static, Model> {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(common::load(false)))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// One short run on the clinical Q&A set, shared by the tests that need a trained adapter.
fn trained() -> &'static (TempDir, TrainOutcome, Vec<TrainEvent>) {
    static RUN: OnceLock<(TempDir, TrainOutcome, Vec<TrainEvent>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = TempDir::new("clinical");
        let dataset = Dataset::read(&data("clinical_qa.jsonl"), DataFormat::Auto).unwrap();
        let config = TrainConfig {
            lora: LoraSettings {
                rank: 8,
                alpha: 16.0,
                ..LoraSettings::default()
            },
            learning_rate: 2e-3,
            warmup_ratio: 0.0,
            duration: Duration::Epochs(2),
            batch_size: 4,
            grad_accum: 1,
            max_len: 256,
            val_split: 0.2,
            seed: 7,
            ..TrainConfig::default()
        };
        let mut request = TrainRequest::new(config, dir.path().join("run"));
        request.calibration_steps = 1;
        let mut events = Vec::new();
        let outcome = train(
            &mut model(),
            &dataset.into(),
            &request,
            &CancelToken::new(),
            &mut |e| events.push(e.clone()),
        )
        .unwrap();
        (dir, outcome, events)
    })
}

fn greedy(model: &mut Model, prompt: &str) -> String {
    let settings = ChatSettings {
        max_new_tokens: 48,
        sampling: SamplingParams {
            temperature: 0.0,
            repetition_penalty: 1.0,
            ..SamplingParams::default()
        },
        ..ChatSettings::default()
    };
    model
        .chat(
            &[ChatMessage::user(prompt)],
            &settings,
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap()
        .text
}

#[test]
fn training_lowers_validation_loss_and_teaches_the_answers() {
    let (dir, outcome, events) = trained();
    let initial = outcome.initial_validation_loss.unwrap();
    let last = outcome.final_validation_loss.unwrap();
    println!(
        "validation loss {initial:.4} → {last:.4} in {} steps",
        outcome.steps
    );
    assert!(last < initial * 0.8, "validation loss {initial} → {last}");
    assert_eq!(outcome.steps, 12, "2 epochs of 24 examples in batches of 4");
    let preflight = events.iter().find_map(|e| match e {
        TrainEvent::Preflight(p) => Some(p.clone()),
        _ => None,
    });
    let preflight = preflight.expect("a pre-flight event");
    assert!(
        preflight.seconds_per_step.unwrap() > 0.0 && preflight.measured_peak_bytes.unwrap() > 0
    );
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, TrainEvent::Step(_)))
            .count()
            == 12
    );

    // The adapted model answers trained items the way the data says, where the base did not.
    let dataset = Dataset::read(&data("clinical_qa.jsonl"), DataFormat::Auto).unwrap();
    let (train_set, _) = dataset.split(0.2, 7).unwrap();
    let mut model = model();
    let items: Vec<(String, String)> = train_set
        .iter()
        .take(6)
        .map(|e| {
            let answer = e.messages[1].content.split("<answer>\n").nth(1).unwrap();
            (
                e.messages[0].content.clone(),
                answer.trim_end_matches("\n</answer>").to_string(),
            )
        })
        .collect();
    let base: Vec<String> = items.iter().map(|(q, _)| greedy(&mut model, q)).collect();
    LoraAdapter::attach_path(&dir.path().join("run"), &mut model).unwrap();
    let adapted: Vec<String> = items.iter().map(|(q, _)| greedy(&mut model, q)).collect();
    detach(&mut model);
    let learnt = items
        .iter()
        .zip(base.iter().zip(&adapted))
        .filter(|((_, answer), (b, a))| a.contains(answer.as_str()) && !b.contains(answer.as_str()))
        .count();
    println!(
        "answers learnt: {learnt} of {}; e.g. base {:?} / adapted {:?}",
        items.len(),
        base[0],
        adapted[0]
    );
    assert!(learnt >= 1, "no trained answer was learnt: {adapted:?}");
}

#[test]
fn saved_adapters_give_the_same_logits_and_match_on_a_hugging_face_folder() {
    let (dir, _, _) = trained();
    let adapter_dir = dir.path().join("run");
    let adapter = LoraAdapter::load(&adapter_dir).unwrap();
    let meta = adapter.meta.clone().expect("citrus metadata");
    assert_eq!(meta.training.unwrap().lora.rank, 8);
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(adapter_dir.join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(
        config["target_modules"],
        serde_json::json!(["q_proj", "k_proj", "v_proj", "o_proj"])
    );
    let a = &adapter.modules[&(0, citrus_engine::lora::LoraTarget::K)];
    assert_eq!((a.a.dims(), a.b.dims()), (&[8, 576][..], &[192, 8][..]));

    let prompt_text = "Which electrolyte disturbance causes peaked T waves?";
    let mut gguf = model();
    let prompt = gguf.chat_prompt(&[ChatMessage::user(prompt_text)]).unwrap();
    let base = last_logits(&mut gguf, &prompt);
    adapter.attach(&mut gguf, "first").unwrap();
    let adapted = last_logits(&mut gguf, &prompt);
    assert!(
        max_delta(&base, &adapted) > 1e-3,
        "the adapter changes nothing"
    );

    // Save → load: the very same logits.
    let copy = TempDir::new("copy");
    adapter.save(copy.path()).unwrap();
    LoraAdapter::attach_path(copy.path(), &mut gguf).unwrap();
    assert_eq!(
        gguf.adapter(),
        Some(copy.path().display().to_string().as_str())
    );
    assert_eq!(max_delta(&adapted, &last_logits(&mut gguf, &prompt)), 0.0);
    detach(&mut gguf);
    assert_eq!(max_delta(&base, &last_logits(&mut gguf, &prompt)), 0.0);
    drop(gguf);

    // The same PEFT adapter on the model as a Hugging Face folder (rows in HF order).
    let folder = TempDir::new("hf");
    citrus_formats::hf_export::export_hf_folder(
        &common::model_path(),
        folder.path(),
        DType::F32,
        1,
    )
    .unwrap();
    let mut hf = Model::load(folder.path(), &common::test_load_options(), &mut |_| {}).unwrap();
    let warnings = LoraAdapter::attach_path(&adapter_dir, &mut hf).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("not on this model file")),
        "{warnings:?}"
    );
    let hf_logits = last_logits(&mut hf, &prompt);
    let delta = max_delta(&adapted, &hf_logits);
    println!("PEFT adapter on the HF folder vs on the GGUF: max |Δlogit| = {delta:.6}");
    assert!(delta < 1e-3, "max |Δlogit| = {delta}");
}

#[test]
fn datasets_as_shipped_tokenize_with_the_prompt_masked() {
    let model = model();
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/citrus/sft_data.jsonl");
    let dataset = Dataset::read(&shared, DataFormat::Auto).unwrap();
    assert_eq!(
        (dataset.format, dataset.examples.len(), dataset.bad.len()),
        (DataFormat::Citrus, 1, 0)
    );
    let config = TrainConfig {
        max_len: 2048,
        val_split: 0.0,
        ..TrainConfig::default()
    };
    let prepared = PreparedData::new(&dataset, &model, &config).unwrap();
    let example = &prepared.train.examples[0];
    let preview = preview(example, model.tokenizer()).unwrap();
    let trained: Vec<_> = preview.segments.iter().filter(|s| s.trained).collect();
    assert_eq!(trained.len(), 1, "{:?}", preview.segments);
    let target = &dataset.examples[0].messages[1].content;
    assert_eq!(trained[0].text, format!("{target}<|im_end|>\n"));
    let masked = &preview.segments[0];
    assert!(!masked.trained && masked.text.contains("<|im_start|>user\n"));
    assert!(
        masked.text.ends_with("<|im_start|>assistant\n"),
        "{:?}",
        masked.text
    );
    assert_eq!(prepared.train.stats.trained_tokens, trained[0].tokens);

    // Longer than the maximum: truncated, or skipped with a reason.
    let short = TrainConfig {
        max_len: 64,
        val_split: 0.0,
        ..TrainConfig::default()
    };
    let err = PreparedData::new(&dataset, &model, &short)
        .err()
        .expect("nothing to train within 64 tokens");
    assert!(err.to_string().contains("maximum length 64"), "{err}");
    let bad = Dataset::read(&data("with_bad_lines.jsonl"), DataFormat::Auto).unwrap();
    let lines: Vec<usize> = bad.bad.iter().map(|b| b.line).collect();
    assert_eq!((bad.examples.len(), lines), (5, vec![2, 4, 6, 8]));
    let all = TrainConfig {
        val_split: 0.0,
        ..TrainConfig::default()
    };
    let longest = PreparedData::new(&bad, &model, &all)
        .unwrap()
        .train
        .stats
        .max_tokens;
    let skip = TrainConfig {
        max_len: longest - 1,
        overlong: citrus_training::dataset::Overlong::Skip,
        ..all
    };
    let prepared = PreparedData::new(&bad, &model, &skip).unwrap();
    let reason = format!(
        "{longest} tokens, longer than the maximum length {}",
        longest - 1
    );
    assert!(!prepared.train.skipped.is_empty());
    assert!(
        prepared.train.skipped.iter().all(|s| s.reason == reason),
        "{:?}",
        prepared.train.skipped
    );
    assert_eq!(
        prepared.train.examples.len() + prepared.train.skipped.len(),
        5
    );
}

#[test]
fn a_run_too_big_for_memory_is_refused_with_numbers() {
    let dataset = Dataset::read(&data("clinical_qa.jsonl"), DataFormat::Auto).unwrap();
    let dir = TempDir::new("huge");
    let config = TrainConfig {
        batch_size: 2048,
        max_len: 256,
        duration: Duration::Steps(1),
        ..TrainConfig::default()
    };
    let request = TrainRequest::new(config, dir.path().join("run"));
    let err = train(
        &mut model(),
        &dataset.into(),
        &request,
        &CancelToken::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), "train.too_large", "{err}");
    assert!(err.to_string().contains("MiB available"), "{err}");
    assert!(model().adapter().is_none());
}

#[test]
fn preference_pairs_tokenize_with_only_the_answers_trained_and_are_never_cut() {
    use citrus_training::dataset::pair_tokens::tokenize_pairs;
    use citrus_training::dataset::pairs::PairSet;
    let model = model();
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/citrus/dpo_data.jsonl");
    let set = PairSet::read(&shared).unwrap();
    let tokenized = tokenize_pairs(&set.pairs, model.tokenizer(), model.template(), 4096).unwrap();
    assert_eq!(
        tokenized.pairs.len(),
        set.pairs.len(),
        "{:?}",
        tokenized.skipped
    );
    for pair in &tokenized.pairs {
        // The same prompt, then each answer: the untrained prefix is shared token for token.
        let prompt = |t: &citrus_training::dataset::TokenizedExample| {
            t.trained.iter().position(|&x| x).unwrap()
        };
        assert_eq!(prompt(&pair.chosen), prompt(&pair.rejected));
        assert_eq!(
            pair.chosen.ids[..prompt(&pair.chosen)],
            pair.rejected.ids[..prompt(&pair.rejected)]
        );
        assert!(pair.chosen.trained[prompt(&pair.chosen)..]
            .iter()
            .all(|&x| x));
        assert!(!pair.chosen.truncated && !pair.rejected.truncated);
    }
    let longest = tokenized
        .pairs
        .iter()
        .map(|p| p.chosen.ids.len().max(p.rejected.ids.len()))
        .max()
        .unwrap();
    let short =
        tokenize_pairs(&set.pairs, model.tokenizer(), model.template(), longest - 1).unwrap();
    assert!(!short.skipped.is_empty());
    assert!(
        short.skipped[0].reason.contains("a pair is not cut"),
        "{:?}",
        short.skipped
    );
    assert_eq!(short.pairs.len() + short.skipped.len(), set.pairs.len());
}
