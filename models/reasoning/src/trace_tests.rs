//! End-to-end tests on realistic Citrus traces (fixture files): every trace parses identically
//! however it is chunked, and its steps, stages, differential and answer are as a clinician would
//! read them.

use super::case::parse_benchmark_line;
use super::extract::{match_answer, AnswerMatch, MatchKind};
use super::parser::{AnswerSource, ParsedOutput};
use super::steps::{split_steps, Stage};
use super::test_support::{assert_chunking_invariant, lettered};

use Stage::{Conclusion, Findings, Hypotheses, Reflection, Testing};

const SFT_TARGET: &str = include_str!("../tests/fixtures/sft_target.txt");
const CARDIOLOGY: &str = include_str!("../tests/fixtures/trace_cardiology_chest_pain.txt");
const PEDIATRICS: &str = include_str!("../tests/fixtures/trace_pediatrics_kawasaki.txt");
const NEUROLOGY: &str = include_str!("../tests/fixtures/trace_neurology_stroke_truncated.txt");
const INFECTIOUS: &str = include_str!("../tests/fixtures/trace_infectious_meningitis_untagged.txt");
const ENDOCRINE: &str = include_str!("../tests/fixtures/trace_endocrine_dka_two_answers.txt");
const OBSTETRICS: &str = include_str!("../tests/fixtures/trace_obstetrics_abruption.txt");
const ETHICS: &str = include_str!("../tests/fixtures/trace_ethics_options.txt");
const MEDQA_HEAD: &str = include_str!("../tests/fixtures/medqa_head.jsonl");

/// Parses a fixture, checking chunking invariance and the batch step splitter on the way.
fn parse_fixture(text: &str) -> ParsedOutput {
    let output = assert_chunking_invariant(text).output;
    // Steps come from the think text, or from the whole reply when it has no tags.
    let reasoned = if output.structured {
        output.think.as_str()
    } else {
        text.trim()
    };
    assert_eq!(output.steps, split_steps(reasoned));
    output
}

fn stages(output: &ParsedOutput) -> Vec<Stage> {
    output.steps.iter().map(|step| step.stage).collect()
}

fn titles(output: &ParsedOutput) -> Vec<Option<&str>> {
    output
        .steps
        .iter()
        .map(|step| step.title.as_deref())
        .collect()
}

/// The differential as (name, ruled out).
fn differential(output: &ParsedOutput) -> Vec<(&str, bool)> {
    output
        .differential
        .iter()
        .map(|entry| (entry.name.as_str(), entry.ruled_out))
        .collect()
}

#[test]
fn sft_target_trace() {
    let output = parse_fixture(SFT_TARGET);
    assert!(output.structured && output.think_closed);
    assert_eq!(output.answer.as_deref(), Some("Esophageal atresia"));
    assert!(output.think.starts_with("The infant delivered"));
    assert!(output.think.ends_with("prevent severe complications."));
    assert_eq!(
        titles(&output),
        vec![
            None,
            Some("Maternal Polyhydramnios"),
            Some("Clinical Signs in the Infant"),
            Some("Possible Tracheoesophageal Fistula"),
            Some("Fetal Bradycardia"),
            Some("Explanation of Symptoms"),
            Some("Conclusion"),
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Hypotheses, Findings, Hypotheses, Testing, Testing, Conclusion]
    );
    assert!(output.steps[2]
        .text
        .starts_with("- **Foaming at the Mouth and Drooling:**"));
    assert_eq!(
        differential(&output),
        vec![
            ("Tracheoesophageal Fistula", false),
            ("esophageal atresia", false)
        ]
    );
    assert_eq!(output.differential[1].mentions, 4);
}

#[test]
fn cardiology_chest_pain_with_markdown_headings() {
    let output = parse_fixture(CARDIOLOGY);
    assert_eq!(
        titles(&output),
        vec![
            Some("Key Findings"),
            Some("Differential Diagnosis"),
            Some("Testing the Hypotheses"),
            None,
            Some("Conclusion"),
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Hypotheses, Testing, Reflection, Conclusion]
    );
    assert_eq!(
        differential(&output),
        vec![
            ("Acute inferior ST-elevation myocardial infarction", false),
            ("Aortic dissection", true),
            ("Acute pericarditis", true),
            ("Pulmonary embolism", true),
            ("acute inferior STEMI", false),
        ]
    );
    let options = lettered(&[
        "Thrombolysis with alteplase",
        "CT angiography of the chest",
        "Primary percutaneous coronary intervention",
        "Pericardiocentesis",
    ]);
    let answer = output.answer.as_deref().unwrap_or_default();
    assert_eq!(
        match_answer(answer, &options),
        AnswerMatch::Option {
            letter: "C".to_owned(),
            how: MatchKind::LetterWithText
        }
    );
}

#[test]
fn pediatrics_kawasaki_with_missing_blank_lines() {
    let output = parse_fixture(PEDIATRICS);
    assert!(output.think_closed, "<Think> and </Think> are recognised");
    assert_eq!(output.answer.as_deref(), Some("Kawasaki disease"));
    assert_eq!(
        titles(&output),
        vec![
            Some("Key Findings"),
            Some("Differential Diagnosis"),
            Some("Scarlet Fever"),
            Some("Measles"),
            Some("Kawasaki Disease"),
            None,
            Some("Conclusion"),
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Hypotheses, Testing, Testing, Testing, Reflection, Conclusion]
    );
    assert!(output.steps[5].text.starts_with("But maybe"));
    assert_eq!(
        differential(&output),
        vec![
            ("Kawasaki disease", false),
            ("Scarlet fever", true),
            ("Measles", true),
            ("Systemic juvenile idiopathic arthritis", false),
        ]
    );
    assert_eq!(output.differential[0].mentions, 4);
}

#[test]
fn neurology_stroke_truncated_trace() {
    let output = parse_fixture(NEUROLOGY);
    assert!(output.structured);
    assert!(!output.think_closed);
    assert_eq!(output.answer, None);
    assert_eq!(output.answer_source, None);
    assert!(output.think.ends_with("amenable to thromb"));
    assert_eq!(
        titles(&output),
        vec![
            Some("Step 1: Summarize the key findings"),
            Some("Step 2: Generate hypotheses"),
            Some("Step 3: Test each hypothesis"),
            Some("Step 4: Decide on management"),
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Hypotheses, Testing, Conclusion]
    );
    assert_eq!(
        differential(&output),
        vec![
            ("Acute ischemic stroke", false),
            ("Intracerebral hemorrhage", false),
            ("Hypoglycemia", true),
            ("Todd paralysis", true),
        ]
    );
}

#[test]
fn infectious_disease_trace_without_tags() {
    let output = parse_fixture(INFECTIOUS);
    assert!(!output.structured);
    // The answer is the last answer statement, flagged as such, and the reply is still steps.
    assert_eq!(output.answer_source, Some(AnswerSource::Statement));
    assert_eq!(
        output.answer.as_deref(),
        Some("Start empirical intravenous ceftriaxone (plus vancomycin) immediately and give chemoprophylaxis to close contacts.")
    );
    assert!(output.think.is_empty());
    let stages: Vec<Stage> = output.steps.iter().map(|s| s.stage).collect();
    assert!(stages.len() >= 3, "{:#?}", output.steps);
    assert!(stages.contains(&Stage::Findings), "{stages:?}");
    assert_eq!(output.preamble, "");
}

#[test]
fn endocrine_dka_with_two_answer_blocks() {
    let output = parse_fixture(ENDOCRINE);
    assert_eq!(
        output.answers,
        vec!["Lactic acidosis", "Diabetic ketoacidosis"]
    );
    assert_eq!(output.answer.as_deref(), Some("Diabetic ketoacidosis"));
    assert_eq!(
        titles(&output),
        vec![
            Some("Summary of the case"),
            Some("Possible causes of a high anion gap metabolic acidosis"),
            Some("Evaluating the causes"),
            None,
            Some("Conclusion"),
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Hypotheses, Testing, Reflection, Conclusion]
    );
    assert!(output.steps[0].text.ends_with("- Potassium 5.6 mmol/L"));
    assert!(output.steps[3]
        .text
        .starts_with("Wait \u{2014} the potassium is high."));
    assert_eq!(
        differential(&output),
        vec![
            ("Diabetic ketoacidosis", false),
            ("Lactic acidosis", false),
            ("Toxic alcohol ingestion", true),
            ("Alcoholic ketoacidosis", true),
        ]
    );
}

#[test]
fn obstetrics_abruption_with_numbered_steps_and_preamble() {
    let output = parse_fixture(OBSTETRICS);
    assert_eq!(output.preamble, "Let me work through this case carefully.");
    assert_eq!(output.answer_source, Some(AnswerSource::Tagged));
    assert_eq!(
        titles(&output),
        vec![
            Some("Key findings"),
            Some("Differential diagnosis"),
            Some("Weighing the options"),
            Some("Reconsidering"),
            Some("Conclusion"),
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Hypotheses, Testing, Reflection, Conclusion]
    );
    assert_eq!(
        differential(&output),
        vec![
            ("Placental abruption", false),
            ("Placenta previa", true),
            ("Uterine rupture", true),
            ("Vasa previa", false),
        ]
    );
    assert_eq!(output.differential[0].mentions, 3);
}

#[test]
fn ethics_item_with_per_option_analysis() {
    let output = parse_fixture(ETHICS);
    assert!(
        output.think_closed,
        "</think > with a space closes the think section"
    );
    assert!(output.think.contains("The repair took < 10 minutes"));
    assert_eq!(
        titles(&output),
        vec![
            None,
            Some("Key ethical principles"),
            Some("Option A"),
            Some("Option B"),
            Some("Option C"),
            Some("Option D"),
            None,
            None,
        ]
    );
    assert_eq!(
        stages(&output),
        vec![Findings, Findings, Testing, Testing, Testing, Testing, Reflection, Conclusion]
    );
    assert!(output.differential.is_empty(), "{:?}", output.differential);
    let line = MEDQA_HEAD.lines().next().unwrap_or_default();
    let item = parse_benchmark_line(line, 1).expect("the first MedQA line is valid");
    let answer = output.answer.as_deref().unwrap_or_default();
    let matched = match_answer(answer, &item.options);
    assert_eq!(matched.letter(), item.answer_key.as_deref());
    assert_eq!(
        matched,
        AnswerMatch::Option {
            letter: "B".to_owned(),
            how: MatchKind::LetterWithText
        }
    );
}
