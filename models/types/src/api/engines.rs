//! Remote engines: inference servers added by name, tested, removed.

use super::commands;
use crate::engine::RemoteEngineEntry;

commands! {
    /// Every remote engine added.
    ListEngines = "list_engines" -> Vec<RemoteEngineEntry> {}
    /// Probes a server and adds it under `name` (refused if it cannot be reached).
    AddEngine = "add_engine" -> RemoteEngineEntry {
        /// Its name.
        name: String,
        /// The server's OpenAI-compatible base URL.
        url: String,
        /// The model id on it (None: the first it lists).
        model: Option<String>,
        /// A file holding the API key (only the path is stored).
        api_key_file: Option<String>,
        /// A copy of the served model whose template renders prompts for text scoring.
        template_file: Option<String>,
        /// De-identify case text before it is sent to this server.
        #[serde(default)]
        deidentify: bool,
    }
    /// Connects to an engine again and records what it offers.
    TestEngine = "test_engine" -> RemoteEngineEntry {
        /// Its name.
        name: String,
    }
    /// Removes an engine (its runs keep its name and URL).
    RemoveEngine = "remove_engine" -> () {
        /// Its name.
        name: String,
    }
}
