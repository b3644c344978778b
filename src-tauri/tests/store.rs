//! The case store on real SQLite files: cases, runs written as they stream, migrations, and a
//! database left behind by a killed process.

use citrus_types::vocabulary::CodedDiagnosis;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use citrus_reasoning::{CaseInput, CaseQuote, ClinicalCase, Stage, Step};
use citrus_runner::run::{ReasonEvent, ReasoningMode, ReasoningReport};
use citrus_workstation::store::{
    CaseQuery, DataSource, NewRun, NewTrainRun, PointKind, Review, RunRecorder, RunStatus,
    StepReview, Store, TrainPoint, Verdict,
};
use citrus_workstation::training::TrainChoices;

mod common;
use common::{clinical, TempDir};

fn new_run(case_id: i64) -> NewRun {
    NewRun {
        case_id,
        engine: "local".into(),
        model_path: "/models/smollm2.gguf".into(),
        model_name: "SmolLM2".into(),
        model_fingerprint: Some("sha256:0".into()),
        adapter: None,
        mode: "free".into(),
        settings_json: "{}".into(),
    }
}

/// Makes work `id` of `table` owned by a process that has ended (as after a crash).
fn hand_to_a_gone_process(db: &Path, table: &str, id: i64) {
    let mut child = Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    citrus_workstation::store::keyed_connection(db)
        .unwrap()
        .execute(
            &format!("UPDATE {table} SET owner_pid = ?1 WHERE id = ?2"),
            (gone, id),
        )
        .unwrap();
}

fn report(answer: &str) -> ReasoningReport {
    ReasoningReport {
        mode: ReasoningMode::Free,
        steps: Vec::new(),
        differential: Vec::new(),
        answer: Some(answer.into()),
        option: Some("B".into()),
        correct: Some(true),
        structured: true,
        answer_source: None,
        tokens: 12,
        seconds: 1.5,
        cancelled: false,
        raw_text: String::new(),
        guided: None,
        grounding: None,
        answer_in_differential: None,
        thinking_cut_short: false,
        coded: vec![CodedDiagnosis::uncoded(answer, "no entry close enough")],
    }
}

#[test]
fn cases_are_created_searched_updated_and_deleted() {
    let dir = TempDir::new("cases");
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 10);
    let chest = store.create_case(&clinical("Crushing chest pain")).unwrap();
    let fever = store
        .create_case(&clinical("Fever 100% of nights_"))
        .unwrap();
    assert_eq!(store.list_cases(&CaseQuery::search("")).unwrap().len(), 2);
    assert_eq!(
        store.list_cases(&CaseQuery::search("CHEST")).unwrap()[0].id,
        chest
    );
    // LIKE wildcards in the search are literal.
    assert_eq!(
        store.list_cases(&CaseQuery::search("100%")).unwrap()[0].id,
        fever
    );
    assert!(store
        .list_cases(&CaseQuery::search("_x"))
        .unwrap()
        .is_empty());

    let mut case = ClinicalCase::new("Crushing chest pain");
    case.age = Some("58".into());
    store
        .update_case(chest, &CaseInput::Clinical(case.clone()))
        .unwrap();
    assert_eq!(store.case(chest).unwrap().input, CaseInput::Clinical(case));

    store.delete_case(fever).unwrap();
    let err = store.case(fever).unwrap_err();
    assert_eq!(err.code(), "store.not_found");
    assert_eq!(
        store.delete_case(fever).unwrap_err().code(),
        "store.not_found"
    );
}

#[test]
fn a_run_is_recorded_as_it_streams_and_survives_reopening() {
    let dir = TempDir::new("runs");
    let (case_id, run_id) = {
        let store = Store::open(&dir.db()).unwrap();
        let case_id = store.create_case(&clinical("Headache")).unwrap();
        let mut recorder = RunRecorder::start(&store, &new_run(case_id)).unwrap();
        for piece in ["<think>", "Key findings", "</think>"] {
            recorder.record(&ReasonEvent::Raw(piece.into()));
        }
        let mut step = Step::new(Stage::Findings, Some("Key findings".into()), "Headache.");
        step.mentions = vec![CaseQuote {
            field: "chief_complaint".into(),
            start: 0,
            end: 8,
            text: "Headache".into(),
        }];
        recorder.record(&ReasonEvent::Step(step));
        // The step forced a flush: the text is already in the file.
        let partial = store.run(recorder.run_id()).unwrap();
        assert_eq!(partial.summary.status, RunStatus::Running);
        assert_eq!(partial.raw_text, "<think>Key findings</think>");
        assert_eq!(partial.summary.generated_tokens, 3);
        recorder.record(&ReasonEvent::Raw("<answer>Migraine</answer>".into()));
        let run_id = recorder.finish(Ok(&report("Migraine"))).unwrap();
        (case_id, run_id)
    };
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.recovered_runs(), 0);
    let run = store.run(run_id).unwrap();
    assert_eq!(run.summary.status, RunStatus::Done);
    assert_eq!(run.summary.answer.as_deref(), Some("Migraine"));
    assert_eq!(
        run.raw_text,
        "<think>Key findings</think><answer>Migraine</answer>"
    );
    assert_eq!(run.steps.len(), 1);
    assert_eq!(run.steps[0].stage, Stage::Findings);
    // The case span the step quotes comes back with its field and range.
    assert_eq!(run.steps[0].mentions[0].field, "chief_complaint");
    assert_eq!(run.steps[0].mentions[0].end, 8);
    assert_eq!(run.correct, Some(true));
    assert!(run.finished_at.is_some());
    assert_eq!(store.runs_of_case(case_id).unwrap().len(), 1);
    // Deleting the case removes its runs.
    store.delete_case(case_id).unwrap();
    assert_eq!(store.run(run_id).unwrap_err().code(), "store.not_found");
}

#[test]
fn failed_and_cancelled_runs_keep_their_status() {
    let dir = TempDir::new("statuses");
    let store = Store::open(&dir.db()).unwrap();
    let case_id = store.create_case(&clinical("Cough")).unwrap();
    let failed = RunRecorder::start(&store, &new_run(case_id))
        .unwrap()
        .finish(Err("out of memory"))
        .unwrap();
    let mut cancelled_report = report("");
    cancelled_report.cancelled = true;
    let cancelled = RunRecorder::start(&store, &new_run(case_id))
        .unwrap()
        .finish(Ok(&cancelled_report))
        .unwrap();
    assert_eq!(store.run(failed).unwrap().summary.status, RunStatus::Failed);
    assert_eq!(
        store.run(failed).unwrap().error.as_deref(),
        Some("out of memory")
    );
    assert_eq!(
        store.run(cancelled).unwrap().summary.status,
        RunStatus::Cancelled
    );
}

#[test]
fn unfinished_runs_are_marked_interrupted_at_the_next_open() {
    let dir = TempDir::new("interrupted");
    let run_id = {
        let store = Store::open(&dir.db()).unwrap();
        let case_id = store.create_case(&clinical("Syncope")).unwrap();
        let run_id = store.start_run(&new_run(case_id)).unwrap();
        store.append_run_text(run_id, "partial", 1).unwrap();
        run_id
    };
    // Its owner (this process) still runs: opening the store again leaves it alone.
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.recovered_runs(), 0);
    assert_eq!(
        store.run(run_id).unwrap().summary.status,
        RunStatus::Running
    );
    drop(store);
    // Owned by a process that has ended: interrupted at the next open.
    hand_to_a_gone_process(&dir.db(), "runs", run_id);
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.recovered_runs(), 1);
    let run = store.run(run_id).unwrap();
    assert_eq!(run.summary.status, RunStatus::Interrupted);
    assert_eq!(run.raw_text, "partial");
}

#[test]
fn newer_and_foreign_files_are_refused_with_a_code() {
    let dir = TempDir::new("versions");
    {
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&dir.db()).err().unwrap();
    assert_eq!(err.code(), "store.too_new");
    assert!(err.to_string().contains("99"));

    let garbage = dir.0.join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&garbage).err().unwrap();
    assert_eq!(err.code(), "store.key_missing", "{err}");
    assert!(err.to_string().contains("garbage.db"), "{err}");
}

/// Length of the text of the first run, read through a plain connection.
fn streamed_text_len(db: &Path) -> Option<i64> {
    let conn = citrus_workstation::store::keyed_connection(db).ok()?;
    conn.query_row(
        "SELECT length(raw_text) FROM runs WHERE id = 1",
        [],
        |row| row.get(0),
    )
    .ok()
}

#[test]
fn a_run_killed_mid_stream_is_kept_and_marked_interrupted() {
    let model = citrus_host::home::default_model_path();
    assert!(
        model.exists(),
        "default model missing at {}: run scripts/setup",
        model.display()
    );
    let dir = TempDir::new("killed");
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cases/inferior-stemi.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_citrus"))
        .args([
            "reason",
            "--case",
            case.to_str().unwrap(),
            "--save",
            "--db",
            dir.db().to_str().unwrap(),
        ])
        .args(["--temperature", "0", "--max-tokens", "400"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while streamed_text_len(&dir.db()).unwrap_or(0) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "citrus ended before streaming any text"
        );
        assert!(
            Instant::now() < deadline,
            "no text streamed within 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second process reading the store while the run streams leaves it running.
    let listed = Command::new(env!("CARGO_BIN_EXE_citrus"))
        .args(["runs", "--db", dir.db().to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let status: String = citrus_workstation::store::keyed_connection(&dir.db())
        .unwrap()
        .query_row("SELECT status FROM runs WHERE id = 1", [], |row| row.get(0))
        .unwrap();
    assert_eq!(status, "running", "a reader changed the live run's status");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.recovered_runs(), 1);
    let cases = store.list_cases(&CaseQuery::search("")).unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(
        cases[0].title,
        "Crushing substernal chest pain for 45 minutes"
    );
    let CaseInput::Clinical(case) = store.case(cases[0].id).unwrap().input else {
        panic!("clinical case")
    };
    assert!(case.labs.unwrap().contains("Troponin"));
    let run = store.run(1).unwrap();
    assert_eq!(run.summary.status, RunStatus::Interrupted);
    assert!(!run.raw_text.is_empty());
    assert!(run.summary.generated_tokens > 0);
}

/// A finished run with three steps on an exam-style clinical case.
fn reviewed_store(dir: &TempDir) -> (Store, i64) {
    let store = Store::open(&dir.db()).unwrap();
    let mut case = ClinicalCase::new("Fever and neck stiffness");
    case.examination = Some("Kernig sign positive".into());
    let case_id = store.create_case(&CaseInput::Clinical(case)).unwrap();
    let mut recorder = RunRecorder::start(&store, &new_run(case_id)).unwrap();
    let steps = [
        (
            Stage::Findings,
            "Key findings",
            "Fever, neck stiffness, positive Kernig sign.",
        ),
        (
            Stage::Hypotheses,
            "Differential",
            "Bacterial meningitis; viral meningitis; migraine.",
        ),
        (Stage::Conclusion, "Conclusion", "Migraine is most likely."),
    ];
    for (stage, title, text) in steps {
        recorder.record(&ReasonEvent::Step(Step::new(
            stage,
            Some(title.into()),
            text,
        )));
    }
    let run_id = recorder.finish(Ok(&report("Migraine"))).unwrap();
    assert_eq!(store.run(run_id).unwrap().coded, report("Migraine").coded);
    (store, run_id)
}

#[test]
fn reviews_are_saved_replaced_and_read_back() {
    let dir = TempDir::new("reviews");
    let (mut store, run_id) = reviewed_store(&dir);
    let case_id = store.run(run_id).unwrap().summary.case_id;
    assert!(!store.case_is_reviewed(case_id).unwrap());
    let mut review = Review {
        run_id,
        reviewer: "Dr. Osei".into(),
        confirmed_diagnosis: Some("Bacterial meningitis".into()),
        confirmed_code: None,
        comment: None,
        steps: vec![
            StepReview {
                position: 0,
                verdict: Verdict::Agree,
                comment: None,
            },
            StepReview {
                position: 2,
                verdict: Verdict::Disagree,
                comment: Some("Can't-miss diagnosis ignored".into()),
            },
        ],
    };
    store.save_review(&review).unwrap();
    assert_eq!(store.review(run_id).unwrap().as_ref(), Some(&review));
    assert!(store.case_is_reviewed(case_id).unwrap());
    // Saving again replaces the verdicts.
    review.steps.truncate(1);
    store.save_review(&review).unwrap();
    assert_eq!(store.review(run_id).unwrap().unwrap().steps.len(), 1);
    // A verdict on a step that does not exist is refused and changes nothing.
    let mut bad = review.clone();
    bad.steps.push(StepReview {
        position: 9,
        verdict: Verdict::Agree,
        comment: None,
    });
    assert_eq!(
        store.save_review(&bad).unwrap_err().code(),
        "store.not_found"
    );
    assert_eq!(store.review(run_id).unwrap().unwrap(), review);
    bad.run_id = 999;
    assert_eq!(
        store.save_review(&bad).unwrap_err().code(),
        "store.not_found"
    );
}

#[test]
fn reviewed_runs_export_as_citrus_sft_and_reports() {
    use citrus_workstation::store::export::{markdown_report, sft_jsonl};
    let dir = TempDir::new("export");
    let (mut store, run_id) = reviewed_store(&dir);
    store
        .save_review(&Review {
            run_id,
            reviewer: "Dr. Osei".into(),
            confirmed_diagnosis: Some("Bacterial meningitis, unspecified".into()),
            confirmed_code: Some("G00.9".into()),
            comment: Some("Treat empirically before imaging.".into()),
            steps: vec![StepReview {
                position: 2,
                verdict: Verdict::Disagree,
                comment: Some("Wrong".into()),
            }],
        })
        .unwrap();
    let reviewed = store.reviewed().unwrap();
    assert_eq!(reviewed.len(), 1);
    let jsonl = sft_jsonl(&reviewed);
    assert_eq!(jsonl.lines().count(), 1);
    let example: serde_json::Value = serde_json::from_str(jsonl.trim()).unwrap();
    let input = example["input"].as_str().unwrap();
    assert!(input.starts_with("You are tasked with addressing a medical examination question."));
    assert!(input.contains("Chief complaint: Fever and neck stiffness"));
    let target = example["target"].as_str().unwrap();
    assert!(target.starts_with("<think>\n**Key findings:**\nFever, neck stiffness"));
    assert!(target.contains("Bacterial meningitis; viral meningitis"));
    assert!(
        !target.contains("Migraine is most likely"),
        "a rejected step must not become training data"
    );
    assert!(target
        .ends_with("</think>\n<answer>\nBacterial meningitis, unspecified (G00.9)\n</answer>"));
    assert_eq!(example["code"], "G00.9");
    assert_eq!(example["diagnosis"], "Bacterial meningitis, unspecified");

    let md = markdown_report(&reviewed[0]);
    for expected in [
        "# Case 1: Fever and neck stiffness",
        "not a diagnosis",
        "✗ disagree",
        "Reviewer: Wrong",
        "Confirmed diagnosis: Bacterial meningitis, unspecified (ICD-10-CM G00.9)",
        "| uncoded | Migraine (no entry close enough) |",
        "Dr. Osei",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in\n{md}");
    }
}

fn train_point(step: usize, kind: PointKind, loss: f64) -> TrainPoint {
    TrainPoint {
        step,
        kind,
        loss,
        learning_rate: (kind == PointKind::Train).then_some(1e-4),
        tokens_per_second: None,
        eta_seconds: None,
        // A preference run's held-out rewards travel with its validation points.
        preference: (kind == PointKind::Validation).then_some(
            citrus_types::training::PreferenceStats {
                reward_accuracy: 0.75,
                margin: loss / 2.0,
                chosen_logp: -1.25,
                rejected_logp: -2.5,
            },
        ),
    }
}

#[test]
fn training_runs_record_their_series_pause_resume_and_are_interrupted_when_orphaned() {
    let dir = TempDir::new("train-runs");
    let store = Store::open(&dir.db()).unwrap();
    let spec = NewTrainRun {
        source: DataSource::Reviews,
        dataset_name: "reviewed cases".into(),
        dataset_hash: "abc".into(),
        model_path: "/models/smollm2.gguf".into(),
        model_name: "SmolLM2".into(),
        out_dir: dir.0.join("run"),
        choices: TrainChoices::default(),
        total_steps: 0,
    };
    let id = store.start_train_run(&spec).unwrap();
    store.set_train_total(id, 6).unwrap();
    for step in 1..=4 {
        store
            .record_train_point(
                id,
                &train_point(step, PointKind::Train, 3.0 - step as f64 / 10.0),
            )
            .unwrap();
    }
    store
        .record_train_point(id, &train_point(4, PointKind::Validation, 2.9))
        .unwrap();
    let recorded = store.train_run_record(id).unwrap().points;
    assert_eq!(
        recorded.last(),
        Some(&train_point(4, PointKind::Validation, 2.9)),
        "every field, a preference run's rewards included, reads back as written"
    );
    store.finish_train_run(id, RunStatus::Paused, None).unwrap();
    let run = store.train_run(id).unwrap();
    assert_eq!(
        (run.status, run.step, run.spec.total_steps),
        (RunStatus::Paused, 4, 6)
    );
    assert_eq!((run.loss, run.validation_loss), (Some(2.6), Some(2.9)));
    assert!(run.can_resume());
    assert_eq!(run.spec.choices, TrainChoices::default());

    // Resumed from the checkpoint at step 3: later points and the validation at 3 go.
    store
        .record_train_point(id, &train_point(3, PointKind::Validation, 2.95))
        .unwrap();
    let resumed = store.resume_train_run(id, 3).unwrap();
    assert_eq!((resumed.status, resumed.step), (RunStatus::Running, 3));
    let points = store.train_run_record(id).unwrap().points;
    assert_eq!(
        points.iter().map(|p| (p.step, p.kind)).collect::<Vec<_>>(),
        [1, 2, 3].map(|s| (s, PointKind::Train)).to_vec()
    );

    // Owned by a process that has ended: interrupted at the next open, resumable.
    drop(store);
    hand_to_a_gone_process(&dir.db(), "train_runs", id);
    let store = Store::open(&dir.db()).unwrap();
    let run = store.train_run(id).unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(store.train_run_in(&dir.0.join("run")).unwrap(), Some(id));
    store.finish_train_run(id, RunStatus::Done, None).unwrap();
    let err = store.resume_train_run(id, 3).unwrap_err();
    assert_eq!(err.code(), "store.finished", "{err}");
}

/// Adds a finished run of `case` answering `answer` with `steps` steps, reviewed with
/// `verdicts` and the confirmed diagnosis `confirmed`.
fn reviewed_run(
    store: &mut Store,
    case: i64,
    answer: &str,
    verdicts: &[Verdict],
    confirmed: &str,
) -> i64 {
    let run = store.start_run(&new_run(case)).unwrap();
    for position in 0..verdicts.len() {
        let step = Step::new(
            Stage::Findings,
            None,
            format!("Step {position} of {answer}"),
        );
        store.add_step(run, position, &step).unwrap();
    }
    store
        .finish_run(run, RunStatus::Done, Some(&report(answer)), None)
        .unwrap();
    store
        .save_review(&Review {
            run_id: run,
            reviewer: "Dr. Lee".into(),
            confirmed_diagnosis: Some(confirmed.into()),
            confirmed_code: None,
            comment: None,
            steps: verdicts
                .iter()
                .enumerate()
                .map(|(position, &verdict)| StepReview {
                    position,
                    verdict,
                    comment: None,
                })
                .collect(),
        })
        .unwrap();
    run
}

#[test]
fn reviewed_runs_become_preference_pairs_with_their_reasons() {
    use citrus_workstation::review_pairs::pairs_from_reviews;
    use Verdict::{Agree, Disagree};
    let dir = TempDir::new("review-pairs");
    let mut store = Store::open(&dir.db()).unwrap();
    let appendicitis = "Acute appendicitis";
    let case = store
        .create_case(&clinical("Right lower quadrant pain"))
        .unwrap();
    let best = reviewed_run(
        &mut store,
        case,
        appendicitis,
        &[Agree, Agree],
        appendicitis,
    );
    let wrong = reviewed_run(
        &mut store,
        case,
        "Gastroenteritis",
        &[Agree, Disagree],
        appendicitis,
    );
    let right_but_doubted = reviewed_run(
        &mut store,
        case,
        appendicitis,
        &[Agree, Disagree],
        appendicitis,
    );
    let alone = store.create_case(&clinical("Headache")).unwrap();
    reviewed_run(&mut store, alone, "Migraine", &[Agree], "Migraine");
    let missed = store.create_case(&clinical("Fever")).unwrap();
    reviewed_run(
        &mut store,
        missed,
        "Influenza",
        &[Agree],
        "Bacterial meningitis",
    );
    reviewed_run(
        &mut store,
        missed,
        "Sinusitis",
        &[Agree],
        "Bacterial meningitis",
    );

    let made = pairs_from_reviews(&store).unwrap();
    assert_eq!(made.set.pairs.len(), 1, "{:?}", made.previews);
    let preview = &made.previews[0];
    assert_eq!((preview.chosen_run, preview.rejected_run), (best, wrong));
    assert!(
        preview.reason.contains("reached the confirmed diagnosis"),
        "{}",
        preview.reason
    );
    assert!(
        preview.reason.contains("missed the confirmed diagnosis"),
        "{}",
        preview.reason
    );
    assert_ne!(right_but_doubted, best);
    let pair = &made.set.pairs[0];
    assert!(pair.chosen.starts_with("<think>") && pair.chosen.ends_with("</answer>"));
    assert!(pair.chosen.contains(appendicitis) && pair.rejected.contains("Gastroenteritis"));
    assert!(pair.prompt[0].content.contains("Right lower quadrant pain"));
    assert_eq!(pair.group.as_deref(), Some(format!("case {case}").as_str()));
    let reasons: Vec<(i64, &str)> = made
        .without
        .iter()
        .map(|w| (w.case_id, w.reason.as_str()))
        .collect();
    assert_eq!(
        reasons[0],
        (alone, "only one reviewed run: a pair needs two")
    );
    assert!(
        reasons[1]
            .1
            .starts_with("no run reached the confirmed diagnosis"),
        "{reasons:?}"
    );
}
