//! The model library: models the user imported (referenced where they lie, or copied into the
//! data folder), the one chosen for reasoning and how to load it. The window's Models screen
//! and `citrus models` go through these functions.

use std::path::{Path, PathBuf};

use citrus_engine::device::{set_cpu_threads, DeviceChoice};
use citrus_engine::model::{inspect, parse_quantization, LoadOptions};
use citrus_formats::config::TransformerConfig;
use citrus_host::home::{default_model_path, models_dir};

use crate::error::{AppError, AppResult};
use crate::store::{ModelEntry, Store};

/// Setting holding the id of the model reasoning uses.
const ACTIVE_MODEL_KEY: &str = "active_model";
/// Setting holding the [`EngineSettings`] as JSON.
const ENGINE_SETTINGS_KEY: &str = "engine_settings";

pub use citrus_types::model::EngineSettings;

/// The load options `settings` give.
pub fn load_options(settings: &EngineSettings) -> AppResult<LoadOptions> {
    Ok(LoadOptions {
        device: settings.device.parse::<DeviceChoice>()?,
        requantize: settings
            .requantize
            .as_deref()
            .filter(|q| !q.is_empty() && *q != "none")
            .map(parse_quantization)
            .transpose()?,
        context_length: None,
        memory_limit: None,
    })
}

/// Applies the thread count of `settings` to this process (only effective before a model
/// first runs).
pub fn apply_threads(settings: &EngineSettings) -> AppResult<()> {
    if let Some(threads) = settings.threads {
        set_cpu_threads(threads)?;
    }
    Ok(())
}

/// What inspecting a model shows: [`ModelInfo`] and whether it fits in memory.
pub type Inspection = citrus_types::model::Inspection<TransformerConfig>;

/// Inspects the model at `path` as it would be loaded with `settings`.
pub fn inspect_model(path: &Path, settings: &EngineSettings) -> AppResult<Inspection> {
    let info = inspect(path, &load_options(settings)?)?;
    let fits = info.fits();
    Ok(Inspection { info, fits })
}

/// Imports the `.gguf` file or Hugging Face folder at `path`: checks it can be read, copies
/// it into the data folder if `copy` is set, and records it. Importing the same path again
/// refreshes its record.
pub fn import_model(store: &Store, path: &Path, copy: bool) -> AppResult<ModelEntry> {
    let mut info = inspect(path, &LoadOptions::default())?;
    let path = if copy {
        copy_into_library(path)?
    } else {
        path.to_path_buf()
    };
    // Recorded by its real location, so a symlink and its target are one model.
    info.path = std::fs::canonicalize(&path).map_err(|e| AppError::io(&path, e))?;
    let id = store.import_model(&info, copy)?;
    Ok(store.model(id)?)
}

/// Copies a model file or folder into `$CITRUS_HOME/models` (reusing an identical copy).
fn copy_into_library(path: &Path) -> AppResult<PathBuf> {
    let name = path.file_name().unwrap_or(path.as_os_str());
    let target = models_dir().join(name);
    if target == path {
        return Ok(target);
    }
    copy_path(path, &target)?;
    Ok(target)
}

fn copy_path(from: &Path, to: &Path) -> AppResult<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| AppError::io(to, e))?;
        for entry in std::fs::read_dir(from).map_err(|e| AppError::io(from, e))? {
            let entry = entry.map_err(|e| AppError::io(from, e))?;
            copy_path(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    let same_size = |a: &Path, b: &Path| matches!((a.metadata(), b.metadata()), (Ok(x), Ok(y)) if x.len() == y.len());
    if !same_size(from, to) {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| AppError::io(parent, e))?;
        }
        std::fs::copy(from, to).map_err(|e| AppError::io(from, e))?;
    }
    Ok(())
}

/// Records the installed default model (SmolLM2-135M-Instruct) if it is there, and makes it
/// the active model when none is chosen. Returns it, or None when it is not installed.
pub fn register_default_model(store: &Store) -> AppResult<Option<ModelEntry>> {
    let path = default_model_path();
    if !path.exists() {
        return Ok(None);
    }
    let entry = match store
        .models()?
        .into_iter()
        .find(|m| Path::new(&m.path) == path)
    {
        Some(entry) => entry,
        None => import_model(store, &path, false)?,
    };
    if active_model(store)?.is_none() {
        set_active_model(store, entry.id, &engine_settings(store)?)?;
    }
    Ok(Some(entry))
}

/// The saved engine settings (defaults when never saved).
pub fn engine_settings(store: &Store) -> AppResult<EngineSettings> {
    Ok(store
        .setting(ENGINE_SETTINGS_KEY)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// The model reasoning uses, if one is chosen and still recorded.
pub fn active_model(store: &Store) -> AppResult<Option<ModelEntry>> {
    let Some(id) = store
        .setting(ACTIVE_MODEL_KEY)?
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    Ok(store.models()?.into_iter().find(|m| m.id == id))
}

/// Chooses the model reasoning uses and how it is loaded (checking the settings first).
pub fn set_active_model(
    store: &Store,
    id: i64,
    settings: &EngineSettings,
) -> AppResult<ModelEntry> {
    load_options(settings)?;
    let entry = store.model(id)?;
    store.set_setting(ACTIVE_MODEL_KEY, &id.to_string())?;
    store.set_setting(
        ENGINE_SETTINGS_KEY,
        &serde_json::to_string(settings).unwrap_or_default(),
    )?;
    Ok(entry)
}
