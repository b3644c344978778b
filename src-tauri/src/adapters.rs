//! Adapters as the window and the job runner use them: the library (`adapters/` beside the
//! store, so `$CITRUS_HOME/adapters` for the app) listed with the active one marked, the active
//! adapter applied to the loaded model before reasoning (switched in place, no reload), a
//! finished training run installed into the library, import, export and delete. `citrus
//! adapters` goes through the same library functions.

use std::path::{Path, PathBuf};

use citrus_engine::model::Model;
use citrus_training::adapter::library::{
    import_adapter, list_adapters, read_any, resolve_adapter, ImportRequest, LibraryEntry,
};
use citrus_training::adapter::merge::merge_to_gguf;
use citrus_training::adapter::{detach, BaseFacts, LoraAdapter};
use citrus_training::TrainError;

pub use citrus_types::adapter::{AdapterExport, AdapterListing};

use crate::error::{AppError, AppResult};
use crate::store::Store;

/// The setting that names the adapter reasoning applies (absent or empty: none).
pub const ACTIVE_ADAPTER: &str = "active_adapter";

/// The adapter library of `store`'s data folder.
pub fn library_dir(store: &Store) -> PathBuf {
    store.folder().join("adapters")
}

/// The library's name of the adapter reasoning applies, if any.
pub fn active_adapter(store: &Store) -> AppResult<Option<String>> {
    Ok(store
        .setting(ACTIVE_ADAPTER)?
        .filter(|name| !name.is_empty()))
}

/// Makes `name` (a library adapter) the one reasoning applies, or none.
pub fn set_active_adapter(store: &Store, name: Option<&str>) -> AppResult<()> {
    if let Some(name) = name {
        LoraAdapter::load(&library_path(store, name)?)?;
    }
    store.set_setting(ACTIVE_ADAPTER, name.unwrap_or(""))?;
    Ok(())
}

/// Every adapter of the library, with the active one marked.
pub fn listings(store: &Store) -> AppResult<Vec<AdapterListing>> {
    let active = active_adapter(store)?;
    Ok(list_adapters(&library_dir(store))?
        .into_iter()
        .map(|entry| AdapterListing {
            active: active.as_deref() == Some(entry.name.as_str()),
            ..listing(entry)
        })
        .collect())
}

/// The flat form of a library entry.
fn listing(entry: LibraryEntry) -> AdapterListing {
    let mut listing = AdapterListing {
        name: entry.name,
        path: entry.path,
        error: entry.error,
        ..AdapterListing::default()
    };
    let Some(summary) = entry.summary else {
        return listing;
    };
    listing.rank = summary.settings.rank;
    listing.alpha = summary.settings.alpha;
    listing.targets = summary
        .settings
        .targets
        .iter()
        .map(|t| t.short_name().to_string())
        .collect();
    listing.parameters = summary.parameters;
    if let Some(meta) = summary.meta {
        let metric = |key: &str| meta.metrics.get(key).and_then(|v| v.as_f64());
        listing.base_name = Some(meta.base.name);
        listing.base_path = Some(meta.base.path);
        listing.base_architecture = Some(meta.base.architecture.as_str().to_string());
        listing.template_hash = Some(meta.base.template_hash);
        listing.dataset = meta.dataset_source;
        listing.steps = metric("steps").map(|s| s as usize);
        listing.final_loss = metric("final_loss");
        listing.final_validation_loss = metric("final_validation_loss");
        listing.imported_from = meta.imported_from;
        listing.method = meta
            .training
            .as_ref()
            .map(|config| match &config.preference {
                Some(p) => p.method.method().describe(p.beta, p.gamma, p.alpha),
                None => "sft".to_string(),
            });
        listing.reward_accuracy = meta
            .metrics
            .pointer("/final_preference/reward_accuracy")
            .and_then(|v| v.as_f64());
    }
    listing
}

/// The folder of library adapter `name` (a plain name, no path), which must exist.
fn library_path(store: &Store, name: &str) -> AppResult<PathBuf> {
    let plain = Path::new(name).components().count() == 1 && !name.starts_with('.');
    let path = library_dir(store).join(name);
    if plain && path.is_dir() {
        Ok(path)
    } else {
        Err(TrainError::adapter(&path, format!("no adapter named `{name}` in the library")).into())
    }
}

/// Finds adapter `name`: a name in `store`'s library, else a PEFT folder or GGUF LoRA file
/// (or a name in `$CITRUS_HOME/adapters`, as the command line resolves it).
fn resolve(store: &Store, name: &str) -> AppResult<PathBuf> {
    match library_path(store, name) {
        Ok(path) => Ok(path),
        Err(_) => Ok(resolve_adapter(Path::new(name))?),
    }
}

/// Attaches adapter `name` (a library name, a PEFT folder or a GGUF LoRA file) to `model`,
/// labelled with that name (what runs record); returns its warnings.
pub fn attach(store: &Store, model: &mut Model, name: &str) -> AppResult<Vec<String>> {
    let path = resolve(store, name)?;
    let (adapter, _) = read_any(&path, &BaseFacts::of_model(model))?;
    Ok(adapter
        .attach(model, name)?
        .into_iter()
        .map(|warning| format!("adapter {name}: {warning}"))
        .collect())
}

/// Makes the loaded `model` carry the active adapter (or none), switching in place when it
/// carries another; returns the warnings of an adapter attached now.
pub fn apply_active_adapter(store: &Store, model: &mut Model) -> AppResult<Vec<String>> {
    let wanted = active_adapter(store)?;
    if model.adapter() == wanted.as_deref() {
        return Ok(Vec::new());
    }
    detach(model);
    match wanted {
        Some(name) => attach(store, model, &name),
        None => Ok(Vec::new()),
    }
}

/// Imports the adapter at `source` (PEFT folder or GGUF LoRA file) into `store`'s library
/// under its own name, checked against the base at `base_path`; returns its name.
pub fn import_into_library(store: &Store, source: &Path, base_path: &Path) -> AppResult<String> {
    let base = BaseFacts::of_path(base_path)?;
    let request = ImportRequest {
        source,
        base: &base,
        bundle: None,
        name: None,
        replace: false,
    };
    Ok(import_adapter(&request, &library_dir(store))?.name)
}

/// Installs the adapter a finished training run wrote in `run_dir` into `store`'s library as
/// `run-ID` (replacing an earlier install of the same run); returns its name.
pub fn install_run_adapter(
    store: &Store,
    model: &Model,
    run_id: i64,
    run_dir: &Path,
) -> AppResult<String> {
    let name = format!("run-{run_id}");
    let base = BaseFacts::of_model(model);
    let report = import_adapter(
        &ImportRequest {
            source: run_dir,
            base: &base,
            bundle: None,
            name: Some(&name),
            replace: true,
        },
        &library_dir(store),
    )?;
    Ok(report.name)
}

/// Deletes library adapter `name` (no longer active if it was).
pub fn delete_adapter(store: &Store, name: &str) -> AppResult<()> {
    let path = library_path(store, name)?;
    if active_adapter(store)?.as_deref() == Some(name) {
        set_active_adapter(store, None)?;
    }
    std::fs::remove_dir_all(&path).map_err(|e| AppError::io(&path, e))
}

/// Writes library adapter `name` to `target` as `format`: a PEFT folder, a GGUF LoRA file, or
/// merged into its base as one GGUF. The base is the file it was trained on when still there,
/// else `fallback_base`.
pub fn export_adapter(
    store: &Store,
    name: &str,
    format: AdapterExport,
    target: &Path,
    fallback_base: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> AppResult<()> {
    let path = library_path(store, name)?;
    let (adapter, base) = adapter_and_base(&path, || Ok(fallback_base.to_path_buf()))?;
    adapter.check_shapes(&base.config)?;
    match format {
        AdapterExport::Peft => adapter.save(target)?,
        AdapterExport::Gguf => {
            adapter.write_gguf(target, &base.config)?;
        }
        AdapterExport::MergedGguf => {
            if base.path.is_dir() {
                return Err(TrainError::setting(
                    "format",
                    "the base is a Hugging Face folder: merge with `citrus adapters merge --format hf`",
                )
                .into());
            }
            merge_to_gguf(&base.path, &adapter, target, None, progress)?;
        }
    }
    Ok(())
}

/// Reads the adapter at `path` and the base it goes with: the file it was trained on when it
/// is still there, else `fallback_base()`.
pub fn adapter_and_base(
    path: &Path,
    fallback_base: impl FnOnce() -> AppResult<PathBuf>,
) -> AppResult<(LoraAdapter, BaseFacts)> {
    let trained_on = if path.is_dir() {
        LoraAdapter::load(path)?
            .meta
            .map(|m| PathBuf::from(m.base.path))
            .filter(|p| p.exists())
    } else {
        None
    };
    let base_path = match trained_on {
        Some(path) => path,
        None => fallback_base()?,
    };
    let base = BaseFacts::of_path(&base_path)?;
    let (adapter, _) = read_any(path, &base)?;
    Ok((adapter, base))
}
