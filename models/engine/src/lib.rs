//! The inference engine of Citrus Workstation on candle: the one transformer definition with
//! LoRA hooks ([`transformer`], [`lora`], [`frozen`]), its KV cache ([`kv_cache`]), devices and
//! threads ([`device`]), sampling ([`sampling`]), constrained decoding ([`constraint`],
//! [`json_schema`]), generation ([`generation`]), the memory estimate ([`estimate`]) and the
//! [`model::Model`] facade that loads a file and puts them together.
//!
//! Above `citrus-formats`, `citrus-kernels` and `citrus-host`; it must never import the
//! reasoning layer or the runner (it generates tokens and text, and knows nothing of cases).

pub mod constraint;
mod cpu_view;
pub mod custom_grad;
pub mod device;
pub mod estimate;
pub mod frozen;
pub mod generation;
pub mod json_schema;
pub mod kv_cache;
pub mod lora;
pub mod model;
pub mod sampling;
pub mod seeded;
pub mod training_attention;
pub mod training_block;
mod training_head;
pub mod training_swiglu;
pub mod transformer;

pub use citrus_formats::{ModelError, Result};
