//! Preference losses on a pair of answers to one prompt, chosen over rejected: Citrus' own
//! last stage CPO-SimPO (SimPO plus a likelihood term on the chosen answer), SimPO, CPO and
//! DPO (sigmoid).
//!
//! Every one of them depends on the model only through the two sequences' summed
//! log-probabilities, so a step needs no graph over both: a no-grad forward of each gives the
//! log-probabilities, [`pair_loss`] gives the loss and its derivative with respect to each
//! sum, and each sequence's backward pass is then run once, scaled by its derivative
//! ([`pair_backward`]). Peak memory is that of one SFT step on the longer sequence.

use candle_core::backprop::GradStore;
use citrus_engine::transformer::{TrainingPass, Transformer};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::trainer::Batch;

/// The preference loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreferenceMethod {
    /// SimPO's length-normalised margin plus `alpha` × the chosen answer's NLL (Citrus).
    CpoSimpo,
    /// Length-normalised log-probability margin with a target margin γ, no reference model.
    Simpo,
    /// Summed log-probability margin plus `alpha` × the chosen answer's NLL.
    Cpo,
    /// Margin of the log-probability ratios to a reference (the starting adapter).
    Dpo,
}

impl PreferenceMethod {
    /// Whether the margin is over mean per-token log-probabilities.
    pub fn length_normalised(self) -> bool {
        matches!(self, Self::CpoSimpo | Self::Simpo)
    }

    /// Whether the loss needs the reference log-probabilities.
    pub fn needs_reference(self) -> bool {
        self == Self::Dpo
    }
}

/// A preference loss's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreferenceSettings {
    /// The loss.
    pub method: PreferenceMethod,
    /// β: how sharply the margin is scored.
    pub beta: f64,
    /// γ: the target margin (SimPO and CPO-SimPO).
    pub gamma: f64,
    /// The weight of the chosen answer's mean NLL added to the loss (0: none).
    pub alpha: f64,
}

impl PreferenceSettings {
    /// Citrus' released settings: CPO-SimPO with β 10, γ 5.4 and α 0.05.
    pub fn citrus() -> Self {
        Self {
            method: PreferenceMethod::CpoSimpo,
            beta: 10.0,
            gamma: 5.4,
            alpha: 0.05,
        }
    }

    /// The usual settings of `method`.
    pub fn of(method: PreferenceMethod) -> Self {
        match method {
            PreferenceMethod::CpoSimpo => Self::citrus(),
            PreferenceMethod::Simpo => Self {
                alpha: 0.0,
                ..Self::citrus()
            },
            PreferenceMethod::Cpo => Self {
                method,
                beta: 0.1,
                gamma: 0.0,
                alpha: 1.0,
            },
            PreferenceMethod::Dpo => Self {
                method,
                beta: 0.1,
                gamma: 0.0,
                alpha: 0.0,
            },
        }
    }
}

/// A sequence's summed log-probability over its trained (answer) tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceLogp {
    /// Σ log p of the answer's tokens.
    pub sum: f64,
    /// How many tokens.
    pub tokens: usize,
}

impl SequenceLogp {
    /// Mean log-probability per token.
    pub fn mean(&self) -> f64 {
        self.sum / self.tokens.max(1) as f64
    }
}

/// One pair's loss, the rewards it implies, and its derivatives with respect to each
/// sequence's summed log-probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairLoss {
    /// The loss.
    pub loss: f64,
    /// ∂loss / ∂(Σ log p chosen).
    pub d_chosen: f64,
    /// ∂loss / ∂(Σ log p rejected).
    pub d_rejected: f64,
    /// The chosen answer's implicit reward.
    pub chosen_reward: f64,
    /// The rejected answer's implicit reward.
    pub rejected_reward: f64,
}

impl PairLoss {
    /// Chosen reward minus rejected reward.
    pub fn margin(&self) -> f64 {
        self.chosen_reward - self.rejected_reward
    }

    /// Whether the chosen answer is rewarded above the rejected one.
    pub fn correct(&self) -> bool {
        self.margin() > 0.0
    }
}

/// log(1 + e^x), without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic function.
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The loss of one pair. `reference` holds the reference log-probabilities (chosen,
/// rejected) DPO needs; the other methods ignore it.
pub fn pair_loss(
    settings: &PreferenceSettings,
    chosen: SequenceLogp,
    rejected: SequenceLogp,
    reference: Option<(f64, f64)>,
) -> PairLoss {
    let beta = settings.beta;
    let (dc, dr) = if settings.method.length_normalised() {
        (
            beta / chosen.tokens.max(1) as f64,
            beta / rejected.tokens.max(1) as f64,
        )
    } else {
        (beta, beta)
    };
    let (chosen_reward, rejected_reward) = match settings.method {
        PreferenceMethod::CpoSimpo | PreferenceMethod::Simpo => {
            (beta * chosen.mean(), beta * rejected.mean())
        }
        PreferenceMethod::Cpo => (beta * chosen.sum, beta * rejected.sum),
        PreferenceMethod::Dpo => {
            let (ref_chosen, ref_rejected) = reference.unwrap_or((chosen.sum, rejected.sum));
            (
                beta * (chosen.sum - ref_chosen),
                beta * (rejected.sum - ref_rejected),
            )
        }
    };
    let gamma = if settings.method.length_normalised() {
        settings.gamma
    } else {
        0.0
    };
    let z = chosen_reward - rejected_reward - gamma;
    // −log σ(z) = softplus(−z); its derivative is −σ(−z).
    let d_z = -sigmoid(-z);
    let nll_weight = settings.alpha / chosen.tokens.max(1) as f64;
    PairLoss {
        loss: softplus(-z) - settings.alpha * chosen.mean(),
        d_chosen: d_z * dc - nll_weight,
        d_rejected: -d_z * dr,
        chosen_reward,
        rejected_reward,
    }
}

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

/// A batch's summed log-probability, without keeping a graph.
pub fn sequence_logp(transformer: &Transformer, batch: &Batch) -> Result<SequenceLogp> {
    let pass = TrainingPass {
        lora_dropout: 0.0,
        seed: 0,
    };
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
    on_grads: &mut dyn FnMut(&GradStore) -> candle_core::Result<()>,
) -> Result<PairLoss> {
    let chosen = sequence_logp(transformer, &pair.chosen)?;
    let rejected = sequence_logp(transformer, &pair.rejected)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logp(sum: f64, tokens: usize) -> SequenceLogp {
        SequenceLogp { sum, tokens }
    }

    /// The derivatives equal central differences of the loss, for every method.
    #[test]
    fn derivatives_match_central_differences() {
        let reference = Some((-42.0, -35.0));
        for method in [
            PreferenceMethod::CpoSimpo,
            PreferenceMethod::Simpo,
            PreferenceMethod::Cpo,
            PreferenceMethod::Dpo,
        ] {
            let settings = PreferenceSettings {
                alpha: 0.3,
                ..PreferenceSettings::of(method)
            };
            let (c, r) = (logp(-40.0, 20), logp(-38.0, 16));
            let at = pair_loss(&settings, c, r, reference);
            let h = 1e-4;
            let f = |c: f64, r: f64| pair_loss(&settings, logp(c, 20), logp(r, 16), reference).loss;
            let dc = (f(c.sum + h, r.sum) - f(c.sum - h, r.sum)) / (2.0 * h);
            let dr = (f(c.sum, r.sum + h) - f(c.sum, r.sum - h)) / (2.0 * h);
            assert!(
                (dc - at.d_chosen).abs() < 1e-6,
                "{method:?}: {dc} vs {}",
                at.d_chosen
            );
            assert!(
                (dr - at.d_rejected).abs() < 1e-6,
                "{method:?}: {dr} vs {}",
                at.d_rejected
            );
        }
    }

    #[test]
    fn simpo_wants_a_margin_and_dpo_starts_from_the_reference() {
        let simpo = PreferenceSettings::of(PreferenceMethod::Simpo);
        // Equal answers: SimPO still has loss softplus(γ) (it wants a margin of γ).
        let even = pair_loss(&simpo, logp(-10.0, 10), logp(-10.0, 10), None);
        assert!((even.loss - softplus(5.4)).abs() < 1e-9);
        assert!(!even.correct());
        // DPO at its reference: margin 0, loss log 2 — never 0 with accuracy 1 at step 0.
        let dpo = PreferenceSettings::of(PreferenceMethod::Dpo);
        let start = pair_loss(&dpo, logp(-30.0, 10), logp(-20.0, 10), Some((-30.0, -20.0)));
        assert!((start.loss - std::f64::consts::LN_2).abs() < 1e-12);
        assert_eq!(start.margin(), 0.0);
        // CPO-SimPO adds α × the chosen answer's mean NLL.
        let citrus = PreferenceSettings::citrus();
        let with_nll = pair_loss(&citrus, logp(-20.0, 10), logp(-30.0, 10), None);
        let without = pair_loss(&simpo, logp(-20.0, 10), logp(-30.0, 10), None);
        assert!((with_nll.loss - without.loss - 0.05 * 2.0).abs() < 1e-12);
        assert!(with_nll.correct());
    }
}
