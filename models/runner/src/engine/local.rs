//! The local candle engine behind the engine interface.

use super::{ChatCall, EngineCapabilities, EngineOrigin, Reply, TextEngine};
use crate::error::Result;
use crate::evaluation::likelihood::{self, OptionScores, ScoredContinuation};
use citrus_engine::generation::{CancelToken, GenerationOutput};
use citrus_engine::model::Model;
use citrus_formats::chat_template::ChatMessage;
use citrus_reasoning::ExamItem;

impl TextEngine for Model {
    fn origin(&self) -> EngineOrigin {
        EngineOrigin::Local {
            path: self.info().path.display().to_string(),
            name: self.info().name.clone(),
            fingerprint: self.fingerprint().to_string(),
            adapter: self.adapter().map(str::to_string),
        }
    }

    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities::LOCAL
    }

    fn prompt_opens_think(&mut self, messages: &[ChatMessage]) -> Result<bool> {
        Ok(Model::prompt_opens_think(self, messages)?)
    }

    fn chat(
        &mut self,
        call: ChatCall<'_>,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        let output = match (call.continuation, call.schema) {
            (Some(continued), _) => {
                // The reply so far as text, tokenized again with what follows — as a server
                // continues a final assistant turn — so both engines continue the same prompt.
                let text = format!("{}{}", continued.written.text, continued.forced);
                let written = self.tokenizer().encode(&text)?;
                self.continue_reply(call.messages, &written, "", call.settings, cancel, on_text)?
            }
            (None, Some(schema)) => {
                let mut constraint = self.constraint_factory()?.json_schema(schema)?;
                self.chat_constrained(
                    call.messages,
                    call.settings,
                    Some(&mut constraint),
                    cancel,
                    on_text,
                )?
            }
            (None, None) => Model::chat(self, call.messages, call.settings, cancel, on_text)?,
        };
        Ok(reply_of(output))
    }

    fn scoring_prompt(&mut self, item: &ExamItem) -> Result<String> {
        let prompt = likelihood::scoring_prompt(self, item)?;
        Ok(self.tokenizer().decode(&prompt, false)?)
    }

    fn score_options(
        &mut self,
        item: &ExamItem,
        continuation: ScoredContinuation,
    ) -> Result<OptionScores> {
        Ok(likelihood::score_options(self, item, continuation)?)
    }
}

fn reply_of(output: GenerationOutput) -> Reply {
    Reply {
        text: output.text,
        tokens: output.tokens.len(),
        stop_reason: output.stop_reason,
    }
}
