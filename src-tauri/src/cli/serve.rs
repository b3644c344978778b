//! `citrus serve`: the local OpenAI-compatible API on the active model (or `--model`), until
//! Ctrl-C. Listens on 127.0.0.1 unless `--host` says otherwise, and then only with a key.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use super::runs::open_store;
use crate::engine::Engine;
use crate::error::{AppError, AppResult};
use crate::library;
use crate::server::{self, ServerConfig};
use crate::store::{ModelEntry, Store};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The model: a .gguf file or Hugging Face folder (imported if new), or the name of an
    /// imported model [default: the active model].
    #[arg(long, value_name = "FILE|NAME")]
    model: Option<String>,
    /// An adapter applied to every completion: a PEFT folder, a GGUF LoRA file or a library
    /// name [default: the active adapter].
    #[arg(long, value_name = "ADAPTER")]
    adapter: Option<String>,
    /// The address to listen on; anything but loopback needs --api-key-file.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The port (0: any free one, printed).
    #[arg(long, default_value_t = citrus_types::defaults::SERVE_PORT)]
    port: u16,
    /// A file holding the bearer key every request must carry.
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// A web origin allowed to call the API (CORS), e.g. http://localhost:3000; repeatable.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// The case store whose models and settings are used [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

/// Serves until Ctrl-C.
pub fn run(args: ServeArgs) -> AppResult<()> {
    let store = open_store(args.db.as_deref())?;
    library::register_default_model(&store)?;
    let entry = served_model(&store, args.model.as_deref())?;
    let api_key = args.api_key_file.as_deref().map(read_key).transpose()?;
    let config = ServerConfig {
        host: args.host,
        port: args.port,
        api_key,
        allowed_origins: args.allow_origin,
        model_id: Some(entry.id),
        adapter: args.adapter,
        model_name: entry.name.clone(),
    };
    config.check()?;
    let store_path = store.path().to_path_buf();
    drop(store);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::ServerListen {
            address: format!("{}:{}", config.host, config.port),
            detail: e.to_string(),
        })?;
    runtime.block_on(async move {
        let (engine, worker) = Engine::new(store_path);
        tokio::spawn(worker);
        let listening = server::bind(engine, config).await?;
        eprintln!(
            "serving {} at http://{}/v1 (Ctrl-C stops)",
            entry.name,
            listening.address()
        );
        listening
            .serve(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })
}

/// The model `--model` names (a file or folder, imported if new; or an imported model's
/// name), else the active one.
fn served_model(store: &Store, wanted: Option<&str>) -> AppResult<ModelEntry> {
    let Some(wanted) = wanted else {
        return library::active_model(store)?.ok_or(AppError::NoModel);
    };
    let models = store.models()?;
    let path = Path::new(wanted);
    if path.exists() {
        let canonical = path.canonicalize().map_err(|e| AppError::io(path, e))?;
        if let Some(entry) = models.iter().find(|m| Path::new(&m.path) == canonical) {
            return Ok(entry.clone());
        }
        return library::import_model(store, &canonical, false);
    }
    models
        .into_iter()
        .find(|m| m.name == wanted)
        .ok_or_else(|| AppError::io(path, std::io::ErrorKind::NotFound.into()))
}

/// The key in `path`, without surrounding white space (never printed).
fn read_key(path: &Path) -> AppResult<String> {
    let key = std::fs::read_to_string(path).map_err(|e| AppError::io(path, e))?;
    Ok(key.trim().to_string())
}
