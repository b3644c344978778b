//! The training part of the journey, as hospital IT takes it: check a small dataset (a bad
//! line named, the preview told apart, the estimate), train a few steps with the chart filling
//! in, pause and resume, cancel, kill the app mid-run and resume the interrupted run from its
//! checkpoint (measuring how fast other screens answer meanwhile), then reason with the new
//! adapter and compare with the base model's run; finally a clinician's preference between
//! two reviewed runs becomes a pair, and a CPO-SimPO run on it fills the preference charts.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{count, enter, reason, Journey};
use crate::display::processes_of;
use crate::webdriver::Session;

/// The small dataset the tests ship: 12 records and one without its target (line 5).
fn dataset() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/training-small.jsonl")
        .display()
        .to_string()
}

/// The live panel's status.
fn live_status(app: &Session) -> Option<String> {
    app.all("#live-training")
        .first()
        .and_then(|panel| app.property(panel, "data-status"))
}

fn wait_for_live(app: &Session, what: &str, status: &str) {
    wait_for_live_within(app, crate::webdriver::PATIENCE, what, status);
}

fn wait_for_live_within(app: &Session, patience: Duration, what: &str, status: &str) {
    app.wait_within(patience, what, || {
        let now = live_status(app);
        assert_ne!(
            now.as_deref(),
            Some("failed"),
            "{}",
            app.text(&app.find("#train-phase"))
        );
        (now.as_deref() == Some(status)).then_some(())
    });
}

/// Scrolls the element `css` to the top of the window (before a screenshot).
fn show(app: &Session, css: &str) {
    app.script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
        json!([css]),
    );
}

/// Training points drawn on the chart `css`.
fn chart_points(app: &Session, css: &str) -> usize {
    app.all(css)
        .first()
        .and_then(|chart| app.property(chart, "data-train-points"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Sets the run's length and size for the test, checks the data and starts.
fn start_run(app: &Session, steps: usize) {
    app.select("#train-length", "steps");
    enter(app, "#train-steps", &steps.to_string());
    enter(app, "#train-accum", "1");
    enter(app, "#train-max-len", "128");
    enter(app, "#train-lr", "0.001");
    app.click("#check-dataset");
    app.wait_until("the estimate to fit", || {
        app.all("#train-estimate")
            .first()
            .and_then(|e| app.property(e, "data-fits"))
            .filter(|fits| fits == "true")
    });
    app.click("#start-training");
}

/// Check, train, pause, resume, cancel.
pub fn train(journey: &mut Journey, app: &Session) {
    app.click("#nav-training");
    app.find("#view-training");
    enter(app, "#train-path", &dataset());
    let check = app.find("#dataset-check");
    assert_eq!(app.property(&check, "data-examples").as_deref(), Some("12"));
    assert_eq!(app.property(&check, "data-bad").as_deref(), Some("1"));
    let bad = app.text(&app.find("#bad-records"));
    assert!(bad.contains("line 5") && bad.contains("target"), "{bad}");
    assert!(count(app, "#dataset-preview .seg-trained") >= 1);
    assert!(count(app, "#dataset-preview .seg-masked") >= 1);
    assert!(app
        .text(&app.find("#train-estimate"))
        .contains("Peak memory"));
    show(app, "#dataset-check");
    journey.shot(app, "training-data");

    // Twelve steps: points appear while it runs; paused, then resumed to the end.
    start_run(app, 12);
    app.wait_until("two points on the live chart", || {
        (chart_points(app, "#live-loss-chart") >= 2
            && live_status(app).as_deref() == Some("running"))
        .then_some(())
    });
    show(app, "#live-training");
    journey.shot(app, "training-live");
    app.click("#pause-training");
    wait_for_live(app, "the run paused", "paused");
    assert!(chart_points(app, "#live-loss-chart") < 12);
    app.click("#resume-training");
    wait_for_live(app, "the resumed run done", "done");
    assert_eq!(chart_points(app, "#live-loss-chart"), 12);
    app.find("#installed-adapter");
    app.click(".train-run-row[data-status='done'] td");
    app.wait_until("the finished run's chart", || {
        (chart_points(app, "#run-loss-chart") == 12).then_some(())
    });
    show(app, "#train-run-detail");
    journey.shot(app, "training-done");

    // A long run, cancelled: it stays cancelled (no Resume).
    start_run(app, 200);
    app.wait_until("a first point", || {
        (chart_points(app, "#live-loss-chart") >= 1).then_some(())
    });
    app.click("#cancel-training");
    wait_for_live(app, "the run cancelled", "cancelled");
}

/// Kills the app in the middle of a run; after a restart the run is interrupted and Resume
/// continues it from its last checkpoint. Returns the new session.
pub fn kill_and_resume(journey: &mut Journey, app: Session) -> Session {
    start_run(&app, 50);
    // Checkpoints every 10 steps: kill after the first.
    app.wait_until("a checkpoint behind the run", || {
        (chart_points(&app, "#live-loss-chart") >= 12).then_some(())
    });
    for pid in processes_of(&super::app_binary()) {
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    app.quit();
    let app = journey.open_app();
    app.click("#nav-training");
    app.click(".train-run-row[data-status='interrupted'] td");
    app.click("#resume-run");
    app.wait_until("the resumed run going", || {
        (live_status(&app).as_deref() == Some("running")
            && chart_points(&app, "#live-loss-chart") >= 11)
            .then_some(())
    });
    measure_clicks(&app);
    app.click("#nav-training");
    wait_for_live(&app, "the resumed run done", "done");
    assert_eq!(chart_points(&app, "#live-loss-chart"), 50);
    app.click("#use-trained-adapter");
    app.wait_until("the run's row", || {
        (count(&app, ".train-run-row[data-status='done']") == 2).then_some(())
    });
    app
}

/// Clicks through the other screens while the run trains and logs how long each takes to
/// show its data (the window must answer in well under 200 ms).
fn measure_clicks(app: &Session) {
    let screens = [
        ("#nav-cases", ".case-row"),
        ("#nav-models", ".model-row"),
        ("#nav-evaluation", ".eval-row"),
        ("#nav-training", ".train-run-row"),
    ];
    let mut times = Vec::new();
    for round in 0..5 {
        for (nav, shown) in screens {
            let ms = app.script_async(
                "const [nav, shown, done] = arguments;
                 const start = performance.now();
                 document.querySelector(nav).click();
                 const poll = () => document.querySelector(shown)
                     ? done(performance.now() - start) : setTimeout(poll, 2);
                 poll();",
                json!([nav, shown]),
            );
            times.push(ms.as_f64().expect("milliseconds"));
            std::thread::sleep(Duration::from_millis(150 + 50 * round));
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    eprintln!(
        "click latency while training ({} clicks on Cases, Models, Evaluation, Training): median {median:.0} ms, 90th percentile {:.0} ms, worst {worst:.0} ms",
        times.len(),
        times[times.len() * 9 / 10]
    );
}

/// Reasons on the first case with the adapter on; the comparison shows base vs adapter.
pub fn compare_with_adapter(journey: &mut Journey, app: &Session) {
    app.click("#nav-models");
    app.wait_until("the adapter in use", || {
        app.all(".adapter-row[data-active='true']")
            .first()
            .and_then(|row| app.property(row, "data-adapter"))
    });
    assert_eq!(count(app, ".adapter-row"), 2);
    journey.shot(app, "adapter-list");

    app.click("#nav-cases");
    let id = app.wait_until("the first case in the list", || {
        app.all(".case-row")
            .iter()
            .find(|r| app.text(r).contains("Crushing substernal"))
            .and_then(|r| app.property(r, "data-case-id"))
    });
    app.click(&format!(".case-row[data-case-id='{id}']"));
    reason(app, false, "48");
    app.wait_text("#run-status", "the adapted run to finish", |t| {
        t.to_lowercase().contains("done")
    });
    assert!(app.text(&app.find("#run-model")).contains(" + run-"));
    app.click("#tab-runs");
    app.wait_until("three runs", || (count(app, ".run-row") == 3).then_some(()));
    let first_run = app.all(".run-row")[0].clone();
    let base = app.property(&first_run, "data-run-id").expect("run id");
    app.select("#compare-left", &base);
    app.wait_until("base on the left, the adapter on the right", || {
        let sides: Vec<String> = app
            .all(".compare-adapter")
            .iter()
            .map(|d| app.text(d))
            .collect();
        (sides.len() == 2 && sides[0].contains("none") && sides[1].contains("run-")).then_some(())
    });
    journey.shot(app, "base-vs-adapter");
}

/// Reasons again on the open case (the adapter on), reviews that run as right (every step
/// agreed, its answer confirmed), so the earlier run with a disagreed step is the worse one;
/// then builds pairs from the reviews on the Training screen, trains CPO-SimPO on them and
/// shows the preference charts.
pub fn prefer_from_reviews(journey: &mut Journey, app: &Session) {
    reason(app, true, "400");
    app.wait_text("#run-status", "the guided run to finish", |t| {
        t.to_lowercase().contains("done")
    });
    let answer = app.wait_until("the run's answer", || {
        let text = app.text(&app.find("#answer .answer-text"));
        let first = text.lines().next().unwrap_or("").trim().to_string();
        (!first.is_empty() && first != "No answer yet.").then_some(first)
    });
    app.click("#tab-review");
    let steps = app.wait_until("steps to review", || {
        let n = count(app, ".step-review");
        (n >= 1).then_some(n)
    });
    for position in 0..steps {
        app.click(&format!(".step-review[data-position='{position}'] .agree"));
    }
    app.fill("#confirmed-diagnosis", &answer);
    app.fill("#reviewer", "Dr. Rivera");
    app.click("#save-review");
    app.wait_text("#review-status", "to say Saved", |t| t.contains("Saved"));

    app.click("#nav-training");
    app.find("#view-training");
    app.select("#train-source", "review-pairs");
    assert_eq!(
        app.property(&app.find("#train-method"), "value").as_deref(),
        Some("cpo-simpo"),
        "pairs choose Citrus' own method"
    );
    app.find("#train-pref-gamma");
    app.select("#train-length", "steps");
    enter(app, "#train-steps", "1");
    enter(app, "#train-accum", "1");
    enter(app, "#train-max-len", "2048");
    enter(app, "#train-lr", "0.001");
    app.click("#check-dataset");
    let pairs = app.wait_until("the pair builder's pairs", || {
        app.all("#review-pairs")
            .first()
            .and_then(|p| app.property(p, "data-pairs"))
    });
    assert_eq!(pairs, "1", "{}", app.text(&app.find("#review-pairs")));
    let listed = app.text(&app.find("#review-pairs"));
    assert!(listed.contains("chosen over run"), "{listed}");
    app.wait_until("the estimate to fit", || {
        app.all("#train-estimate")
            .first()
            .and_then(|e| app.property(e, "data-fits"))
            .filter(|fits| fits == "true")
    });
    show(app, "#dataset-check");
    journey.shot(app, "preference-pairs-from-reviews");
    app.click("#start-training");
    // Two answers of a guided run each (~600 tokens), forwarded and backpropagated: minutes.
    let started = std::time::Instant::now();
    wait_for_live_within(
        app,
        Duration::from_secs(600),
        "the preference run done",
        "done",
    );
    eprintln!(
        "one CPO-SimPO step on a pair of guided runs, with loading and calibration: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(chart_points(app, "#live-reward-accuracy"), 1);
    assert_eq!(chart_points(app, "#live-reward-margin"), 1);
    show(app, "#live-training");
    journey.shot(app, "preference-training");
}
