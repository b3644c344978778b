//! A run's data as the trainer holds it: tokenized examples (SFT) or tokenized pairs
//! (preference), each split into training and held-out parts.

use citrus_engine::model::Model;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::dataset::pair_tokens::{tokenize_pairs, TokenizedPair, TokenizedPairs};
use crate::dataset::pairs::PairSet;
use crate::dataset::{
    token_stats, tokenize_dataset, BadRecord, Dataset, TokenStats, TokenizedDataset,
    TokenizedExample, TrainingData,
};
use crate::error::{Result, TrainError};

/// The data of an SFT run: tokenized training and validation sets.
pub struct PreparedData {
    /// Training examples.
    pub train: TokenizedDataset,
    /// Validation examples.
    pub validation: TokenizedDataset,
}

impl PreparedData {
    /// Splits `dataset` and tokenizes both parts through `model`'s template.
    pub fn new(dataset: &Dataset, model: &Model, config: &TrainConfig) -> Result<Self> {
        let (train, validation) = dataset.split(config.val_split, config.seed)?;
        let tokenize = |examples| {
            tokenize_dataset(
                examples,
                model.tokenizer(),
                model.template(),
                config.max_len,
                config.overlong,
            )
        };
        let train = tokenize(&train)?;
        if train.examples.is_empty() {
            return Err(empty(&dataset.source, config.max_len, "example"));
        }
        Ok(Self {
            train,
            validation: tokenize(&validation)?,
        })
    }
}

/// The data of a preference run: tokenized training and held-out pairs (split by group, so
/// one case's pairs are on one side).
pub struct PreparedPairs {
    /// Training pairs.
    pub train: TokenizedPairs,
    /// Held-out pairs.
    pub validation: TokenizedPairs,
    /// Token statistics of the training pairs' sequences (chosen and rejected).
    pub stats: TokenStats,
    /// The reference log-probabilities DPO compares with (None for the other methods).
    pub reference: Option<ReferenceLogps>,
}

impl PreparedPairs {
    /// Splits `set` by group and tokenizes both parts through `model`'s template.
    pub fn new(set: &PairSet, model: &Model, config: &TrainConfig) -> Result<Self> {
        let (train, validation) = set.split(config.val_split, config.seed)?;
        let tokenize =
            |pairs| tokenize_pairs(pairs, model.tokenizer(), model.template(), config.max_len);
        let train = tokenize(&train)?;
        if train.pairs.is_empty() {
            return Err(empty(&set.source, config.max_len, "pair"));
        }
        let sequences: Vec<TokenizedExample> = train
            .pairs
            .iter()
            .flat_map(|p| [p.chosen.clone(), p.rejected.clone()])
            .collect();
        Ok(Self {
            stats: token_stats(&sequences),
            train,
            validation: tokenize(&validation)?,
            reference: None,
        })
    }
}

/// Summed log-probabilities of each pair's answers under the reference (DPO: the starting
/// adapter, scored before the first step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceLogps {
    /// (chosen, rejected) of each training pair.
    pub train: Vec<(f64, f64)>,
    /// (chosen, rejected) of each held-out pair.
    pub validation: Vec<(f64, f64)>,
}

impl ReferenceLogps {
    /// Whether these were computed for `data` (one value per pair on each side).
    pub fn fits(&self, data: &PreparedPairs) -> bool {
        self.train.len() == data.train.pairs.len()
            && self.validation.len() == data.validation.pairs.len()
    }
}

/// What a run trains on.
pub enum RunData {
    /// Examples, for SFT.
    Examples(PreparedData),
    /// Pairs, for a preference loss.
    Pairs(PreparedPairs),
}

impl RunData {
    /// Splits and tokenizes `data` for a run of `config` (pairs need a preference method,
    /// and a preference method needs pairs).
    pub fn new(data: &TrainingData, model: &Model, config: &TrainConfig) -> Result<Self> {
        match (data, &config.preference) {
            (TrainingData::Examples(d), None) => {
                Ok(Self::Examples(PreparedData::new(d, model, config)?))
            }
            (TrainingData::Pairs(p), Some(_)) => {
                Ok(Self::Pairs(PreparedPairs::new(p, model, config)?))
            }
            (TrainingData::Examples(_), Some(settings)) => Err(TrainError::setting(
                "method",
                format!(
                    "{} learns from preference pairs (chosen and rejected answers), not from examples",
                    settings.method.method()
                ),
            )),
            (TrainingData::Pairs(_), None) => Err(TrainError::setting(
                "method",
                "preference pairs need a preference method (cpo-simpo, simpo, cpo or dpo)",
            )),
        }
    }

    /// Training records: examples or pairs.
    pub fn train_len(&self) -> usize {
        match self {
            Self::Examples(d) => d.train.examples.len(),
            Self::Pairs(p) => p.train.pairs.len(),
        }
    }

    /// Held-out records.
    pub fn validation_len(&self) -> usize {
        match self {
            Self::Examples(d) => d.validation.examples.len(),
            Self::Pairs(p) => p.validation.pairs.len(),
        }
    }

    /// Token statistics of the training sequences.
    pub fn stats(&self) -> &TokenStats {
        match self {
            Self::Examples(d) => &d.train.stats,
            Self::Pairs(p) => &p.stats,
        }
    }

    /// Records left out (too long, or nothing to train), both parts.
    pub fn skipped(&self) -> Vec<BadRecord> {
        match self {
            Self::Examples(d) => d
                .train
                .skipped
                .iter()
                .chain(&d.validation.skipped)
                .cloned()
                .collect(),
            Self::Pairs(p) => p
                .train
                .skipped
                .iter()
                .chain(&p.validation.skipped)
                .cloned()
                .collect(),
        }
    }

    /// The first training sequence (for a preview): an example, or a pair's chosen answer.
    pub fn first(&self) -> Option<&TokenizedExample> {
        match self {
            Self::Examples(d) => d.train.examples.first(),
            Self::Pairs(p) => p.train.pairs.first().map(|p| &p.chosen),
        }
    }

    /// The micro-batch that peaks: the longest example `batch_size` times, or (pairs are
    /// forwarded and backpropagated one sequence at a time) the longest answer alone.
    pub fn longest_batch(&self, batch_size: usize) -> Vec<&TokenizedExample> {
        let (longest, copies) = match self {
            Self::Examples(d) => (
                d.train.examples.iter().max_by_key(|e| e.ids.len()),
                batch_size,
            ),
            Self::Pairs(p) => (
                p.train
                    .pairs
                    .iter()
                    .flat_map(|p| [&p.chosen, &p.rejected])
                    .max_by_key(|e| e.ids.len()),
                1,
            ),
        };
        longest.into_iter().cycle().take(copies).collect()
    }

    /// Sequences one micro-batch forwards and backpropagates (a pair is two).
    pub fn sequences_per_record(&self) -> usize {
        match self {
            Self::Examples(_) => 1,
            Self::Pairs(_) => 2,
        }
    }

    /// The training pairs (empty for SFT).
    pub fn train_pairs(&self) -> &[TokenizedPair] {
        match self {
            Self::Examples(_) => &[],
            Self::Pairs(p) => &p.train.pairs,
        }
    }
}

fn empty(source: &str, max_len: usize, what: &str) -> TrainError {
    TrainError::EmptyDataset {
        source_name: source.to_string(),
        detail: format!("no training {what} fits the maximum length {max_len}"),
    }
}
