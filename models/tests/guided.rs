//! Guided mode on the real default model: every stage's output is schema-valid JSON, for
//! exam items (4 and 5 options) and clinical cases alike.

use std::time::Instant;

use citrus_models::generation::CancelToken;
use citrus_models::guided::{stage_schema, GuidedStage};
use citrus_models::home::default_model_path;
use citrus_models::json_schema::validate;
use citrus_models::model::{parse_quantization, LoadOptions, Model};
use citrus_models::reason::{reason, ReasonEvent, ReasonOptions, ReasoningMode};
use citrus_models::reasoning::{
    parse_clinical_case, read_benchmark_jsonl, CaseInput, ClinicalCase,
};
use citrus_models::sampling::SamplingParams;

const MEDQA: &str = include_str!("../../../shared/data/citrus/medqa.jsonl");
const MMLU: &str = include_str!("../../../shared/data/citrus/mmlu-professional_medicine.jsonl");
const STEMI: &str = include_str!("../../examples/cases/inferior-stemi.json");

/// Short clinical cases across specialties: (complaint, history, findings).
const CASES: [(&str, &str, &str); 6] = [
    (
        "Fever and neck stiffness",
        "19-year-old student, headache and vomiting for 12 hours",
        "Kernig sign positive, petechial rash on legs",
    ),
    (
        "Sudden weakness of the right arm",
        "72-year-old with atrial fibrillation, onset 50 minutes ago",
        "Right hemiparesis, expressive aphasia, glucose 6.1 mmol/L",
    ),
    (
        "Polyuria and abdominal pain",
        "16-year-old with type 1 diabetes who missed insulin",
        "Kussmaul breathing, glucose 32 mmol/L, ketones 5.8, pH 7.12",
    ),
    (
        "Painless vaginal bleeding at 34 weeks",
        "Third pregnancy, no trauma",
        "Soft non-tender uterus, fetal heart rate 140/min",
    ),
    (
        "Fever and rash for 6 days",
        "3-year-old boy",
        "Bilateral conjunctival injection, strawberry tongue, cervical lymph node 2 cm",
    ),
    (
        "Shortness of breath after a long flight",
        "45-year-old woman on oral contraceptives",
        "HR 118/min, SpO2 89%, swollen left calf",
    ),
];

fn inputs() -> Vec<CaseInput> {
    let mut inputs: Vec<CaseInput> = read_benchmark_jsonl(MEDQA)
        .into_iter()
        .take(8)
        .chain(read_benchmark_jsonl(MMLU).into_iter().take(5))
        .map(|item| CaseInput::Exam(item.expect("benchmark line")))
        .collect();
    inputs.push(CaseInput::Clinical(parse_clinical_case(STEMI).unwrap()));
    for (complaint, history, findings) in CASES {
        let mut case = ClinicalCase::new(complaint);
        case.history_of_present_illness = Some(history.into());
        case.examination = Some(findings.into());
        inputs.push(CaseInput::Clinical(case));
    }
    inputs
}

#[test]
fn guided_mode_returns_schema_valid_output_for_every_stage() {
    let path = default_model_path();
    assert!(
        path.exists(),
        "default model missing at {}: run scripts/setup",
        path.display()
    );
    let options = LoadOptions {
        requantize: Some(parse_quantization("q8_0").unwrap()),
        context_length: Some(2048),
        ..Default::default()
    };
    let mut model = Model::load(&path, &options, &mut |_| {}).unwrap();
    let reason_options = ReasonOptions {
        mode: ReasoningMode::Guided,
        max_new_tokens: 1024,
        sampling: SamplingParams {
            repetition_penalty: 1.1,
            ..SamplingParams::greedy()
        },
    };
    let inputs = inputs();
    assert!(inputs.len() >= 20);
    let started = Instant::now();
    let mut tokens = 0;
    for (n, input) in inputs.iter().enumerate() {
        let mut completed = Vec::new();
        let mut leading = Vec::new();
        let report = reason(
            &mut model,
            input,
            &reason_options,
            &CancelToken::new(),
            &mut |event| {
                if let ReasonEvent::Guided(citrus_models::guided::GuidedEvent::StageCompleted {
                    stage,
                    value,
                }) = event
                {
                    completed.push((stage, value));
                }
            },
        )
        .unwrap_or_else(|e| panic!("case {n}: {e}"));
        assert_eq!(
            completed.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            GuidedStage::ALL,
            "case {n}"
        );
        for (stage, value) in &completed {
            if *stage == GuidedStage::Differential {
                leading = value["differential"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .take(2)
                    .map(|h| h["diagnosis"].as_str().unwrap().to_string())
                    .collect();
                leading.dedup();
            }
            let schema = stage_schema(*stage, input, &leading);
            validate(value, &schema).unwrap_or_else(|e| panic!("case {n}, stage {stage:?}: {e}"));
        }
        let guided = report.guided.expect("structured result");
        assert_eq!(report.steps.len(), 3 + guided.evaluations.len());
        if let CaseInput::Exam(item) = input {
            // The answer is constrained to the item's option letters.
            let option = report.option.expect("an option");
            assert!(
                item.options.iter().any(|o| o.letter == option),
                "case {n}: {option}"
            );
            assert!(report.correct.is_some());
        }
        tokens += report.tokens;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "guided mode: {} cases, all 4 stages schema-valid; {tokens} tokens, {:.1} s per case",
        inputs.len(),
        seconds / inputs.len() as f64
    );
}
