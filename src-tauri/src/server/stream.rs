//! Server-sent events: a task writes the events of a streamed reply, the client reads them as
//! they come; when the client goes away, the task's next write fails and it ends (which stops
//! its job).

use std::convert::Infallible;
use std::future::Future;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use serde_json::Value;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Where a streamed reply's task writes.
pub(super) struct Sender(UnboundedSender<Result<Event, Infallible>>);

impl Sender {
    /// Sends one `data:` event; false when the client is gone.
    pub(super) fn data(&self, value: &Value) -> bool {
        self.0
            .send(Ok(Event::default().data(value.to_string())))
            .is_ok()
    }

    /// Sends the closing `data: [DONE]`.
    pub(super) fn done(&self) {
        let _ = self.0.send(Ok(Event::default().data("[DONE]")));
    }
}

/// The events of a streamed reply, written by a task started with it.
pub(super) struct Events(UnboundedReceiver<Result<Event, Infallible>>);

impl Events {
    /// Starts `producer` on its own task, writing to the events.
    pub(super) fn new<F, Fut>(producer: F) -> Self
    where
        F: FnOnce(Sender) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (sender, receiver) = unbounded_channel();
        tokio::spawn(producer(Sender(sender)));
        Self(receiver)
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        let mut receiver = self.0;
        futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
    }
}

/// The response that streams `events`.
pub(super) fn event_stream(events: Events) -> Response {
    Sse::new(events.into_stream())
        .keep_alive(KeepAlive::default())
        .into_response()
}
