//! Test helpers that need no model: a temporary folder and logit comparisons. Shared by the
//! model core's and the trainer's test binaries (the trainer includes this file by path).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use citrus_engine::device::DeviceChoice;
use citrus_engine::model::{LoadOptions, Model};

/// The device the model tests run on: `CITRUS_TEST_DEVICE` (`cuda`, `cuda:1`; set by
/// scripts/gpu-check on a machine with a GPU and a `--features cuda` build), else the CPU.
pub fn test_device() -> DeviceChoice {
    match std::env::var("CITRUS_TEST_DEVICE") {
        Ok(name) if !name.is_empty() => name
            .parse()
            .unwrap_or_else(|e| panic!("CITRUS_TEST_DEVICE={name}: {e}")),
        _ => DeviceChoice::Cpu,
    }
}

/// [`LoadOptions`] as a user leaves them, on the test device.
pub fn test_load_options() -> LoadOptions {
    LoadOptions {
        device: test_device(),
        ..LoadOptions::default()
    }
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

/// The logits after `prompt` from an empty cache (the cache is left empty).
pub fn last_logits(model: &mut Model, prompt: &[u32]) -> Vec<f32> {
    let t = model.transformer_mut();
    t.clear_cache();
    let logits = t.forward(prompt, false).unwrap().to_vec1::<f32>().unwrap();
    t.clear_cache();
    logits
}

/// The largest absolute difference between two logit vectors.
pub fn max_delta(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

/// The largest absolute value in a tensor of f32 values.
pub fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
