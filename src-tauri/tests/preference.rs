//! Preference training on the real default model, from its own sampled answers to MedQA items
//! with a key (a correct answer chosen over a wrong one, pairs grouped by item so held-out
//! pairs are of unseen questions): a short CPO-SimPO run raises held-out reward accuracy and
//! the chosen answers' likelihood over the rejected; DPO started from that adapter starts at
//! its reference (loss ln 2, not 0); a killed DPO run resumes on the same losses.

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use citrus_engine::generation::CancelToken;
use citrus_engine::model::{ChatSettings, Model};
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_training::config::{Duration, TrainConfig};
use citrus_training::dataset::pairs::PairSet;
use citrus_training::dataset::TrainingData;
use citrus_training::preference::{PreferenceMethod, PreferenceSettings};
use citrus_training::trainer::{train, TrainEvent, TrainOutcome, TrainRequest};
use citrus_training::TrainError;
use citrus_types::case::{ExamItem, ExamOption};
use common::TempDir;
use serde_json::json;

/// Short exam facts: a question, its key, and three distractors. Each becomes several items
/// (the options in other orders, so other letters), grouped by item: a held-out item is a
/// question the run did not train on, though its fact may appear in a training item.
const FACTS: &[(&str, &str, [&str; 3])] = &[
    (
        "Which vitamin deficiency causes scurvy?",
        "Vitamin C",
        ["Vitamin D", "Vitamin B12", "Vitamin K"],
    ),
    (
        "Which organ produces insulin?",
        "Pancreas",
        ["Liver", "Spleen", "Kidney"],
    ),
    (
        "Which drug reverses an opioid overdose?",
        "Naloxone",
        ["Flumazenil", "Atropine", "Glucagon"],
    ),
    (
        "Which bone is in the thigh?",
        "Femur",
        ["Humerus", "Radius", "Clavicle"],
    ),
    (
        "Which organ filters blood to make urine?",
        "Kidney",
        ["Lung", "Stomach", "Heart"],
    ),
    (
        "Which hormone lowers blood glucose?",
        "Insulin",
        ["Glucagon", "Cortisol", "Adrenaline"],
    ),
];
/// Option orders per fact (the key lands on each letter, and the distractors move).
const ORDERS: [[usize; 4]; 6] = [
    [0, 1, 2, 3],
    [1, 0, 3, 2],
    [2, 3, 0, 1],
    [3, 2, 1, 0],
    [0, 3, 1, 2],
    [2, 1, 3, 0],
];
/// Answers sampled per item.
const SAMPLES: usize = 6;

/// The dense default model, loaded once for this binary.
fn model() -> MutexGuard<'static, Model> {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Mutex::new(
                Model::load(
                    &common::default_model(),
                    &citrus_training::load_options(false),
                    &mut |_| {},
                )
                .expect("load the default model"),
            )
        })
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Every fact in every order, as exam items with their key.
fn items() -> Vec<(String, ExamItem)> {
    let mut items = Vec::new();
    for (fact, (question, key, distractors)) in FACTS.iter().enumerate() {
        let texts: Vec<&str> = std::iter::once(*key).chain(*distractors).collect();
        for (order_index, order) in ORDERS.iter().enumerate() {
            let options: Vec<ExamOption> = order
                .iter()
                .zip(["A", "B", "C", "D"])
                .map(|(&i, letter)| ExamOption {
                    letter: letter.into(),
                    text: texts[i].into(),
                })
                .collect();
            let answer_key = options
                .iter()
                .find(|o| o.text == *key)
                .map(|o| o.letter.clone());
            let item = ExamItem {
                id: Some(format!("fact {fact} order {order_index}")),
                exam_name: None,
                question: (*question).into(),
                context: None,
                options,
                answer_key,
            };
            let lines: Vec<String> = item
                .options
                .iter()
                .map(|o| format!("{}. {}", o.letter, o.text))
                .collect();
            let prompt = format!(
                "{question}\n{}\nAnswer with the text of the correct option.",
                lines.join("\n")
            );
            items.push((prompt, item));
        }
    }
    items
}

/// The model's own sampled answers, as a TRL preference file: per item, a correct answer
/// against each of up to two wrong ones, grouped by item. The model answers with one
/// option's text (held to the options by a constraint, so every answer is gradable and its
/// choice is the model's own, drawn from its probabilities).
fn sampled_pairs(dir: &TempDir) -> PairSet {
    // Sampled from the model as stored (quantized kernels: fast); trained dense.
    let mut model = Model::load(
        &common::default_model(),
        &citrus_engine::model::LoadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let factory = model.constraint_factory().unwrap();
    let mut lines = String::new();
    let (mut correct_total, mut answers) = (0, 0);
    for (question, item) in items() {
        let key = item
            .option(item.answer_key.as_deref().unwrap())
            .unwrap()
            .text
            .clone();
        let texts: Vec<&str> = item.options.iter().map(|o| o.text.as_str()).collect();
        let schema = json!({"type": "string", "enum": texts});
        let (mut correct, mut wrong) = (None, Vec::new());
        for sample in 0..SAMPLES {
            let settings = ChatSettings {
                max_new_tokens: 16,
                sampling: SamplingParams {
                    temperature: 1.0,
                    seed: 1000 + sample as u64,
                    ..SamplingParams::default()
                },
                reuse_prefix: true,
                ..ChatSettings::default()
            };
            let mut constraint = factory.json_schema(&schema).unwrap();
            let reply = model
                .chat_constrained(
                    &[ChatMessage::user(&question)],
                    &settings,
                    Some(&mut constraint),
                    &CancelToken::new(),
                    &mut |_| {},
                )
                .unwrap()
                .text;
            let answer: String = serde_json::from_str(&reply).unwrap();
            answers += 1;
            if answer == key {
                correct_total += 1;
                correct = Some(answer);
            } else if !wrong.contains(&answer) {
                wrong.push(answer);
            }
        }
        let Some(chosen) = correct else { continue };
        for rejected in wrong.iter().take(2) {
            let line = json!({"prompt": question, "chosen": chosen, "rejected": rejected,
                              "group": item.id});
            lines.push_str(&format!("{line}\n"));
        }
    }
    println!("{correct_total} of {answers} sampled answers correct");
    let path = dir.0.join("pairs.jsonl");
    std::fs::write(&path, lines).unwrap();
    PairSet::read(&path).unwrap()
}

fn config(method: PreferenceMethod, steps: usize, learning_rate: f64) -> TrainConfig {
    TrainConfig {
        learning_rate,
        warmup_ratio: 0.0,
        duration: Duration::Steps(steps),
        batch_size: 2,
        grad_accum: 1,
        max_len: 256,
        val_split: 0.3,
        seed: 5,
        preference: Some(PreferenceSettings::of(method)),
        ..TrainConfig::default()
    }
}

#[allow(clippy::type_complexity)]
fn run(
    data: &TrainingData,
    config: TrainConfig,
    dir: &std::path::Path,
    resume: bool,
    cancel_after: Option<usize>,
) -> (Result<TrainOutcome, TrainError>, Vec<TrainEvent>) {
    let mut request = TrainRequest::new(config, dir.to_path_buf());
    request.calibration_steps = 0;
    request.eval_every = 100;
    request.resume = resume;
    let cancel = CancelToken::new();
    let mut events = Vec::new();
    let outcome = train(&mut model(), data, &request, &cancel, &mut |e| {
        if let (TrainEvent::Step(m), Some(after)) = (e, cancel_after) {
            if m.step == after {
                cancel.cancel();
            }
        }
        events.push(e.clone());
    });
    (outcome, events)
}

fn step_losses(events: &[TrainEvent]) -> Vec<(usize, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(m) => Some((m.step, m.loss)),
            _ => None,
        })
        .collect()
}

/// The pairs, and a short CPO-SimPO run on them, shared by the tests.
struct SimpoRun {
    dir: TempDir,
    data: TrainingData,
    outcome: TrainOutcome,
    events: Vec<TrainEvent>,
}

fn simpo_run() -> &'static SimpoRun {
    static RUN: OnceLock<SimpoRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = TempDir::new("preference");
        let start = std::time::Instant::now();
        let set = sampled_pairs(&dir);
        println!(
            "{} pairs from sampled answers in {:.1} s",
            set.pairs.len(),
            start.elapsed().as_secs_f64()
        );
        let data = TrainingData::Pairs(set);
        // Reference-free: the held-out rewards at step 0 are a real baseline.
        let start = std::time::Instant::now();
        let (outcome, events) = run(
            &data,
            config(PreferenceMethod::CpoSimpo, 8, 2e-3),
            &dir.0.join("cpo-simpo"),
            false,
            None,
        );
        println!("trained in {:.1} s", start.elapsed().as_secs_f64());
        SimpoRun {
            dir,
            data,
            outcome: outcome.unwrap(),
            events,
        }
    })
}

#[test]
fn cpo_simpo_raises_held_out_reward_accuracy_on_the_models_own_answers() {
    let SimpoRun {
        outcome, events, ..
    } = simpo_run();
    for event in events {
        if let TrainEvent::Validation {
            step,
            loss,
            preference: Some(p),
        } = event
        {
            println!(
                "step {step}: held-out loss {loss:.4}, reward accuracy {:.3}, margin {:.3}, log p chosen {:.3} rejected {:.3}",
                p.reward_accuracy, p.margin, p.chosen_logp, p.rejected_logp
            );
        }
    }
    let (before, after) = (
        outcome.initial_preference.unwrap(),
        outcome.final_preference.unwrap(),
    );
    assert!(
        after.reward_accuracy > before.reward_accuracy,
        "held-out reward accuracy {} → {}",
        before.reward_accuracy,
        after.reward_accuracy
    );
    let gap = |p: &citrus_types::training::PreferenceStats| p.chosen_logp - p.rejected_logp;
    assert!(
        gap(&after) > gap(&before),
        "chosen over rejected log p per token {:.4} → {:.4}",
        gap(&before),
        gap(&after)
    );
    let steps = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(m) => m.preference,
            _ => None,
        })
        .count();
    assert_eq!(steps, 8, "every step reports its rewards");
}

#[test]
fn dpo_from_an_adapter_starts_at_its_reference_and_resumes_on_the_same_losses() {
    let simpo = simpo_run();
    let dpo = |steps| TrainConfig {
        start_adapter: Some(simpo.dir.0.join("cpo-simpo")),
        ..config(PreferenceMethod::Dpo, steps, 1e-3)
    };
    let whole = simpo.dir.0.join("dpo-whole");
    let (outcome, events) = run(&simpo.data, dpo(3), &whole, false, None);
    let outcome = outcome.unwrap();
    // The reference is the starting adapter: margin 0, loss ln 2 — never 0 with accuracy 1.
    let start = outcome.initial_preference.unwrap();
    let initial_loss = outcome.initial_validation_loss.unwrap();
    println!("DPO step 0: held-out loss {initial_loss:.6}, {start:?}");
    assert!(
        (initial_loss - std::f64::consts::LN_2).abs() < 1e-9,
        "{initial_loss}"
    );
    assert_eq!((start.margin, start.reward_accuracy), (0.0, 0.0));
    assert!(whole.join("reference_logps.json").exists());
    let first = step_losses(&events);
    assert!(
        (first[0].1 - std::f64::consts::LN_2).abs() < 1e-6,
        "{first:?}"
    );

    // Killed after step 1, resumed (the reference read back, not recomputed from the
    // restored adapter): the same losses.
    let killed = simpo.dir.0.join("dpo-killed");
    let (stopped, _) = run(&simpo.data, dpo(3), &killed, false, Some(1));
    assert!(
        matches!(stopped, Err(TrainError::Cancelled { step: 1 })),
        "{stopped:?}"
    );
    let (resumed, later) = run(&simpo.data, dpo(3), &killed, true, None);
    resumed.unwrap();
    assert_eq!(step_losses(&later), first[1..].to_vec());
}
