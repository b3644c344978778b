//! Generation on the real default model: streaming, stops, limits, cancellation, LoRA hooks.

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use citrus_engine::generation::{generate, CancelToken, GenerationRequest, StopReason};
use citrus_engine::lora::{LoraDelta, LoraTarget};
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::{argmax, SamplingParams};
use citrus_formats::chat_template::ChatMessage;
use common::shared_model;

fn question() -> Vec<ChatMessage> {
    vec![ChatMessage::user(
        "What is the first-line treatment for uncomplicated hypertension?",
    )]
}

fn settings(max_new_tokens: usize, sampling: SamplingParams) -> ChatSettings {
    ChatSettings {
        max_new_tokens,
        sampling,
        stop_strings: Vec::new(),
        reuse_prefix: false,
    }
}

#[test]
fn streamed_pieces_add_up_to_the_text_and_greedy_is_deterministic() {
    let mut model = shared_model();
    let mut streamed = String::new();
    let s = settings(40, SamplingParams::greedy());
    let first = model
        .chat(&question(), &s, &CancelToken::new(), &mut |t| {
            streamed.push_str(t)
        })
        .unwrap();
    assert_eq!(streamed, first.text);
    assert!(
        first.text.split_whitespace().count() >= 5,
        "{:?}",
        first.text
    );
    assert!(
        first.text.to_lowercase().contains("hypertension")
            || first.text.to_lowercase().contains("blood pressure"),
        "{:?}",
        first.text
    );
    let second = model
        .chat(&question(), &s, &CancelToken::new(), &mut |_| {})
        .unwrap();
    assert_eq!(first.text, second.text);
}

#[test]
fn seeded_sampling_is_reproducible_and_seed_dependent() {
    let mut model = shared_model();
    let run = |model: &mut citrus_engine::model::Model, seed| {
        let sampling = SamplingParams {
            temperature: 1.0,
            seed,
            ..SamplingParams::default()
        };
        model
            .chat(
                &question(),
                &settings(24, sampling),
                &CancelToken::new(),
                &mut |_| {},
            )
            .unwrap()
            .tokens
    };
    let a = run(&mut model, 1);
    assert_eq!(a, run(&mut model, 1));
    assert_ne!(a, run(&mut model, 2));
}

#[test]
fn max_new_tokens_is_respected() {
    let mut model = shared_model();
    let out = model
        .chat(
            &question(),
            &settings(5, SamplingParams::greedy()),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(out.tokens.len(), 5);
    assert_eq!(out.stop_reason, StopReason::MaxTokens);
}

#[test]
fn a_stop_string_ends_generation_and_is_not_emitted() {
    let mut model = shared_model();
    let greedy = settings(40, SamplingParams::greedy());
    let full = model
        .chat(&question(), &greedy, &CancelToken::new(), &mut |_| {})
        .unwrap()
        .text;
    // Stop at the second word of the greedy answer.
    let word = full
        .split_whitespace()
        .nth(1)
        .expect("an answer of several words")
        .to_string();
    let mut streamed = String::new();
    let stopped = model
        .chat(
            &question(),
            &ChatSettings {
                stop_strings: vec![word.clone()],
                ..greedy
            },
            &CancelToken::new(),
            &mut |t| streamed.push_str(t),
        )
        .unwrap();
    assert_eq!(stopped.stop_reason, StopReason::StopString);
    assert_eq!(stopped.text, full[..full.find(&word).unwrap()]);
    assert_eq!(streamed, stopped.text);
}

#[test]
fn the_model_stops_on_its_end_of_turn_token() {
    let mut model = shared_model();
    let out = model
        .chat(
            &[ChatMessage::user("Reply with the single word: yes")],
            &settings(200, SamplingParams::greedy()),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(out.stop_reason, StopReason::EndOfSequence);
    assert_eq!(out.tokens.last(), Some(&2));
    assert!(!out.text.contains("<|im_end|>"));
}

#[test]
fn cancellation_from_another_thread_stops_generation() {
    let mut model = shared_model();
    let cancel = CancelToken::new();
    let pieces = Arc::new(AtomicUsize::new(0));
    let (trigger, watcher) = (cancel.clone(), pieces.clone());
    let canceller = std::thread::spawn(move || {
        while watcher.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
        trigger.cancel();
    });
    let out = model
        .chat(
            &question(),
            &settings(400, SamplingParams::greedy()),
            &cancel,
            &mut |_| {
                pieces.fetch_add(1, Ordering::SeqCst);
            },
        )
        .unwrap();
    canceller.join().unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert!(out.tokens.len() < 400);
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let mut model = shared_model();
    let max = model.transformer_mut().max_positions();
    let request = GenerationRequest {
        prompt_tokens: vec![42; max + 10],
        max_new_tokens: 4,
        stop_strings: Vec::new(),
        sampling: SamplingParams::greedy(),
        reuse_prefix: false,
    };
    let tokenizer = model.tokenizer().clone();
    let err = generate(
        model.transformer_mut(),
        &tokenizer,
        &request,
        &CancelToken::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), "generation.prompt_too_long");
    assert!(err.to_string().contains(&(max + 10).to_string()));
}

#[test]
fn lora_hooks_change_outputs_only_when_attached() {
    let mut model = shared_model();
    let prompt = model
        .tokenizer()
        .encode("The patient presents with")
        .unwrap();
    let logits = |model: &mut citrus_engine::model::Model| {
        let t = model.transformer_mut();
        t.clear_cache();
        let l = t.forward(&prompt, false).unwrap().to_vec1::<f32>().unwrap();
        t.clear_cache();
        l
    };
    let base = logits(&mut model);
    let (out, inp) = {
        let q = model
            .transformer_mut()
            .linear_mut(0, LoraTarget::Q)
            .unwrap();
        (q.out_features(), q.in_features())
    };
    let a = Tensor::randn(0f32, 0.5, (8, inp), &Device::Cpu).unwrap();

    // B = 0: a freshly initialised adapter is an exact no-op.
    let zero = LoraDelta {
        a: a.clone(),
        b: Tensor::zeros((out, 8), DType::F32, &Device::Cpu).unwrap(),
        scale: 2.0,
    };
    for layer in 0..4 {
        model
            .transformer_mut()
            .linear_mut(layer, LoraTarget::Q)
            .unwrap()
            .set_lora(Some(zero.clone()))
            .unwrap();
    }
    assert_eq!(logits(&mut model), base);

    // A non-zero delta on every projection of every block changes the output.
    let layers = model.transformer_mut().config().num_layers;
    for layer in 0..layers {
        for target in LoraTarget::ALL {
            let linear = model.transformer_mut().linear_mut(layer, target).unwrap();
            let (o, i) = (linear.out_features(), linear.in_features());
            let delta = LoraDelta {
                a: Tensor::randn(0f32, 0.3, (4, i), &Device::Cpu).unwrap(),
                b: Tensor::randn(0f32, 0.3, (o, 4), &Device::Cpu).unwrap(),
                scale: 1.0,
            };
            linear.set_lora(Some(delta)).unwrap();
        }
    }
    let adapted = logits(&mut model);
    let shift = base
        .iter()
        .zip(&adapted)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(shift > 0.1, "max shift {shift}");

    // A wrongly shaped delta is refused; clearing restores the base model exactly.
    let bad = LoraDelta {
        a: a.clone(),
        b: Tensor::zeros((out + 1, 8), DType::F32, &Device::Cpu).unwrap(),
        scale: 1.0,
    };
    let err = model
        .transformer_mut()
        .linear_mut(0, LoraTarget::Q)
        .unwrap()
        .set_lora(Some(bad))
        .unwrap_err();
    assert_eq!(err.code(), "settings.invalid");
    model.transformer_mut().clear_lora();
    assert_eq!(logits(&mut model), base);
    assert_eq!(argmax(&base), argmax(&logits(&mut model)));
}

#[test]
fn reusing_a_cached_prefix_computes_only_the_new_tokens() {
    use citrus_engine::generation::prefill_reusing_prefix;
    let mut model = shared_model();
    let first = model.chat_prompt(&question()).unwrap();
    let mut second = first.clone();
    second.extend(model.tokenizer().encode("First-line drugs are").unwrap());
    let t = model.transformer_mut();
    let fresh = citrus_engine::generation::prefill(t, &second).unwrap();
    citrus_engine::generation::prefill(t, &first).unwrap();
    assert_eq!(t.cached_ids(), first.as_slice());
    let reused = prefill_reusing_prefix(t, &second).unwrap();
    assert_eq!(t.cached_ids(), second.as_slice());
    assert_eq!(argmax(&fresh), argmax(&reused));
    // A diverging prompt keeps only the shared part.
    let mut third = first[..first.len() - 3].to_vec();
    third.push(42);
    prefill_reusing_prefix(t, &third).unwrap();
    assert_eq!(t.cached_ids(), third.as_slice());
    t.clear_cache();
    assert_eq!(t.cached_tokens(), 0);
}

#[test]
fn a_json_schema_constraint_forces_valid_json_from_the_small_model() {
    use citrus_engine::constraint::ConstraintFactory;
    let mut model = shared_model();
    let factory = ConstraintFactory::new(model.tokenizer()).unwrap();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "diagnosis": {"type": "string", "minLength": 3, "maxLength": 60},
            "likelihood": {"enum": ["high", "moderate", "low"]},
            "cant_miss": {"type": "boolean"}
        },
        "required": ["diagnosis", "likelihood", "cant_miss"],
        "additionalProperties": false
    });
    let mut constraint = factory.json_schema(&schema).unwrap();
    let out = model
        .chat_constrained(
            &[ChatMessage::user(
                "Crushing chest pain with ST elevation. Give the diagnosis as JSON.",
            )],
            &settings(200, SamplingParams::greedy()),
            Some(&mut constraint),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    let value: serde_json::Value =
        serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {:?}", out.text));
    assert!(["high", "moderate", "low"].contains(&value["likelihood"].as_str().unwrap()));
    assert!(value["cant_miss"].is_boolean());
    let diagnosis = value["diagnosis"].as_str().unwrap();
    assert!(
        (3..=60).contains(&diagnosis.chars().count()),
        "{diagnosis:?}"
    );
    assert!(
        matches!(
            out.stop_reason,
            StopReason::Complete | StopReason::EndOfSequence
        ),
        "{:?}",
        out.stop_reason
    );
}

/// A ChatML template that opens the think section itself, as DeepSeek-R1 distills and
/// Qwen3-style templates do.
const THINKING_TEMPLATE: &str = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";

#[test]
fn a_template_that_opens_think_and_a_spent_budget_still_give_steps_and_an_answer() {
    use citrus_formats::chat_template::ChatTemplate;
    use citrus_reasoning::{CaseInput, ClinicalCase};
    use citrus_runner::run::{reason, ReasonOptions, ReasoningMode};

    let mut model = shared_model();
    let template = ChatTemplate::new(Some(THINKING_TEMPLATE), None, None).unwrap();
    let own = model.replace_template(template);
    let mut case = ClinicalCase::new("Crushing chest pain for 45 minutes");
    case.labs = Some("Troponin I 2.4 ng/mL".into());
    let options = ReasonOptions {
        mode: ReasoningMode::Free,
        max_new_tokens: 48,
        sampling: SamplingParams::greedy(),
        vocabulary: None,
    };
    let report = reason(
        &mut *model,
        &CaseInput::Clinical(case),
        &options,
        &CancelToken::new(),
        &mut |_| {},
    );
    model.replace_template(own);
    let report = report.unwrap();
    // The reply began inside <think>: the parser knew, so its text became steps.
    assert!(report.structured, "{:?}", report.raw_text);
    assert!(!report.steps.is_empty(), "{:?}", report.raw_text);
    // The budget ran out while thinking: think was closed and the answer asked for.
    assert!(report.thinking_cut_short, "{:?}", report.raw_text);
    assert!(report.raw_text.contains("</think>\n\n<answer>\n"));
    assert!(report.tokens <= 48, "{}", report.tokens);
    let answer = report.answer.expect("an answer always comes");
    assert!(!answer.trim().is_empty(), "{:?}", report.raw_text);
}
