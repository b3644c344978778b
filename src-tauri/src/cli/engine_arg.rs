//! `--engine NAME`: run on a remote engine added with `citrus engines add` instead of a local
//! model file.

use std::path::Path;

use citrus_runner::engine::{EngineOrigin, TextEngine};
use citrus_types::engine::host_of;
use clap::Args;

use super::model_args::ModelArgs;
use super::runs::open_store;
use crate::engines;
use crate::error::AppResult;

/// Which engine a command runs on.
#[derive(Debug, Clone, Args)]
pub struct EngineArg {
    /// A remote engine from `citrus engines list` (an inference server) instead of a local
    /// model: the case text is sent to that server.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["model", "adapter", "requantize"])]
    pub engine: Option<String>,
}

impl EngineArg {
    /// The engine asked for: the remote one named (from the store at `db`), else the local
    /// model of `model`. Says on stderr where the case text goes.
    pub fn open(&self, model: &ModelArgs, db: Option<&Path>) -> AppResult<Box<dyn TextEngine>> {
        let Some(name) = engines::remote_name(self.engine.as_deref()) else {
            return Ok(Box::new(model.load()?));
        };
        let store = open_store(db)?;
        let engine = engines::open(&store, name)?;
        if let EngineOrigin::Remote { url, model, .. } = engine.origin() {
            eprintln!(
                "[engine {name}: {model}; the case text is sent to the server at {}]",
                host_of(&url)
            );
        }
        Ok(Box::new(engine))
    }
}
