//! What the tabs of one open case share, provided as context by the case screen.

use leptos::prelude::*;

use super::autosave::Autosave;
use crate::draft::Draft;
use crate::live::reasoning::RunOptions;

/// What the tabs of one open case share (cheap to copy).
#[derive(Clone, Copy)]
pub struct CaseCtx {
    /// The stored case id; None until a new case is first saved.
    pub id: Memo<Option<i64>>,
    /// The editor's text.
    pub draft: RwSignal<Draft>,
    /// Whether the stored case has been read into the draft.
    pub loaded: RwSignal<bool>,
    /// The case's title.
    pub title: RwSignal<String>,
    /// The editor's autosave.
    pub save: Autosave,
    /// The Reasoning tab's options.
    pub options: RwSignal<RunOptions>,
}

/// The open case's shared state, from context.
pub fn use_case() -> CaseCtx {
    expect_context::<CaseCtx>()
}
