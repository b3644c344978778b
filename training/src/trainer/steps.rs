//! What one optimizer step and one validation pass compute for each kind of run: the summed
//! NLL of examples (SFT), or the preference loss of pairs. Both add the LoRA gradients into
//! the same accumulator, so clipping, AdamW, checkpoints and resume are shared.

use citrus_engine::generation::CancelToken;
use citrus_engine::transformer::{TrainingPass, Transformer};
use citrus_types::training::PreferenceStats;

use super::batch::Batch;
use super::data::{PreparedData, PreparedPairs, ReferenceLogps};
use super::pair_pass::{pair_backward, sequence_logp, PairBatches, SCORING_PASS};
use super::slots::{Gradients, LoraSlots};
use crate::dataset::pair_tokens::TokenizedPair;
use crate::error::Result;
use crate::preference::{pair_loss, PairTally, PreferenceSettings};

/// What a step's forward and backward passes gave.
#[derive(Debug, Clone, Copy)]
pub struct StepLoss {
    /// Mean loss per trained token (SFT) or per pair (preference).
    pub loss: f64,
    /// Tokens processed (prompt and answers).
    pub tokens: usize,
    /// Rewards and log-probabilities of a preference step.
    pub preference: Option<PreferenceStats>,
}

/// What a step computes with: the model, the trainable slots, and the dropout pass of each
/// micro-batch.
pub struct StepContext<'a> {
    /// The model with the slots attached.
    pub transformer: &'a Transformer,
    /// The trainable slots.
    pub slots: &'a LoraSlots,
    /// Checked before each micro-batch.
    pub cancel: &'a CancelToken,
    /// The dropout pass of micro-batch `i`, record `j` within it.
    pub pass: &'a dyn Fn(usize, usize) -> TrainingPass,
}

/// SFT: each micro-batch's summed NLL, scaled by one over the step's trained tokens; None
/// when cancelled.
pub fn sft_gradients(
    data: &PreparedData,
    micro_batches: &[Vec<usize>],
    context: &StepContext,
    grads: &mut Gradients,
) -> Result<Option<StepLoss>> {
    let device = context.transformer.device();
    let batches = micro_batches
        .iter()
        .map(|indices| {
            let examples: Vec<_> = indices.iter().map(|&i| &data.train.examples[i]).collect();
            Batch::new(&examples, device)
        })
        .collect::<Result<Vec<_>>>()?;
    let trained: usize = batches.iter().map(|b| b.trained_tokens).sum();
    let scale = 1.0 / trained.max(1) as f64;
    let mut nll = 0.0f64;
    for (micro, batch) in batches.iter().enumerate() {
        if context.cancel.is_cancelled() {
            return Ok(None);
        }
        let pass = (context.pass)(micro, 0);
        nll += batch.backward(context.transformer, pass, scale, context.slots, grads)?;
    }
    Ok(Some(StepLoss {
        loss: nll / trained.max(1) as f64,
        tokens: batches.iter().map(|b| b.tokens).sum(),
        preference: None,
    }))
}

/// A preference step: each pair's loss, scaled by one over the step's pairs; None when
/// cancelled.
pub fn pair_gradients(
    data: &PreparedPairs,
    settings: &PreferenceSettings,
    micro_batches: &[Vec<usize>],
    context: &StepContext,
    grads: &mut Gradients,
) -> Result<Option<StepLoss>> {
    let pairs: usize = micro_batches.iter().map(Vec::len).sum();
    let scale = 1.0 / pairs.max(1) as f64;
    let mut tally = PairTally::default();
    let mut tokens = 0;
    for (micro, indices) in micro_batches.iter().enumerate() {
        for (j, &i) in indices.iter().enumerate() {
            if context.cancel.is_cancelled() {
                return Ok(None);
            }
            let pair = pair_batches(
                &data.train.pairs[i],
                data.reference.as_ref().map(|r| r.train[i]),
                context.transformer,
            )?;
            tokens += pair.chosen.tokens + pair.rejected.tokens;
            let loss = pair_backward(
                context.transformer,
                (context.pass)(micro, j),
                settings,
                &pair,
                scale,
                &mut |store| context.slots.accumulate(store, grads),
            )?;
            tally.add(&loss);
        }
    }
    Ok(Some(StepLoss {
        loss: tally.loss(),
        tokens,
        preference: Some(tally.stats()),
    }))
}

/// Mean loss per trained token on the validation examples (None without any).
pub fn sft_validation(
    data: &PreparedData,
    transformer: &Transformer,
    batch_size: usize,
) -> Result<Option<f64>> {
    let examples = &data.validation.examples;
    if examples.is_empty() {
        return Ok(None);
    }
    let (mut nll, mut tokens) = (0.0f64, 0usize);
    for chunk in examples.chunks(batch_size) {
        let batch = Batch::new(&chunk.iter().collect::<Vec<_>>(), transformer.device())?;
        nll += batch
            .nll_sum(transformer, SCORING_PASS)?
            .detach()
            .to_scalar::<f32>()? as f64;
        tokens += batch.trained_tokens;
    }
    Ok(Some(nll / tokens.max(1) as f64))
}

/// Mean loss and the rewards on the held-out pairs (None without any).
pub fn pair_validation(
    data: &PreparedPairs,
    settings: &PreferenceSettings,
    transformer: &Transformer,
) -> Result<Option<(f64, PreferenceStats)>> {
    if data.validation.pairs.is_empty() {
        return Ok(None);
    }
    let mut tally = PairTally::default();
    for (i, pair) in data.validation.pairs.iter().enumerate() {
        let reference = data.reference.as_ref().map(|r| r.validation[i]);
        let batches = pair_batches(pair, reference, transformer)?;
        let chosen = sequence_logp(transformer, &batches.chosen, SCORING_PASS)?;
        let rejected = sequence_logp(transformer, &batches.rejected, SCORING_PASS)?;
        tally.add(&pair_loss(settings, chosen, rejected, reference));
    }
    Ok(Some((tally.loss(), tally.stats())))
}

/// Scores every pair of `data` without dropout under the model as it is now (for DPO: the
/// starting adapter, before the first step).
pub fn reference_logps(data: &PreparedPairs, transformer: &Transformer) -> Result<ReferenceLogps> {
    let score = |pairs: &[TokenizedPair]| {
        pairs
            .iter()
            .map(|pair| {
                let batches = pair_batches(pair, None, transformer)?;
                Ok((
                    sequence_logp(transformer, &batches.chosen, SCORING_PASS)?.sum,
                    sequence_logp(transformer, &batches.rejected, SCORING_PASS)?.sum,
                ))
            })
            .collect::<Result<Vec<_>>>()
    };
    Ok(ReferenceLogps {
        train: score(&data.train.pairs)?,
        validation: score(&data.validation.pairs)?,
    })
}

/// A pair's two one-sequence batches.
fn pair_batches(
    pair: &TokenizedPair,
    reference: Option<(f64, f64)>,
    transformer: &Transformer,
) -> Result<PairBatches> {
    let device = transformer.device();
    Ok(PairBatches {
        chosen: Batch::new(&[&pair.chosen], device)?,
        rejected: Batch::new(&[&pair.rejected], device)?,
        reference,
    })
}
