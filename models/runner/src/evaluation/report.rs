//! An evaluation's report: accuracy with its Wilson interval, the unmatched rate, the chance
//! and majority-key baselines and the mean cost per item, overall and per `exam_name`; and
//! its exports (Markdown, CSV, JSON).

use std::collections::BTreeMap;

pub use citrus_types::evaluation::{EvalSummary, GroupSummary, ItemRecord};

use super::item::Outcome;
use super::stats::{chance_baseline, majority_key_baseline, wilson, PairedComparison};

fn group(name: &str, records: &[&ItemRecord]) -> GroupSummary {
    let n = records.len();
    let count = |outcome| records.iter().filter(|r| r.outcome == outcome).count();
    let options: Vec<usize> = records.iter().map(|r| r.options).collect();
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let (majority_key, majority_letter) = majority_key_baseline(&keys);
    let mean = |f: &dyn Fn(&ItemRecord) -> f64| {
        if n == 0 {
            0.0
        } else {
            records.iter().map(|r| f(r)).sum::<f64>() / n as f64
        }
    };
    GroupSummary {
        name: name.to_string(),
        n,
        accuracy: wilson(count(Outcome::Correct), n),
        unmatched: wilson(count(Outcome::Unmatched), n),
        chance: chance_baseline(&options),
        majority_key,
        majority_letter,
        mean_tokens: mean(&|r| r.tokens as f64),
        mean_seconds: mean(&|r| r.seconds),
    }
}

/// Summarizes the items of a run.
pub fn summarize(records: &[ItemRecord]) -> EvalSummary {
    let all: Vec<&ItemRecord> = records.iter().collect();
    let mut by_exam: BTreeMap<String, Vec<&ItemRecord>> = BTreeMap::new();
    for record in records {
        let name = record.exam_name.clone().unwrap_or_else(|| "unnamed".into());
        by_exam.entry(name).or_default().push(record);
    }
    let exams = if by_exam.len() > 1 {
        by_exam
            .iter()
            .map(|(name, items)| group(name, items))
            .collect()
    } else {
        Vec::new()
    };
    EvalSummary {
        overall: group("all", &all),
        exams,
    }
}

fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// One line: accuracy, interval, n, unmatched rate and the two baselines.
pub fn headline(summary: &GroupSummary) -> String {
    format!(
        "accuracy {} (95% CI {}–{}), n = {}, unmatched {}, chance {}, majority key {}{}",
        percent(summary.accuracy.value),
        percent(summary.accuracy.low),
        percent(summary.accuracy.high),
        summary.n,
        percent(summary.unmatched.value),
        percent(summary.chance),
        percent(summary.majority_key),
        summary
            .majority_letter
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default()
    )
}

/// The report as a Markdown table.
pub fn to_markdown(title: &str, summary: &EvalSummary) -> String {
    let mut text = format!(
        "# {title}\n\n| exam | n | accuracy | 95% CI | unmatched | chance | majority key | tokens/item | s/item |\n|---|---:|---:|---|---:|---:|---:|---:|---:|\n"
    );
    for g in std::iter::once(&summary.overall).chain(&summary.exams) {
        text.push_str(&format!(
            "| {} | {} | {} | {}–{} | {} | {} | {}{} | {:.1} | {:.2} |\n",
            g.name,
            g.n,
            percent(g.accuracy.value),
            percent(g.accuracy.low),
            percent(g.accuracy.high),
            percent(g.unmatched.value),
            percent(g.chance),
            percent(g.majority_key),
            g.majority_letter
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default(),
            g.mean_tokens,
            g.mean_seconds
        ));
    }
    text
}

/// The items as CSV (one row per item).
pub fn to_csv(records: &[ItemRecord]) -> String {
    let mut text =
        String::from("position,item_id,exam_name,options,key,predicted,outcome,tokens,seconds\n");
    for r in records {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.3}\n",
            r.position,
            csv_field(r.item_id.as_deref().unwrap_or("")),
            csv_field(r.exam_name.as_deref().unwrap_or("")),
            r.options,
            csv_field(&r.key),
            csv_field(r.predicted.as_deref().unwrap_or("")),
            r.outcome.as_str(),
            r.tokens,
            r.seconds
        ));
    }
    text
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A paired comparison in one line.
pub fn comparison_line(comparison: &PairedComparison) -> String {
    format!(
        "difference {:+.1} points (95% CI {:+.1} to {:+.1}), only first right {}, only second right {}, exact McNemar p = {:.4}",
        comparison.difference * 100.0,
        comparison.low * 100.0,
        comparison.high * 100.0,
        comparison.only_first,
        comparison.only_second,
        comparison.p_value
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        position: usize,
        exam: &str,
        key: &str,
        outcome: Outcome,
        options: usize,
    ) -> ItemRecord {
        ItemRecord {
            position,
            item_id: Some(position.to_string()),
            exam_name: Some(exam.into()),
            options,
            key: key.into(),
            predicted: None,
            outcome,
            tokens: 10 * position,
            seconds: 1.0,
        }
    }

    #[test]
    fn groups_count_outcomes_and_baselines() {
        let records = vec![
            record(1, "medqa", "A", Outcome::Correct, 4),
            record(2, "medqa", "A", Outcome::Wrong, 4),
            record(3, "medqa", "B", Outcome::Unmatched, 4),
            record(4, "pubmedqa", "A", Outcome::Correct, 3),
        ];
        let summary = summarize(&records);
        let all = &summary.overall;
        assert_eq!(
            (all.n, all.accuracy.successes, all.unmatched.successes),
            (4, 2, 1)
        );
        assert!((all.chance - (0.25 * 3.0 + 1.0 / 3.0) / 4.0).abs() < 1e-12);
        assert_eq!(
            (all.majority_key, all.majority_letter.as_deref()),
            (0.75, Some("A"))
        );
        assert_eq!(all.mean_tokens, 25.0);
        assert_eq!(summary.exams.len(), 2);
        assert_eq!(summary.exams[0].name, "medqa");
        assert_eq!(summary.exams[0].n, 3);
        let line = headline(all);
        assert!(line.starts_with("accuracy 50.0% (95% CI"), "{line}");
        assert!(
            line.contains("n = 4") && line.contains("majority key 75.0% (A)"),
            "{line}"
        );
        let csv = to_csv(&records);
        assert_eq!(csv.lines().count(), 5);
        assert!(to_markdown("run 1", &summary).contains("| pubmedqa | 1 |"));
    }
}
