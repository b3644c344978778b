//! The screens.

pub mod adapters;
pub mod audit;
pub mod case;
pub mod cases;
pub mod evaluations;
mod local_api;
pub mod models;
mod remote_engines;
pub mod review;
mod run_list;
pub mod training;
