//! Next-token sampling: greedy, temperature, top-k, top-p, min-p and repetition penalty.

use citrus_types::defaults;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use citrus_formats::error::{ModelError, Result};

/// How to pick the next token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of tokens whose probabilities add up to `p`.
    pub top_p: Option<f32>,
    /// Drop tokens less likely than `min_p` times the most likely one.
    pub min_p: Option<f32>,
    /// Penalty (> 1 discourages) for tokens seen in the last `repeat_last_n` tokens.
    pub repetition_penalty: f32,
    /// Window of recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Random seed: the same seed, model and prompt give the same text.
    pub seed: u64,
}

impl Default for SamplingParams {
    /// Citrus' evaluation settings ([`citrus_types::defaults`]: temperature 0.7, nucleus
    /// 0.95), no repetition penalty.
    fn default() -> Self {
        Self {
            temperature: defaults::TEMPERATURE,
            top_k: None,
            top_p: Some(defaults::TOP_P),
            min_p: None,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            seed: defaults::SEED,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding (deterministic, no randomness).
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_p: None,
            ..Self::default()
        }
    }

    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(ModelError::invalid_setting(
                "temperature",
                "must be 0 or more",
            ));
        }
        if self.top_k == Some(0) {
            return Err(ModelError::invalid_setting("top_k", "must be at least 1"));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(ModelError::invalid_setting("top_p", "must be in (0, 1]"));
            }
        }
        if let Some(p) = self.min_p {
            if !(0.0..=1.0).contains(&p) {
                return Err(ModelError::invalid_setting("min_p", "must be in [0, 1]"));
            }
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(ModelError::invalid_setting(
                "repetition_penalty",
                "must be greater than 0 (1 disables it)",
            ));
        }
        Ok(())
    }
}

/// A seeded sampler.
#[derive(Debug)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

impl Sampler {
    /// A sampler for `params` (validated).
    pub fn new(params: SamplingParams) -> Result<Self> {
        params.validate()?;
        let rng = StdRng::seed_from_u64(params.seed);
        Ok(Self { params, rng })
    }

    /// Picks the next token from `logits` given the tokens generated so far (`history`).
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        self.apply_repetition_penalty(logits, history);
        if self.params.temperature <= 0.0 {
            return argmax(logits);
        }
        let mut candidates = self.candidates(logits);
        let total: f32 = candidates.iter().map(|(_, p)| p).sum();
        let mut target = self.rng.random::<f32>() * total;
        for &(id, p) in &candidates {
            if target < p {
                return id;
            }
            target -= p;
        }
        candidates.pop().map_or(0, |(id, _)| id)
    }

    fn apply_repetition_penalty(&self, logits: &mut [f32], history: &[u32]) {
        let penalty = self.params.repetition_penalty;
        if penalty == 1.0 {
            return;
        }
        let start = history.len().saturating_sub(self.params.repeat_last_n);
        let mut seen = std::collections::HashSet::new();
        for &id in &history[start..] {
            if let Some(logit) = logits.get_mut(id as usize) {
                if seen.insert(id) {
                    *logit = if *logit >= 0.0 {
                        *logit / penalty
                    } else {
                        *logit * penalty
                    };
                }
            }
        }
    }

    /// Tokens that survive top-k, top-p and min-p, most likely first, with their (unnormalised)
    /// probabilities.
    fn candidates(&self, logits: &[f32]) -> Vec<(u32, f32)> {
        let inv_t = 1.0 / self.params.temperature;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(id, &l)| (id as u32, ((l - max) * inv_t).exp()))
            .filter(|(_, p)| *p > 0.0)
            .collect();
        let by_prob_desc = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if let Some(k) = self.params.top_k {
            if k < probs.len() {
                probs.select_nth_unstable_by(k - 1, by_prob_desc);
                probs.truncate(k);
            }
        }
        probs.sort_unstable_by(by_prob_desc);
        if let Some(min_p) = self.params.min_p {
            // The first entry is the most likely token, with (unnormalised) probability 1.
            let floor = min_p * probs.first().map_or(0.0, |p| p.1);
            probs.retain(|(_, p)| *p >= floor);
        }
        if let Some(top_p) = self.params.top_p {
            let total: f32 = probs.iter().map(|(_, p)| p).sum();
            let mut cumulative = 0.0;
            let mut keep = probs.len();
            for (i, (_, p)) in probs.iter().enumerate() {
                cumulative += p / total;
                if cumulative >= top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep.max(1));
        }
        probs
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(params: SamplingParams) -> Sampler {
        Sampler::new(params).unwrap()
    }

    #[test]
    fn greedy_takes_the_maximum() {
        let mut s = sampler(SamplingParams::greedy());
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[]), 1);
    }

    #[test]
    fn top_k_one_is_greedy_whatever_the_temperature() {
        let mut s = sampler(SamplingParams {
            temperature: 5.0,
            top_k: Some(1),
            top_p: None,
            ..Default::default()
        });
        for _ in 0..50 {
            assert_eq!(s.sample(&mut [1.0, 1.5, 1.4, -3.0], &[]), 1);
        }
    }

    #[test]
    fn top_p_keeps_the_nucleus_only() {
        // Probabilities ~ [0.665, 0.245, 0.09]: top-p 0.8 keeps the first two.
        let s = sampler(SamplingParams {
            temperature: 1.0,
            top_p: Some(0.8),
            ..Default::default()
        });
        let kept: Vec<u32> = s.candidates(&[2.0, 1.0, 0.0]).iter().map(|c| c.0).collect();
        assert_eq!(kept, vec![0, 1]);
    }

    #[test]
    fn min_p_drops_unlikely_tokens() {
        let s = sampler(SamplingParams {
            temperature: 1.0,
            top_p: None,
            min_p: Some(0.3),
            ..Default::default()
        });
        // exp(-1) ≈ 0.37 ≥ 0.3 is kept; exp(-2) ≈ 0.14 is dropped.
        let kept: Vec<u32> = s.candidates(&[3.0, 2.0, 1.0]).iter().map(|c| c.0).collect();
        assert_eq!(kept, vec![0, 1]);
    }

    #[test]
    fn repetition_penalty_can_change_the_choice() {
        let mut s = sampler(SamplingParams {
            repetition_penalty: 2.0,
            ..SamplingParams::greedy()
        });
        assert_eq!(s.sample(&mut [3.0, 2.0], &[0]), 1);
        assert_eq!(s.sample(&mut [-1.0, -1.5], &[1]), 0);
    }

    #[test]
    fn same_seed_same_samples() {
        let params = SamplingParams {
            temperature: 1.0,
            top_p: None,
            seed: 7,
            ..Default::default()
        };
        let logits = [0.5f32, 0.4, 0.3, 0.2, 0.1];
        let run = |p: SamplingParams| {
            let mut s = sampler(p);
            (0..20)
                .map(|_| s.sample(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(params.clone()), run(params.clone()));
        let other = run(SamplingParams {
            seed: 8,
            ..params.clone()
        });
        assert_ne!(run(params), other);
    }

    #[test]
    fn invalid_settings_are_rejected_with_their_name() {
        for (params, name) in [
            (
                SamplingParams {
                    temperature: -1.0,
                    ..Default::default()
                },
                "temperature",
            ),
            (
                SamplingParams {
                    top_p: Some(0.0),
                    ..Default::default()
                },
                "top_p",
            ),
            (
                SamplingParams {
                    top_k: Some(0),
                    ..Default::default()
                },
                "top_k",
            ),
            (
                SamplingParams {
                    min_p: Some(1.5),
                    ..Default::default()
                },
                "min_p",
            ),
            (
                SamplingParams {
                    repetition_penalty: 0.0,
                    ..Default::default()
                },
                "repetition_penalty",
            ),
        ] {
            let err = Sampler::new(params).unwrap_err();
            assert_eq!(err.code(), "settings.invalid");
            assert!(err.to_string().contains(name));
        }
    }
}
