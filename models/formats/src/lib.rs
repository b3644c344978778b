//! Model files of Citrus Workstation, read and written as the reference tools write them:
//! GGUF ([`gguf`], [`gguf_writer`]), safetensors folders ([`weights`]), the transformer's
//! hyper-parameters and RoPE settings ([`config`], [`rope`]), tokenizers ([`tokenizer`]),
//! chat templates ([`chat_template`]), content fingerprints ([`identity`]) and the Hugging Face
//! export ([`hf_export`]). [`ModelError`] is the one error type of the model core, with stable
//! codes.
//!
//! Above `citrus-host` and `citrus-types`; it must never import the kernels, the engine, the
//! reasoning layer or the runner.

pub mod chat_template;
pub mod config;
pub mod error;
pub mod gguf;
pub mod gguf_writer;
pub mod hf_export;
pub mod identity;
mod pre_tokenizers;
pub mod rope;
pub mod tokenizer;
pub mod weights;

pub use error::{ModelError, Result};
