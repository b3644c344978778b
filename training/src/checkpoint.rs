//! Checkpoints: everything a run needs to continue exactly where it stopped — adapter,
//! optimizer moments, step and data position (the random streams derive from the seed and the
//! step) — written atomically: a folder is filled under a `.partial` name, synced, then renamed,
//! so a kill during a write never leaves a checkpoint that looks whole.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::adapter::{write_json, write_safetensors, LoraAdapter};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};

/// Checkpoints kept in a run's folder (older ones are removed after a new one is whole).
const KEEP: usize = 2;
const STATE_FILE: &str = "state.json";
const TENSORS_FILE: &str = "trainer.safetensors";

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Optimizer steps completed.
    pub step: usize,
    /// Steps the run will take in all.
    pub total_steps: usize,
    /// The run's settings.
    pub config: TrainConfig,
    /// The dataset's content hash.
    pub dataset_hash: String,
    /// The base model's fingerprint.
    pub base_fingerprint: String,
    /// The chat template's hash.
    pub template_hash: String,
    /// Training tokens seen so far.
    pub tokens_seen: usize,
    /// Seconds spent training so far.
    pub elapsed_seconds: f64,
}

/// The tensors of a checkpoint, by name (LoRA values and AdamW moments, in the model's order).
pub type TensorMap = HashMap<String, Tensor>;

/// The checkpoints folder of a run.
pub fn checkpoints_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

fn step_dir(run_dir: &Path, step: usize) -> PathBuf {
    checkpoints_dir(run_dir).join(format!("step-{step:06}"))
}

/// Writes a checkpoint at `state.step` atomically, with the adapter as of that step, then
/// removes all but the newest [`KEEP`] checkpoints.
pub fn save(
    run_dir: &Path,
    state: &CheckpointState,
    tensors: &[(String, Tensor)],
    adapter: &LoraAdapter,
) -> Result<PathBuf> {
    let final_dir = step_dir(run_dir, state.step);
    let partial = final_dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| TrainError::io(&partial, e))?;
    write_safetensors(&partial.join(TENSORS_FILE), tensors)?;
    adapter.save(&partial.join("adapter"))?;
    let value = serde_json::to_value(state).unwrap_or_default();
    write_json(&partial.join(STATE_FILE), &value)?;
    sync_tree(&partial)?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&partial, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    sync_dir(&checkpoints_dir(run_dir))?;
    prune(run_dir)?;
    Ok(final_dir)
}

/// The newest whole checkpoint of a run, if any; leftovers of interrupted writes are removed.
pub fn latest(run_dir: &Path) -> Result<Option<(PathBuf, CheckpointState)>> {
    let dir = checkpoints_dir(run_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut whole = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".partial") {
            let _ = std::fs::remove_dir_all(&path);
        } else if let Some(step) = name
            .strip_prefix("step-")
            .and_then(|s| s.parse::<usize>().ok())
        {
            whole.push((step, path));
        }
    }
    whole.sort();
    for (_, path) in whole.into_iter().rev() {
        if let Ok(state) = read_state(&path) {
            return Ok(Some((path, state)));
        }
    }
    Ok(None)
}

/// Reads a checkpoint's state.
pub fn read_state(dir: &Path) -> Result<CheckpointState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
        path: dir.to_path_buf(),
        detail: format!("{STATE_FILE}: {e}"),
    })
}

/// Reads a checkpoint's tensors onto `device`.
pub fn read_tensors(dir: &Path, device: &Device) -> Result<TensorMap> {
    let path = dir.join(TENSORS_FILE);
    candle_core::safetensors::load(&path, device).map_err(|e| TrainError::BadCheckpoint {
        path: dir.to_path_buf(),
        detail: format!("{TENSORS_FILE}: {e}"),
    })
}

fn prune(run_dir: &Path) -> Result<()> {
    let dir = checkpoints_dir(run_dir);
    let mut steps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| TrainError::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("step-") && p.extension().is_none()
            })
        })
        .collect();
    steps.sort();
    let excess = steps.len().saturating_sub(KEEP);
    for old in &steps[..excess] {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))? {
        let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| TrainError::io(&path, e))?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainError::io(dir, e))
}
