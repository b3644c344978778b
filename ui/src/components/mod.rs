//! Reusable pieces of the window.

pub mod case_quotes;
pub mod confirm;
pub mod fields;
pub mod run_parts;
pub mod run_view;
