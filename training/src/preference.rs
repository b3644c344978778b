//! Preference losses on a pair of answers to one prompt, chosen over rejected: Citrus' own
//! last stage CPO-SimPO (SimPO plus a likelihood term on the chosen answer), SimPO, CPO and
//! DPO (sigmoid).
//!
//! Every one of them depends on the model only through the two sequences' summed
//! log-probabilities, so a step needs no graph over both: a no-grad forward of each gives the
//! log-probabilities, [`pair_loss`] gives the loss and its derivative with respect to each
//! sum, and each sequence's backward pass is then run once, scaled by its derivative
//! ([`crate::trainer::pair_backward`]). Peak memory is that of one SFT step on the longer
//! sequence.

pub use citrus_types::training::chosen_keeps_falling;
use citrus_types::training::{PreferenceStats, TrainChoices, TrainMethod};
use serde::{Deserialize, Serialize};

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

impl PreferenceMethod {
    /// The preference loss a training method names (None for SFT).
    pub fn of(method: TrainMethod) -> Option<Self> {
        match method {
            TrainMethod::Sft => None,
            TrainMethod::CpoSimpo => Some(Self::CpoSimpo),
            TrainMethod::Simpo => Some(Self::Simpo),
            TrainMethod::Cpo => Some(Self::Cpo),
            TrainMethod::Dpo => Some(Self::Dpo),
        }
    }

    /// The training method this loss is.
    pub fn method(self) -> TrainMethod {
        match self {
            Self::CpoSimpo => TrainMethod::CpoSimpo,
            Self::Simpo => TrainMethod::Simpo,
            Self::Cpo => TrainMethod::Cpo,
            Self::Dpo => TrainMethod::Dpo,
        }
    }
}

impl PreferenceSettings {
    /// Citrus' released settings: CPO-SimPO with β 10, γ 5.4 and α 0.05.
    pub fn citrus() -> Self {
        Self::of(PreferenceMethod::CpoSimpo)
    }

    /// The usual settings of `method` ([`TrainMethod::preference_defaults`]).
    pub fn of(method: PreferenceMethod) -> Self {
        let (beta, gamma, alpha) = method
            .method()
            .preference_defaults()
            .unwrap_or((0.1, 0.0, 0.0));
        Self {
            method,
            beta,
            gamma,
            alpha,
        }
    }

    /// The settings a person's choices give: the method's defaults where a value is not set;
    /// None for SFT.
    pub fn from_choices(choices: &TrainChoices) -> Option<Self> {
        let (beta, gamma, alpha) = choices.preference()?;
        Some(Self {
            method: PreferenceMethod::of(choices.method)?,
            beta,
            gamma,
            alpha,
        })
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
    /// The chosen answer's mean per-token log-probability.
    pub chosen_logp: f64,
    /// The rejected answer's mean per-token log-probability.
    pub rejected_logp: f64,
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
        chosen_logp: chosen.mean(),
        rejected_logp: rejected.mean(),
    }
}

/// Pair losses summed over a step or a held-out set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairTally {
    pairs: usize,
    loss: f64,
    correct: usize,
    margin: f64,
    chosen_logp: f64,
    rejected_logp: f64,
}

impl PairTally {
    /// Counts one pair.
    pub fn add(&mut self, pair: &PairLoss) {
        self.pairs += 1;
        self.loss += pair.loss;
        self.correct += usize::from(pair.correct());
        self.margin += pair.margin();
        self.chosen_logp += pair.chosen_logp;
        self.rejected_logp += pair.rejected_logp;
    }

    /// Pairs counted.
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// The mean loss per pair.
    pub fn loss(&self) -> f64 {
        self.loss / self.pairs.max(1) as f64
    }

    /// Reward accuracy, mean margin and mean log-probabilities.
    pub fn stats(&self) -> PreferenceStats {
        let n = self.pairs.max(1) as f64;
        PreferenceStats {
            reward_accuracy: self.correct as f64 / n,
            margin: self.margin / n,
            chosen_logp: self.chosen_logp / n,
            rejected_logp: self.rejected_logp / n,
        }
    }
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
