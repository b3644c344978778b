//! What can go wrong with a remote engine, each with a stable code.

/// A failure talking to an inference server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Nothing answered at the address (refused, unknown host, or no answer in time).
    #[error("the server at {url} could not be reached: {detail}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What the connection reported.
        detail: String,
    },
    /// The server wants a key, or refused the one given (401/403).
    #[error("the server at {url} refused the request ({status}): {detail}")]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        detail: String,
    },
    /// The server answered with another error status (4xx/5xx).
    #[error("the server at {url} answered {status}: {detail}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        detail: String,
    },
    /// The streamed reply ended before the server said it was complete.
    #[error("the reply from {url} was cut off after {received} characters: {detail}")]
    StreamCut {
        /// The URL asked.
        url: String,
        /// Characters received before the cut.
        received: usize,
        /// What the connection reported.
        detail: String,
    },
    /// The server sent something that is not the OpenAI API's shape.
    #[error("the server at {url} sent a malformed reply: {detail}")]
    Malformed {
        /// The URL asked.
        url: String,
        /// What was wrong, with the start of what was sent.
        detail: String,
    },
    /// The server does not offer what the run needs.
    #[error("the engine {engine} cannot {what}")]
    Unsupported {
        /// The engine's name.
        engine: String,
        /// What it cannot do.
        what: String,
    },
    /// The model asked for is not among those the server lists.
    #[error("the server at {url} has no model {model:?} (it lists {listed})")]
    ModelNotFound {
        /// The URL asked.
        url: String,
        /// The model asked for.
        model: String,
        /// What the server lists.
        listed: String,
    },
    /// The file that should hold the API key could not be read.
    #[error("the API key file {path} could not be read: {detail}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
}

impl RemoteError {
    /// The stable code (`remote.…`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "remote.unreachable",
            Self::Unauthorized { .. } => "remote.unauthorized",
            Self::Status { .. } => "remote.status",
            Self::StreamCut { .. } => "remote.stream_cut",
            Self::Malformed { .. } => "remote.malformed",
            Self::Unsupported { .. } => "remote.unsupported",
            Self::ModelNotFound { .. } => "remote.model_not_found",
            Self::KeyFile { .. } => "remote.key_file",
        }
    }
}
