//! Shared test support: the real default model, loaded once per test binary.

#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use citrus_engine::model::{LoadOptions, Model};
use citrus_host::home::default_model_path;

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
            let model = Model::load(&model_path(), &test_load_options(), &mut |_| {})
                .expect("load the default model");
            Mutex::new(model)
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

mod support;

pub use support::{last_logits, max_abs, max_delta, test_load_options, TempDir};
