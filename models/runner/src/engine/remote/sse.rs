//! Server-sent events as the OpenAI-compatible servers stream them: `data:` lines (joined when
//! an event has several), a blank line ending each event, comment lines (`:`) and other fields
//! ignored, and `[DONE]` closing the stream.

use std::io::BufRead;

/// One streamed message.
#[derive(Debug, PartialEq)]
pub(super) enum Event {
    /// An event's data.
    Data(String),
    /// `[DONE]`: the server finished.
    Done,
}

/// Reads events from a stream.
pub(super) struct Events<R> {
    reader: R,
    data: Option<String>,
}

impl<R: BufRead> Events<R> {
    pub(super) fn new(reader: R) -> Self {
        Self { reader, data: None }
    }

    /// The next event; None at the end of the stream (a last event without its blank line
    /// still counts).
    pub(super) fn next_event(&mut self) -> std::io::Result<Option<Event>> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(self.data.take().map(dispatch));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    return Ok(Some(dispatch(data)));
                }
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            if field == "data" {
                let value = value.strip_prefix(' ').unwrap_or(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                }
            }
        }
    }
}

fn dispatch(data: String) -> Event {
    if data.trim() == "[DONE]" {
        Event::Done
    } else {
        Event::Data(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_other_fields_are_skipped_and_data_lines_joined() {
        let stream = ": keep-alive\n\nevent: x\ndata: {\"a\":\ndata: 1}\n\ndata: [DONE]\n\n";
        let mut events = Events::new(stream.as_bytes());
        assert_eq!(
            events.next_event().unwrap(),
            Some(Event::Data("{\"a\":\n1}".into()))
        );
        assert_eq!(events.next_event().unwrap(), Some(Event::Done));
        assert_eq!(events.next_event().unwrap(), None);
    }

    #[test]
    fn a_last_event_without_its_blank_line_counts() {
        let mut events = Events::new("data: {}\r\n".as_bytes());
        assert_eq!(events.next_event().unwrap(), Some(Event::Data("{}".into())));
        assert_eq!(events.next_event().unwrap(), None);
    }
}
