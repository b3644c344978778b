//! The candle core of Citrus Workstation.
//!
//! Model files ([`gguf`], [`weights`]), configuration ([`config`]), tokenizers
//! ([`tokenizer`]), chat templates ([`chat_template`]), the one transformer definition with
//! LoRA hooks ([`transformer`], [`lora`]), sampling and generation ([`sampling`],
//! [`generation`]), and the facade that puts them together ([`model`]).

pub mod chat_template;
pub mod config;
pub mod constraint;
pub mod device;
pub mod error;
pub mod evaluation;
pub mod frozen;
pub mod generation;
pub mod gguf;
pub mod gguf_writer;
pub mod guided;
pub mod hf_export;
pub mod home;
pub mod identity;
pub mod json_schema;
pub mod kernels;
pub mod kv_cache;
pub mod lora;
pub mod memory;
pub mod model;
pub mod owner;
mod pre_tokenizers;
pub mod reason;
pub mod reasoning;
pub mod rope;
pub mod sampling;
pub mod seeded;
pub mod tokenizer;
pub mod transformer;
pub mod weights;

pub use error::{ModelError, Result};
