//! Completion jobs of the local API: a chat or a prompt on the served model (with its adapter),
//! queued behind the window's jobs like any other.

use citrus_training::adapter::detach;
use tokio::sync::mpsc::UnboundedSender;

use super::{Job, Shared};
use crate::adapters;
use crate::completion::{complete, CompletionEvent, CompletionOutput, CompletionRequest};
use crate::error::{AppError, AppResult, ErrorReport};
use crate::library;
use crate::store::Store;

/// A completion the local API queued.
#[derive(Debug, Clone)]
pub struct CompletionJob {
    /// What to complete.
    pub request: CompletionRequest,
    /// The imported model to run (None: the active one).
    pub model_id: Option<i64>,
    /// An adapter attached for this job only (a library name, a PEFT folder or a GGUF LoRA
    /// file); None: the active adapter, as the window's runs use.
    pub adapter: Option<String>,
    /// Where the completion's text and end go.
    pub messages: UnboundedSender<CompletionMessage>,
}

/// What a completion job reports to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionMessage {
    /// The model runs: its name.
    Started(String),
    /// Text or a token's log-probability.
    Event(CompletionEvent),
    /// The completion ended.
    Done(Box<CompletionOutput>),
    /// It failed.
    Failed(ErrorReport),
}

impl Shared {
    /// Runs a completion job to its end and sends its last message.
    pub(super) fn run_completion(&self, job: &Job, completion: &CompletionJob) {
        let message = match self.complete(job, completion) {
            Ok(output) => CompletionMessage::Done(Box::new(output)),
            Err(error) => CompletionMessage::Failed(error.report()),
        };
        let _ = completion.messages.send(message);
    }

    fn complete(&self, job: &Job, completion: &CompletionJob) -> AppResult<CompletionOutput> {
        let store = Store::open_shared(&self.store_path)?;
        let entry = match completion.model_id {
            Some(id) => store.model(id)?,
            None => library::active_model(&store)?.ok_or(AppError::NoModel)?,
        };
        let mut slot = self.load_for(job, &store, &entry)?;
        let loaded = slot.as_mut().ok_or(AppError::NoModel)?;
        let model = &mut loaded.model;
        match &completion.adapter {
            Some(name) => {
                detach(model);
                adapters::attach(&store, model, name)?;
            }
            None => {
                adapters::apply_active_adapter(&store, model)?;
            }
        }
        let _ = completion
            .messages
            .send(CompletionMessage::Started(model.info().name.clone()));
        let result = complete(model, &completion.request, &job.cancel, &mut |event| {
            let _ = completion.messages.send(CompletionMessage::Event(event));
        });
        if completion.adapter.is_some() {
            detach(model);
        }
        result
    }
}
