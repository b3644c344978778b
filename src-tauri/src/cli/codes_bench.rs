//! `citrus codes bench`: what holding a diagnosis to the vocabulary costs while decoding — the
//! grammar's compile time and the time of each token mask, with the model's real tokenizer, for
//! each granularity of the vocabulary.

use std::time::Instant;

use citrus_engine::constraint::{ConstraintFactory, TokenConstraint};
use citrus_types::vocabulary::CodeEntry;
use serde_json::json;

use super::model_args::ModelArgs;
use crate::error::AppResult;
use crate::vocabulary::{Granularity, Vocabulary};
use citrus_engine::ModelError;

/// Diagnoses decoded through the constraint per granularity (spread over the codes).
const TARGETS: usize = 3;
/// How many times llguidance's default grammar limits the benchmark allows.
const GRAMMAR_SCALE: u64 = 100;

/// Measures each granularity and prints one line per granularity.
pub fn run(
    vocabulary: &Vocabulary,
    granularities: &[Granularity],
    model: &ModelArgs,
) -> AppResult<()> {
    let model = model.load()?;
    // The default limits refuse the billable codes' grammar: raised here so it can be measured.
    let factory = ConstraintFactory::with_grammar_scale(model.tokenizer(), GRAMMAR_SCALE)?;
    let vocab_size = model.tokenizer().vocab_size();
    println!(
        "{:<11} {:>7} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "granularity", "entries", "compile ms", "1st mask ms", "mean mask", "max mask", "tokens"
    );
    for &granularity in granularities {
        let entries = vocabulary.entries(granularity)?;
        let labels: Vec<String> = entries.iter().map(CodeEntry::label).collect();
        let schema = json!({
            "type": "object",
            "properties": {"diagnosis": {"enum": labels}},
            "required": ["diagnosis"],
            "additionalProperties": false,
        });
        let mut compile = Vec::new();
        let mut first = Vec::new();
        let mut masks = Vec::new();
        for target in 0..TARGETS {
            let label = &labels[(target * 2 + 1) * labels.len() / (TARGETS * 2)];
            let text = format!("{{\"diagnosis\": {}}}", json!(label));
            let started = Instant::now();
            let mut constraint = factory.json_schema(&schema)?;
            compile.push(started.elapsed().as_secs_f64() * 1e3);
            let tokens = model.tokenizer().encode(&text)?;
            for (index, &token) in tokens.iter().enumerate() {
                let mut logits = vec![0.0f32; vocab_size];
                let started = Instant::now();
                constraint.mask_logits(&mut logits)?;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                if index == 0 {
                    first.push(ms);
                } else {
                    masks.push(ms);
                }
                if !logits[token as usize].is_finite() {
                    let detail = format!("the constraint refused token {index} of {text:?}");
                    return Err(ModelError::invalid_setting("codes bench", detail).into());
                }
                constraint.accept(token)?;
            }
        }
        println!(
            "{:<11} {:>7} {:>11.1} {:>11.2} {:>11.3} {:>11.3} {:>7}",
            format!("{granularity:?}").to_lowercase(),
            entries.len(),
            mean(&compile),
            mean(&first),
            mean(&masks),
            masks.iter().cloned().fold(0.0, f64::max),
            masks.len() + first.len(),
        );
    }
    Ok(())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}
