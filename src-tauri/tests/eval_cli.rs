//! `citrus eval` as a user runs it, on the real default model and a real store: files in the
//! Citrus line format with 3 to 10 options, string and object contexts and unusable lines; a
//! run killed with SIGKILL continues where it stopped without repeating or losing items; a
//! second process reading the store leaves the live run `running`; runs compare.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{bench_item as item, citrus_command, medqa, run_citrus, text, TempDir};
use serde_json::{json, Value};

#[test]
fn files_of_every_shape_import_and_unusable_lines_are_named() {
    let tmp = TempDir::new("eval-shapes");
    let bench = tmp.0.join("mixed.jsonl");
    let object = json!({"CONTEXTS": ["First part.", "Second part."], "LABELS": ["BACKGROUND", "RESULTS"], "MESHES": ["x"]});
    let lines = [
        item(1, 3, 0, object),
        item(2, 4, 1, json!("A string context.")),
        item(3, 5, 4, Value::Null),
        item(4, 10, 9, Value::Null),
        r#"{"id":"5","Q":"No options?","A":"A","OP":[]}"#.to_string(),
        r#"{"id":"6","Q":"Bad key?","A":"E","OP":[{"op_idx":"A","op_value":"x"},{"op_idx":"B","op_value":"y"}]}"#.to_string(),
        r#"{"id":"7","Q":"NaN?","A":"A","score":NaN,"OP":[{"op_idx":"A","op_value":"x"}]}"#.to_string(),
        r#"{"id":"8","A":"A","OP":[{"op_idx":"A","op_value":"x"},{"op_idx":"B","op_value":"y"}]}"#.to_string(),
    ];
    std::fs::write(&bench, lines.join("\n") + "\n").unwrap();
    let db = tmp.0.join("citrus.db").display().to_string();
    let out = tmp.0.join("report.csv");
    let output = run_citrus(&[
        "eval",
        "--bench",
        bench.to_str().unwrap(),
        "--mode",
        "likelihood",
        "--db",
        &db,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("4 usable item(s), 4 unusable"), "{stderr}");
    for needle in ["line 5", "line 6", "line 7", "line 8"] {
        assert!(stderr.contains(needle), "{needle} not named: {stderr}");
    }
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let all = &report["summary"]["overall"];
    assert_eq!(all["n"], 4);
    let chance = (1.0 / 3.0 + 0.25 + 0.2 + 0.1) / 4.0;
    assert!((all["chance"].as_f64().unwrap() - chance).abs() < 1e-12);
    assert_eq!(report["summary"]["exams"].as_array().unwrap().len(), 2);
    let options: Vec<u64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["options"].as_u64().unwrap())
        .collect();
    assert_eq!(options, [3, 4, 5, 10]);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 5);
}

/// Items recorded so far for evaluation 1, read through a plain connection.
fn recorded(db: &Path) -> Vec<(i64, String)> {
    let Ok(conn) = citrus_workstation::store::keyed_connection(db) else {
        return Vec::new();
    };
    let Ok(mut query) =
        conn.prepare("SELECT position, outcome FROM eval_items WHERE run_id = 1 ORDER BY position")
    else {
        return Vec::new();
    };
    query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn status(db: &Path, id: i64) -> String {
    citrus_workstation::store::keyed_connection(db)
        .unwrap()
        .query_row("SELECT status FROM eval_runs WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .unwrap()
}

#[test]
fn a_killed_evaluation_continues_where_it_stopped() {
    let tmp = TempDir::new("eval-killed");
    let db_path = tmp.0.join("citrus.db");
    let db = db_path.display().to_string();
    let bench = medqa();
    let args = [
        "eval",
        "--bench",
        &bench,
        "--mode",
        "likelihood",
        "--limit",
        "10",
        "--shuffle-options",
        "--db",
        &db,
    ];
    let mut child = citrus_command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while recorded(&db_path).len() < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "citrus ended before 3 items"
        );
        assert!(
            Instant::now() < deadline,
            "3 items not recorded within 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second process reading the store leaves the live run running.
    let listed = run_citrus(&["eval", "--list", "--db", &db]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(status(&db_path, 1), "running");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = recorded(&db_path);
    assert!(before.len() < 10, "finished before the kill");

    let listed = run_citrus(&["eval", "--list", "--db", &db]);
    assert!(
        text(&listed.stdout).contains("interrupted"),
        "{}",
        text(&listed.stdout)
    );
    let resumed = run_citrus(&["eval", "--resume", "1", "--db", &db, "--json"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let after = recorded(&db_path);
    let positions: Vec<i64> = after.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions,
        (0..10).collect::<Vec<_>>(),
        "items repeated or lost"
    );
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "recorded items changed"
    );
    assert_eq!(status(&db_path, 1), "done");

    // The same evaluation uninterrupted gives the same outcomes; the two compare as equal.
    let again = run_citrus(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let last = text(&again.stdout);
    assert!(
        last.lines().last().unwrap().starts_with("accuracy "),
        "{last}"
    );
    let compared = run_citrus(&["eval", "--compare", "1", "2", "--db", &db, "--json"]);
    assert!(compared.status.success(), "{}", text(&compared.stderr));
    let comparison: Value = serde_json::from_slice(&compared.stdout).unwrap();
    assert_eq!(comparison["difference"], 0.0);
    assert_eq!(comparison["p_value"], 1.0);
    let done = run_citrus(&["eval", "--resume", "1", "--db", &db]);
    assert!(
        text(&done.stderr).contains("store.finished"),
        "{}",
        text(&done.stderr)
    );
}

#[test]
fn generation_mode_records_reasoning_and_unmatched_reasons() {
    let tmp = TempDir::new("eval-generate");
    let db = tmp.0.join("citrus.db").display().to_string();
    let output = run_citrus(&[
        "eval",
        "--bench",
        &medqa(),
        "--limit",
        "2",
        "--max-tokens",
        "48",
        "--db",
        &db,
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["run"]["mode"], "generate");
    assert_eq!(report["items"].as_array().unwrap().len(), 2);
    let conn = citrus_workstation::store::keyed_connection(std::path::Path::new(&db)).unwrap();
    let (raw, outcome, reason): (String, String, Option<String>) = conn
        .query_row(
            "SELECT raw_text, outcome, unmatched_reason FROM eval_items WHERE position = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(!raw.is_empty());
    assert_eq!(
        outcome == "unmatched",
        reason.is_some(),
        "{outcome} {reason:?}"
    );
}
