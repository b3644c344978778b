//! Helpers shared by the shell's test binaries.
#![allow(dead_code)]

use std::path::PathBuf;

use citrus_models::reasoning::{CaseInput, ClinicalCase};

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
    let path = citrus_models::home::default_model_path();
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
