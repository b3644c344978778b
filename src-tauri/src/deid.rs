//! De-identification of what leaves the case store: exports (SFT data, Markdown and JSON
//! reports), hand-off bundles and, when asked, case text sent to a remote engine. The
//! recognizers are `citrus-deid`'s; this module finds the free text in the shell's records
//! (every string but identifiers of the app's own, such as model paths and codes), treats a
//! case's records as one text so that placeholders agree, and keeps only the year of
//! timestamps.

use std::collections::{BTreeMap, HashSet};

use citrus_deid::{Category, Confidence, Hit};
use citrus_training::dataset::{Dataset, Example, TrainingData};
use citrus_types::protection::DeidHit;
use serde_json::Value;

pub use citrus_deid::NOTICE;

/// Keys whose strings are the app's own values, not free text.
const NOT_TEXT: &[&str] = &[
    "model_path",
    "model_name",
    "model_fingerprint",
    "adapter",
    "mode",
    "status",
    "engine",
    "settings_json",
    "stage",
    "code",
    "confirmed_code",
    "verdict",
    "kind",
    "category",
    "format",
    "role",
    "option",
    "sex",
    "source",
];

/// Whether a key holds a timestamp (kept to its year: Safe Harbor allows the year).
fn is_timestamp(key: &str) -> bool {
    key.ends_with("_at")
}

/// Collects the free-text strings of `value` with their JSON pointers.
fn text_leaves(value: &Value, pointer: &str, key: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) if !NOT_TEXT.contains(&key) && !is_timestamp(key) => {
            out.push((pointer.to_string(), text.clone()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                text_leaves(item, &format!("{pointer}/{i}"), key, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                text_leaves(v, &format!("{pointer}/{escaped}"), k, out);
            }
        }
        _ => {}
    }
}

/// Keeps only the year of every timestamp in `value`.
fn year_only(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(year_only),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(text) if is_timestamp(key) => {
                        *text = text.chars().take(4).collect();
                    }
                    other => year_only(other),
                }
            }
        }
        _ => {}
    }
}

/// De-identifies `values` (the records of one case) together, leaving the hits in `keep` as
/// written; returns every hit.
pub fn deidentify_values(values: &mut [Value], keep: &HashSet<String>) -> Vec<Hit> {
    let mut leaves = Vec::new();
    for (i, value) in values.iter().enumerate() {
        text_leaves(value, &format!("/{i}"), "", &mut leaves);
    }
    let texts: Vec<&str> = leaves.iter().map(|(_, t)| t.as_str()).collect();
    let found = citrus_deid::find_case(&texts);
    let mut all = Value::Array(values.to_vec());
    for ((pointer, text), hits) in leaves.iter().zip(&found) {
        if hits.is_empty() {
            continue;
        }
        if let Some(slot) = all.pointer_mut(pointer) {
            *slot = Value::String(citrus_deid::render(text, hits, keep));
        }
    }
    year_only(&mut all);
    if let Value::Array(done) = all {
        for (value, new) in values.iter_mut().zip(done) {
            *value = new;
        }
    }
    found.into_iter().flatten().collect()
}

/// A hit as the window lists it.
pub fn hit_view(hit: &Hit, case_id: Option<i64>) -> DeidHit {
    DeidHit {
        id: hit.id.clone(),
        case_id,
        category: hit.category.describe().to_string(),
        text: hit.text.clone(),
        replacement: hit.replacement.clone(),
        high: hit.confidence == Confidence::High,
        reason: hit.reason.clone(),
    }
}

/// De-identifies serialisable records grouped by case (`case_of` names each one's case):
/// returns the records and the hits.
pub fn deidentify_records<T>(
    records: Vec<T>,
    case_of: impl Fn(&T) -> i64,
    keep: &HashSet<String>,
) -> Result<(Vec<T>, Vec<DeidHit>), serde_json::Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut by_case: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, record) in records.iter().enumerate() {
        by_case.entry(case_of(record)).or_default().push(i);
    }
    let mut values: Vec<Value> = records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let mut hits = Vec::new();
    for (case_id, indices) in by_case {
        let mut group: Vec<Value> = indices.iter().map(|&i| values[i].take()).collect();
        for hit in deidentify_values(&mut group, keep) {
            hits.push(hit_view(&hit, Some(case_id)));
        }
        for (&i, value) in indices.iter().zip(group) {
            values[i] = value;
        }
    }
    let records = values
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    Ok((records, hits))
}

/// A training dataset with every example de-identified (each example as one case); returns
/// it with how many identifiers were replaced, by category.
pub fn deidentify_dataset(dataset: &Dataset) -> (Dataset, BTreeMap<Category, usize>) {
    let mut counts = BTreeMap::new();
    let examples: Vec<Example> = dataset
        .examples
        .iter()
        .map(|example| {
            let texts: Vec<&str> = example
                .messages
                .iter()
                .map(|m| m.content.as_str())
                .collect();
            let done = citrus_deid::deidentify_case(&texts);
            let mut example = example.clone();
            for (message, field) in example.messages.iter_mut().zip(done) {
                for hit in &field.hits {
                    *counts.entry(hit.category).or_default() += 1;
                }
                message.content = field.text;
            }
            example
        })
        .collect();
    (dataset.with_examples(examples), counts)
}

/// `data` de-identified (examples, or each pair's prompt and both answers as one case, so a
/// name is the same placeholder in all three), with the replacements counted by category.
pub fn deidentify_data(data: &TrainingData) -> (TrainingData, BTreeMap<Category, usize>) {
    let set = match data {
        TrainingData::Examples(dataset) => {
            let (done, counts) = deidentify_dataset(dataset);
            return (done.into(), counts);
        }
        TrainingData::Pairs(set) => set,
    };
    let mut counts = BTreeMap::new();
    let pairs = set
        .pairs
        .iter()
        .map(|pair| {
            let mut texts: Vec<&str> = pair.prompt.iter().map(|m| m.content.as_str()).collect();
            texts.push(&pair.chosen);
            texts.push(&pair.rejected);
            let mut done = citrus_deid::deidentify_case(&texts);
            for hit in done.iter().flat_map(|f| &f.hits) {
                *counts.entry(hit.category).or_default() += 1;
            }
            let mut pair = pair.clone();
            let rejected = done.pop().map(|f| f.text).unwrap_or_default();
            let chosen = done.pop().map(|f| f.text).unwrap_or_default();
            for (message, field) in pair.prompt.iter_mut().zip(done) {
                message.content = field.text;
            }
            pair.chosen = chosen;
            pair.rejected = rejected;
            pair
        })
        .collect();
    (set.with_pairs(pairs).into(), counts)
}

/// The hits of `hits` that are high-confidence and neither reviewed nor kept.
pub fn unreviewed<'a>(
    hits: &'a [DeidHit],
    reviewed: &[String],
    keep: &[String],
) -> Vec<&'a DeidHit> {
    hits.iter()
        .filter(|h| h.high && !reviewed.contains(&h.id) && !keep.contains(&h.id))
        .collect()
}
