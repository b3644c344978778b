//! The window's commands through Tauri's IPC layer (mock runtime, real store, real default
//! model): argument names, JSON shapes and error codes exactly as the window sees them.
#![cfg(feature = "desktop")]

use std::time::{Duration, Instant};

use citrus_types::api::{EVENTS_ARG, REQUEST_ARG};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

use citrus_workstation::app::{with_commands, AppState};
use citrus_workstation::engine::Engine;
use citrus_workstation::library;
use citrus_workstation::store::Store;

mod common;
use common::{bench_item, default_model, medqa, TempDir};

/// The app on the mock runtime, its window, and the folder it keeps its store in.
struct MockApp {
    _app: tauri::App<tauri::test::MockRuntime>,
    window: WebviewWindow<tauri::test::MockRuntime>,
    _dir: TempDir,
}

impl MockApp {
    fn new(name: &str) -> Self {
        let dir = TempDir::new(name);
        let store = Store::open(&dir.db()).unwrap();
        let model = library::import_model(&store, &default_model(), false).unwrap();
        library::set_active_model(&store, model.id, &library::EngineSettings::default()).unwrap();
        let (engine, worker) = Engine::new(dir.db());
        let app = with_commands(mock_builder(), AppState::new(store, engine))
            .build(mock_context(noop_assets()))
            .unwrap();
        tauri::async_runtime::spawn(worker);
        let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Self {
            _app: app,
            window,
            _dir: dir,
        }
    }

    /// Invokes a command as the window does; Ok(JSON) or Err({"code","message"}). `args` are
    /// the request's fields (`{"request": …}` for a request that is one value, such as an
    /// evaluation's), with the channel under `events`: sent as the contract has them
    /// (`citrus_types::api`), `{"request": …, "events": …}`.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let mut fields = args.as_object().cloned().unwrap_or_default();
        let events = fields.remove(EVENTS_ARG);
        let request = fields
            .remove(REQUEST_ARG)
            .unwrap_or_else(|| Value::Object(fields));
        let mut args = json!({ REQUEST_ARG: request });
        if let Some(events) = events {
            args[EVENTS_ARG] = events;
        }
        invoke_raw(&self.window, cmd, args)
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The audit trail's actions about case `id`, oldest first.
    fn audit_actions(&self, id: &Value) -> Vec<String> {
        let entries = self.ok("list_audit", json!({"caseId": id, "latest": null}));
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// Polls `list_evaluations` until evaluation `id` has `status`.
    fn wait_for_evaluation(&self, id: &Value, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let runs = self.ok("list_evaluations", json!({}));
            if let Some(run) = runs.as_array().unwrap().iter().find(|r| &r["id"] == id) {
                if run["status"] == status {
                    return run.clone();
                }
                assert_ne!(run["status"], "failed", "{run}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "evaluation {id} never became {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The id of the newest evaluation, once one is recorded.
    fn newest_evaluation(&self, after: usize) -> Value {
        let start = Instant::now();
        loop {
            let runs = self.ok("list_evaluations", json!({}));
            let runs = runs.as_array().unwrap();
            if runs.len() > after {
                return runs
                    .iter()
                    .map(|r| r["id"].clone())
                    .max_by_key(|id| id.as_i64())
                    .unwrap();
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no evaluation recorded"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error_code(&self, cmd: &str, args: Value) -> String {
        let error = self.invoke(cmd, args).expect_err(cmd);
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        error["code"].as_str().unwrap().to_string()
    }
}

fn clinical(complaint: &str) -> Value {
    json!({"kind": "clinical", "chief_complaint": complaint, "age": "58", "sex": "male"})
}

/// The raw answer to a request body as it is, without the contract's wrapping.
fn invoke_raw(
    window: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize().unwrap())
}

#[test]
fn the_local_api_is_switched_on_and_off_from_the_window() {
    let app = MockApp::new("api-switch");
    assert_eq!(app.ok("get_api_status", json!({}))["url"], Value::Null);
    let started = app.ok("start_api", json!({"port": 0}));
    let url = started["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{started}");
    let models: Value = ureq::get(&format!("{url}/models"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(models["data"][0]["id"], started["model"]);
    // Starting again while it runs changes nothing.
    assert_eq!(app.ok("start_api", json!({"port": 0}))["url"], json!(url));
    // Added as a remote engine (as another workstation would add it): probed, listed, tested,
    // removed.
    let added = app.ok(
        "add_engine",
        json!({"name": "ward-3", "url": url, "model": null, "apiKeyFile": null}),
    );
    assert_eq!(added["capabilities"]["letter_scoring"], true, "{added}");
    assert_eq!(added["model"], started["model"]);
    assert_eq!(app.ok("list_engines", json!({}))[0]["name"], "ward-3");
    assert_eq!(
        app.ok("test_engine", json!({"name": "ward-3"}))["url"],
        json!(url)
    );
    let refused = app.error_code(
        "add_engine",
        json!({"name": "local", "url": url, "model": null, "apiKeyFile": null}),
    );
    assert_eq!(refused, "engine.bad_name");
    // A run on the window's own API would wait for itself: refused.
    let case = app.ok("create_case", json!({"input": clinical("Chest pain")}));
    let options = json!({"mode": "free", "max_new_tokens": 8, "temperature": 0.0, "seed": 1,
                         "engine": "ward-3"});
    let own = app.error_code(
        "start_reasoning",
        json!({"caseId": case, "options": options, "events": "__CHANNEL__:1"}),
    );
    assert_eq!(own, "engine.is_self");
    app.ok("remove_engine", json!({"name": "ward-3"}));
    assert_eq!(app.ok("list_engines", json!({})), json!([]));
    assert_eq!(app.ok("stop_api", json!({}))["url"], Value::Null);
    let start = Instant::now();
    while ureq::get(&format!("{url}/models")).call().is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the API still answers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_command_of_the_contract_is_one_the_shell_registers() {
    use citrus_types::api::{
        adapters, app, cases, engines, evaluations, models, reasoning, reviews,
    };
    use citrus_types::api::{protection, runs, server, training, Command};
    let names = [
        adapters::ListAdapters::NAME,
        adapters::SetActiveAdapter::NAME,
        adapters::DeleteAdapter::NAME,
        adapters::ImportAdapterFolder::NAME,
        adapters::ExportAdapter::NAME,
        app::GetAppInfo::NAME,
        engines::ListEngines::NAME,
        engines::AddEngine::NAME,
        engines::TestEngine::NAME,
        engines::RemoveEngine::NAME,
        app::GetSetting::NAME,
        app::SetSetting::NAME,
        cases::ListCases::NAME,
        cases::GetCase::NAME,
        cases::CreateCase::NAME,
        cases::UpdateCase::NAME,
        cases::DeleteCase::NAME,
        evaluations::PickBenchmark::NAME,
        evaluations::InspectBenchmark::NAME,
        evaluations::ListEvaluations::NAME,
        evaluations::GetEvaluation::NAME,
        evaluations::GetEvaluationItem::NAME,
        evaluations::CompareEvaluationRuns::NAME,
        evaluations::ExportEvaluation::NAME,
        <citrus_types::evaluation::EvalRequest as Command>::NAME,
        models::ListModels::NAME,
        models::ImportModel::NAME,
        models::InspectModel::NAME,
        models::GetEngineStatus::NAME,
        models::LoadModel::NAME,
        reasoning::StartReasoning::NAME,
        reasoning::StopJob::NAME,
        reviews::GetReview::NAME,
        reviews::SaveReview::NAME,
        reviews::ListReviewQueue::NAME,
        reviews::ExportPreview::NAME,
        reviews::ExportSave::NAME,
        runs::ListRuns::NAME,
        runs::GetRun::NAME,
        training::PickDataset::NAME,
        training::InspectDataset::NAME,
        <citrus_types::training::TrainStart as Command>::NAME,
        training::PauseTraining::NAME,
        training::ListTrainingRuns::NAME,
        training::GetTrainingRun::NAME,
        server::StartApi::NAME,
        server::StopApi::NAME,
        server::GetApiStatus::NAME,
        protection::GetStoreStatus::NAME,
        protection::ListAudit::NAME,
        protection::VerifyAudit::NAME,
    ];
    let app = MockApp::new("contract");
    for name in names {
        // A request of the wrong type: a registered command refuses its argument; an
        // unknown one is not found.
        let error = invoke_raw(&app.window, name, json!({ REQUEST_ARG: 0 }))
            .expect_err(name)
            .to_string();
        assert!(error.contains(REQUEST_ARG), "{name}: {error}");
    }
    let unknown = invoke_raw(&app.window, "no_such_command", json!({ REQUEST_ARG: 0 }))
        .expect_err("an unknown command")
        .to_string();
    assert!(!unknown.contains(REQUEST_ARG), "{unknown}");
}

#[test]
fn cases_are_created_saved_searched_filtered_and_deleted() {
    let app = MockApp::new("commands-cases");
    let chest = app.ok(
        "create_case",
        json!({"input": clinical("Crushing chest pain")}),
    );
    let exam = app.ok(
        "create_case",
        json!({"input": {"kind": "exam", "question": "Which drug?", "options": [
            {"letter": "A", "text": "Aspirin"}, {"letter": "B", "text": "Heparin"}]}}),
    );
    app.ok(
        "update_case",
        json!({"id": chest, "input": clinical("Crushing chest pain radiating to the jaw")}),
    );
    let case = app.ok("get_case", json!({"id": chest}));
    assert_eq!(
        case["input"]["chief_complaint"],
        "Crushing chest pain radiating to the jaw"
    );
    assert_eq!(case["input"]["kind"], "clinical");

    let all = app.ok("list_cases", json!({"query": {"search": ""}}));
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["id"], chest, "most recently changed first");
    assert_eq!(all[0]["reviewed"], false);
    let found = app.ok("list_cases", json!({"query": {"search": "aspirin"}}));
    assert_eq!(found[0]["id"], exam, "search looks inside the case");
    let reviewed = app.ok(
        "list_cases",
        json!({"query": {"search": "", "reviewed": true}}),
    );
    assert!(reviewed.as_array().unwrap().is_empty());

    // Bad input is refused with the reasoning layer's codes, and nothing is lost.
    let blank = json!({"id": chest, "input": {"kind": "clinical", "chief_complaint": "  "}});
    assert_eq!(
        app.error_code("update_case", blank),
        "reasoning.empty_complaint"
    );
    let duplicate = json!({"input": {"kind": "exam", "question": "Q?", "options": [
        {"letter": "A", "text": "x"}, {"letter": "A", "text": "y"}]}});
    assert!(app
        .error_code("create_case", duplicate)
        .starts_with("reasoning."));
    assert_eq!(
        app.ok("get_case", json!({"id": chest}))["input"]["chief_complaint"],
        "Crushing chest pain radiating to the jaw"
    );

    app.ok("delete_case", json!({"id": exam}));
    assert_eq!(
        app.error_code("get_case", json!({"id": exam})),
        "store.not_found"
    );
    // Every command that changed or opened a case left its entry, and the chain holds.
    assert_eq!(
        app.audit_actions(&chest),
        ["case.created", "case.edited", "case.viewed", "case.viewed"]
    );
    assert_eq!(app.audit_actions(&exam), ["case.created", "case.deleted"]);
    let verified = app.ok("verify_audit", json!({}));
    assert_eq!(verified["first_broken"], Value::Null);
    assert_eq!(verified["entries"], 6);
    let status = app.ok("get_store_status", json!({}));
    assert_eq!(status["encrypted"], true);
    assert_eq!(status["audit_entries"], 6);
    assert_eq!(
        app.error_code("delete_case", json!({"id": exam})),
        "store.not_found"
    );
}

#[test]
fn reasoning_streams_to_the_store_and_reviews_export() {
    let app = MockApp::new("commands-reasoning");
    let case = app.ok(
        "create_case",
        json!({"input": clinical("Fever and neck stiffness")}),
    );
    let options = json!({"mode": "free", "max_new_tokens": 24, "temperature": 0.0, "seed": 7});
    let job = app.ok(
        "start_reasoning",
        json!({"caseId": case, "options": options, "events": "__CHANNEL__:1"}),
    );
    assert!(job.as_u64().is_some());

    let start = Instant::now();
    let run = loop {
        let runs = app.ok("list_runs", json!({"caseId": case}));
        if let Some(run) = runs.as_array().unwrap().first() {
            if run["status"] == "done" {
                break run.clone();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no finished run"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = app.ok("get_run", json!({"id": run["id"]}));
    assert!(run["generated_tokens"].as_i64().unwrap() > 0);
    assert!(!run["raw_text"].as_str().unwrap().is_empty());
    assert!(run["differential"].is_array());
    assert_eq!(
        app.error_code("stop_job", json!({"jobId": job})),
        "engine.no_such_job"
    );

    let queue = app.ok("list_review_queue", json!({}));
    assert_eq!(queue[0]["run_id"], run["id"]);
    assert_eq!(
        app.error_code(
            "export_preview",
            json!({"format": "markdown", "runId": run["id"],
                   "deid": {"deidentify": true, "reviewed": [], "keep": []}})
        ),
        "store.not_reviewed"
    );
    let review = json!({"run_id": run["id"], "reviewer": "Dr. Test",
        "confirmed_diagnosis": "Bacterial meningitis",
        "comment": "Discussed with Mr. Abernathy on 03/14/2024.", "steps": []});
    app.ok("save_review", json!({"review": review}));
    assert_eq!(
        app.ok("get_review", json!({"runId": run["id"]}))["reviewer"],
        "Dr. Test"
    );
    assert!(app
        .ok("list_review_queue", json!({}))
        .as_array()
        .unwrap()
        .is_empty());
    let listed = app.ok(
        "list_cases",
        json!({"query": {"search": "", "diagnosis": "mening"}}),
    );
    assert_eq!(listed[0]["confirmed_diagnosis"], "Bacterial meningitis");

    let deid = json!({"deidentify": true, "reviewed": [], "keep": []});
    let sft = app.ok(
        "export_preview",
        json!({"format": "sft", "runId": null, "deid": deid}),
    );
    let line: Value =
        serde_json::from_str(sft["text"].as_str().unwrap().lines().next().unwrap()).unwrap();
    assert!(line["deidentification"]
        .as_str()
        .unwrap()
        .contains("not a certified"));
    assert!(line["input"]
        .as_str()
        .unwrap()
        .contains("Fever and neck stiffness"));
    assert!(line["target"]
        .as_str()
        .unwrap()
        .contains("Bacterial meningitis"));
    let report = app.ok(
        "export_preview",
        json!({"format": "markdown", "runId": run["id"], "deid": deid}),
    );
    let text = report["text"].as_str().unwrap();
    assert!(
        text.contains("[NAME 1]") && !text.contains("Abernathy"),
        "{text}"
    );
    let hits = report["hits"].as_array().unwrap();
    let high: Vec<&Value> = hits.iter().filter(|h| h["high"] == true).collect();
    assert!(high.iter().any(|h| h["text"] == "Abernathy"), "{hits:?}");

    // The export is refused while a high-confidence hit is unreviewed (before any dialog).
    let refused = app.error_code(
        "export_save",
        json!({"format": "markdown", "runId": run["id"], "deid": deid}),
    );
    assert_eq!(refused, "deid.unreviewed");
    // Kept hits stay as written.
    let name = high.iter().find(|h| h["text"] == "Abernathy").unwrap();
    let kept = app.ok(
        "export_preview",
        json!({"format": "markdown", "runId": run["id"],
               "deid": {"deidentify": true, "reviewed": [], "keep": [name["id"]]}}),
    );
    assert!(kept["text"].as_str().unwrap().contains("Mr. Abernathy"));
    assert_eq!(
        app.audit_actions(&case),
        [
            "case.created",
            "case.run",
            "run.viewed",
            "case.reviewed",
            "case.viewed",
            "case.viewed",
            "case.viewed"
        ]
    );
}

#[test]
fn models_settings_and_status() {
    let app = MockApp::new("commands-models");
    let models = app.ok("list_models", json!({}));
    assert_eq!(models[0]["active"], true);
    assert_eq!(models[0]["architecture"], "llama");
    let settings = json!({"device": "cpu", "threads": null, "requantize": "q8_0"});
    let info = app.ok(
        "inspect_model",
        json!({"id": models[0]["id"], "settings": settings}),
    );
    assert_eq!(info["config"]["num_layers"], 30);
    assert_eq!(info["requantized_to"], "Q8_0");
    assert_eq!(info["fits"], true);
    let bad = json!({"id": models[0]["id"], "settings": {"device": "tpu", "threads": null, "requantize": null}});
    assert_eq!(app.error_code("inspect_model", bad), "settings.invalid");
    assert_eq!(
        app.error_code("inspect_model", json!({"id": 99, "settings": settings})),
        "store.not_found"
    );

    let status = app.ok("get_engine_status", json!({}));
    assert_eq!(status["model"]["id"], models[0]["id"]);
    assert_eq!(
        (status["busy"].clone(), status["queued"].clone()),
        (json!(false), json!(0))
    );

    app.ok(
        "set_setting",
        json!({"key": "reviewer", "value": "Dr. Ada"}),
    );
    assert_eq!(app.ok("get_setting", json!({"key": "reviewer"})), "Dr. Ada");
    assert_eq!(
        app.error_code("set_setting", json!({"key": "active_model", "value": "1"})),
        "settings.invalid",
        "the window cannot write internal settings"
    );
    let info = app.ok("get_app_info", json!({}));
    assert!(info["store_path"].as_str().unwrap().ends_with("citrus.db"));
}

#[test]
fn evaluations_run_as_jobs_report_items_and_compare() {
    let app = MockApp::new("commands-evaluations");
    let info = app.ok("inspect_benchmark", json!({"path": medqa()}));
    assert_eq!(info["items"], 1273);
    assert_eq!(info["options"], json!([4, 4]));
    assert!(info["unusable"].as_array().unwrap().is_empty());

    let bad = app._dir.0.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"Q\": \"no options\", \"A\": \"A\", \"OP\": []}\nNaN\n",
    )
    .unwrap();
    assert_eq!(
        app.error_code("inspect_benchmark", json!({"path": bad})),
        "eval.no_items"
    );
    let mixed = app._dir.0.join("mixed.jsonl");
    let lines = [
        bench_item(1, 5, 2, Value::Null),
        "{broken".into(),
        bench_item(2, 3, 0, json!("context")),
    ];
    std::fs::write(&mixed, lines.join("\n")).unwrap();
    let info = app.ok("inspect_benchmark", json!({"path": mixed}));
    assert_eq!(
        (info["items"].clone(), info["options"].clone()),
        (json!(2), json!([3, 5]))
    );
    assert_eq!(info["exams"], json!([["mixed", 1], ["pubmedqa", 1]]));
    assert!(
        info["unusable"][0].as_str().unwrap().contains("line 2"),
        "{info}"
    );

    // A likelihood run of three items, then the same items with shuffled options.
    let choices = |shuffle: bool| {
        json!({"scoring": "likelihood", "reasoning": "free", "score_text": false,
               "max_new_tokens": 64, "temperature": 0.0,
               "selection": {"limit": 3, "sample": null, "shuffle_options": shuffle, "seed": 7}})
    };
    let request = json!({"kind": "new", "bench_path": medqa(), "model_id": null, "adapter": null,
                         "choices": choices(false)});
    let job = app.ok(
        "start_evaluation",
        json!({"request": request, "events": "__CHANNEL__:1"}),
    );
    assert!(job.as_u64().is_some());
    let first = app.newest_evaluation(0);
    let run = app.wait_for_evaluation(&first, "done");
    assert_eq!(
        (run["done"].clone(), run["planned"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(run["mode"], "likelihood");

    let report = app.ok("get_evaluation", json!({"id": first}));
    assert_eq!(report["items"].as_array().unwrap().len(), 3);
    assert_eq!(report["summary"]["overall"]["n"], 3);
    let chance = report["summary"]["overall"]["chance"].as_f64().unwrap();
    assert!((chance - 0.25).abs() < 1e-9, "{chance}");
    let item = app.ok("get_evaluation_item", json!({"id": first, "position": 1}));
    assert_eq!(item["scores"]["letters"], json!(["A", "B", "C", "D"]));
    assert!(
        item["prompt"].as_str().unwrap().contains("(A)")
            || item["prompt"].as_str().unwrap().contains("A.")
    );
    assert_eq!(
        app.error_code("get_evaluation_item", json!({"id": first, "position": 3})),
        "store.not_found"
    );

    let request = json!({"kind": "new", "bench_path": medqa(), "model_id": null, "adapter": null,
                         "choices": choices(true)});
    app.ok(
        "start_evaluation",
        json!({"request": request, "events": "__CHANNEL__:2"}),
    );
    let second = app.newest_evaluation(1);
    app.wait_for_evaluation(&second, "done");
    let comparison = app.ok("compare_evaluation_runs", json!({"a": first, "b": second}));
    assert_eq!(comparison["common"], 3);
    let paired = &comparison["paired"];
    let cells: u64 = ["both_right", "only_first", "only_second", "both_wrong"]
        .iter()
        .map(|k| paired[k].as_u64().unwrap())
        .sum();
    assert_eq!(cells, 3);

    // A finished evaluation cannot be continued; an unknown adapter fails before anything runs.
    app.ok(
        "start_evaluation",
        json!({"request": {"kind": "resume", "id": first}, "events": "__CHANNEL__:3"}),
    );
    let request = json!({"kind": "new", "bench_path": medqa(), "model_id": null,
                         "adapter": "no-such-adapter", "choices": choices(false)});
    app.ok(
        "start_evaluation",
        json!({"request": request, "events": "__CHANNEL__:4"}),
    );
    let start = Instant::now();
    while app.ok("get_engine_status", json!({}))["busy"] == true
        || app.ok("get_engine_status", json!({}))["queued"] != 0
    {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        app.ok("list_evaluations", json!({}))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(app.wait_for_evaluation(&first, "done")["done"], 3);
    assert!(app.ok("list_adapters", json!({})).is_array());
}

impl MockApp {
    /// Polls `list_training_runs` until run `id` has `status`.
    fn wait_for_training(&self, id: i64, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let runs = self.ok("list_training_runs", json!({}));
            let run = runs.as_array().unwrap().iter().find(|r| r["id"] == id);
            if let Some(run) = run {
                if run["status"] == status {
                    return run.clone();
                }
                assert_ne!(run["status"], "failed", "{run}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "training run {id} never became {status}: {run:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls until `list_runs` of `case` holds `count` finished runs; returns them.
    fn finished_runs(&self, case: &Value, count: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let runs = self.ok("list_runs", json!({"caseId": case}));
            let done: Vec<Value> = runs
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] == "done")
                .cloned()
                .collect();
            if done.len() >= count {
                return done;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "{runs}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn training_checks_data_runs_pauses_resumes_and_its_adapter_reasons() {
    let app = MockApp::new("commands-training");
    let source = json!({"kind": "file", "path": common::training_small(), "format": "auto"});
    let choices = |steps: usize| {
        json!({"steps": steps, "grad_accum": 1, "max_len": 128, "val_split": 0.2, "rank": 4,
               "alpha": 8.0, "learning_rate": 1e-3})
    };

    // The check: the bad line named, the preview told apart, the estimate before Start.
    let check = app.ok(
        "inspect_dataset",
        json!({"source": source, "modelId": null, "choices": choices(4)}),
    );
    let report = &check["report"];
    assert_eq!(report["format"], "citrus");
    assert_eq!(report["examples"], 12);
    assert_eq!(report["bad"][0]["line"], 5, "{report}");
    assert!(report["bad"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("target"));
    let segments = report["preview"]["segments"].as_array().unwrap();
    assert!(segments.iter().any(|s| s["trained"] == true));
    assert!(segments.iter().any(|s| s["trained"] == false));
    assert!(report["train_tokens"]["trained_tokens"].as_u64().unwrap() > 0);
    let estimate = &check["estimate"];
    assert_eq!(estimate["total_steps"], 4);
    assert!(estimate["memory"]["base_bytes"].as_u64().unwrap() > 100 << 20);
    assert!(estimate["trainable_parameters"].as_u64().unwrap() > 0);
    assert_eq!(
        app.error_code(
            "inspect_dataset",
            json!({"source": source, "modelId": null, "choices": {"rank": 0}})
        ),
        "train.invalid_setting"
    );
    let missing = json!({"kind": "file", "path": "/no/such/data.jsonl", "format": "auto"});
    assert_eq!(
        app.error_code(
            "inspect_dataset",
            json!({"source": missing, "modelId": null, "choices": choices(4)})
        ),
        "train.io"
    );

    // A run of four steps: every point recorded, the adapter installed in the library.
    let new = |steps| json!({"kind": "new", "source": source, "model_id": null, "choices": choices(steps)});
    app.ok(
        "start_training",
        json!({"request": new(4), "events": "__CHANNEL__:1"}),
    );
    let run = app.wait_for_training(1, "done");
    assert_eq!(run["step"], 4);
    assert_eq!(run["total_steps"], 4);
    assert_eq!(run["choices"]["rank"], 4);
    let record = app.ok("get_training_run", json!({"id": 1}));
    let points = record["points"].as_array().unwrap();
    let train_points = points.iter().filter(|p| p["kind"] == "train").count();
    assert_eq!(train_points, 4);
    assert!(points.iter().any(|p| p["kind"] == "validation"));
    let adapters = app.ok("list_adapters", json!({}));
    let adapter = &adapters[0];
    assert_eq!(adapter["name"], "run-1");
    assert_eq!(adapter["active"], false);
    assert_eq!(adapter["rank"], 4);
    assert_eq!(adapter["steps"], 4);
    assert_eq!(adapter["base_architecture"], "llama");
    assert!(adapter["final_loss"].as_f64().is_some());

    // Reasoning with the adapter, then without it: the runs say which.
    let case = app.ok(
        "create_case",
        json!({"input": clinical("Crushing chest pain")}),
    );
    let options = json!({"mode": "free", "max_new_tokens": 8, "temperature": 0.0, "seed": 7});
    app.ok("set_active_adapter", json!({"name": "run-1"}));
    assert_eq!(app.ok("list_adapters", json!({}))[0]["active"], true);
    app.ok(
        "start_reasoning",
        json!({"caseId": case, "options": options, "events": "__CHANNEL__:2"}),
    );
    app.finished_runs(&case, 1);
    app.ok("set_active_adapter", json!({"name": null}));
    app.ok(
        "start_reasoning",
        json!({"caseId": case, "options": options, "events": "__CHANNEL__:3"}),
    );
    let runs = app.finished_runs(&case, 2);
    assert_eq!(runs[0]["adapter"], "run-1");
    assert_eq!(runs[1]["adapter"], Value::Null);
    assert_eq!(
        app.error_code("set_active_adapter", json!({"name": "no-such"})),
        "adapter.invalid"
    );

    // Pause at a step, resume to the end; a finished run is not resumed again.
    let job = app.ok(
        "start_training",
        json!({"request": new(40), "events": "__CHANNEL__:4"}),
    );
    let start = Instant::now();
    while app.ok("list_training_runs", json!({}))[0]["id"] != 2
        || app.ok("list_training_runs", json!({}))[0]["step"] == 0
    {
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        app.error_code("pause_training", json!({"jobId": 999})),
        "engine.no_such_job"
    );
    app.ok("pause_training", json!({"jobId": job}));
    let paused = app.wait_for_training(2, "paused");
    assert!(paused["step"].as_u64().unwrap() < 40, "{paused}");
    app.ok(
        "start_training",
        json!({"request": {"kind": "resume", "id": 2}, "events": "__CHANNEL__:5"}),
    );
    let resumed = app.wait_for_training(2, "done");
    assert_eq!(resumed["step"], 40);
    let record = app.ok("get_training_run", json!({"id": 2}));
    let steps: Vec<u64> = record["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "train")
        .map(|p| p["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=40).collect::<Vec<_>>());
    assert_eq!(
        app.error_code(
            "start_training",
            json!({"request": {"kind": "resume", "id": 2}, "events": "__CHANNEL__:6"})
        ),
        "store.finished"
    );

    // Delete: gone from the library.
    app.ok("delete_adapter", json!({"name": "run-1"}));
    let names: Vec<Value> = app
        .ok("list_adapters", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("run-2")]);
}
