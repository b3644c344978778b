//! The adapter library: adapters imported into `$CITRUS_HOME/adapters/NAME/`, each kept in
//! PEFT form with Citrus' metadata, whatever form it came in (a PEFT folder from
//! LLaMA-Factory, axolotl or a PEFT script; a GGUF LoRA file; a Citrus training run).

use std::path::{Path, PathBuf};

use citrus_engine::model::Model;
use citrus_host::home::citrus_home;
use serde::Serialize;

use super::base::BaseFacts;
use super::{AdapterMeta, AdapterSummary, LoraAdapter, CONFIG_FILE};
use crate::bundle::{read_manifest, settings_differences};
use crate::error::{Result, TrainError};

/// Where imported adapters live: `$CITRUS_HOME/adapters`.
pub fn adapters_dir() -> PathBuf {
    citrus_home().join("adapters")
}

/// Finds an adapter: `name_or_path` as a path when it exists, else a library name.
pub fn resolve_adapter(name_or_path: &Path) -> Result<PathBuf> {
    if name_or_path.exists() {
        return Ok(name_or_path.to_path_buf());
    }
    let in_library = adapters_dir().join(name_or_path);
    if name_or_path.components().count() == 1 && in_library.exists() {
        return Ok(in_library);
    }
    Err(TrainError::io(
        name_or_path,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no such adapter file or folder, nor an adapter of that name in {}",
                adapters_dir().display()
            ),
        ),
    ))
}

/// The form an adapter came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterFormat {
    /// A Hugging Face PEFT folder.
    Peft,
    /// A GGUF LoRA file.
    Gguf,
}

/// What to import.
pub struct ImportRequest<'a> {
    /// A PEFT folder or a GGUF LoRA file.
    pub source: &'a Path,
    /// The base it is checked against (and recorded with, when it has no metadata).
    pub base: &'a BaseFacts,
    /// The hand-off bundle it was trained from, if any.
    pub bundle: Option<&'a Path>,
    /// The name in the library (default: the source's file or folder name).
    pub name: Option<&'a str>,
    /// Replace an adapter of the same name.
    pub replace: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Its name in the library.
    pub name: String,
    /// Its folder in the library.
    pub path: PathBuf,
    /// The form it came in.
    pub format: AdapterFormat,
    /// Mismatches worth knowing (another base file or template, settings that differ from
    /// the bundle's).
    pub warnings: Vec<String>,
    /// What it holds.
    pub summary: AdapterSummary,
}

impl LoraAdapter {
    /// Reads the adapter at `path` (a PEFT folder or a GGUF LoRA file) and attaches it to
    /// `model` (see [`LoraAdapter::attach`]).
    pub fn attach_path(path: &Path, model: &mut Model) -> Result<Vec<String>> {
        let (adapter, _) = read_any(path, &BaseFacts::of_model(model))?;
        adapter.attach(model, &path.display().to_string())
    }
}

/// Reads the adapter at `source` (by its form), checked against `base`.
pub fn read_any(source: &Path, base: &BaseFacts) -> Result<(LoraAdapter, AdapterFormat)> {
    if source.is_dir() {
        if !source.join(CONFIG_FILE).exists() {
            return Err(TrainError::adapter(
                source,
                format!("no {CONFIG_FILE}: not a PEFT adapter folder"),
            ));
        }
        return Ok((LoraAdapter::load(source)?, AdapterFormat::Peft));
    }
    Ok((
        LoraAdapter::read_gguf(source, &base.config)?,
        AdapterFormat::Gguf,
    ))
}

/// Imports an adapter into `library`: reads it, checks its shapes and family against the base
/// (errors name the tensor), compares it with the bundle it came from, and writes it in PEFT
/// form with metadata (the bundle's base and dataset when given, else the base it was checked
/// against). Nothing is written unless every check passes; the folder appears complete or not
/// at all.
pub fn import_adapter(request: &ImportRequest, library: &Path) -> Result<ImportReport> {
    let (mut adapter, format) = read_any(request.source, request.base)?;
    adapter.check_shapes(&request.base.config)?;
    let mut warnings = adapter.check_base(request.base)?;
    let origin = request.source.display().to_string();
    if adapter.meta.is_none() {
        warnings.push(
            "the adapter has no Citrus metadata (trained elsewhere): recorded as trained on this \
             base"
                .into(),
        );
    }
    if let Some(bundle) = request.bundle {
        let manifest = read_manifest(bundle)?;
        if manifest.base.architecture != request.base.architecture {
            return Err(TrainError::adapter(
                bundle,
                format!(
                    "the bundle was made for a {} model; the base is {}",
                    manifest.base.architecture.as_str(),
                    request.base.architecture.as_str()
                ),
            ));
        }
        if manifest.base.template_hash != request.base.template_hash {
            warnings.push(
                "the bundle was made with another chat template than this base's: replies may \
                 be malformed"
                    .into(),
            );
        }
        for line in settings_differences(&manifest, &adapter.settings) {
            warnings.push(format!("differs from the bundle: {line}"));
        }
        let meta = adapter
            .meta
            .get_or_insert_with(|| AdapterMeta::untrained(manifest.base.clone()));
        meta.dataset_source = Some(manifest.dataset_source.clone());
        meta.dataset_hash = Some(manifest.dataset_hash.clone());
        meta.training.get_or_insert(manifest.config.clone());
    }
    let meta = adapter
        .meta
        .get_or_insert_with(|| AdapterMeta::untrained(request.base.identity()));
    meta.imported_from.get_or_insert(origin);
    let name = library_name(request)?;
    let target = library.join(&name);
    if target.exists() && !request.replace {
        return Err(TrainError::adapter(
            &target,
            format!("an adapter named `{name}` is already imported: choose another --name or --replace it"),
        ));
    }
    let partial = library.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    adapter.save(&partial)?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| TrainError::io(&target, e))?;
    }
    std::fs::rename(&partial, &target).map_err(|e| TrainError::io(&target, e))?;
    Ok(ImportReport {
        summary: adapter.summary(&target),
        name,
        path: target,
        format,
        warnings,
    })
}

/// The library name: the one asked for, else the source's name without extension; letters,
/// digits, `-`, `_` and `.` only.
fn library_name(request: &ImportRequest) -> Result<String> {
    let name = match request.name {
        Some(name) => name.to_string(),
        None => request
            .source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(name)
    } else {
        Err(TrainError::setting(
            "name",
            format!("`{name}` is not a usable adapter name (letters, digits, - _ . only)"),
        ))
    }
}

/// One adapter in the library, or why it cannot be read.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryEntry {
    /// Its name.
    pub name: String,
    /// Its folder.
    pub path: PathBuf,
    /// What it holds, when readable.
    pub summary: Option<AdapterSummary>,
    /// Why it is not readable.
    pub error: Option<String>,
}

/// The adapters in `library`, by name (an unreadable one is listed with its error).
pub fn list_adapters(library: &Path) -> Result<Vec<LibraryEntry>> {
    let Ok(entries) = std::fs::read_dir(library) else {
        return Ok(Vec::new());
    };
    let mut list: Vec<LibraryEntry> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match LoraAdapter::load(&path) {
                Ok(adapter) => LibraryEntry {
                    summary: Some(adapter.summary(&path)),
                    name,
                    path,
                    error: None,
                },
                Err(e) => LibraryEntry {
                    name,
                    path,
                    summary: None,
                    error: Some(e.to_string()),
                },
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}
