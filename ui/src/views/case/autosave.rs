//! Saving the case editor's draft shortly after typing stops: create on the first valid save,
//! update afterwards. The draft itself is never discarded.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::draft::Draft;
use crate::errors;
use crate::state::AppState;
use crate::types::CaseInput;

const DELAY: Duration = Duration::from_millis(600);

/// The autosave machinery of one open case (cheap to copy).
#[derive(Clone, Copy)]
pub struct Autosave {
    /// "Saving…", "Saved", or what stops the save, in words.
    pub status: RwSignal<String>,
    draft: RwSignal<Draft>,
    title: RwSignal<String>,
    id: StoredValue<Option<i64>>,
    dirty: StoredValue<bool>,
    saving: StoredValue<bool>,
    timer: StoredValue<Option<TimeoutHandle>>,
    app: AppState,
    nonce: u64,
}

impl Autosave {
    /// Autosave for the case `id` (None: not yet created) opened as `nonce`.
    pub fn new(
        app: AppState,
        nonce: u64,
        id: Option<i64>,
        draft: RwSignal<Draft>,
        title: RwSignal<String>,
    ) -> Self {
        Self {
            status: RwSignal::new(String::new()),
            draft,
            title,
            id: StoredValue::new(id),
            dirty: StoredValue::new(false),
            saving: StoredValue::new(false),
            timer: StoredValue::new(None),
            app,
            nonce,
        }
    }

    /// Changes the draft and schedules a save.
    pub fn edit(self, change: impl FnOnce(&mut Draft)) {
        self.draft.update(change);
        self.dirty.set_value(true);
        self.clear_timer();
        let handle = set_timeout_with_handle(move || self.flush(), DELAY);
        self.timer.set_value(handle.ok());
    }

    fn clear_timer(self) {
        if let Some(Some(handle)) = self.timer.try_get_value() {
            handle.clear();
        }
        self.timer.try_set_value(None);
    }

    /// Saves now if there are unsaved changes (safe to call after the view closed).
    pub fn flush(self) {
        self.clear_timer();
        if !self.dirty.try_get_value().unwrap_or(false) || self.saving.get_value() {
            return;
        }
        let Some(draft) = self.draft.try_get_untracked() else {
            return;
        };
        self.dirty.set_value(false);
        if let Some(problem) = draft.problem() {
            self.status.try_set(problem.to_string());
            return;
        }
        self.saving.set_value(true);
        self.status.try_set("Saving…".to_string());
        let id = self.id.get_value();
        spawn_local(async move {
            let result = self.save(id, draft.to_input()).await;
            self.saving.try_set_value(false);
            match result {
                Ok(id) => {
                    self.status.try_set("Saved".to_string());
                    self.refresh_title(id).await;
                }
                Err(err) => {
                    self.status.try_set(errors::describe(&err));
                }
            }
            if self.dirty.try_get_value().unwrap_or(false) {
                self.flush();
            }
        });
    }

    async fn save(self, id: Option<i64>, input: CaseInput) -> Result<i64, ApiError> {
        match id {
            Some(id) => {
                api::cases::update(id, input).await?;
                Ok(id)
            }
            None => {
                let id = api::cases::create(input).await?;
                self.id.try_set_value(Some(id));
                let nonce = self.nonce;
                self.app.case.try_update(|c| {
                    if c.nonce == nonce {
                        c.id = Some(id);
                    }
                });
                Ok(id)
            }
        }
    }

    async fn refresh_title(self, id: i64) {
        if let Ok(case) = api::cases::get(id).await {
            self.title.try_set(case.title);
        }
    }

    /// Whether nothing typed is waiting to be saved.
    pub fn settled(self) -> bool {
        !self.dirty.try_get_value().unwrap_or(false)
            && !self.saving.try_get_value().unwrap_or(false)
    }
}
