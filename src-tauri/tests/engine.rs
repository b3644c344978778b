//! The job runner on the real default model and a real store: queue positions, live steps,
//! stopping a running and a waiting job, runs written as they stream, and clear failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use citrus_reasoning::{CaseInput, ClinicalCase};
use citrus_runner::run::ReasoningMode;
use citrus_workstation::engine::{Engine, JobEvent, JobSink, Work};
use citrus_workstation::library::{self, EngineSettings};
use citrus_workstation::reasoning::{reason_options, RunSettings};
use citrus_workstation::store::{RunStatus, Store};

mod common;
use common::{clinical, default_model, TempDir};

/// Collects a job's messages.
#[derive(Default)]
struct Collected(Mutex<Vec<JobEvent>>);

impl JobSink for Collected {
    fn send(&self, event: JobEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Collected {
    fn events(&self) -> Vec<JobEvent> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until a message satisfies `done`, failing after two minutes.
    fn wait_for(&self, what: &str, done: impl Fn(&JobEvent) -> bool) -> JobEvent {
        let start = Instant::now();
        loop {
            if let Some(found) = self.events().into_iter().find(|e| done(e)) {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no {what} after 2 minutes; got {:?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ended(&self) -> JobEvent {
        self.wait_for("end", |e| {
            matches!(e, JobEvent::Finished { .. } | JobEvent::Failed { .. })
        })
    }
}

/// Greedy free reasoning on `case_id` with at most `max_new_tokens`.
fn reason(case_id: i64, max_new_tokens: usize) -> Work {
    let settings = RunSettings {
        mode: ReasoningMode::Free,
        max_new_tokens,
        temperature: 0.0,
        seed: 1,
        engine: None,
    };
    Work::Reason {
        case_id,
        options: reason_options(&settings),
        engine: None,
    }
}

/// A store with the default model active, a runtime running the worker, and the engine.
fn engine_in(dir: &TempDir) -> (tokio::runtime::Runtime, Engine, Store) {
    let store = Store::open(&dir.db()).unwrap();
    let model = library::import_model(&store, &default_model(), false).unwrap();
    library::set_active_model(&store, model.id, &EngineSettings::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (engine, worker) = Engine::new(dir.db());
    runtime.spawn(worker);
    (runtime, engine, store)
}

#[test]
fn jobs_queue_stream_stop_and_are_stored() {
    let dir = TempDir::new("engine-queue");
    let (_runtime, engine, store) = engine_in(&dir);
    let stemi = store
        .create_case(&CaseInput::Clinical(ClinicalCase {
            age: Some("58".into()),
            sex: Some("male".into()),
            examination: Some("Diaphoretic, S4 gallop".into()),
            ..ClinicalCase::new("Crushing chest pain for 45 minutes")
        }))
        .unwrap();
    let fever = store
        .create_case(&clinical("Fever and neck stiffness"))
        .unwrap();

    let first = Arc::new(Collected::default());
    let second = Arc::new(Collected::default());
    let third = Arc::new(Collected::default());
    let first_id = engine.submit(reason(stemi, 400), first.clone());
    let second_id = engine.submit(reason(fever, 24), second.clone());
    let _third_id = engine.submit(reason(fever, 24), third.clone());

    // The second job waits behind the first; the third behind both.
    second.wait_for("queued", |e| matches!(e, JobEvent::Queued { position: 1 }));
    third.wait_for("queued", |e| matches!(e, JobEvent::Queued { position: 2 }));
    let JobEvent::Started { run_id, .. } =
        first.wait_for("start", |e| matches!(e, JobEvent::Started { .. }))
    else {
        unreachable!()
    };
    first.wait_for("text", |e| matches!(e, JobEvent::Text { .. }));
    first.wait_for(
        "progress",
        |e| matches!(e, JobEvent::Progress { tokens, .. } if *tokens > 0),
    );
    // While it runs, the run is in the store with its text so far.
    assert_eq!(
        store.run(run_id).unwrap().summary.status,
        RunStatus::Running
    );
    assert_eq!(engine.status(&store).unwrap().queued, 2);
    assert!(engine.status(&store).unwrap().busy);

    // Dropping the waiting second job leaves the third next in line.
    engine.stop(second_id).unwrap();
    let JobEvent::Failed {
        run_id: None,
        error,
    } = second.ended()
    else {
        panic!("a dropped job fails without a run: {:?}", second.events())
    };
    assert_eq!(error.code, "engine.cancelled");
    third.wait_for("moved up", |e| {
        matches!(e, JobEvent::Queued { position: 1 })
    });

    // Stopping the running job stores it as cancelled with the text it had.
    engine.stop(first_id).unwrap();
    let JobEvent::Finished { run } = first.ended() else {
        panic!("{:?}", first.events())
    };
    assert_eq!(run.summary.id, run_id);
    assert_eq!(run.summary.status, RunStatus::Cancelled);
    assert!(!run.raw_text.is_empty());
    let streamed: String = first
        .events()
        .iter()
        .filter_map(|e| match e {
            JobEvent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        run.raw_text, streamed,
        "the store holds exactly what streamed"
    );

    // The third runs to its end.
    let JobEvent::Finished { run } = third.ended() else {
        panic!("{:?}", third.events())
    };
    assert_eq!(run.summary.status, RunStatus::Done);
    assert!(run.summary.generated_tokens > 0);
    assert_eq!(store.runs_of_case(fever).unwrap().len(), 1);
    assert!(
        engine.stop(second_id).is_err(),
        "a finished job cannot be stopped"
    );
}

#[test]
fn a_job_without_a_model_or_on_a_missing_case_fails_clearly() {
    let dir = TempDir::new("engine-errors");
    let store = Store::open(&dir.db()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (engine, worker) = Engine::new(dir.db());
    runtime.spawn(worker);
    let case = store.create_case(&clinical("Headache")).unwrap();

    let no_model = Arc::new(Collected::default());
    engine.submit(reason(case, 8), no_model.clone());
    let JobEvent::Failed { run_id, error } = no_model.ended() else {
        panic!()
    };
    assert_eq!((run_id, error.code.as_str()), (None, "engine.no_model"));

    let missing = Arc::new(Collected::default());
    engine.submit(reason(9999, 8), missing.clone());
    let JobEvent::Failed { error, .. } = missing.ended() else {
        panic!()
    };
    assert_eq!(error.code, "store.not_found");
    assert!(store.runs_of_case(case).unwrap().is_empty());
}
