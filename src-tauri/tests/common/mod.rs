//! Helpers shared by the shell's test binaries.
#![allow(dead_code)]

pub mod release;
pub mod server;

use std::path::{Path, PathBuf};

use citrus_reasoning::{CaseInput, ClinicalCase};
use serde_json::{json, Value};

/// A temporary folder for one test, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty folder named after the test.
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("citrus-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// The store file inside it.
    pub fn db(&self) -> PathBuf {
        self.0.join("citrus.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A clinical case with only a chief complaint.
pub fn clinical(complaint: &str) -> CaseInput {
    CaseInput::Clinical(ClinicalCase::new(complaint))
}

/// The installed default model (scripts/setup puts it there).
pub fn default_model() -> PathBuf {
    let path = citrus_host::home::default_model_path();
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup first",
        path.display()
    );
    path
}

/// The `citrus` binary with `args`.
pub fn citrus_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_citrus"));
    command.args(args);
    command
}

/// Runs `citrus` with `args` to the end.
pub fn run_citrus(args: &[&str]) -> std::process::Output {
    citrus_command(args).output().expect("run citrus")
}

/// Bytes of output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One benchmark line in the Citrus format: `options` options (`option 0`…), the key at index
/// `key`, context `context`; exam `pubmedqa` for 3 options, else `mixed`.
pub fn bench_item(id: usize, options: usize, key: usize, context: Value) -> String {
    let letters = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];
    let ops: Vec<Value> = (0..options)
        .map(|i| json!({"op_idx": letters[i], "op_value": format!("option {i}"), "op_text": format!("{}. option {i}", letters[i])}))
        .collect();
    json!({"exam_name": if options == 3 { "pubmedqa" } else { "mixed" }, "id": id.to_string(),
           "Q": format!("Question {id}: which option?"), "A": letters[key], "C": context, "OP": ops})
    .to_string()
}

/// The MedQA sample in the Citrus format (../shared/data/citrus).
pub fn medqa() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/citrus/medqa.jsonl")
        .display()
        .to_string()
}

/// The small training set shipped for the tests: 12 short citrus records and, on line 5, one
/// without its target.
pub fn training_small() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/training-small.jsonl")
        .display()
        .to_string()
}
