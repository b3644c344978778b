//! What the API is configured with, and what every request handler shares.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{AppError, AppResult};

/// How the API is served.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on (127.0.0.1 unless set).
    pub host: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// The bearer key every request must carry; required beyond loopback.
    pub api_key: Option<String>,
    /// Origins of web pages allowed to call the API (CORS); none unless set.
    pub allowed_origins: Vec<String>,
    /// The imported model served (None: the active one).
    pub model_id: Option<i64>,
    /// An adapter applied to every completion (None: the active adapter).
    pub adapter: Option<String>,
    /// The name `/v1/models` gives the served model.
    pub model_name: String,
}

impl ServerConfig {
    /// Refuses a configuration that would expose the model: listening beyond loopback without
    /// a key.
    pub fn check(&self) -> AppResult<()> {
        if !self.host.is_loopback() && self.api_key.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::ServerKeyRequired {
                host: self.host.to_string(),
            });
        }
        Ok(())
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub(super) struct Api {
    pub(super) engine: Engine,
    pub(super) config: Arc<ServerConfig>,
    /// The address actually bound (its port, when 0 was asked for).
    pub(super) address: SocketAddr,
}
