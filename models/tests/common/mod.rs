//! Shared test support: the real default model, loaded once per test binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use citrus_models::home::default_model_path;
use citrus_models::model::{LoadOptions, Model};

/// Path of the default model; a missing model is a setup failure, never a skip.
pub fn model_path() -> PathBuf {
    let path = default_model_path();
    assert!(
        path.exists(),
        "the default model is not installed at {}: run scripts/setup (CITRUS_HOME={:?})",
        path.display(),
        std::env::var_os("CITRUS_HOME"),
    );
    path
}

/// The default model as shipped, loaded once and shared by the tests of one binary.
pub fn shared_model() -> MutexGuard<'static, Model> {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let model = Model::load(&model_path(), &LoadOptions::default(), &mut |_| {})
                .expect("load the default model");
            Mutex::new(model)
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `citrus-test-<name>-<pid>` under the system temp folder.
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("citrus-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
