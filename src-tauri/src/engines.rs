//! Remote engines: inference servers someone added by name (the Models screen, `citrus engines
//! add`). Nothing connects on its own: a server is contacted when it is added or tested, and
//! when a run, an evaluation or a benchmark is asked to use it. Its API key stays in the file
//! it was given in, read each time; only that file's path is stored.

use std::path::Path;
use std::sync::Arc;

use citrus_engine::model::read_template;
use citrus_runner::engine::remote::{read_key_file, RemoteConfig, RemoteEngine};
use citrus_types::engine::{RemoteEngineEntry, LOCAL_ENGINE};

use crate::error::{AppError, AppResult};
use crate::store::Store;

/// What adding an engine needs.
#[derive(Debug, Clone)]
pub struct NewEngine {
    /// Its name.
    pub name: String,
    /// The server's OpenAI-compatible base URL.
    pub url: String,
    /// The model id (None: the first the server lists).
    pub model: Option<String>,
    /// The file holding the API key, if the server wants one.
    pub api_key_file: Option<String>,
    /// A copy of the served model (GGUF file or folder) whose chat template renders prompts
    /// for scoring option text.
    pub template_file: Option<String>,
    /// De-identify case text before it is sent to this server.
    pub deidentify: bool,
}

/// Probes the server of `new` and adds it under its name (replacing one of that name). A
/// server that cannot be reached, refuses the key or lacks the model is not added.
pub fn add(store: &Store, new: NewEngine) -> AppResult<RemoteEngineEntry> {
    check_name(&new.name)?;
    let url = normalized_url(&new.url);
    let mut entry = RemoteEngineEntry {
        name: new.name,
        url,
        model: new.model,
        api_key_file: new.api_key_file,
        template_file: new.template_file,
        capabilities: None,
        models: Vec::new(),
        added_at: String::new(),
        deidentify: new.deidentify,
    };
    let engine = connect_entry(&entry)?;
    entry.model = Some(engine.model().to_string());
    entry.models = engine.models().to_vec();
    entry.capabilities = Some(citrus_runner::engine::TextEngine::capabilities(&engine));
    store.put_engine(&entry)?;
    store.engine(&entry.name).map_err(AppError::from)
}

/// Connects to the engine `name` again and records what it offers now.
pub fn test(store: &Store, name: &str) -> AppResult<RemoteEngineEntry> {
    let engine = connect(store, name)?;
    let capabilities = citrus_runner::engine::TextEngine::capabilities(&engine);
    store.set_engine_probe(name, capabilities, engine.models())?;
    Ok(store.engine(name)?)
}

/// Connects to the engine `name` and probes it.
pub fn connect(store: &Store, name: &str) -> AppResult<RemoteEngine> {
    connect_entry(&store.engine(name)?)
}

/// The engine `name` ready for a run, as last probed (nothing is contacted until the run's
/// first request; an engine never probed is probed now).
pub fn open(store: &Store, name: &str) -> AppResult<RemoteEngine> {
    let entry = store.engine(name)?;
    match (&entry.model, entry.capabilities) {
        (Some(model), Some(capabilities)) => Ok(RemoteEngine::known(
            &config_of(&entry)?,
            model.clone(),
            capabilities,
        )),
        _ => connect_entry(&entry),
    }
}

fn connect_entry(entry: &RemoteEngineEntry) -> AppResult<RemoteEngine> {
    Ok(RemoteEngine::connect(&config_of(entry)?)?)
}

fn config_of(entry: &RemoteEngineEntry) -> AppResult<RemoteConfig> {
    let api_key = entry
        .api_key_file
        .as_deref()
        .map(read_key_file)
        .transpose()?;
    let template = match &entry.template_file {
        Some(path) => Some(Arc::new(read_template(Path::new(path))?.template)),
        None => None,
    };
    Ok(RemoteConfig {
        name: entry.name.clone(),
        url: entry.url.clone(),
        model: entry.model.clone(),
        api_key,
        template,
    })
}

/// The engine a run asks for: None (or `local`) is the local engine.
pub fn remote_name(engine: Option<&str>) -> Option<&str> {
    engine.filter(|name| !name.is_empty() && *name != LOCAL_ENGINE)
}

fn check_name(name: &str) -> AppResult<()> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name == LOCAL_ENGINE || !name.chars().all(fine) {
        return Err(AppError::EngineName(name.to_string()));
    }
    Ok(())
}

/// The URL with a scheme and without a trailing slash (`10.1.2.3:8000/v1` →
/// `http://10.1.2.3:8000/v1`).
fn normalized_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_urls_get_a_scheme() {
        assert!(check_name("gpu-server.1").is_ok());
        for bad in ["", "local", "a b", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalized_url("10.1.2.3:8000/v1/"),
            "http://10.1.2.3:8000/v1"
        );
        assert_eq!(normalized_url("https://h/v1"), "https://h/v1");
    }
}
