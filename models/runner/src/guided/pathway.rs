//! What the stages so far established, taken in stage by stage.

use std::sync::Arc;

use serde_json::Value;

use super::output::{Conclusion, Evaluation, GuidedReasoning, GuidedStage, Hypothesis, Likelihood};
use super::vocabulary::DiagnosisVocabulary;
use super::{clean, steps};
use crate::error::{Result, RunError};
use citrus_formats::ModelError;
use citrus_reasoning::{
    cant_miss, finding_candidates, fitting_cant_miss, CaseInput, CaseQuote, Step,
};
use citrus_types::vocabulary::CodeEntry;

/// How many of the differential's diagnoses the testing stage examines.
const LEADING_HYPOTHESES: usize = 2;
/// At most this many can't-miss entries the case's presentation fits are tested besides them.
const MOST_SAFETY_CHECKS: usize = 3;

/// What the stages so far established, which the next stage's schema and prompt build on.
#[derive(Debug, Clone)]
pub(super) struct Pathway {
    /// The entries a diagnosis may be.
    pub(super) vocabulary: Arc<DiagnosisVocabulary>,
    /// The can't-miss entries the case's presentation fits, in the can't-miss list's order.
    pub(super) safety_checks: Vec<CodeEntry>,
    /// The case's clauses a finding may quote.
    pub(super) candidates: Vec<CaseQuote>,
    /// The chosen key findings, numbered from 1 in prompts and citations.
    pub(super) findings: Vec<CaseQuote>,
    /// The cleaned differential.
    pub(super) differential: Vec<Hypothesis>,
    /// The evaluations of the leading hypotheses.
    pub(super) evaluations: Vec<Evaluation>,
    /// The conclusion.
    pub(super) conclusion: Option<Conclusion>,
}

impl Pathway {
    pub(super) fn new(input: &CaseInput, vocabulary: Arc<DiagnosisVocabulary>) -> Self {
        let case_text: Vec<&str> = input
            .quotable_fields()
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        let safety_checks = fitting_cant_miss(&case_text.join("\n"))
            .into_iter()
            .filter_map(|c| vocabulary.by_code(c.consider).cloned())
            .collect();
        Self {
            candidates: finding_candidates(input),
            vocabulary,
            safety_checks,
            findings: Vec::new(),
            differential: Vec::new(),
            evaluations: Vec::new(),
            conclusion: None,
        }
    }

    /// The labels of the hypotheses the testing stage examines: the differential's leading
    /// diagnoses, then the can't-miss entries the presentation fits whose condition none of
    /// them is.
    pub(super) fn hypotheses_to_test(&self) -> Vec<String> {
        let leading = &self.differential[..self.differential.len().min(LEADING_HYPOTHESES)];
        let checks = self
            .safety_checks
            .iter()
            .filter(|check| !leading.iter().any(|h| same_condition(h, check)))
            .take(MOST_SAFETY_CHECKS)
            .map(CodeEntry::label);
        leading
            .iter()
            .map(Hypothesis::label)
            .chain(checks)
            .collect()
    }

    /// The can't-miss entries tested whose condition the differential does not hold yet, added
    /// with the likelihood their test gave: moderate when more findings support than argue
    /// against them, else low.
    fn add_checked(&mut self) {
        for check in &self.safety_checks {
            let label = check.label();
            let Some(test) = self.evaluations.iter().find(|e| e.hypothesis == label) else {
                continue;
            };
            if self.differential.iter().any(|h| same_condition(h, check)) {
                continue;
            }
            let likelihood = if test.supporting.len() > test.against.len() {
                Likelihood::Moderate
            } else {
                Likelihood::Low
            };
            self.differential.push(Hypothesis {
                diagnosis: check.title.clone(),
                code: Some(check.code.clone()),
                likelihood,
                cant_miss: true,
                because: test.supporting.clone(),
                added_by_check: true,
            });
        }
    }

    /// Takes a stage's validated output in; false when it left nothing usable (a differential
    /// of only repeats, placeholders or case text).
    pub(super) fn absorb(&mut self, stage: GuidedStage, value: &Value) -> Result<bool> {
        let parse = |field: &str| value[field].clone();
        match stage {
            GuidedStage::Findings => {
                let texts: Vec<String> = from_value(stage, parse("key_findings"))?;
                self.findings = Vec::new();
                for text in texts {
                    let quote = self.candidates.iter().find(|c| c.text == text);
                    if let Some(quote) = quote.filter(|q| !self.findings.contains(q)) {
                        self.findings.push(quote.clone());
                    }
                }
                Ok(!self.findings.is_empty())
            }
            GuidedStage::Differential => {
                let written = from_value(stage, parse("differential"))?;
                self.differential = clean::differential(written, &self.vocabulary)
                    .map_err(|e| stage_error(stage, "", &e))?;
                Ok(!self.differential.is_empty())
            }
            GuidedStage::Testing => {
                let mut evaluations: Vec<Evaluation> = from_value(stage, parse("evaluations"))?;
                evaluations.dedup_by(|a, b| a.hypothesis == b.hypothesis);
                for evaluation in &mut evaluations {
                    clean::distinct_numbers(&mut evaluation.supporting);
                    clean::distinct_numbers(&mut evaluation.against);
                }
                self.evaluations = evaluations;
                self.add_checked();
                Ok(true)
            }
            GuidedStage::Conclusion => {
                let mut value = value.clone();
                if value.get("answer").is_none() {
                    // A clinical case: its answer is the most likely diagnosis.
                    value["answer"] = value["most_likely"].clone();
                }
                self.conclusion = Some(from_value(stage, value)?);
                Ok(true)
            }
        }
    }

    /// The timeline steps of a completed stage.
    pub(super) fn steps(&self, stage: GuidedStage) -> Vec<Step> {
        match stage {
            GuidedStage::Findings => vec![steps::findings_step(&self.findings)],
            GuidedStage::Differential => {
                vec![steps::differential_step(&self.differential, &self.findings)]
            }
            GuidedStage::Testing => self
                .evaluations
                .iter()
                .map(|e| steps::evaluation_step(e, &self.findings))
                .collect(),
            GuidedStage::Conclusion => self.conclusion.iter().map(steps::conclusion_step).collect(),
        }
    }

    pub(super) fn into_reasoning(self) -> Option<GuidedReasoning> {
        Some(GuidedReasoning {
            key_findings: self.findings,
            differential: self.differential,
            evaluations: self.evaluations,
            conclusion: self.conclusion?,
        })
    }
}

/// Whether `hypothesis` is of the can't-miss condition `check` belongs to.
fn same_condition(hypothesis: &Hypothesis, check: &CodeEntry) -> bool {
    let condition = |code: &str| cant_miss(code);
    hypothesis.code.as_deref().and_then(condition) == condition(&check.code)
}

fn from_value<T: serde::de::DeserializeOwned>(stage: GuidedStage, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| stage_error(stage, "", &e.to_string()))
}

pub(super) fn stage_error(stage: GuidedStage, text: &str, detail: &str) -> RunError {
    ModelError::invalid_setting(
        "guided",
        format!("stage {stage:?} produced invalid output ({detail}): {text:?}"),
    )
    .into()
}
