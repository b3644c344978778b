//! End-to-end: the real app binary in a real window under Xvfb, driven through tauri-driver and
//! WebKitWebDriver, on the default model and a real store. One journey, as a physician takes
//! it: create a case, reason (steps appear live), stop a run, compare runs, review and export,
//! look at the models, evaluate the model on a benchmark file (stop, continue, browse,
//! compare), restart and find everything, kill the app mid-reasoning and find the partial run
//! marked interrupted, then fine-tune an adapter (see `training.rs`) and reason with it, and
//! reason on a remote engine (see `remote.rs`). Screenshots of every screen land in
//! `tests/e2e/screenshots/` (or `$CITRUS_SCREENSHOTS`).

mod display;
#[path = "../../src-tauri/tests/common/release.rs"]
mod release;
mod remote;
mod training;
mod webdriver;

use std::path::{Path, PathBuf};

use display::{processes_of, Desktop};
use serde_json::json;
use webdriver::Session;

/// The app binary cargo built for this test.
fn app_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_citrus-workstation"))
}

/// Where screenshots go (created, emptied of old shots).
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CITRUS_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/screenshots"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// A data folder for the app holding only the default model and the ICD-10-CM release setup
/// installs (symlinks, not copies).
fn fresh_home() -> PathBuf {
    let home = std::env::temp_dir().join(format!("citrus-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let models = home.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let model = citrus_host::home::default_model_path();
    assert!(
        model.exists(),
        "{} is missing: run scripts/setup",
        model.display()
    );
    std::os::unix::fs::symlink(&model, models.join(model.file_name().unwrap())).unwrap();
    let vocabulary = home.join("vocabulary");
    std::fs::create_dir_all(&vocabulary).unwrap();
    let release = citrus_host::home::vocabulary_dir().join(citrus_host::home::ICD10_SOURCE_FILE);
    assert!(
        release.exists(),
        "{} is missing: run scripts/setup",
        release.display()
    );
    std::os::unix::fs::symlink(
        &release,
        vocabulary.join(citrus_host::home::ICD10_SOURCE_FILE),
    )
    .unwrap();
    home
}

struct Journey {
    desktop: Desktop,
    shots: PathBuf,
    taken: usize,
}

impl Journey {
    fn open_app(&self) -> Session {
        // The driver may still be closing the previous session for a few moments.
        let start = std::time::Instant::now();
        let session = loop {
            let failure_shot = self.shots.join("failure.png");
            match Session::start(&self.desktop.driver_url, &app_binary(), failure_shot) {
                Ok(session) => break session,
                Err(e) if start.elapsed() < webdriver::PATIENCE / 3 => {
                    eprintln!("retrying the session: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                Err(e) => panic!("the app did not start: {e}"),
            }
        };
        session.find("#view-cases");
        session.find("#decision-support-note");
        session
    }

    fn shot(&mut self, session: &Session, name: &str) {
        self.taken += 1;
        let path = self.shots.join(format!("{:02}-{name}.png", self.taken));
        // Let the last frame paint before capturing.
        std::thread::sleep(std::time::Duration::from_millis(400));
        session.screenshot(&path);
    }
}

fn count(session: &Session, css: &str) -> usize {
    session.all(css).len()
}

/// Runs the model on the open case and waits for `status` in the run view.
fn reason(session: &Session, guided: bool, max_tokens: &str) {
    session.click("#tab-reasoning");
    let switch = session.find("#guided-switch");
    if (session.property(&switch, "checked").as_deref() == Some("true")) != guided {
        session.click("#guided-switch");
    }
    session.fill("#max-tokens", max_tokens);
    session.fill("#temperature", "0");
    session.click("#reason-button");
}

/// Types into an input and leaves it, so its change handler runs.
fn enter(session: &Session, css: &str, text: &str) {
    session.fill(css, text);
    session.script("document.querySelector(arguments[0]).blur();", json!([css]));
}

/// Waits until the live evaluation's status is `status`.
fn wait_for_evaluation(session: &Session, what: &str, status: &str) {
    session.wait_until(what, || {
        (session
            .property(&session.find("#eval-status"), "data-status")
            .as_deref()
            == Some(status))
        .then_some(())
    });
}

/// The evaluation screen, as hospital IT uses it before switching an adapter on.
/// The Models screen's local API: started on a free loopback port, answering an OpenAI
/// client's model list, then stopped.
fn serve_locally(app: &Session) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    app.fill("#local-api-port", &port.to_string());
    app.click("#local-api-toggle");
    let address = format!("127.0.0.1:{port}/v1");
    app.wait_text("#local-api-status", "to say where it serves", |t| {
        t.contains(&address)
    });
    let models: serde_json::Value = ureq::get(&format!("http://{address}/models"))
        .call()
        .expect("the local API answers")
        .into_json()
        .expect("a JSON model list");
    assert_eq!(models["object"], "list", "{models}");
    app.click("#local-api-toggle");
    app.wait_text("#local-api-status", "to say Off", |t| t == "Off");
}

fn evaluate(journey: &mut Journey, app: &Session, home: &Path) {
    let medqa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/citrus/medqa.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(medqa)
        .expect("the MedQA sample")
        .lines()
        .take(12)
        .map(str::to_string)
        .collect();
    let bench = home.join("bench.jsonl");
    std::fs::write(&bench, format!("{}\n{{broken\n", lines.join("\n"))).unwrap();
    let empty = home.join("empty.jsonl");
    std::fs::write(&empty, "{broken\n").unwrap();

    app.click("#nav-evaluation");
    app.find("#view-evaluation");
    // A file with nothing usable is refused in words.
    enter(app, "#bench-path", &empty.display().to_string());
    let banner = app.find("#error-banner");
    assert_eq!(
        app.property(&banner, "data-code").as_deref(),
        Some("eval.no_items")
    );
    app.click(".banner-close");

    enter(app, "#bench-path", &bench.display().to_string());
    app.wait_text("#bench-info", "to count the items", |t| {
        t.contains("12 usable") && t.contains("1 unusable")
    });
    app.select("#eval-mode", "likelihood");
    app.select("#eval-subset", "first");
    enter(app, "#eval-count", "4");
    app.click("#start-eval");
    wait_for_evaluation(app, "the first evaluation done", "done");
    app.wait_until("its four items", || {
        (count(app, ".eval-item-row") == 4).then_some(())
    });
    assert!(app.text(&app.find("#eval-summary")).contains('%'));
    journey.shot(app, "evaluation-done");

    // All twelve, options shuffled: stopped after a few items, then continued.
    app.select("#eval-subset", "all");
    app.click("#eval-shuffle");
    app.click("#start-eval");
    app.wait_until("a few items done", || {
        let done = app.text(&app.find("#eval-count-done"));
        let n: usize = done.split('/').next()?.trim().parse().ok()?;
        (n >= 2).then_some(())
    });
    assert!(app.text(&app.find("#eval-eta")).contains("ETA"));
    journey.shot(app, "evaluation-running");
    app.click("#stop-eval");
    wait_for_evaluation(app, "the run stopped", "cancelled");
    app.wait_until("a Continue button", || {
        (count(app, ".eval-row[data-status='cancelled'] .continue-eval") == 1).then_some(())
    });
    app.click(".eval-row[data-status='cancelled'] .continue-eval");
    wait_for_evaluation(app, "the continued run done", "done");
    app.wait_until("all twelve items, none twice", || {
        (count(app, ".eval-item-row") == 12).then_some(())
    });

    // Wrong items only; open one: its option scores, prompt and key.
    app.select("#item-filter", "wrong");
    let outcomes: Vec<String> = app
        .all(".eval-item-row")
        .iter()
        .filter_map(|r| app.property(r, "data-outcome"))
        .collect();
    assert!(outcomes.iter().all(|o| o == "wrong"), "{outcomes:?}");
    app.select("#item-filter", "all");
    app.click(".eval-item-row td");
    app.wait_text("#item-prompt", "to show the question", |t| {
        !t.trim().is_empty()
    });
    assert_eq!(count(app, "#option-scores tr"), 4);
    journey.shot(app, "evaluation-item");

    // The two runs compared on the four items both ran.
    app.wait_until("a comparison", || {
        app.all("#comparison")
            .first()
            .and_then(|c| app.property(c, "data-common"))
            .filter(|n| n == "4")
    });
    assert!(app
        .text(&app.find("#comparison-verdict"))
        .contains("McNemar"));
    journey.shot(app, "evaluation-compare");
}

/// Makes a plaintext copy of the journey's store at schema 8, opens it with this release and
/// checks that it was encrypted with every row kept.
fn previous_release_migrates(home: &Path) {
    use citrus_workstation::store::{keyed_connection, Store, STORE_FILE};
    let store = home.join(STORE_FILE);
    let expected = release::contents(&keyed_connection(&store).expect("the journey's store"));
    assert!(expected
        .iter()
        .any(|(table, rows)| table == "eval_runs" && !rows.is_empty()));
    let folder = home.join("previous-release");
    std::fs::create_dir_all(&folder).unwrap();
    let plain = folder.join(STORE_FILE);
    release::previous_release_copy(&store, &plain);
    let before = std::fs::read(&plain).unwrap();
    assert!(before.starts_with(b"SQLite format 3"));
    let migrated = Store::open_shared(&plain).expect("the plaintext store migrates");
    assert_eq!(migrated.schema_version().unwrap(), 10);
    drop(migrated);
    assert_eq!(
        release::contents(&keyed_connection(&plain).unwrap()),
        expected
    );
    assert!(!std::fs::read(&plain)
        .unwrap()
        .starts_with(b"SQLite format 3"));
}

#[test]
fn a_physician_reasons_reviews_restarts_and_survives_a_kill() {
    let home = fresh_home();
    let mut journey = Journey {
        desktop: Desktop::start(&home),
        shots: screenshot_dir(),
        taken: 0,
    };

    // 1. An empty case list, the note always on screen.
    let app = journey.open_app();
    let note = app.text(&app.find("#decision-support-note"));
    assert!(note.to_lowercase().contains("not a diagnosis"), "{note}");
    journey.shot(&app, "cases-empty");

    // 2. A new clinical case, autosaved.
    app.click("#new-clinical-case");
    app.fill(
        "#field-chief_complaint",
        "Crushing substernal chest pain for 45 minutes",
    );
    app.fill("#field-age", "58");
    app.fill("#field-sex", "male");
    app.fill(
        "#field-history_of_present_illness",
        "Pain at rest radiating to the left arm and jaw, with sweating and nausea.",
    );
    app.fill("#field-examination", "Diaphoretic, S4 gallop, lungs clear.");
    app.fill(
        "#field-labs",
        "Troponin I 2.4 ng/mL. ECG: ST elevation in II, III, aVF.",
    );
    app.wait_text("#save-status", "to say Saved", |t| t.contains("Saved"));
    journey.shot(&app, "case-editor");

    // 3. Guided reasoning: steps appear while the model writes, then the answer.
    reason(&app, true, "400");
    app.wait_text("#run-status", "to show the run going", |t| {
        let t = t.to_lowercase();
        t.contains("running") || t.contains("loading") || t.contains("queued")
    });
    app.wait_until("a first step while the run goes on", || {
        let status = app.property(&app.find("#run-status"), "data-status");
        (count(&app, "#timeline .step") > 0 && status.as_deref() == Some("running")).then_some(())
    });
    journey.shot(&app, "reasoning-live");
    app.wait_text("#run-status", "to say done", |t| {
        t.to_lowercase().contains("done")
    });
    let stages: Vec<String> = app
        .all("#timeline .step")
        .iter()
        .filter_map(|s| app.property(s, "data-stage"))
        .collect();
    assert!(stages.iter().any(|s| s == "findings"), "{stages:?}");
    assert!(stages.iter().any(|s| s == "conclusion"), "{stages:?}");
    assert!(!app.text(&app.find("#answer")).trim().is_empty());
    // A guided clinical answer is the differential's most likely diagnosis, and says so.
    assert!(app
        .text(&app.find("#answer-in-differential"))
        .contains("One of the differential's diagnoses"));
    let speed = app.text(&app.find("#tokens-per-second"));
    assert!(
        speed.chars().any(|c| c.is_ascii_digit()),
        "tokens/s: {speed}"
    );
    app.click("#raw-toggle");
    assert!(!app.text(&app.find("#raw-text")).trim().is_empty());
    journey.shot(&app, "reasoning-done");

    // The differential is ICD-10-CM entries, each with its code, and the can't-miss conditions a
    // chest-pain presentation fits (acute coronary syndrome, pulmonary embolism, aortic
    // dissection) are all in it.
    let codes: Vec<String> = app.wait_until("a coded differential", || {
        let codes: Vec<String> = app
            .all("#coded-differential .coded-entry")
            .iter()
            .filter_map(|row| app.property(row, "data-code"))
            .collect();
        (codes.len() >= 2).then_some(codes)
    });
    assert!(codes.iter().all(|c| !c.is_empty()), "{codes:?}");
    for prefix in ["I21", "I26", "I71.0"] {
        assert!(
            codes.iter().any(|c| c.starts_with(prefix)),
            "{prefix} in {codes:?}"
        );
    }
    assert!(count(&app, "#coded-differential .badge.cant-miss") >= 3);
    journey.shot(&app, "coded-differential");

    // The key findings are quotes of the case, linked to it: selecting one highlights its span
    // in the case beside the timeline.
    let first_finding = "#timeline .step[data-stage='findings'] .finding-link";
    let link = app.find(first_finding);
    let field = app.property(&link, "data-field").expect("a field");
    let quote = app.text(&app.find(&format!("{first_finding} q")));
    app.click(first_finding);
    let highlighted = format!("#case-text .case-field[data-field='{field}'] mark.case-highlight");
    app.wait_until("the finding highlighted in the case", || {
        let marks = app.all(&highlighted);
        let text: String = marks.iter().map(|m| app.text(m)).collect();
        (!text.trim().is_empty() && quote.contains(text.trim())).then_some(())
    });
    journey.shot(&app, "findings-linked-to-case");

    // 4. A free run, stopped while it writes.
    reason(&app, false, "2000");
    app.wait_until("text streaming", || {
        (!app.text(&app.find("#live-text")).trim().is_empty() || count(&app, "#timeline .step") > 0)
            .then_some(())
    });
    app.click("#stop-button");
    app.wait_text("#run-status", "to say cancelled", |t| {
        t.to_lowercase().contains("cancelled")
    });
    journey.shot(&app, "run-stopped");

    // 5. Both runs kept; side by side.
    app.click("#tab-runs");
    app.wait_until("two runs", || (count(&app, ".run-row") == 2).then_some(()));
    let statuses: Vec<String> = app
        .all(".run-row")
        .iter()
        .filter_map(|r| app.property(r, "data-status"))
        .collect();
    assert_eq!(statuses, ["done", "cancelled"]);
    app.wait_until("two columns", || {
        (count(&app, ".compare-column") == 2).then_some(())
    });
    journey.shot(&app, "runs-side-by-side");

    // 6. Review the guided run: verdicts, confirmed diagnosis, reviewer; export.
    app.click("#tab-review");
    app.wait_until("steps to review", || {
        (count(&app, ".step-review") >= 2).then_some(())
    });
    app.click(".step-review[data-position='0'] .agree");
    app.click(".step-review[data-position='1'] .disagree");
    app.fill(
        ".step-review[data-position='1'] .step-comment",
        "Aortic dissection should be considered; discussed with Mr. Abernathy on 03/14/2024",
    );
    // The confirmed diagnosis chosen from ICD-10-CM as it is typed.
    app.fill("#confirmed-diagnosis", "STEMI inferior");
    app.click(".code-suggestion[data-code='I21.1']");
    app.wait_until("the code chosen", || {
        app.property(&app.find(".code-chosen"), "data-code")
            .filter(|code| code == "I21.1")
    });
    assert_eq!(
        app.property(&app.find("#confirmed-diagnosis"), "value")
            .as_deref(),
        Some("ST elevation (STEMI) myocardial infarction of inferior wall")
    );
    journey.shot(&app, "review-confirmed-code");
    app.fill("#reviewer", "Dr. Rivera");
    app.click("#save-review");
    app.wait_text("#review-status", "to say Saved", |t| t.contains("Saved"));
    let preview = app.find("#export-preview");
    // De-identification before anything leaves: the comment names someone and a date; the
    // replacements are listed, the report carries placeholders, and saving waits for review.
    app.wait_until("the name among the replacements", || {
        app.all("#deid-hits .deid-hit.high")
            .iter()
            .any(|hit| app.text(hit).contains("Abernathy"))
            .then_some(())
    });
    let report = app.wait_until("a de-identified report", || {
        app.property(&preview, "value")
            .filter(|text| text.contains("[NAME 1]"))
    });
    assert!(!report.contains("Abernathy"), "{report}");
    assert!(report.contains("not a certified de-identification"));
    assert_eq!(
        app.property(&app.find("#export-save"), "disabled")
            .as_deref(),
        Some("true")
    );
    journey.shot(&app, "export-deidentification-review");
    app.click("#deid-confirm");
    app.wait_until("saving allowed once reviewed", || {
        (app.property(&app.find("#export-save"), "disabled")
            .as_deref()
            == Some("false"))
        .then_some(())
    });
    app.select("#export-format", "sft");
    let sft = app.wait_until("the SFT line in the preview", || {
        app.property(&preview, "value")
            .filter(|text| text.contains("\"code\":\"I21.1\""))
    });
    let example: serde_json::Value =
        serde_json::from_str(sft.lines().next().unwrap()).expect("one JSON line");
    assert!(example["input"]
        .as_str()
        .unwrap()
        .contains("Crushing substernal chest pain"));
    journey.shot(&app, "review-and-export");

    // 7. The models screen: the default model, what it is, whether it fits.
    app.click("#nav-models");
    app.find("#view-models");
    app.click(".model-row");
    app.wait_text("#model-info", "to describe the model", |t| {
        t.contains("llama")
    });
    app.wait_text("#memory-fit", "to give a verdict", |t| {
        t.to_lowercase().contains("fit")
    });
    journey.shot(&app, "models");
    serve_locally(&app);

    // 8. Evaluation: a benchmark file with an unusable line, a likelihood run of its first
    //    items, a shuffled run stopped and continued, items filtered and opened, a comparison.
    evaluate(&mut journey, &app, &home);

    // The evaluation on the reviewed cases: the guided run's differential against the code
    // the reviewer confirmed.
    app.wait_until("the reviewed-case evaluation", || {
        (count(&app, "#reviewed-evaluation .reviewed-row") == 1).then_some(())
    });
    assert_eq!(app.text(&app.find(".reviewed-cases-count")).trim(), "1");
    assert!(app.text(&app.find(".reviewed-anywhere")).contains('%'));
    app.script(
        "document.querySelector(arguments[0]).scrollIntoView()",
        serde_json::json!(["#reviewed-evaluation"]),
    );
    journey.shot(&app, "reviewed-case-evaluation");

    // 9. The case list after the review: reviewed, with its diagnosis.
    app.click("#nav-cases");
    app.wait_text(".case-row", "to show the diagnosis", |t| {
        t.contains("myocardial infarction of inferior wall")
    });
    journey.shot(&app, "cases-reviewed");

    // The Audit screen: the store encrypted, who did what to the case, the chain verified.
    app.click("#nav-audit");
    app.wait_text("#store-encrypted", "to say encrypted", |t| {
        t.contains("is encrypted")
    });
    let actions: Vec<String> = app.wait_until("the case's entries", || {
        let actions: Vec<String> = app
            .all("#audit-entries .audit-entry")
            .iter()
            .filter_map(|row| app.property(row, "data-action"))
            .collect();
        (actions.len() >= 5).then_some(actions)
    });
    for action in ["case.created", "case.run", "run.viewed", "case.reviewed"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    app.click("#audit-verify");
    app.wait_text("#audit-verdict", "to say the trail holds", |t| {
        t.contains("holds")
    });
    journey.shot(&app, "audit");

    // 10. Restart: everything is still there.
    app.quit();
    let app = journey.open_app();
    app.wait_text(".case-row", "after restart", |t| {
        t.contains("Crushing substernal")
    });
    app.click(".case-row");
    assert_eq!(
        app.property(&app.find("#field-chief_complaint"), "value")
            .as_deref(),
        Some("Crushing substernal chest pain for 45 minutes")
    );
    app.click("#tab-runs");
    app.wait_until("both runs after restart", || {
        (count(&app, ".run-row") == 2).then_some(())
    });
    journey.shot(&app, "after-restart");

    // 11. A second case, killed mid-reasoning (SIGKILL), then reopened.
    app.click("#nav-cases");
    app.click("#new-exam-item");
    app.fill(
        "#field-question",
        "A 24-year-old has fever, headache and neck stiffness. What is the next step?",
    );
    app.click("#add-option");
    app.click("#add-option");
    let options = app.all(".option-text");
    assert!(options.len() >= 2, "options to fill");
    app.script(
        "const inputs = document.querySelectorAll('.option-text');
         const texts = ['Lumbar puncture', 'Empirical antibiotics', 'CT of the head', 'Discharge'];
         inputs.forEach((input, i) => { input.value = texts[i] || 'Observe';
           input.dispatchEvent(new Event('input', {bubbles: true})); });",
        json!([]),
    );
    app.wait_text("#save-status", "to say Saved", |t| t.contains("Saved"));
    // Guided: the app drives several stages, so the run is still going when it is killed (a
    // free run may end at the model's first end-of-turn).
    reason(&app, true, "4000");
    app.wait_until("text before the kill", || {
        let status = app.property(&app.find("#run-status"), "data-status");
        (status.as_deref() == Some("running")
            && !app.text(&app.find("#live-text")).trim().is_empty())
        .then_some(())
    });
    journey.shot(&app, "before-kill");
    let pids = processes_of(&app_binary());
    assert!(!pids.is_empty(), "the app process");
    for pid in &pids {
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    app.quit(); // ends the driver's session of the dead app
    let app = journey.open_app();
    app.wait_text("#view-cases", "to list the exam item", |t| {
        t.contains("24-year-old")
    });
    let rows = app.all(".case-row");
    let exam_row = rows
        .iter()
        .find(|r| app.text(r).contains("24-year-old"))
        .expect("the killed case");
    let id = app.property(exam_row, "data-case-id").expect("case id");
    app.click(&format!(".case-row[data-case-id='{id}']"));
    app.click("#tab-runs");
    app.wait_until("the interrupted run", || {
        app.all(".run-row")
            .iter()
            .any(|r| app.property(r, "data-status").as_deref() == Some("interrupted"))
            .then_some(())
    });
    journey.shot(&app, "interrupted-after-kill");
    app.click(".run-row[data-status='interrupted'] td");
    app.wait_text("#run-status", "to say interrupted", |t| {
        t.to_lowercase().contains("interrupted")
    });
    app.click("#raw-toggle");
    assert!(
        !app.text(&app.find("#raw-text")).trim().is_empty(),
        "the partial text"
    );
    journey.shot(&app, "interrupted-run");

    // 12. The review queue holds the interrupted case.
    app.click("#nav-review");
    app.wait_text("#view-review", "to list the case", |t| {
        t.contains("24-year-old")
    });
    journey.shot(&app, "review-queue");

    // 13. Training: a small dataset checked, trained with the chart filling in, paused and
    //     resumed, cancelled; the app killed mid-run and the run resumed after a restart; the
    //     new adapter used for reasoning and compared with the base model's run; that run
    //     reviewed as right, pairs built from the reviews, and a preference run trained.
    training::train(&mut journey, &app);
    let app = training::kill_and_resume(&mut journey, app);
    training::compare_with_adapter(&mut journey, &app);
    training::prefer_from_reviews(&mut journey, &app);

    // 14. A remote engine: a server added on the Models screen, a run on it naming the server.
    remote::reason_remotely(&mut journey, &app, &home);
    app.quit();

    // 15. The journey's store as the previous release would have left it (plaintext, schema
    //     8) migrates with every case, run, review, evaluation and training run intact.
    previous_release_migrates(&home);
    let _ = std::fs::remove_dir_all(&home);
}
