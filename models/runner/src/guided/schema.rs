//! What each guided stage asks for, in words and as the JSON schema its answer is held to.
//!
//! The schemas carry the grounding: a key finding is one of the case's own clauses (an enum), a
//! diagnosis is an entry of the vocabulary (an enum of its labels), arguments are finding
//! numbers, the hypotheses tested are the differential's leading entries and the can't-miss
//! entries the presentation fits (each tested once, in order), the conclusion's diagnosis is one
//! of the differential's, and free text is held to words (it starts with a letter and has no
//! slashes, underscores or file extensions).

use serde_json::{json, Value};

use super::output::GuidedStage;
use super::pathway::Pathway;
use super::vocabulary::DiagnosisVocabulary;
use citrus_reasoning::{CaseInput, CaseQuote};

/// Words: a letter first, then letters, digits, spaces and everyday punctuation; a full stop
/// only inside a number (`2.5 mg`). No slash, backslash, underscore, or `.ext`.
const WORDS: &str = r"^[A-Za-z](?:[A-Za-z0-9 ,;:'()+%<>=-]|\.[0-9])*$";
/// At most this many key findings.
const MOST_FINDINGS: usize = 4;

fn words(min: usize, max: usize) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max, "pattern": WORDS})
}

fn list(item: Value, min: usize, max: usize) -> Value {
    json!({"type": "array", "items": item, "minItems": min, "maxItems": max})
}

fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// A finding number: 1 to the number of key findings.
fn finding_number(findings: &[CaseQuote]) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": findings.len().max(1)})
}

/// The schema of one diagnosis: the label of an entry of `vocabulary` and nothing else.
pub fn diagnosis_schema(vocabulary: &DiagnosisVocabulary) -> Value {
    json!({"enum": vocabulary.labels()})
}

/// The JSON schema a stage's answer is held to, given what the earlier stages established.
pub(super) fn stage_schema(stage: GuidedStage, input: &CaseInput, pathway: &Pathway) -> Value {
    match stage {
        GuidedStage::Findings => {
            let texts: Vec<&str> = pathway.candidates.iter().map(|q| q.text.as_str()).collect();
            let most = MOST_FINDINGS.min(texts.len()).max(1);
            object(json!({"key_findings": list(json!({"enum": texts}), most.min(2), most)}))
        }
        GuidedStage::Differential => object(json!({
            "differential": list(object(json!({
                "diagnosis": diagnosis_schema(&pathway.vocabulary),
                "likelihood": {"enum": ["high", "moderate", "low"]},
                "because": list(finding_number(&pathway.findings), 1, 2),
            })), 2, 3),
        })),
        GuidedStage::Testing => {
            // One evaluation per hypothesis, in order, so none is skipped or tested twice.
            let tests: Vec<Value> = pathway
                .hypotheses_to_test()
                .into_iter()
                .map(|hypothesis| {
                    object(json!({
                        "hypothesis": {"const": hypothesis},
                        "supporting": list(finding_number(&pathway.findings), 0, 2),
                        "against": list(finding_number(&pathway.findings), 0, 2),
                        "expected_but_absent": {"anyOf": [{"const": ""}, words(3, 50)]},
                        "discriminating_test": words(3, 50),
                    }))
                })
                .collect();
            let count = tests.len();
            object(json!({
                "evaluations": {"type": "array", "prefixItems": tests, "items": false,
                                "minItems": count, "maxItems": count},
            }))
        }
        GuidedStage::Conclusion => {
            let names: Vec<String> = pathway.differential.iter().map(|h| h.label()).collect();
            let mut properties = json!({
                "most_likely": {"enum": names},
                "next_steps": list(words(3, 60), 1, 2),
            });
            // A clinical case's answer is its most likely diagnosis; an exam item answers with
            // one of its letters, an open question in words.
            let answer = match input {
                CaseInput::Exam(item) if !item.options.is_empty() => Some(
                    json!({"enum": item.options.iter().map(|o| o.letter.clone()).collect::<Vec<_>>()}),
                ),
                CaseInput::Exam(_) => Some(words(3, 80)),
                CaseInput::Clinical(_) => None,
            };
            if let Some(answer) = answer {
                properties["answer"] = answer;
            }
            object(properties)
        }
    }
}

/// The user turn that asks for a stage; `again` when the previous answer had nothing usable.
pub(super) fn instruction(stage: GuidedStage, pathway: &Pathway, again: bool) -> String {
    let mut text = match stage {
        GuidedStage::Findings => "Step 1, key findings: choose the key findings of this case, positive findings and pertinent negatives, quoting the case. Answer in JSON.".to_string(),
        GuidedStage::Differential => format!(
            "The key findings, numbered:\n{}\n\nStep 2, differential diagnosis: name the candidate diagnoses (diseases, not findings) by their ICD-10-CM title and code, most likely first, each with its likelihood (high, moderate or low) and the numbers of the findings that raise it. Answer in JSON.",
            numbered(&pathway.findings)
        ),
        GuidedStage::Testing => format!(
            "Step 3, test the leading hypotheses and the diagnoses this presentation must not miss ({}): for each, the numbers of the findings that support it and of those against it, a finding you would expect with it that the case does not have (or \"\"), and the test that would discriminate between them. Answer in JSON.",
            pathway.hypotheses_to_test().join("; ")
        ),
        GuidedStage::Conclusion => "Step 4, conclusion: the most likely diagnosis of the differential, the final answer, and the next steps. Answer in JSON.".to_string(),
    };
    if again {
        text.push_str(" Name each diagnosis once.");
    }
    text
}

/// The findings as a numbered list for a prompt.
fn numbered(findings: &[CaseQuote]) -> String {
    findings
        .iter()
        .enumerate()
        .map(|(i, q)| format!("{}. {}", i + 1, q.text))
        .collect::<Vec<_>>()
        .join("\n")
}
