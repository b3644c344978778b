//! The local OpenAI-compatible API (`citrus serve`, or the switch on the Models screen):
//! `/v1/models`, `/v1/chat/completions` and `/v1/completions` on the model the window uses,
//! queued behind the same one-job-at-a-time engine. Off until started; bound to 127.0.0.1
//! unless told otherwise, and then only with a key; every request's Host header is checked
//! (no DNS rebinding), and pages of other origins are refused unless allowed.

mod chat;
mod completions;
mod config;
mod guard;
mod jobs;
mod models;
pub mod openai;
mod reply;
mod stream;
pub mod think;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::engine::Engine;
use crate::error::{AppError, AppResult};

use config::Api;
pub use config::ServerConfig;

/// The API listening on its socket, ready to serve.
pub struct Listening {
    listener: tokio::net::TcpListener,
    api: Api,
}

impl Listening {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.api.address
    }

    /// Serves requests until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> AppResult<()> {
        let address = self.api.address;
        axum::serve(self.listener, router(self.api))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| AppError::ServerListen {
                address: address.to_string(),
                detail: e.to_string(),
            })
    }
}

/// Checks `config` and binds its socket (nothing listens before the check passes).
pub async fn bind(engine: Engine, config: ServerConfig) -> AppResult<Listening> {
    config.check()?;
    let wanted = SocketAddr::new(config.host, config.port);
    let listener =
        tokio::net::TcpListener::bind(wanted)
            .await
            .map_err(|e| AppError::ServerListen {
                address: wanted.to_string(),
                detail: e.to_string(),
            })?;
    let address = listener.local_addr().map_err(|e| AppError::ServerListen {
        address: wanted.to_string(),
        detail: e.to_string(),
    })?;
    Ok(Listening {
        listener,
        api: Api {
            engine,
            config: Arc::new(config),
            address,
        },
    })
}

fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/models", get(models::list))
        .route("/v1/chat/completions", post(chat::complete))
        .route("/v1/completions", post(completions::complete))
        .fallback(guard::not_found)
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            guard::check,
        ))
        .with_state(api)
}
