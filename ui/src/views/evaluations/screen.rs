//! What the screen's parts share, provided as context by the screen.

use leptos::prelude::*;

use crate::types::EvalRunSummary;
use crate::views::run_list::RunList;

/// What the screen's parts share: the recorded runs and the one open.
pub(crate) type EvalScreen = RunList<EvalRunSummary>;

/// The screen's shared state, from context.
pub fn use_screen() -> EvalScreen {
    expect_context::<EvalScreen>()
}
