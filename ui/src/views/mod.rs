//! The screens.

pub mod adapters;
pub mod case;
pub mod cases;
pub mod evaluation;
pub mod models;
pub mod review;
pub mod training;
