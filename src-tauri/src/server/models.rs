//! `GET /v1/models`: the one model served.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::config::Api;

/// The served model, as the OpenAI list of models.
pub(super) async fn list(State(api): State<Api>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": api.config.model_name,
            "object": "model",
            "created": 0,
            "owned_by": "citrus-workstation",
        }],
    }))
}
