//! The remote engine against the project's own `citrus serve` on loopback (real HTTP, the real
//! default model; no mock server): free and guided reasoning and both evaluation modes give the
//! same steps, answers and scores as the local engine on the same model and seed, and runs
//! record the engine. Then a faulty server — one that dies mid-stream, answers 500, or sends a
//! malformed chunk — leaves a stored, failed partial run and a coded error.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

use citrus_engine::generation::CancelToken;
use citrus_engine::model::Model;
use citrus_reasoning::{CaseInput, ClinicalCase};
use citrus_runner::engine::TextEngine;
use citrus_runner::evaluation::likelihood::ScoredContinuation;
use citrus_runner::run::{ReasonOptions, ReasoningMode, ReasoningReport};
use citrus_types::engine::{EngineCapabilities, RemoteEngineEntry};
use citrus_types::evaluation::{EvalChoices, OptionScores, Scoring, Selection};
use citrus_types::run::RunSettings;
use citrus_types::RunStatus;
use citrus_workstation::engines::{self, NewEngine};
use citrus_workstation::evaluations::start_evaluation;
use citrus_workstation::evaluations::{eval_settings, read_benchmark, run_evaluation};
use citrus_workstation::library::{self, EngineSettings};
use citrus_workstation::reasoning::{reason_and_record, reason_options};
use citrus_workstation::store::Store;
use common::server::Server;
use common::{default_model, TempDir};

fn stemi() -> CaseInput {
    let mut case = ClinicalCase::new("Crushing substernal chest pain for 45 minutes");
    case.age = Some("58".into());
    case.labs = Some("Troponin I 2.4 ng/mL".into());
    case.examination = Some("Diaphoretic; ST elevation in II, III and aVF".into());
    CaseInput::Clinical(case)
}

fn options(mode: ReasoningMode, max_new_tokens: usize) -> ReasonOptions {
    reason_options(&RunSettings {
        mode,
        max_new_tokens,
        temperature: 0.0,
        seed: 11,
        engine: None,
    })
}

/// Reasons on `input` with `engine`, recorded in `store`.
fn recorded(
    store: &Store,
    engine: &mut dyn TextEngine,
    input: &CaseInput,
    options: &ReasonOptions,
) -> (i64, ReasoningReport) {
    let case_id = store.create_case(input).unwrap();
    let run = reason_and_record(
        store,
        engine,
        (case_id, input),
        options,
        &CancelToken::new(),
        &mut |_| {},
        &mut |_| {},
    )
    .unwrap();
    (run.run_id, run.outcome.unwrap())
}

fn same_reasoning(local: &ReasoningReport, remote: &ReasoningReport) {
    assert_eq!(local.raw_text, remote.raw_text);
    assert_eq!(local.steps, remote.steps);
    assert_eq!(local.differential, remote.differential);
    assert_eq!(local.answer, remote.answer);
}

#[test]
fn the_remote_engine_gives_what_the_local_engine_gives() {
    let server = Server::start("remote-serve", &[]);
    let dir = TempDir::new("remote");
    let store = Store::open(&dir.db()).unwrap();
    let added = engines::add(
        &store,
        NewEngine {
            name: "workstation-2".into(),
            url: server.base.clone(),
            model: None,
            api_key_file: None,
            // The served model's template, so option text can be scored on prompts rendered
            // here.
            template_file: Some(default_model().display().to_string()),
            deidentify: false,
        },
    )
    .unwrap();
    let capabilities = added.capabilities.unwrap();
    assert!(capabilities.text_scoring, "{added:?}");
    assert!(
        capabilities.letter_scoring && capabilities.json_schema,
        "{added:?}"
    );
    assert!(!capabilities.thinks, "SmolLM2 does not think first");
    let mut remote = engines::open(&store, "workstation-2").unwrap();
    // Loaded as the app (and so `citrus serve`) loads it: re-quantized to Q8_0 by default.
    let load = library::load_options(&EngineSettings::default()).unwrap();
    let mut local = Model::load(&default_model(), &load, &mut |_| {}).unwrap();

    // Free reasoning, with the budget running out so the answer is asked for (a continued
    // final turn on the server).
    let free = options(ReasoningMode::Free, 48);
    let (_, on_local) = recorded(&store, &mut local, &stemi(), &free);
    let (run_id, on_remote) = recorded(&store, &mut remote, &stemi(), &free);
    same_reasoning(&on_local, &on_remote);
    let run = store.run(run_id).unwrap();
    assert_eq!(run.summary.engine, "workstation-2");
    assert_eq!(run.model_path, server.base);
    assert_eq!(run.summary.status, RunStatus::Done);

    // Guided: every stage's JSON schema sent as response_format, validated here.
    let guided = options(ReasoningMode::Guided, 1024);
    let (_, on_local) = recorded(&store, &mut local, &stemi(), &guided);
    let (_, on_remote) = recorded(&store, &mut remote, &stemi(), &guided);
    assert!(on_remote.guided.is_some(), "{:?}", on_remote.raw_text);
    same_reasoning(&on_local, &on_remote);

    // Evaluation in both modes on the MedQA sample's first items.
    let bench = read_benchmark(std::path::Path::new(&common::medqa())).unwrap();
    let mut exact_items = 0;
    for (scoring, max_new_tokens) in [(Scoring::Likelihood, 0), (Scoring::Generate, 32)] {
        let settings = eval_settings(&EvalChoices {
            scoring,
            reasoning: ReasoningMode::Free,
            score_text: false,
            max_new_tokens,
            temperature: 0.0,
            selection: Selection {
                limit: Some(2),
                sample: None,
                shuffle_options: false,
                seed: 3,
            },
        });
        let mut items = Vec::new();
        for engine in [&mut local as &mut dyn TextEngine, &mut remote] {
            let id = start_evaluation(&store, engine, &bench, &settings).unwrap();
            let status = run_evaluation(
                &store,
                engine,
                id,
                &bench,
                &settings,
                &CancelToken::new(),
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(status, RunStatus::Done);
            items.push(store.eval_items(id).unwrap());
        }
        assert_eq!(items[0].len(), 2);
        for (a, b) in items[0].iter().zip(&items[1]) {
            assert_eq!(
                a.record.predicted, b.record.predicted,
                "{scoring:?}: {:?} vs {:?}",
                a.scores_json, b.scores_json
            );
            assert_eq!(a.raw_text, b.raw_text, "{scoring:?}");
            let scores = |i: &citrus_workstation::store::StoredEvalItem| -> Vec<f32> {
                i.scores_json
                    .as_deref()
                    .map(|s| serde_json::from_str::<OptionScores>(s).unwrap().scores)
                    .unwrap_or_default()
            };
            // A letter outside the server's 20 most likely tokens scores minus infinity there;
            // where no letter is among them, the letters after a space are scored instead.
            let (x, y) = (scores(a), scores(b));
            let same = |(x, y): (&f32, &f32)| (x - y).abs() < 1e-3;
            if x.iter().zip(&y).any(same) {
                exact_items += 1;
                for pair in x.iter().zip(&y).filter(|(_, y)| y.is_finite()) {
                    assert!(same(pair), "{x:?} vs {y:?}");
                }
            }
        }
    }
    assert!(
        exact_items > 0,
        "no item scored the same letter tokens on both engines"
    );

    // Option text, scored on the server from prompts rendered with the model's template: the
    // server tokenizes prompt and option together, so scores are close, not equal.
    let text = bench.items[0].clone();
    let local_scores = local
        .score_options(&text, ScoredContinuation::Text)
        .unwrap();
    let remote_scores = remote
        .score_options(&text, ScoredContinuation::Text)
        .unwrap();
    for (x, y) in local_scores.scores.iter().zip(&remote_scores.scores) {
        assert!(
            y.is_finite() && (x - y).abs() < 2.0,
            "{local_scores:?} vs {remote_scores:?}"
        );
    }
    // Without the template the server cannot be asked: refused by name.
    store
        .put_engine(&RemoteEngineEntry {
            template_file: None,
            capabilities: Some(EngineCapabilities {
                text_scoring: false,
                ..capabilities
            }),
            ..store.engine("workstation-2").unwrap()
        })
        .unwrap();
    let mut plain = engines::open(&store, "workstation-2").unwrap();
    let refused = plain
        .score_options(&text, ScoredContinuation::Text)
        .unwrap_err();
    assert_eq!(refused.code(), "remote.unsupported", "{refused}");
}

/// How the faulty server answers a chat request.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Streams two pieces of text, then the connection drops.
    DiesMidStream,
    /// Answers 500 with an OpenAI-style error.
    ServerError,
    /// Streams a piece of text, then a chunk that is not JSON.
    MalformedChunk,
}

/// A server on loopback that answers `requests` requests with `fault`, then ends.
fn faulty_server(fault: Fault, requests: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            let chunk = |text: &str| {
                format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n")
            };
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
            let reply = match fault {
                Fault::DiesMidStream => format!(
                    "{head}: keep-alive\n\n{}{}",
                    chunk("<think>Chest pain with ST elevation"),
                    chunk(" in the inferior leads")
                ),
                Fault::ServerError => {
                    let body =
                        r#"{"error":{"message":"CUDA out of memory","type":"server_error"}}"#;
                    format!(
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
                Fault::MalformedChunk => {
                    format!(
                        "{head}{}data: {{\"choices\": [\n\n",
                        chunk("<think>Chest pain")
                    )
                }
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (base, handle)
}

#[test]
fn a_failing_server_leaves_a_stored_partial_run_and_a_coded_error() {
    let dir = TempDir::new("remote-faults");
    let store = Store::open(&dir.db()).unwrap();
    let cases = [
        (
            Fault::DiesMidStream,
            "remote.stream_cut",
            "in the inferior leads",
        ),
        (Fault::ServerError, "remote.status", ""),
        (Fault::MalformedChunk, "remote.malformed", "Chest pain"),
    ];
    for (fault, code, partial) in cases {
        let (url, server) = faulty_server(fault, 1);
        store
            .put_engine(&RemoteEngineEntry {
                name: "faulty".into(),
                url,
                model: Some("citrus-70b".into()),
                api_key_file: None,
                template_file: None,
                capabilities: Some(EngineCapabilities {
                    json_schema: true,
                    ..EngineCapabilities::default()
                }),
                models: vec!["citrus-70b".into()],
                added_at: String::new(),
                deidentify: false,
            })
            .unwrap();
        let mut engine = engines::open(&store, "faulty").unwrap();
        let input = stemi();
        let case_id = store.create_case(&input).unwrap();
        let run = reason_and_record(
            &store,
            &mut engine,
            (case_id, &input),
            &options(ReasoningMode::Free, 64),
            &CancelToken::new(),
            &mut |_| {},
            &mut |_| {},
        )
        .unwrap();
        let error = run.outcome.unwrap_err();
        assert_eq!(error.code(), code, "{fault:?}: {error}");
        let stored = store.run(run.run_id).unwrap();
        assert_eq!(stored.summary.status, RunStatus::Failed, "{fault:?}");
        assert!(
            stored.raw_text.contains(partial),
            "{fault:?}: {:?}",
            stored.raw_text
        );
        assert!(stored.error.unwrap().contains(code), "{fault:?}");
        server.join().unwrap();
    }
}
