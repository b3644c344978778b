//! Shared test support: the real default model, the datasets shipped with the tests, temp dirs.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};

use citrus_engine::model::Model;
use citrus_host::home::default_model_path;

/// Path of the default model; a missing model is a setup failure, never a skip.
pub fn model_path() -> PathBuf {
    let path = default_model_path();
    assert!(
        path.exists(),
        "the default model is not installed at {}: run scripts/setup",
        path.display()
    );
    path
}

/// Loads the default model for training: dense f32 base, or quantized as shipped.
pub fn load(quantized_base: bool) -> Model {
    let options = citrus_engine::model::LoadOptions {
        device: test_device(),
        ..citrus_training::load_options(quantized_base)
    };
    Model::load(&model_path(), &options, &mut |_| {}).expect("load the default model")
}

/// A dataset shipped in `training/tests/data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[path = "../../../models/engine/tests/common/support.rs"]
mod support;

pub use support::{last_logits, max_abs, max_delta, test_device, test_load_options, TempDir};
