//! `citrus train` and `citrus adapters` as a user runs them: the validation report names bad
//! lines, the preview and pre-flight print, a run killed with SIGKILL resumes on the same loss
//! curve as an uninterrupted one, and the adapter serves `generate --adapter`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use citrus_workstation::store::{PointKind, RunStatus, Store};
use common::{citrus_command, run_citrus, text, TempDir};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../training/tests/data")
        .join(name)
        .display()
        .to_string()
}

/// The per-step losses of a run's metrics.jsonl.
fn losses(dir: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "step")
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

const RUN: [&str; 18] = [
    "--steps",
    "6",
    "--batch",
    "1",
    "--grad-accum",
    "2",
    "--max-len",
    "192",
    "--val-split",
    "0.2",
    "--seed",
    "3",
    "--lr",
    "1e-3",
    "--checkpoint-every",
    "2",
    "--threads",
    "2",
];

/// `train` on `data_file` into `out`, recorded in the case store `db`.
fn train_args<'a>(
    data_file: &'a str,
    db: &'a str,
    out: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["train", "--data", data_file, "--db", db, "--out", out];
    args.extend(RUN);
    args.extend(extra);
    args
}

#[test]
fn a_killed_run_resumes_on_the_same_loss_curve() {
    let tmp = TempDir::new("train-resume");
    let db = tmp.0.join("citrus.db").display().to_string();
    let data_file = data("clinical_qa.jsonl");
    let whole = tmp.0.join("whole").display().to_string();
    let output = run_citrus(&train_args(&data_file, &db, &whole, &[]));
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("pre-flight: peak ≈"), "{stderr}");
    assert!(stderr.contains("preview of line"), "{stderr}");
    let reference = losses(Path::new(&whole));
    assert_eq!(reference.len(), 6);

    // Kill a second run once its step-4 checkpoint exists, then resume it.
    let killed = tmp.0.join("killed");
    let killed_str = killed.display().to_string();
    let mut child = citrus_command(&train_args(&data_file, &db, &killed_str, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = killed.join("checkpoints/step-000004");
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no checkpoint at step 4"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let again = run_citrus(&train_args(&data_file, &db, &killed_str, &[]));
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("train.run_conflict"),
        "{}",
        text(&again.stderr)
    );
    let changed = run_citrus(&train_args(
        &data_file,
        &db,
        &killed_str,
        &["--resume", "--rank", "4"],
    ));
    assert!(
        text(&changed.stderr).contains("lora.rank: 8 → 4"),
        "{}",
        text(&changed.stderr)
    );
    let resumed = run_citrus(&train_args(&data_file, &db, &killed_str, &["--resume"]));
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(
        text(&resumed.stderr).contains("steps 5–6") || text(&resumed.stderr).contains("steps 5"),
        "{}",
        text(&resumed.stderr)
    );
    let curve = losses(&killed);
    assert_eq!(curve.len(), 6, "{curve:?}");
    // The store recorded the killed run, took it over on resume and ended it done, with one
    // unbroken series equal to metrics.jsonl; the refused restarts recorded nothing.
    let store = Store::open(Path::new(&db)).unwrap();
    let runs = store.train_runs().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run.spec.out_dir, killed);
    assert_eq!(
        (run.status, run.step, run.spec.total_steps),
        (RunStatus::Done, 6, 6)
    );
    let record = store.train_run_record(run.id).unwrap();
    let stored: Vec<(u64, f64)> = record
        .points
        .iter()
        .filter(|p| p.kind == PointKind::Train)
        .map(|p| (p.step as u64, p.loss))
        .collect();
    assert_eq!(stored, curve);
    assert!(record
        .points
        .iter()
        .any(|p| p.kind == PointKind::Validation));
    for ((step, a), (_, b)) in reference.iter().zip(&curve) {
        assert!(
            (a - b).abs() <= 1e-6 * a.abs().max(1.0),
            "step {step}: {a} vs {b}"
        );
    }

    // The adapter is inspectable and serves generation.
    let inspect = run_citrus(&["adapters", "inspect", &killed_str, "--json"]);
    assert!(inspect.status.success(), "{}", text(&inspect.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(summary["settings"]["rank"], 8);
    assert_eq!(summary["layers"], 30);
    assert_eq!(summary["meta"]["metrics"]["steps"], 6);
    let generated = run_citrus(&[
        "generate",
        "--prompt",
        "Which artery is occluded in an inferior STEMI?",
        "--adapter",
        &killed_str,
        "--max-tokens",
        "8",
        "--temperature",
        "0",
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    adapters_travel(&killed, &tmp.0, &text(&generated.stdout));
    let missing = run_citrus(&[
        "generate",
        "--prompt",
        "x",
        "--adapter",
        "/nonexistent/adapter",
    ]);
    assert!(
        text(&missing.stderr).contains("error [train.io]"),
        "{}",
        text(&missing.stderr)
    );
}

/// The trained adapter through `citrus adapters`: exported to GGUF (with a Modelfile) it
/// generates what the PEFT folder generates; imported into a library it is listed and usable
/// by name; merged into a Q8_0 GGUF it loads and generates.
fn adapters_travel(adapter: &Path, tmp: &Path, expected: &str) {
    let adapter = adapter.display().to_string();
    let gguf = tmp.join("export/adapter.gguf");
    std::fs::create_dir_all(gguf.parent().unwrap()).unwrap();
    let gguf = gguf.display().to_string();
    let export = run_citrus(&[
        "adapters",
        "export",
        &adapter,
        "--gguf",
        &gguf,
        "--modelfile",
    ]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let modelfile = std::fs::read_to_string(tmp.join("export/Modelfile")).unwrap();
    assert!(modelfile.contains("ADAPTER ./adapter.gguf"), "{modelfile}");
    assert!(
        modelfile.contains("PARAMETER stop \"<|im_end|>\""),
        "{modelfile}"
    );
    let generate = |adapter_or_model: [&str; 2]| {
        let output = run_citrus(&[
            "generate",
            "--prompt",
            "Which artery is occluded in an inferior STEMI?",
            adapter_or_model[0],
            adapter_or_model[1],
            "--max-tokens",
            "8",
            "--temperature",
            "0",
        ]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    assert_eq!(generate(["--adapter", &gguf]), expected);

    let home = tmp.join("home").display().to_string();
    let in_home = |args: &[&str]| {
        let output = citrus_command(args)
            .env("CITRUS_HOME", &home)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    };
    in_home(&[
        "adapters",
        "import",
        &gguf,
        "--name",
        "stemi",
        "--model",
        &model(),
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&in_home(&["adapters", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["name"], "stemi");
    assert_eq!(listed[0]["summary"]["settings"]["rank"], 8);

    let merged = tmp.join("merged.gguf").display().to_string();
    let merge = run_citrus(&[
        "adapters", "merge", &adapter, "--out", &merged, "--type", "q8_0",
    ]);
    assert!(merge.status.success(), "{}", text(&merge.stderr));
    assert!(text(&merge.stdout).contains("with the adapter merged"));
    assert!(!generate(["--model", &merged]).is_empty());
}

fn model() -> String {
    citrus_host::home::default_model_path()
        .display()
        .to_string()
}

#[test]
fn bad_lines_are_named_and_the_good_ones_train() {
    let tmp = TempDir::new("train-bad");
    let out = tmp.0.join("run").display().to_string();
    let data_file = data("with_bad_lines.jsonl");
    let output = run_citrus(&[
        "train",
        "--data",
        &data_file,
        "--out",
        &out,
        "--steps",
        "1",
        "--grad-accum",
        "1",
        "--max-len",
        "256",
        "--val-split",
        "0",
        "--threads",
        "2",
    ]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("5 example(s), 4 bad record(s)"), "{stderr}");
    assert!(
        stderr.contains("line 2: missing field `target`"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4: not JSON"), "{stderr}");
    assert!(stderr.contains("line 6: empty field `target`"), "{stderr}");
    assert!(stderr.contains("line 8: not a JSON object"), "{stderr}");
    assert!(PathBuf::from(&out)
        .join("adapter_model.safetensors")
        .exists());

    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/citrus/sft_data.jsonl");
    let check = run_citrus(&[
        "train",
        "--data",
        &shared.display().to_string(),
        "--out",
        &out,
        "--check",
        "--val-split",
        "0",
    ]);
    let stderr = text(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    assert!(stderr.contains("1 example(s), 0 bad record(s)"), "{stderr}");
    assert!(stderr.contains("«<think>"), "{stderr}");

    let empty = tmp.0.join("empty.jsonl");
    std::fs::write(&empty, "{\"input\": \"q\"}\n").unwrap();
    let refused = run_citrus(&[
        "train",
        "--data",
        &empty.display().to_string(),
        "--out",
        &out,
    ]);
    assert!(
        text(&refused.stderr).contains("error [dataset.empty]"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn a_bundle_is_written_instead_of_a_local_run() {
    let tmp = TempDir::new("train-bundle");
    let bundle = tmp.0.join("bundle");
    let bundle_str = bundle.display().to_string();
    let data_file = data("clinical_qa.jsonl");
    let output = run_citrus(&[
        "train",
        "--data",
        &data_file,
        "--export-bundle",
        &bundle_str,
        "--rank",
        "16",
        "--epochs",
        "3",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("--base-id"),
        "the placeholder base id is not pointed out: {}",
        text(&output.stderr)
    );
    for file in [
        "data/train.jsonl",
        "data/validation.jsonl",
        "data/train_citrus.json",
        "data/dataset_info.json",
        "llamafactory_lora_sft.yaml",
        "axolotl_lora.yaml",
        "README.md",
        "citrus_bundle.json",
    ] {
        assert!(bundle.join(file).exists(), "{file} missing");
    }
    assert!(!tmp.0.join("run").exists());
}

#[test]
fn preference_pairs_train_with_bad_lines_named_and_rewards_shown() {
    let tmp = TempDir::new("train-pairs");
    let out = tmp.0.join("run").display().to_string();
    let pairs = tmp.0.join("pairs.jsonl");
    let mut lines: Vec<String> = (0..6)
        .map(|i| {
            serde_json::json!({
                "prompt": format!("Patient {i}: fever, cough, crackles. Diagnosis?"),
                "chosen": "<think>Fever and crackles.</think><answer>Pneumonia</answer>",
                "rejected": "<think>Headache.</think><answer>Migraine</answer>",
            })
            .to_string()
        })
        .collect();
    lines.insert(1, r#"{"prompt": "q", "chosen": "a"}"#.into());
    lines.insert(
        3,
        r#"{"prompt": "q", "chosen": "same", "rejected": "same"}"#.into(),
    );
    lines.insert(5, "not json".into());
    std::fs::write(&pairs, lines.join("\n") + "\n").unwrap();
    let pairs = pairs.display().to_string();
    let args = |method: &str| {
        vec![
            "train",
            "--pairs",
            &pairs,
            "--method",
            method,
            "--out",
            &out,
            "--steps",
            "2",
            "--batch",
            "1",
            "--grad-accum",
            "2",
            "--max-len",
            "128",
            "--val-split",
            "0.34",
            "--lr",
            "1e-3",
            "--threads",
            "2",
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| run_citrus(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let output = run(args("cpo-simpo"));
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("6 pair(s), 3 bad record(s)"), "{stderr}");
    assert!(
        stderr.contains("line 2: missing field `rejected`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: the chosen and rejected answers are the same"),
        "{stderr}"
    );
    assert!(stderr.contains("line 6: not JSON"), "{stderr}");
    assert!(stderr.contains("reward accuracy"), "{stderr}");
    assert!(
        stderr.contains("held-out pairs: reward accuracy"),
        "{stderr}"
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(PathBuf::from(&out).join("citrus_adapter.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["training"]["preference"]["method"], "cpo-simpo");
    assert_eq!(config["training"]["preference"]["gamma"], 5.4);

    // SFT cannot learn from pairs: refused by name, nothing trained.
    let refused = run(args("sft"));
    let stderr = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("preference pairs need a preference method"),
        "{stderr}"
    );
}
