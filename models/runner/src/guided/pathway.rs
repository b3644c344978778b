//! What the stages so far established, taken in stage by stage.

use serde_json::Value;

use super::output::{Conclusion, Evaluation, GuidedReasoning, GuidedStage, Hypothesis};
use super::{clean, steps};
use crate::error::{Result, RunError};
use citrus_formats::ModelError;
use citrus_reasoning::{finding_candidates, CaseInput, CaseQuote, Step};

/// How many hypotheses the testing stage examines.
const LEADING_HYPOTHESES: usize = 2;

/// What the stages so far established, which the next stage's schema and prompt build on.
#[derive(Debug, Clone, Default)]
pub(super) struct Pathway {
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
    /// What a diagnosis may not be.
    pub(super) not_diagnoses: clean::NotDiagnoses,
}

impl Pathway {
    pub(super) fn new(input: &CaseInput) -> Self {
        let candidates = finding_candidates(input);
        let not_diagnoses = clean::NotDiagnoses::of(input, &candidates);
        Self {
            candidates,
            not_diagnoses,
            ..Self::default()
        }
    }

    /// The diagnoses the testing stage examines.
    pub(super) fn leading(&self) -> Vec<String> {
        self.differential
            .iter()
            .take(LEADING_HYPOTHESES)
            .map(|h| h.diagnosis.clone())
            .collect()
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
                let raw: Vec<Hypothesis> = from_value(stage, parse("differential"))?;
                self.differential = clean::differential(raw, &self.not_diagnoses, &self.findings);
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
