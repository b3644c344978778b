//! The engine interface: what reasoning runs, the guided pathway and evaluation ask of a
//! model. The local candle engine ([`citrus_engine::model::Model`], in [`local`]) and a remote
//! OpenAI-compatible server ([`remote::RemoteEngine`]) both answer it, so a run streams into the
//! same steps, store and review whatever computed it.

mod local;
pub mod remote;

use serde_json::Value;

use crate::error::Result;
use crate::evaluation::likelihood::{OptionScores, ScoredContinuation};
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::model::ChatSettings;
use citrus_formats::chat_template::ChatMessage;
use citrus_reasoning::ExamItem;
pub use citrus_types::engine::{EngineCapabilities, EngineOrigin};

/// A reply an engine wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The text, with thinking inline in `<think>…</think>` however the engine sent it.
    pub text: String,
    /// Tokens generated.
    pub tokens: usize,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

/// A reply cut short, to be continued after `forced` text.
#[derive(Debug, Clone, Copy)]
pub struct Continuation<'a> {
    /// What was written so far.
    pub written: &'a Reply,
    /// Text placed after it before generation goes on (e.g. `</think><answer>`).
    pub forced: &'a str,
}

/// One chat turn asked of an engine.
#[derive(Debug, Clone, Copy)]
pub struct ChatCall<'a> {
    /// The conversation.
    pub messages: &'a [ChatMessage],
    /// Length, sampling and stop strings.
    pub settings: &'a ChatSettings,
    /// A JSON schema the reply is held to.
    pub schema: Option<&'a Value>,
    /// A reply to continue instead of starting a new one.
    pub continuation: Option<Continuation<'a>>,
}

impl<'a> ChatCall<'a> {
    /// A plain turn.
    pub fn new(messages: &'a [ChatMessage], settings: &'a ChatSettings) -> Self {
        Self {
            messages,
            settings,
            schema: None,
            continuation: None,
        }
    }
}

/// What computes the model's replies and scores.
pub trait TextEngine {
    /// Which engine and model this is, as runs record it.
    fn origin(&self) -> EngineOrigin;

    /// What it can do.
    fn capabilities(&self) -> EngineCapabilities;

    /// Whether the prompt of `messages` already opens the think section (a local template's
    /// doing; a remote server reports thinking itself).
    fn prompt_opens_think(&mut self, messages: &[ChatMessage]) -> Result<bool>;

    /// Writes a reply, streaming its text to `on_text`.
    fn chat(
        &mut self,
        call: ChatCall<'_>,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply>;

    /// The text an exam item's options are scored after, for the record.
    fn scoring_prompt(&mut self, item: &ExamItem) -> Result<String>;

    /// Scores every option of `item` (it must have at least two).
    fn score_options(
        &mut self,
        item: &ExamItem,
        continuation: ScoredContinuation,
    ) -> Result<OptionScores>;
}
