//! Guided mode on the real default model with the real ICD-10-CM, over the example cases and 20
//! exam items: every stage's output is schema-valid JSON; every run is fully grounded in its case
//! (findings are exact spans of it, every argument cites a finding, the conclusion is one of the
//! differential's diagnoses); every diagnosis is an entry of the table with the table's own
//! title; and the can't-miss conditions a case's presentation fits are tested. A second test
//! drives the diagnosis constraint with a sampler set on writing an invented name.

mod common;

use std::collections::HashMap;
use std::time::Instant;

use citrus_engine::constraint::{ConstraintFactory, TokenConstraint};
use citrus_engine::generation::CancelToken;
use citrus_engine::model::{parse_quantization, LoadOptions, Model};
use citrus_reasoning::{
    cant_miss, fitting_cant_miss, parse_clinical_case, read_benchmark_jsonl, CaseInput,
};
use citrus_runner::guided::{diagnosis_schema, GuidedEvent, GuidedStage};
use citrus_runner::run::{reason, ReasonEvent, ReasonOptions, ReasoningMode};
use citrus_types::run::RunSettings;
use citrus_types::vocabulary::category_of;
use citrus_workstation::reasoning::{reason_options, with_vocabulary};
use citrus_workstation::vocabulary::{diagnosis_vocabulary, Vocabulary};
use common::default_model;

const MEDQA: &str = include_str!("../../../shared/data/citrus/medqa.jsonl");
const MMLU: &str = include_str!("../../../shared/data/citrus/mmlu-professional_medicine.jsonl");
/// Exam items: this many from each benchmark file.
const MEDQA_ITEMS: usize = 12;
const MMLU_ITEMS: usize = 8;
/// The can't-miss conditions a run tests besides its leading diagnoses.
const SAFETY_CHECKS: usize = 3;

/// The example cases, each with the ICD-10-CM category of its diagnosis.
fn example_cases() -> Vec<(String, CaseInput, &'static str)> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cases");
    let expected = HashMap::from([
        ("inferior-stemi", "I21"),
        ("acute-appendicitis", "K35"),
        ("bacterial-meningitis", "A39"),
        ("pulmonary-embolism", "I26"),
    ]);
    let mut cases: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let category = *expected
                .get(name.as_str())
                .unwrap_or_else(|| panic!("no expected diagnosis for the example {name}"));
            let case = parse_clinical_case(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, CaseInput::Clinical(case), category)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(cases.len(), expected.len());
    cases
}

fn exam_items() -> Vec<CaseInput> {
    read_benchmark_jsonl(MEDQA)
        .into_iter()
        .take(MEDQA_ITEMS)
        .chain(read_benchmark_jsonl(MMLU).into_iter().take(MMLU_ITEMS))
        .map(|item| CaseInput::Exam(item.expect("benchmark line")))
        .collect()
}

fn guided_options() -> ReasonOptions {
    let settings = RunSettings {
        mode: ReasoningMode::Guided,
        max_new_tokens: 1024,
        temperature: 0.0,
        seed: 0,
        engine: None,
    };
    with_vocabulary(&reason_options(&settings)).unwrap()
}

#[test]
fn guided_runs_are_coded_grounded_and_consider_what_must_not_be_missed() {
    let options = LoadOptions {
        requantize: Some(parse_quantization("q8_0").unwrap()),
        context_length: Some(2048),
        ..Default::default()
    };
    let mut model = Model::load(&default_model(), &options, &mut |_| {}).unwrap();
    let reason_options = guided_options();
    let table = Vocabulary::open_installed().unwrap();
    let examples = example_cases();
    let inputs: Vec<(String, CaseInput, Option<&str>)> = examples
        .iter()
        .map(|(name, input, category)| (name.clone(), input.clone(), Some(*category)))
        .chain(
            exam_items()
                .into_iter()
                .enumerate()
                .map(|(n, input)| (format!("exam item {n}"), input, None)),
        )
        .collect();
    let started = Instant::now();
    let (mut tokens, mut findings, mut arguments, mut coded, mut checked) = (0, 0, 0, 0, 0);
    for (name, input, category) in &inputs {
        let mut completed = Vec::new();
        let report = reason(
            &mut model,
            input,
            &reason_options,
            &CancelToken::new(),
            &mut |event| {
                if let ReasonEvent::Guided(GuidedEvent::StageCompleted { stage, .. }) = event {
                    completed.push(stage);
                }
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(completed, GuidedStage::ALL, "{name}");
        let guided = report.guided.as_ref().expect("structured result");
        let grounding = report.grounding.as_ref().expect("a grounding score");
        assert!(
            grounding.is_fully_grounded(),
            "{name} is not fully grounded: {grounding:#?}\n{guided:#?}"
        );
        assert_eq!(report.answer_in_differential, Some(true), "{name}");
        assert_eq!(report.steps[0].mentions, guided.key_findings, "{name}");
        assert_eq!(report.steps.len(), 3 + guided.evaluations.len());
        // Every diagnosis is an entry of the table, with the table's own title.
        for hypothesis in &guided.differential {
            let code = hypothesis.code.as_deref().expect("a code");
            let entry = table.lookup(code).unwrap().expect("an entry of the table");
            assert_eq!(entry.title, hypothesis.diagnosis, "{name}");
            coded += 1;
        }
        assert_eq!(report.coded.len(), guided.differential.len());
        assert!(report.coded.iter().all(|c| c.confidence == Some(1.0)));
        // The can't-miss conditions the presentation fits are in the differential: named by
        // the model, or tested and added.
        let case_text: Vec<&str> = input.quotable_fields().into_iter().map(|f| f.1).collect();
        let fitting = fitting_cant_miss(&case_text.join("\n"));
        let named = |condition: &str| {
            guided
                .differential
                .iter()
                .any(|h| h.code.as_deref().and_then(cant_miss) == Some(condition))
        };
        for condition in fitting.iter().take(SAFETY_CHECKS) {
            assert!(
                named(condition.condition),
                "{name}: {} not considered\n{guided:#?}",
                condition.condition
            );
            checked += 1;
        }
        if let CaseInput::Exam(item) = input {
            let option = report.option.expect("an option");
            assert!(item.options.iter().any(|o| o.letter == option), "{name}");
            assert!(report.correct.is_some());
        }
        if let Some(category) = category {
            let differential: Vec<String> = guided
                .differential
                .iter()
                .map(|h| {
                    let added = if h.added_by_check {
                        " (added by the can't-miss check)"
                    } else {
                        ""
                    };
                    format!(
                        "{} {}{added}",
                        h.code.as_deref().unwrap_or("?"),
                        h.diagnosis
                    )
                })
                .collect();
            let found = guided
                .differential
                .iter()
                .any(|h| h.code.as_deref().map(category_of) == Some(*category));
            println!(
                "{name}: [{}] — the right category {category} {}",
                differential.join("; "),
                if found { "is in it" } else { "is not in it" }
            );
        }
        findings += grounding.findings;
        arguments += grounding.arguments;
        tokens += report.tokens;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "guided mode over ICD-10-CM ({} entries): {} cases fully grounded ({findings} findings, all exact case spans; {arguments} arguments, all citing a finding); {coded} diagnoses, all entries of the table; {checked} can't-miss conditions considered; {tokens} tokens, {:.1} s per case",
        reason_options.vocabulary.as_ref().unwrap().len(),
        inputs.len(),
        seconds / inputs.len() as f64
    );
}

/// A sampler that wants to write `wanted` and takes, at each step, the allowed token that
/// continues it furthest (any allowed token when none does).
fn adversarial_text(constraint: &mut dyn TokenConstraint, model: &Model, wanted: &str) -> String {
    let tokenizer = model.tokenizer();
    let pieces: Vec<String> = (0..tokenizer.vocab_size() as u32)
        .map(|id| tokenizer.decode(&[id], false).unwrap_or_default())
        .collect();
    let mut written = String::new();
    for _ in 0..200 {
        let mut logits = vec![0.0f32; pieces.len()];
        constraint.mask_logits(&mut logits).unwrap();
        let allowed = |id: usize| logits[id].is_finite();
        let rest = wanted.get(written.len()..).unwrap_or("");
        let best = (0..pieces.len())
            .filter(|&id| allowed(id) && !pieces[id].is_empty())
            .max_by_key(|&id| {
                let shared = pieces[id]
                    .chars()
                    .zip(rest.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                (shared == pieces[id].chars().count(), shared)
            })
            .or_else(|| (0..pieces.len()).find(|&id| allowed(id)))
            .expect("some token is allowed");
        written.push_str(&pieces[best]);
        if constraint.accept(best as u32).unwrap() {
            break;
        }
    }
    written
}

#[test]
fn the_diagnosis_constraint_cannot_be_made_to_write_an_invented_name() {
    let options = LoadOptions {
        context_length: Some(256),
        ..Default::default()
    };
    let mut model = Model::load(&default_model(), &options, &mut |_| {}).unwrap();
    let vocabulary = diagnosis_vocabulary().unwrap();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"diagnosis": diagnosis_schema(&vocabulary)},
        "required": ["diagnosis"],
        "additionalProperties": false,
    });
    let factory: ConstraintFactory = model.constraint_factory().unwrap();
    for invented in [
        "Potassium Diophantine, Uncertain",
        "Acute appendicitis of the left kidney (K35)",
        "Myocardial infarction (I21.1)",
    ] {
        let mut constraint = factory.json_schema(&schema).unwrap();
        let wanted = format!("{{\"diagnosis\": \"{invented}");
        let text = adversarial_text(&mut constraint, &model, &wanted);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let label = value["diagnosis"].as_str().unwrap();
        assert_ne!(label, invented);
        let entry = vocabulary
            .by_label(label)
            .unwrap_or_else(|| panic!("{label:?} is not an entry"));
        println!(
            "wanted {invented:?}, the constraint let it write {:?}",
            entry.label()
        );
    }
}
