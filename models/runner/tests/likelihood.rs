//! Likelihood scoring on the real default model: each option's score is the log-probability a
//! fresh, cache-free forward pass gives its tokens after the scoring prompt.

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use candle_core::D;
use citrus_engine::model::Model;
use citrus_reasoning::{read_benchmark_jsonl, ExamItem};
use citrus_runner::evaluation::likelihood::{score_options, scoring_prompt, ScoredContinuation};
use common::shared_model;

fn first_medqa_item() -> ExamItem {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/citrus/medqa.jsonl"),
    )
    .unwrap();
    let first = text.lines().next().unwrap().to_string();
    read_benchmark_jsonl(&first).remove(0).unwrap()
}

/// log P(continuation | prompt) from one forward pass over both, from an empty cache.
fn reference(model: &mut Model, prompt: &[u32], continuation: &[u32]) -> f32 {
    let mut all = prompt.to_vec();
    all.extend_from_slice(continuation);
    let t = model.transformer_mut();
    t.clear_cache();
    let logits = t.forward(&all, true).unwrap();
    t.clear_cache();
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap();
    continuation
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            log_probs
                .get(prompt.len() - 1 + i)
                .unwrap()
                .get(id as usize)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
        .sum()
}

#[test]
fn option_scores_are_the_log_probabilities_of_their_tokens() {
    let mut model = shared_model();
    let item = first_medqa_item();
    let prompt = scoring_prompt(&model, &item).unwrap();
    for continuation in [ScoredContinuation::Letter, ScoredContinuation::Text] {
        let scores = score_options(&mut model, &item, continuation).unwrap();
        assert_eq!(scores.scores.len(), item.options.len());
        assert_eq!(
            scores.letters,
            item.options
                .iter()
                .map(|o| o.letter.clone())
                .collect::<Vec<_>>()
        );
        for (option, score) in item.options.iter().zip(&scores.scores) {
            let text = match continuation {
                ScoredContinuation::Letter => &option.letter,
                ScoredContinuation::Text => &option.text,
            };
            // After the reply's prefix `Answer:`, the option after a space.
            let ids = model
                .tokenizer()
                .encode(&format!(" {}", text.trim()))
                .unwrap();
            let mut expected = reference(&mut model, &prompt, &ids);
            if continuation == ScoredContinuation::Text {
                expected /= ids.len() as f32;
            }
            assert!(
                (score - expected).abs() < 2e-3,
                "{continuation:?} {}: {score} vs {expected}",
                option.letter
            );
        }
        let best = scores
            .scores
            .iter()
            .cloned()
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(scores.scores[scores.best], best);
    }
    let mut open = item.clone();
    open.options.truncate(1);
    let error = score_options(&mut model, &open, ScoredContinuation::Letter).unwrap_err();
    assert!(
        error.to_string().contains("at least two options"),
        "{error}"
    );
}
