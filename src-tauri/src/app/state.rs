//! What every command can reach: the store (one connection, behind a lock) and the engine.

use std::sync::{Mutex, MutexGuard};

use crate::engine::Engine;
use crate::store::Store;

/// The local API while it runs from the window.
pub struct RunningApi {
    /// Its base URL.
    pub url: String,
    /// The model it serves.
    pub model: String,
    /// Sending stops it.
    pub stop: tokio::sync::oneshot::Sender<()>,
}

/// The app's state, managed by Tauri.
pub struct AppState {
    store: Mutex<Store>,
    /// The job runner.
    pub engine: Engine,
    /// Runs found unfinished (and marked interrupted) at start.
    pub recovered_runs: usize,
    /// The local API, when switched on.
    pub api: Mutex<Option<RunningApi>>,
}

impl AppState {
    /// State over an open store and a job runner.
    pub fn new(store: Store, engine: Engine) -> Self {
        Self {
            recovered_runs: store.recovered_runs(),
            store: Mutex::new(store),
            engine,
            api: Mutex::new(None),
        }
    }

    /// The store, for one short piece of work.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        crate::engine::lock(&self.store)
    }
}
