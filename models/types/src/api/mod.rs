//! The contract between the window and the shell: every command the window sends, as a
//! request type that names its command and the response it gets back. The shell's commands
//! take these types and return their responses; the window builds them and reads the
//! responses; a change on one side that the other does not follow fails to compile.
//!
//! On the wire a command's arguments are `{"request": <the request>}`, plus `{"events": <a
//! channel>}` for a [`Streaming`] command, whose job reports [`crate::job::JobEvent`]s there.
//! Request fields are camelCase.

pub mod adapters;
pub mod app;
pub mod cases;
pub mod engines;
pub mod evaluations;
pub mod models;
pub mod protection;
pub mod reasoning;
pub mod reviews;
pub mod runs;
pub mod server;
pub mod training;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A request to the shell: the command it calls and what that command answers.
pub trait Command: Serialize {
    /// The shell's command (its `#[tauri::command]` function).
    const NAME: &'static str;
    /// What the command answers.
    type Response: Serialize + DeserializeOwned;
}

/// A command whose work streams [`crate::job::JobEvent`]s on the channel passed as `events`.
pub trait Streaming: Command {}

/// The argument name of a command's request.
pub const REQUEST_ARG: &str = "request";
/// The argument name of a streaming command's channel.
pub const EVENTS_ARG: &str = "events";

/// Declares request types: `Name = "command" -> Response { fields }`.
macro_rules! commands {
    ($(
        $(#[$meta:meta])*
        $name:ident = $command:literal -> $response:ty { $($(#[$field_meta:meta])* $field:ident : $type:ty),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $type,)*
        }

        impl $crate::api::Command for $name {
            const NAME: &'static str = $command;
            type Response = $response;
        }
    )*};
}
pub(crate) use commands;
