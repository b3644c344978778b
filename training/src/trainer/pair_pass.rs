//! A preference pair on the model: each answer's summed log-probability from a no-graph
//! forward, then each answer's checkpointed backward scaled by the loss's derivative for it
//! (see [`crate::preference`]).

use citrus_engine::training_block::SegmentGrads;
use citrus_engine::transformer::{TrainingPass, Transformer};

use super::batch::Batch;
use crate::error::Result;
use crate::preference::{pair_loss, PairLoss, PreferenceSettings, SequenceLogp};

/// A pair ready for the model: the chosen and the rejected answer (each a one-example batch
/// whose trained tokens are the answer), with the reference log-probabilities for DPO.
pub struct PairBatches {
    /// The chosen answer.
    pub chosen: Batch,
    /// The rejected answer.
    pub rejected: Batch,
    /// Σ log p of each under the reference (DPO).
    pub reference: Option<(f64, f64)>,
}

/// The pass that scores without dropout (evaluation, reference log-probabilities).
pub const SCORING_PASS: TrainingPass = TrainingPass {
    lora_dropout: 0.0,
    activation_budget: 0,
    seed: 0,
};

/// A batch's summed log-probability under `pass` (its dropout), without keeping a graph.
pub fn sequence_logp(
    transformer: &Transformer,
    batch: &Batch,
    pass: TrainingPass,
) -> Result<SequenceLogp> {
    let nll = transformer.nll_value(&batch.ids, &batch.rows, &batch.targets, pass)? as f64;
    Ok(SequenceLogp {
        sum: -nll,
        tokens: batch.trained_tokens,
    })
}

/// One pair's loss with the LoRA gradients of `scale` × it handed to `on_grads` (layer by
/// layer, as the SFT step's checkpointed backward does): no-grad forwards for both answers,
/// then each answer's backward scaled by the loss's derivative for it.
pub fn pair_backward(
    transformer: &Transformer,
    pass: TrainingPass,
    settings: &PreferenceSettings,
    pair: &PairBatches,
    scale: f64,
    on_grads: &mut dyn FnMut(&SegmentGrads) -> candle_core::Result<()>,
) -> Result<PairLoss> {
    let chosen = sequence_logp(transformer, &pair.chosen, pass)?;
    let rejected = sequence_logp(transformer, &pair.rejected, pass)?;
    let loss = pair_loss(settings, chosen, rejected, pair.reference);
    // Σ log p = −NLL, so ∂loss/∂θ = −(∂loss/∂Σlog p) · ∂NLL/∂θ.
    for (batch, derivative) in [
        (&pair.chosen, loss.d_chosen),
        (&pair.rejected, loss.d_rejected),
    ] {
        if derivative != 0.0 {
            transformer.nll_backward(
                &batch.ids,
                &batch.rows,
                &batch.targets,
                -derivative * scale,
                pass,
                on_grads,
            )?;
        }
    }
    Ok(loss)
}
