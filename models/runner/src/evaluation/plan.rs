//! Which items an evaluation runs, in which order, with which option order: all items, the
//! first N, or a seeded random sample; options optionally shuffled (seeded per item) to expose
//! position bias, the key following its option.

pub use citrus_types::evaluation::Selection;

use citrus_engine::seeded::SeededRng;
use citrus_reasoning::{ExamItem, ExamOption};

/// The stream of draws that picks a sample (distinct from every other use of the seed).
const SAMPLE_STREAM: u64 = 0x5a4d_504c;
/// The stream of draws that shuffles options.
const SHUFFLE_STREAM: u64 = 0x5348_5546;

/// One item to run: its index among the usable items and the item as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedItem {
    /// The index of the item among the file's usable items.
    pub source: usize,
    /// The item, options shuffled when asked.
    pub item: ExamItem,
}

/// The items `selection` picks out of `items`, in order.
pub fn plan(items: &[ExamItem], selection: &Selection) -> Vec<PlannedItem> {
    let mut indices: Vec<usize> = (0..items.len()).collect();
    if let Some(sample) = selection.sample.filter(|s| *s < items.len()) {
        SeededRng::derive(selection.seed, &[SAMPLE_STREAM]).shuffle(&mut indices);
        indices.truncate(sample);
        indices.sort_unstable();
    }
    if let Some(limit) = selection.limit {
        indices.truncate(limit);
    }
    indices
        .into_iter()
        .map(|source| PlannedItem {
            source,
            item: if selection.shuffle_options {
                shuffle_options(&items[source], selection.seed, source as u64)
            } else {
                items[source].clone()
            },
        })
        .collect()
}

/// The item with its option texts in a seeded random order, relettered in their original
/// letters' order (the key follows its text).
pub fn shuffle_options(item: &ExamItem, seed: u64, position: u64) -> ExamItem {
    let mut order: Vec<usize> = (0..item.options.len()).collect();
    SeededRng::derive(seed, &[SHUFFLE_STREAM, position]).shuffle(&mut order);
    let key_text = item.correct_option().map(|o| o.text.clone());
    let options: Vec<ExamOption> = item
        .options
        .iter()
        .zip(&order)
        .map(|(slot, &from)| ExamOption {
            letter: slot.letter.clone(),
            text: item.options[from].text.clone(),
        })
        .collect();
    let answer_key = key_text.and_then(|text| {
        options
            .iter()
            .find(|o| o.text == text)
            .map(|o| o.letter.clone())
    });
    ExamItem {
        options,
        answer_key: answer_key.or_else(|| item.answer_key.clone()),
        ..item.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize, key: usize) -> ExamItem {
        let letters = ["A", "B", "C", "D", "E"];
        ExamItem {
            id: Some(n.to_string()),
            exam_name: None,
            question: format!("q{n}"),
            context: None,
            options: (0..4)
                .map(|i| ExamOption {
                    letter: letters[i].into(),
                    text: format!("option {i} of {n}"),
                })
                .collect(),
            answer_key: Some(letters[key].into()),
        }
    }

    #[test]
    fn samples_are_seeded_in_file_order_and_limits_apply_after() {
        let items: Vec<ExamItem> = (0..50).map(|n| item(n, n % 4)).collect();
        let selection = Selection {
            sample: Some(10),
            seed: 7,
            ..Selection::default()
        };
        let a: Vec<usize> = plan(&items, &selection).iter().map(|p| p.source).collect();
        let b: Vec<usize> = plan(&items, &selection).iter().map(|p| p.source).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let other = Selection {
            seed: 8,
            ..selection.clone()
        };
        assert_ne!(
            plan(&items, &other)
                .iter()
                .map(|p| p.source)
                .collect::<Vec<_>>(),
            a
        );
        let limited = Selection {
            limit: Some(3),
            ..selection
        };
        assert_eq!(plan(&items, &limited).len(), 3);
        assert_eq!(
            plan(
                &items,
                &Selection {
                    limit: Some(5),
                    ..Selection::default()
                }
            )
            .len(),
            5
        );
    }

    #[test]
    fn shuffled_keys_follow_their_text() {
        let mut moved = 0;
        for n in 0..40 {
            let original = item(n, n % 4);
            let shuffled = shuffle_options(&original, 3, n as u64);
            assert_eq!(
                shuffled.correct_option().unwrap().text,
                original.correct_option().unwrap().text
            );
            let letters: Vec<&str> = shuffled.options.iter().map(|o| o.letter.as_str()).collect();
            assert_eq!(letters, ["A", "B", "C", "D"]);
            if shuffled.answer_key != original.answer_key {
                moved += 1;
            }
        }
        assert!(moved > 10, "only {moved} keys moved");
    }
}
