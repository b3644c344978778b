//! A remote engine: an inference server someone added (vLLM, llama.cpp's `llama-server`,
//! Ollama, LM Studio, or another workstation's `citrus serve`), spoken to over the
//! OpenAI-compatible HTTP API. Nothing connects until a run, a test or a probe asks; only the
//! configured server is contacted.

mod chat;
mod config;
pub mod error;
mod fold;
mod http;
mod probe;
mod scoring;
mod server;
mod sse;
mod wire;

pub use config::{read_key_file, RemoteConfig};
pub use error::RemoteError;
pub use server::RemoteEngine;

use super::{ChatCall, EngineCapabilities, EngineOrigin, Reply, TextEngine};
use crate::error::Result;
use crate::evaluation::likelihood::{OptionScores, ScoredContinuation};
use citrus_engine::generation::CancelToken;
use citrus_formats::chat_template::ChatMessage;
use citrus_reasoning::ExamItem;

impl TextEngine for RemoteEngine {
    fn origin(&self) -> EngineOrigin {
        EngineOrigin::Remote {
            engine: self.name.clone(),
            url: self.client.base().to_string(),
            model: self.model().to_string(),
        }
    }

    fn capabilities(&self) -> EngineCapabilities {
        self.capabilities
    }

    fn prompt_opens_think(&mut self, _messages: &[ChatMessage]) -> Result<bool> {
        // A server reports thinking itself (a field, or `<think>` in the text).
        Ok(false)
    }

    fn chat(
        &mut self,
        call: ChatCall<'_>,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        Ok(chat::reply(self, call, cancel, on_text)?)
    }

    fn scoring_prompt(&mut self, item: &ExamItem) -> Result<String> {
        Ok(scoring::prompt_text(item))
    }

    fn score_options(
        &mut self,
        item: &ExamItem,
        continuation: ScoredContinuation,
    ) -> Result<OptionScores> {
        Ok(scoring::score_options(self, item, continuation)?)
    }
}
