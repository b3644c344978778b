//! The base model an adapter belongs to: its identity as recorded with the adapter, and the
//! facts an adapter is checked against.

use std::path::{Path, PathBuf};

use citrus_engine::model::{inspect, read_template, LoadOptions, Model};
use citrus_formats::config::{Architecture, TransformerConfig};
use citrus_formats::identity::model_fingerprint;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The model an adapter was trained on, and with which template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseIdentity {
    /// The model's name.
    pub name: String,
    /// Where it was loaded from.
    pub path: String,
    /// Its content fingerprint ([`citrus_formats::identity::model_fingerprint`]).
    pub fingerprint: String,
    /// Its family.
    pub architecture: Architecture,
    /// SHA-256 of the chat template used for training.
    pub template_hash: String,
}

impl BaseIdentity {
    /// The identity of a loaded model.
    pub fn of(model: &Model) -> Self {
        let info = model.info();
        Self {
            name: info.name.clone(),
            path: info.path.display().to_string(),
            fingerprint: model.fingerprint().to_string(),
            architecture: info.architecture,
            template_hash: model.template().hash().to_string(),
        }
    }
}

/// What an adapter is checked against: the base's family, file fingerprint, template hash
/// and shapes.
#[derive(Debug, Clone)]
pub struct BaseFacts {
    /// The model's name.
    pub name: String,
    /// Where the base lies.
    pub path: PathBuf,
    /// Its family.
    pub architecture: Architecture,
    /// Its content fingerprint.
    pub fingerprint: String,
    /// SHA-256 of its chat template (ChatML's when it has none, as when loaded).
    pub template_hash: String,
    /// Its hyper-parameters.
    pub config: TransformerConfig,
}

impl BaseFacts {
    /// The facts of a loaded model.
    pub fn of_model(model: &Model) -> Self {
        let info = model.info();
        Self {
            name: info.name.clone(),
            path: info.path.clone(),
            architecture: info.architecture,
            fingerprint: model.fingerprint().to_string(),
            template_hash: model.template().hash().to_string(),
            config: info.config.clone(),
        }
    }

    /// The facts of the model at `path` (GGUF file or Hugging Face folder), without loading
    /// its weights.
    pub fn of_path(path: &Path) -> Result<Self> {
        let info = inspect(path, &LoadOptions::default())?;
        Ok(Self {
            name: info.name.clone(),
            path: path.to_path_buf(),
            architecture: info.architecture,
            fingerprint: model_fingerprint(path)?,
            template_hash: read_template(path)?.template.hash().to_string(),
            config: info.config,
        })
    }
}

impl BaseFacts {
    /// The identity an adapter trained on this base records.
    pub fn identity(&self) -> BaseIdentity {
        BaseIdentity {
            name: self.name.clone(),
            path: self.path.display().to_string(),
            fingerprint: self.fingerprint.clone(),
            architecture: self.architecture,
            template_hash: self.template_hash.clone(),
        }
    }
}
