//! Thinking, however a server sends it, folded into one text with `<think>…</think>` inline:
//! a separate `reasoning_content`/`reasoning` field is wrapped in the tags; inline tags pass as
//! they are. The think/answer parser then reads all three the same way.

/// Folds streamed thinking and content into inline text.
#[derive(Debug, Default)]
pub(super) struct ThinkFold {
    text: String,
    thinking: bool,
    thought: String,
}

impl ThinkFold {
    /// Thinking arrived in its own field.
    pub(super) fn reasoning(&mut self, piece: &str, emit: &mut dyn FnMut(&str)) {
        if !self.thinking {
            self.thinking = true;
            self.push("<think>\n", emit);
        }
        self.thought.push_str(piece);
        self.push(piece, emit);
    }

    /// Reply text arrived.
    pub(super) fn content(&mut self, piece: &str, emit: &mut dyn FnMut(&str)) {
        self.close(emit);
        self.push(piece, emit);
    }

    /// The stream ended: a think section still open is closed.
    pub(super) fn close(&mut self, emit: &mut dyn FnMut(&str)) {
        if self.thinking {
            self.thinking = false;
            self.push("\n</think>\n\n", emit);
        }
    }

    /// Whether thinking arrived in its own field and the reply has not begun.
    pub(super) fn is_thinking(&self) -> bool {
        self.thinking
    }

    /// The thinking that came in its own field.
    pub(super) fn thought(&self) -> &str {
        &self.thought
    }

    /// Everything so far.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The folded text.
    pub(super) fn into_text(self) -> String {
        self.text
    }

    fn push(&mut self, piece: &str, emit: &mut dyn FnMut(&str)) {
        if !piece.is_empty() {
            self.text.push_str(piece);
            emit(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reasoning_field_becomes_an_inline_think_section() {
        let mut fold = ThinkFold::default();
        let mut seen = String::new();
        let mut emit = |t: &str| seen.push_str(t);
        fold.reasoning("chest pain", &mut emit);
        fold.reasoning(", ST up", &mut emit);
        fold.content("<answer>STEMI</answer>", &mut emit);
        fold.close(&mut emit);
        assert_eq!(
            fold.text(),
            "<think>\nchest pain, ST up\n</think>\n\n<answer>STEMI</answer>"
        );
        assert_eq!(seen, fold.text());
        assert_eq!(fold.thought(), "chest pain, ST up");
    }

    #[test]
    fn inline_text_passes_as_it_is() {
        let mut fold = ThinkFold::default();
        fold.content("<think>a</think>b", &mut |_| {});
        fold.close(&mut |_| {});
        assert_eq!(fold.into_text(), "<think>a</think>b");
    }
}
