//! Training data: reading the supported formats with a line-by-line validation report,
//! tokenizing through the model's chat template with the prompt masked, previews, statistics,
//! a seeded train/validation split and a content hash.
//!
//! Formats ([`DataFormat`]): Citrus SFT JSONL `{"input","target"}`, the same records as one
//! JSON array (what Citrus' own trainer reads), chat `{"messages":[{"role","content"}…]}`,
//! Alpaca `{"instruction","input","output"}`, and records handed over directly (the reviewed
//! cases of the case store).

mod format;
pub mod pair_tokens;
pub mod pairs;
mod tokenize;

use std::path::Path;

use citrus_engine::seeded::SeededRng;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::identity::sha256_hex;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

pub use citrus_types::training::{
    BadRecord, DataFormat, Overlong, Preview, PreviewSegment, TokenStats,
};
pub use pairs::PairSet;
pub(crate) use tokenize::stats as token_stats;
pub use tokenize::{preview, tokenize_dataset, TokenizedDataset, TokenizedExample};

/// What a run learns from: examples (SFT) or preference pairs.
#[derive(Debug, Clone)]
pub enum TrainingData {
    /// Conversations whose assistant turns are trained.
    Examples(Dataset),
    /// Pairs of answers to one prompt, chosen over rejected.
    Pairs(PairSet),
}

impl TrainingData {
    /// The file, or a description of the source.
    pub fn source(&self) -> &str {
        match self {
            Self::Examples(d) => &d.source,
            Self::Pairs(p) => &p.source,
        }
    }

    /// SHA-256 of the usable records' content.
    pub fn hash(&self) -> &str {
        match self {
            Self::Examples(d) => &d.hash,
            Self::Pairs(p) => &p.hash,
        }
    }

    /// The usable records: examples or pairs.
    pub fn len(&self) -> usize {
        match self {
            Self::Examples(d) => d.examples.len(),
            Self::Pairs(p) => p.pairs.len(),
        }
    }

    /// Whether there is no usable record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records that could not be used.
    pub fn bad(&self) -> &[BadRecord] {
        match self {
            Self::Examples(d) => &d.bad,
            Self::Pairs(p) => &p.bad,
        }
    }
}

impl From<Dataset> for TrainingData {
    fn from(dataset: Dataset) -> Self {
        Self::Examples(dataset)
    }
}

impl From<PairSet> for TrainingData {
    fn from(pairs: PairSet) -> Self {
        Self::Pairs(pairs)
    }
}

/// One training example: a conversation whose assistant turns are trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Where it came from: the line (JSONL) or item (JSON array) number, from 1.
    pub line: usize,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
}

/// A dataset read and validated: the usable examples and the bad records, never dropped
/// silently.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    /// The file, or a description of the source (e.g. "reviewed cases").
    pub source: String,
    /// The format the records were read as.
    pub format: DataFormat,
    /// The usable examples, in file order.
    pub examples: Vec<Example>,
    /// The records that could not be used.
    pub bad: Vec<BadRecord>,
    /// SHA-256 of the usable examples' content (format-independent).
    pub hash: String,
}

impl Dataset {
    /// The same dataset with its examples replaced (e.g. de-identified), hashed anew.
    pub fn with_examples(&self, examples: Vec<Example>) -> Self {
        Self {
            source: self.source.clone(),
            format: self.format,
            hash: content_hash(&examples),
            examples,
            bad: self.bad.clone(),
        }
    }

    /// Reads `path` in `format` (`Auto` detects it), reporting bad records by number.
    pub fn read(path: &Path, format: DataFormat) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let (format, examples, bad) =
            format::parse(&text, format).map_err(|detail| TrainError::BadDataset {
                path: path.to_path_buf(),
                detail,
            })?;
        Self::new(path.display().to_string(), format, examples, bad)
    }

    /// A dataset of Citrus SFT records handed over directly, e.g. the case store's reviewed
    /// runs; records with an empty input or target are reported like bad lines.
    pub fn from_sft_pairs(source: &str, pairs: &[(String, String)]) -> Result<Self> {
        let mut examples = Vec::new();
        let mut bad = Vec::new();
        for (i, (input, target)) in pairs.iter().enumerate() {
            let line = i + 1;
            match format::citrus_messages(input, target) {
                Ok(messages) => examples.push(Example { line, messages }),
                Err(reason) => bad.push(BadRecord { line, reason }),
            }
        }
        Self::new(source.to_string(), DataFormat::Citrus, examples, bad)
    }

    fn new(
        source: String,
        format: DataFormat,
        examples: Vec<Example>,
        bad: Vec<BadRecord>,
    ) -> Result<Self> {
        if examples.is_empty() {
            let detail = match bad.first() {
                Some(first) => format!(
                    "{} bad record(s); the first, {}: {}",
                    bad.len(),
                    first.line,
                    first.reason
                ),
                None => "the file holds no records".into(),
            };
            return Err(TrainError::EmptyDataset {
                source_name: source,
                detail,
            });
        }
        let hash = content_hash(&examples);
        Ok(Self {
            source,
            format,
            examples,
            bad,
            hash,
        })
    }

    /// Splits the examples into training and validation sets: `fraction` of them (at least
    /// one when `fraction > 0` and there are two or more, never all) drawn with `seed`.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Vec<Example>, Vec<Example>)> {
        let held = split_indices(self.examples.len(), fraction, seed)?;
        let (mut train, mut val) = (Vec::new(), Vec::new());
        for (example, held) in self.examples.iter().zip(held) {
            if held {
                val.push(example.clone());
            } else {
                train.push(example.clone());
            }
        }
        Ok((train, val))
    }
}

/// Which of `n` items are held out: `fraction` of them (at least one when `fraction > 0` and
/// there are two or more, never all), drawn with `seed`.
pub(crate) fn split_indices(n: usize, fraction: f64, seed: u64) -> Result<Vec<bool>> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(TrainError::setting(
            "val_split",
            format!("{fraction} is not in [0, 1)"),
        ));
    }
    let wanted = (n as f64 * fraction).round() as usize;
    let count = if fraction > 0.0 && n >= 2 {
        wanted.clamp(1, n - 1)
    } else {
        0
    };
    let mut order: Vec<usize> = (0..n).collect();
    SeededRng::derive(seed, &[SPLIT_STREAM]).shuffle(&mut order);
    let mut held = vec![false; n];
    for &i in &order[..count] {
        held[i] = true;
    }
    Ok(held)
}

/// The random stream the split draws from (distinct from data order and initialisation).
const SPLIT_STREAM: u64 = 0x5_0117;

fn content_hash(examples: &[Example]) -> String {
    let canonical: Vec<&Vec<ChatMessage>> = examples.iter().map(|e| &e.messages).collect();
    sha256_hex(
        serde_json::to_string(&canonical)
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("question {i}"), format!("answer {i}")))
            .collect()
    }

    #[test]
    fn split_is_seeded_and_never_empty() {
        let data = Dataset::from_sft_pairs("test", &pairs(10)).unwrap();
        let (train, val) = data.split(0.2, 7).unwrap();
        assert_eq!((train.len(), val.len()), (8, 2));
        let (_, again) = data.split(0.2, 7).unwrap();
        assert_eq!(val, again);
        let (_, other) = data.split(0.2, 8).unwrap();
        assert_ne!(val, other);
        let (train, val) = data.split(0.01, 7).unwrap();
        assert_eq!((train.len(), val.len()), (9, 1));
        let (train, val) = data.split(0.0, 7).unwrap();
        assert_eq!((train.len(), val.len()), (10, 0));
        assert_eq!(
            data.split(1.0, 7).unwrap_err().code(),
            "train.invalid_setting"
        );
    }

    #[test]
    fn hash_follows_content_not_source() {
        let a = Dataset::from_sft_pairs("a", &pairs(3)).unwrap();
        let b = Dataset::from_sft_pairs("b", &pairs(3)).unwrap();
        let c = Dataset::from_sft_pairs("a", &pairs(4)).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn empty_records_are_named_and_an_all_bad_source_is_refused() {
        let mut records = pairs(2);
        records.push(("q".into(), "  ".into()));
        let data = Dataset::from_sft_pairs("reviews", &records).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.bad[0].line, 3);
        assert!(data.bad[0].reason.contains("target"), "{:?}", data.bad);
        let err = Dataset::from_sft_pairs("reviews", &records[2..]).unwrap_err();
        assert_eq!(err.code(), "dataset.empty");
        assert!(err.to_string().contains("empty field `target`"), "{err}");
    }
}
