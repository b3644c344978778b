//! Guided mode on the real default model, over the example cases and 20 exam items: every
//! stage's output is schema-valid JSON, and every run is fully grounded in its case — its
//! findings are exact spans of the case, every argument cites a finding, the differential has
//! no repeats, the conclusion is one of its diagnoses, and no free text is empty or path-like.

use std::time::Instant;

use citrus_engine::generation::CancelToken;
use citrus_engine::model::{parse_quantization, LoadOptions, Model};
use citrus_engine::sampling::SamplingParams;
use citrus_host::home::default_model_path;
use citrus_reasoning::{parse_clinical_case, read_benchmark_jsonl, CaseInput};
use citrus_runner::guided::{GuidedEvent, GuidedStage};
use citrus_runner::run::{reason, ReasonEvent, ReasonOptions, ReasoningMode};

const MEDQA: &str = include_str!("../../../../shared/data/citrus/medqa.jsonl");
const MMLU: &str = include_str!("../../../../shared/data/citrus/mmlu-professional_medicine.jsonl");
/// Exam items: this many from each benchmark file.
const MEDQA_ITEMS: usize = 12;
const MMLU_ITEMS: usize = 8;

fn example_cases() -> Vec<CaseInput> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no example cases in {}",
        folder.display()
    );
    paths
        .iter()
        .map(|p| {
            CaseInput::Clinical(parse_clinical_case(&std::fs::read_to_string(p).unwrap()).unwrap())
        })
        .collect()
}

fn inputs() -> Vec<CaseInput> {
    let mut inputs: Vec<CaseInput> = read_benchmark_jsonl(MEDQA)
        .into_iter()
        .take(MEDQA_ITEMS)
        .chain(read_benchmark_jsonl(MMLU).into_iter().take(MMLU_ITEMS))
        .map(|item| CaseInput::Exam(item.expect("benchmark line")))
        .collect();
    inputs.extend(example_cases());
    inputs
}

#[test]
fn guided_runs_are_schema_valid_and_fully_grounded_in_their_case() {
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
    assert_eq!(
        inputs.len(),
        MEDQA_ITEMS + MMLU_ITEMS + example_cases().len()
    );
    let started = Instant::now();
    let mut tokens = 0;
    let (mut findings, mut arguments) = (0, 0);
    for (n, input) in inputs.iter().enumerate() {
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
        .unwrap_or_else(|e| panic!("case {n}: {e}"));
        assert_eq!(completed, GuidedStage::ALL, "case {n}");
        let guided = report.guided.as_ref().expect("structured result");
        let grounding = report.grounding.as_ref().expect("a grounding score");
        assert!(
            grounding.is_fully_grounded(),
            "case {n} is not fully grounded: {grounding:#?}\n{guided:#?}"
        );
        assert_eq!(report.answer_in_differential, Some(true), "case {n}");
        // The timeline links each findings and testing step to the quotes it uses.
        assert_eq!(report.steps[0].mentions, guided.key_findings, "case {n}");
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
        findings += grounding.findings;
        arguments += grounding.arguments;
        tokens += report.tokens;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "guided mode: {} cases fully grounded ({findings} findings, all exact case spans; {arguments} arguments, all citing a finding); {tokens} tokens, {:.1} s per case",
        inputs.len(),
        seconds / inputs.len() as f64
    );
}
