//! The screens.

pub mod case;
pub mod cases;
pub mod models;
pub mod review;
