//! The `citrus` binary end to end on the real default model.

use std::process::{Command, Output};

fn citrus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_citrus"))
        .args(args)
        .output()
        .expect("run citrus")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn default_model() -> String {
    let path = citrus_host::home::default_model_path();
    assert!(
        path.exists(),
        "default model missing at {}: run scripts/setup",
        path.display()
    );
    path.display().to_string()
}

#[test]
fn generate_streams_an_answer_from_the_default_model() {
    let out = citrus(&[
        "generate",
        "--prompt",
        "What is the first-line treatment for uncomplicated hypertension?",
        "--max-tokens",
        "48",
        "--temperature",
        "0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.split_whitespace().count() >= 8, "{text:?}");
    assert!(stderr(&out).contains("tok/s"), "{}", stderr(&out));
}

#[test]
fn inspect_describes_the_model_as_text_and_json() {
    let model = default_model();
    let out = citrus(&["models", "inspect", &model]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "Llama",
        "Q4_1",
        "30 (hidden 576",
        "8192",
        "pre-tokenizer smollm",
        "chat template:   yes",
        "fits",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let out = citrus(&[
        "models",
        "inspect",
        &model,
        "--json",
        "--requantize",
        "q8_0",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["architecture"], "llama");
    assert_eq!(json["requantized_to"], "Q8_0");
    assert_eq!(json["config"]["num_kv_heads"], 3);
    assert!(json["memory"]["weights_bytes"].as_u64().unwrap() > 100 << 20);
}

#[test]
fn bench_reports_numbers_as_json() {
    let out = citrus(&[
        "bench",
        "--prompt-tokens",
        "32",
        "--gen-tokens",
        "8",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["prompt_tokens"], 32);
    assert!(json["prefill_tokens_per_second"].as_f64().unwrap() > 0.0);
    assert!(json["decode_tokens_per_second"].as_f64().unwrap() > 0.0);
    assert!(json["peak_rss_mib"].as_u64().unwrap() > 50);
}

#[test]
fn errors_exit_non_zero_with_their_code() {
    let out = citrus(&["models", "inspect", "/nonexistent/model.gguf"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error [model.not_found]: /nonexistent/model.gguf"),
        "{}",
        stderr(&out)
    );
    let out = citrus(&["generate", "--prompt", "x", "--requantize", "q9_9"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error [settings.invalid]"),
        "{}",
        stderr(&out)
    );
}

/// The shared data folder beside the checkout.
fn shared_data(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/citrus")
        .join(name);
    assert!(path.exists(), "missing {}", path.display());
    path.display().to_string()
}

#[test]
fn reason_on_a_medqa_item_reports_the_documented_json() {
    let medqa = shared_data("medqa.jsonl");
    let out = citrus(&[
        "reason",
        "--item",
        &medqa,
        "--line",
        "1",
        "--json",
        "--max-tokens",
        "64",
        "--temperature",
        "0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for key in [
        "steps",
        "differential",
        "answer",
        "option",
        "correct",
        "structured",
        "tokens",
        "seconds",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert!(json["steps"].is_array());
    assert!(json["tokens"].as_u64().unwrap() > 0);
    assert_eq!(json["mode"], "free");
    // Each diagnosis of the differential mapped to ICD-10-CM, or uncoded with a reason.
    for coded in json["coded"].as_array().expect("coded diagnoses") {
        assert!(
            coded["code"].is_string() == coded["diagnosis"].is_string()
                && coded["code"].is_string() != coded["uncoded"].is_string(),
            "{coded}"
        );
    }
}

#[test]
fn reason_input_errors_name_the_file_and_line() {
    let medqa = shared_data("medqa.jsonl");
    let out = citrus(&["reason", "--item", &medqa, "--line", "99999"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no line 99999"), "{}", stderr(&out));

    let dir = std::env::temp_dir().join(format!("citrus-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let items = dir.join("items.jsonl");
    std::fs::write(
        &items,
        "{\"Q\": \"Which drug?\", \"A\": \"A\", \"OP\": []}\n",
    )
    .unwrap();
    let out = citrus(&["reason", "--item", items.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error [reasoning.no_options]"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));

    let case = dir.join("case.json");
    std::fs::write(&case, "{\"age\": \"40\", \"chief_complaint\": \"  \"}").unwrap();
    let out = citrus(&["reason", "--case", case.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error [reasoning.empty_complaint]"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn guided_reasoning_is_saved_reviewed_and_exported_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("citrus-cli-review-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("citrus.db");
    let db = db.to_str().unwrap();
    let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/cases/inferior-stemi.json");
    let out = citrus(&[
        "reason",
        "--case",
        case.to_str().unwrap(),
        "--guided",
        "--temperature",
        "0",
        "--requantize",
        "q8_0",
        "--save",
        "--db",
        db,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("saved as case 1, run 1"),
        "{}",
        stderr(&out)
    );
    // What `scripts/run` prints headless: every key finding is a quote of the case, with the
    // field it comes from.
    let printed = stdout(&out);
    let case_text = std::fs::read_to_string(&case).unwrap();
    let findings: Vec<&str> = printed
        .lines()
        .skip_while(|l| !l.starts_with("[FINDINGS]"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(!findings.is_empty(), "{printed}");
    for line in findings {
        let (quote, field) = line
            .trim()
            .split_once(". \"")
            .and_then(|(_, rest)| rest.rsplit_once("\" ("))
            .unwrap_or_else(|| panic!("not a quoted finding: {line:?}"));
        assert!(case_text.contains(quote), "{quote:?} is not in the case");
        assert!(field.ends_with(')'), "{line:?}");
    }

    let out = citrus(&["runs", "list", "--db", db]);
    assert!(
        stdout(&out).contains("run 1    done        guided"),
        "{}",
        stdout(&out)
    );
    let out = citrus(&[
        "review",
        "1",
        "--reviewer",
        "Dr. Lee",
        "--diagnosis",
        "Inferior STEMI",
        "--agree",
        "1,2",
        "--disagree",
        "3",
        "--db",
        db,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = citrus(&[
        "review",
        "1",
        "--reviewer",
        "Dr. Lee",
        "--agree",
        "99",
        "--db",
        db,
    ]);
    assert!(
        stderr(&out).contains("error [store.not_found]"),
        "{}",
        stderr(&out)
    );

    let sft = dir.join("train.jsonl");
    let reports = dir.join("reports");
    let out = citrus(&["export", "--sft", sft.to_str().unwrap(), "--db", db]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = citrus(&[
        "export",
        "--markdown",
        reports.to_str().unwrap(),
        "--db",
        db,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = std::fs::read_to_string(&sft).unwrap();
    let example: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert!(example["target"]
        .as_str()
        .unwrap()
        .ends_with("<answer>\nInferior STEMI\n</answer>"));
    let report = std::fs::read_to_string(reports.join("case-1-run-1.md")).unwrap();
    assert!(
        report.contains("✓ agree") && report.contains("✗ disagree"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
