//! The plain data that crosses between Citrus Workstation's shell and its window: one
//! definition, compiled into the shell (native) and the window (wasm), so the JSON the window
//! reads is exactly what the shell writes. Only serde; no model code. [`api`] is the contract:
//! every command the window sends, with the response it gets; [`job::JobEvent`] is every
//! message a job streams back.

pub mod adapter;
pub mod api;
pub mod case;
pub mod defaults;
pub mod engine;
pub mod evaluation;
pub mod job;
pub mod model;
pub mod protection;
pub mod quote;
pub mod review;
pub mod run;
pub mod status;
pub mod training;
pub mod vocabulary;

pub use status::RunStatus;
