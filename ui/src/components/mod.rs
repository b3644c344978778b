//! Reusable pieces of the window.

pub mod case_quotes;
pub mod code_search;
pub mod coded_differential;
pub mod confirm;
pub mod engine_picker;
pub mod fields;
pub mod model_picker;
pub mod path_field;
pub mod run_parts;
pub mod run_view;
