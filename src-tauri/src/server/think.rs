//! Splits a reply into its thinking (`<think>…</think>`, sent as `reasoning_content`, as
//! llama.cpp and LM Studio send it) and the rest (`content`), as the text streams in: a tag cut
//! across pieces is held back until it is decided.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Where the reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Before any thinking, or after it.
    Content,
    /// Inside `<think>`.
    Thinking,
}

/// A piece of the reply, routed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// Text of the thinking.
    pub reasoning: String,
    /// Text of the reply proper.
    pub content: String,
}

impl Split {
    /// Whether it holds no text.
    pub fn is_empty(&self) -> bool {
        self.reasoning.is_empty() && self.content.is_empty()
    }
}

/// The streaming splitter.
#[derive(Debug, Clone)]
pub struct ThinkSplitter {
    section: Section,
    /// Text not yet routed (a possible tag's beginning).
    held: String,
}

impl ThinkSplitter {
    /// A splitter for a reply that starts inside the thinking when `opened` (the chat template
    /// opened `<think>`), else outside it.
    pub fn new(opened: bool) -> Self {
        Self {
            section: if opened {
                Section::Thinking
            } else {
                Section::Content
            },
            held: String::new(),
        }
    }

    /// Routes the next piece of text.
    pub fn push(&mut self, text: &str) -> Split {
        self.held.push_str(text);
        let mut out = Split::default();
        loop {
            let tag = match self.section {
                Section::Content => OPEN,
                Section::Thinking => CLOSE,
            };
            if let Some(at) = self.held.find(tag) {
                let before: String = self.held.drain(..at).collect();
                self.held.drain(..tag.len());
                self.emit(&mut out, &before);
                self.section = match self.section {
                    Section::Content => Section::Thinking,
                    Section::Thinking => Section::Content,
                };
                continue;
            }
            // Keep back the longest tail that could still begin the tag.
            let keep = (1..tag.len())
                .rev()
                .find(|&n| self.held.ends_with(&tag[..n]))
                .unwrap_or(0);
            let cut = self.held.len() - keep;
            let ready: String = self.held.drain(..cut).collect();
            self.emit(&mut out, &ready);
            return out;
        }
    }

    /// Whatever is still held back, at the end of the reply.
    pub fn finish(&mut self) -> Split {
        let mut out = Split::default();
        let rest = std::mem::take(&mut self.held);
        self.emit(&mut out, &rest);
        out
    }

    fn emit(&self, out: &mut Split, text: &str) {
        match self.section {
            Section::Content => out.content.push_str(text),
            Section::Thinking => out.reasoning.push_str(text),
        }
    }
}

/// A whole reply split at once.
pub fn split_reply(text: &str, opened: bool) -> Split {
    let mut splitter = ThinkSplitter::new(opened);
    let mut all = splitter.push(text);
    let rest = splitter.finish();
    all.reasoning.push_str(&rest.reasoning);
    all.content.push_str(&rest.content);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_is_split_from_the_reply_however_the_text_is_cut() {
        let reply = "<think>ST elevation in II, III, aVF.</think><answer>B</answer>";
        for size in 1..reply.len() {
            let mut splitter = ThinkSplitter::new(false);
            let mut all = Split::default();
            for piece in reply.as_bytes().chunks(size) {
                let piece = splitter.push(std::str::from_utf8(piece).unwrap());
                all.reasoning.push_str(&piece.reasoning);
                all.content.push_str(&piece.content);
            }
            let rest = splitter.finish();
            all.content.push_str(&rest.content);
            assert_eq!(
                all.reasoning, "ST elevation in II, III, aVF.",
                "pieces of {size}"
            );
            assert_eq!(all.content, "<answer>B</answer>", "pieces of {size}");
        }
    }

    #[test]
    fn a_template_that_opened_the_thinking_and_a_stray_bracket() {
        let split = split_reply("weighing options</think>A < B", true);
        assert_eq!(split.reasoning, "weighing options");
        assert_eq!(split.content, "A < B");
        let plain = split_reply("no thinking here <", false);
        assert_eq!(plain.content, "no thinking here <");
        assert!(plain.reasoning.is_empty());
    }
}
