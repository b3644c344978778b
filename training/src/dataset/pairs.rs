//! Preference pairs: one prompt with a chosen and a rejected answer, read from Citrus'
//! `dpo_data.jsonl` form (`{"chosen": [messages], "rejected": [messages]}`, the prompt being
//! the turns both share) or TRL's (`{"prompt", "chosen", "rejected"}`, each a string or a
//! message list). Every bad record is named with its number and reason.

use std::path::Path;

use citrus_formats::chat_template::ChatMessage;
use citrus_formats::identity::sha256_hex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::format::{message_list, non_empty, records, text_field};
use super::{split_indices, BadRecord};
use crate::error::{Result, TrainError};

/// The two pair forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairFormat {
    /// Citrus' `{"chosen": [messages], "rejected": [messages]}`.
    Citrus,
    /// TRL's `{"prompt", "chosen", "rejected"}`.
    Trl,
    /// Pairs handed over directly (built from reviewed runs).
    Records,
}

impl std::fmt::Display for PairFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Citrus => "citrus",
            Self::Trl => "trl",
            Self::Records => "reviewed",
        })
    }
}

/// One prompt with the answer preferred and the answer not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferencePair {
    /// The record's number in its file, from 1.
    pub line: usize,
    /// The conversation before the answers (system and user turns, earlier exchanges).
    pub prompt: Vec<ChatMessage>,
    /// The preferred answer.
    pub chosen: String,
    /// The answer not preferred.
    pub rejected: String,
    /// What the pair was made from (a case, for pairs from reviews), to keep held-out pairs
    /// apart by group rather than by pair.
    #[serde(default)]
    pub group: Option<String>,
}

impl PreferencePair {
    /// The prompt followed by `answer` as the assistant's turn.
    pub fn conversation(&self, answer: &str) -> Vec<ChatMessage> {
        let mut messages = self.prompt.clone();
        messages.push(ChatMessage::assistant(answer));
        messages
    }
}

/// A preference set read and validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairSet {
    /// The file, or a description of the source.
    pub source: String,
    /// The form the records were read in.
    pub format: PairFormat,
    /// The usable pairs, in file order.
    pub pairs: Vec<PreferencePair>,
    /// The records that could not be used.
    pub bad: Vec<BadRecord>,
    /// SHA-256 of the usable pairs' content.
    pub hash: String,
}

impl PairSet {
    /// Reads `path` (JSONL, or a JSON array), detecting the form from the first record.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let bad_file = |detail: String| TrainError::BadDataset {
            path: path.to_path_buf(),
            detail,
        };
        let records = records(&text).map_err(bad_file)?;
        let format = records
            .iter()
            .filter_map(|(_, v)| v.as_ref().ok()?.as_object())
            .find_map(|object| {
                match (object.contains_key("chosen"), object.contains_key("prompt")) {
                    (true, true) => Some(PairFormat::Trl),
                    (true, false) => Some(PairFormat::Citrus),
                    _ => None,
                }
            })
            .ok_or_else(|| {
                bad_file(
                    "no record has the fields of a preference pair: chosen + rejected \
                     (Citrus dpo_data) or prompt + chosen + rejected (TRL)"
                        .into(),
                )
            })?;
        let (mut pairs, mut bad) = (Vec::new(), Vec::new());
        for (line, value) in records {
            let pair = value.and_then(|v| match v {
                Value::Object(object) => pair_of(&object, format, line),
                _ => Err("not a JSON object".into()),
            });
            match pair {
                Ok(pair) => pairs.push(pair),
                Err(reason) => bad.push(BadRecord { line, reason }),
            }
        }
        if pairs.is_empty() {
            let first = bad
                .first()
                .map(|b| format!(" (line {}: {})", b.line, b.reason))
                .unwrap_or_default();
            return Err(bad_file(format!("no usable preference pair{first}")));
        }
        Ok(Self::new(path.display().to_string(), format, pairs, bad))
    }

    /// The same set with its pairs replaced (e.g. de-identified), hashed anew.
    pub fn with_pairs(&self, pairs: Vec<PreferencePair>) -> Self {
        Self::new(self.source.clone(), self.format, pairs, self.bad.clone())
    }

    /// A set of pairs made elsewhere (from reviewed runs).
    pub fn from_pairs(source: &str, pairs: Vec<PreferencePair>) -> Self {
        Self::new(source.to_string(), PairFormat::Records, pairs, Vec::new())
    }

    fn new(
        source: String,
        format: PairFormat,
        pairs: Vec<PreferencePair>,
        bad: Vec<BadRecord>,
    ) -> Self {
        let canonical: Vec<(&Vec<ChatMessage>, &str, &str)> = pairs
            .iter()
            .map(|p| (&p.prompt, p.chosen.as_str(), p.rejected.as_str()))
            .collect();
        let hash = sha256_hex(
            serde_json::to_string(&canonical)
                .unwrap_or_default()
                .as_bytes(),
        );
        Self {
            source,
            format,
            pairs,
            bad,
            hash,
        }
    }

    /// Splits the pairs into training and held-out sets, `fraction` of the groups held out
    /// (drawn with `seed`): pairs of one group (one case) are never on both sides. A pair
    /// without a group is its own group.
    pub fn split(
        &self,
        fraction: f64,
        seed: u64,
    ) -> Result<(Vec<PreferencePair>, Vec<PreferencePair>)> {
        let mut groups: Vec<String> = Vec::new();
        let group_of = |i: usize, pair: &PreferencePair| {
            pair.group.clone().unwrap_or_else(|| format!("pair {i}"))
        };
        for (i, pair) in self.pairs.iter().enumerate() {
            let group = group_of(i, pair);
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        let held = split_indices(groups.len(), fraction, seed)?;
        let (mut train, mut validation) = (Vec::new(), Vec::new());
        for (i, pair) in self.pairs.iter().enumerate() {
            let group = group_of(i, pair);
            let index = groups.iter().position(|g| *g == group).unwrap_or(0);
            if held[index] {
                validation.push(pair.clone());
            } else {
                train.push(pair.clone());
            }
        }
        Ok((train, validation))
    }
}

/// One record as a pair.
fn pair_of(
    object: &Map<String, Value>,
    format: PairFormat,
    line: usize,
) -> std::result::Result<PreferencePair, String> {
    let (prompt, chosen, rejected) = match format {
        PairFormat::Trl => {
            let prompt = match object.get("prompt") {
                Some(Value::String(text)) => vec![ChatMessage::user(non_empty(text, "prompt")?)],
                Some(Value::Array(_)) => message_list(object, "prompt")?,
                None | Some(Value::Null) => return Err("missing field `prompt`".into()),
                Some(_) => {
                    return Err("field `prompt` is neither a string nor a message list".into())
                }
            };
            (
                prompt,
                answer(object, "chosen")?,
                answer(object, "rejected")?,
            )
        }
        PairFormat::Citrus | PairFormat::Records => {
            let chosen = message_list(object, "chosen")?;
            let rejected = message_list(object, "rejected")?;
            let (Some((last_chosen, prompt)), Some((last_rejected, other))) =
                (chosen.split_last(), rejected.split_last())
            else {
                return Err("empty conversation".into());
            };
            if last_chosen.role != "assistant" || last_rejected.role != "assistant" {
                return Err("a conversation does not end with the assistant's answer".into());
            }
            if prompt != other {
                return Err("`chosen` and `rejected` differ before their last turn: they are not answers to one prompt".into());
            }
            (
                prompt.to_vec(),
                last_chosen.content.clone(),
                last_rejected.content.clone(),
            )
        }
    };
    if !prompt.iter().any(|m| m.role == "user") {
        return Err("no user turn before the answers".into());
    }
    if chosen.trim().is_empty() || rejected.trim().is_empty() {
        return Err("an empty answer".into());
    }
    if chosen.trim() == rejected.trim() {
        return Err("the chosen and rejected answers are the same".into());
    }
    // Pairs of one prompt (or of one named group) stay on one side of the held-out split.
    let group = match object.get("group") {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => sha256_hex(
            serde_json::to_string(&prompt)
                .unwrap_or_default()
                .as_bytes(),
        ),
    };
    Ok(PreferencePair {
        line,
        prompt,
        chosen,
        rejected,
        group: Some(group),
    })
}

/// A TRL answer: a string, or a list of one assistant message.
fn answer(object: &Map<String, Value>, field: &str) -> std::result::Result<String, String> {
    match object.get(field) {
        Some(Value::String(_)) => Ok(text_field(object, field)?.to_string()),
        Some(Value::Array(_)) => {
            let messages = message_list(object, field)?;
            match messages.as_slice() {
                [only] if only.role == "assistant" => Ok(only.content.clone()),
                _ => Err(format!("field `{field}` must hold one assistant message")),
            }
        }
        None | Some(Value::Null) => Err(format!("missing field `{field}`")),
        Some(_) => Err(format!(
            "field `{field}` is neither a string nor a message list"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("citrus-pairs-{name}-{}.jsonl", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_citrus_sample_reads_with_the_shared_prompt() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/citrus/dpo_data.jsonl");
        let set = PairSet::read(&path).unwrap();
        assert_eq!(set.format, PairFormat::Citrus);
        assert!(!set.pairs.is_empty(), "{:?}", set.bad);
        assert!(set.bad.is_empty(), "{:?}", set.bad);
        let pair = &set.pairs[0];
        assert_eq!(pair.prompt.last().unwrap().role, "user");
        assert_ne!(pair.chosen, pair.rejected);
        assert_eq!(set.hash.len(), 64);
    }

    #[test]
    fn trl_records_read_and_bad_ones_are_named() {
        let text = [
            r#"{"prompt": "Q1?", "chosen": "good", "rejected": "bad"}"#,
            r#"{"prompt": [{"role": "user", "content": "Q2?"}], "chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]}"#,
            r#"{"prompt": "Q3?", "chosen": "same", "rejected": "same"}"#,
            r#"{"prompt": "Q4?", "chosen": "only"}"#,
            "not json",
            r#"{"prompt": "Q6?", "chosen": [{"role": "user", "content": "x"}], "rejected": "r"}"#,
        ]
        .join("\n");
        let set = PairSet::read(&write("trl", &text)).unwrap();
        assert_eq!(set.format, PairFormat::Trl);
        assert_eq!(set.pairs.len(), 2);
        assert_eq!(set.pairs[1].prompt[0].content, "Q2?");
        let bad: Vec<(usize, &str)> = set
            .bad
            .iter()
            .map(|b| (b.line, b.reason.as_str()))
            .collect();
        assert_eq!(bad[0], (3, "the chosen and rejected answers are the same"));
        assert_eq!(bad[1], (4, "missing field `rejected`"));
        assert_eq!(bad[2].0, 5);
        assert_eq!(
            bad[3],
            (6, "field `chosen` must hold one assistant message")
        );
    }

    #[test]
    fn citrus_records_must_share_their_prompt_and_end_with_answers() {
        let user = r#"{"role": "user", "content": "Q"}"#;
        let other = r#"{"role": "user", "content": "another Q"}"#;
        let a = |t: &str| format!(r#"{{"role": "assistant", "content": "{t}"}}"#);
        let text = [
            format!(
                r#"{{"chosen": [{user}, {}], "rejected": [{user}, {}]}}"#,
                a("good"),
                a("bad")
            ),
            format!(
                r#"{{"chosen": [{user}, {}], "rejected": [{other}, {}]}}"#,
                a("good"),
                a("bad")
            ),
            format!(r#"{{"chosen": [{user}], "rejected": [{user}]}}"#),
        ]
        .join("\n");
        let set = PairSet::read(&write("citrus", &text)).unwrap();
        assert_eq!(set.pairs.len(), 1);
        assert!(set.bad[0].reason.contains("differ before their last turn"));
        assert!(set.bad[1]
            .reason
            .contains("does not end with the assistant"));
        let none = PairSet::read(&write("none", r#"{"input": "q", "target": "a"}"#)).unwrap_err();
        assert!(none.to_string().contains("preference pair"), "{none}");
    }

    #[test]
    fn held_out_pairs_are_split_by_group() {
        let pair = |i: usize, group: &str| PreferencePair {
            line: i,
            prompt: vec![ChatMessage::user(format!("Q{i}"))],
            chosen: "c".into(),
            rejected: "r".into(),
            group: Some(group.into()),
        };
        let pairs = (0..12)
            .map(|i| pair(i, &format!("case {}", i / 3)))
            .collect();
        let set = PairSet::from_pairs("reviews", pairs);
        let (train, held) = set.split(0.25, 7).unwrap();
        assert_eq!(train.len() + held.len(), 12);
        assert_eq!(held.len(), 3, "one case of four, with its three pairs");
        for h in &held {
            assert!(train.iter().all(|t| t.group != h.group));
        }
    }
}
