//! Guided stages as timeline steps, each linked to the key findings it quotes or cites.

use super::output::{Conclusion, Evaluation, GuidedReasoning, Hypothesis};
use citrus_reasoning::{CaseQuote, Stage, Step};

fn bullets(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The findings with these numbers (from 1), each once, in number order.
fn cited(findings: &[CaseQuote], numbers: &[&[usize]]) -> Vec<CaseQuote> {
    let mut all: Vec<usize> = numbers.iter().flat_map(|n| n.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all.iter()
        .filter_map(|n| findings.get(n.checked_sub(1)?).cloned())
        .collect()
}

/// Finding numbers with their quotes: `[1] "…"; [3] "…"`, or `none`.
fn citations(findings: &[CaseQuote], numbers: &[usize]) -> String {
    if numbers.is_empty() {
        return "none".into();
    }
    numbers
        .iter()
        .map(|n| match n.checked_sub(1).and_then(|i| findings.get(i)) {
            Some(quote) => format!("[{n}] \"{}\"", quote.text),
            None => format!("[{n}] (no such finding)"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn findings_step(findings: &[CaseQuote]) -> Step {
    let text = findings
        .iter()
        .enumerate()
        .map(|(i, q)| format!("{}. {}", i + 1, q.cited()))
        .collect::<Vec<_>>()
        .join("\n");
    Step {
        mentions: findings.to_vec(),
        ..Step::new(Stage::Findings, Some("Key findings".into()), text)
    }
}

pub(super) fn differential_step(differential: &[Hypothesis], findings: &[CaseQuote]) -> Step {
    let ranked = differential
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let flag = if h.cant_miss { ", can't miss" } else { "" };
            format!(
                "{}. {} ({} likelihood{flag}) because {}",
                i + 1,
                h.diagnosis,
                h.likelihood,
                citations(findings, &h.because)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let because: Vec<&[usize]> = differential.iter().map(|h| h.because.as_slice()).collect();
    Step {
        mentions: cited(findings, &because),
        ..Step::new(
            Stage::Hypotheses,
            Some("Differential diagnosis".into()),
            ranked,
        )
    }
}

pub(super) fn evaluation_step(evaluation: &Evaluation, findings: &[CaseQuote]) -> Step {
    let mut text = format!(
        "For: {}\nAgainst: {}",
        citations(findings, &evaluation.supporting),
        citations(findings, &evaluation.against)
    );
    if !evaluation.expected_but_absent.is_empty() {
        text.push_str(&format!(
            "\nExpected but absent: {}",
            evaluation.expected_but_absent
        ));
    }
    text.push_str(&format!(
        "\nDiscriminating test: {}",
        evaluation.discriminating_test
    ));
    Step {
        mentions: cited(findings, &[&evaluation.supporting, &evaluation.against]),
        ..Step::new(Stage::Testing, Some(evaluation.hypothesis.clone()), text)
    }
}

pub(super) fn conclusion_step(conclusion: &Conclusion) -> Step {
    Step::new(
        Stage::Conclusion,
        Some("Conclusion".into()),
        format!(
            "Most likely: {}\nAnswer: {}\nNext steps:\n{}",
            conclusion.most_likely,
            conclusion.answer,
            bullets(&conclusion.next_steps)
        ),
    )
}

impl GuidedReasoning {
    /// The reasoning as labelled steps linked to the case, for the same timeline as free
    /// reasoning.
    pub fn steps(&self) -> Vec<Step> {
        let mut all = vec![
            findings_step(&self.key_findings),
            differential_step(&self.differential, &self.key_findings),
        ];
        all.extend(
            self.evaluations
                .iter()
                .map(|e| evaluation_step(e, &self.key_findings)),
        );
        all.push(conclusion_step(&self.conclusion));
        all
    }
}
