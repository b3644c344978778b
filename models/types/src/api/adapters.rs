//! The adapter library.

use super::commands;
use crate::adapter::{AdapterExport, AdapterListing};

commands! {
    /// Every adapter in the library, the active one marked.
    ListAdapters = "list_adapters" -> Vec<AdapterListing> {}
    /// Makes an adapter active for reasoning (None: the bare model).
    SetActiveAdapter = "set_active_adapter" -> () {
        /// The adapter's library name.
        name: Option<String>,
    }
    /// Deletes an adapter from the library.
    DeleteAdapter = "delete_adapter" -> () {
        /// The adapter's library name.
        name: String,
    }
    /// Asks for a PEFT folder and imports it; answers its library name, None when cancelled.
    ImportAdapterFolder = "import_adapter_folder" -> Option<String> {}
    /// Writes an adapter in another tool's format where the user chooses; None when cancelled.
    ExportAdapter = "export_adapter" -> Option<String> {
        /// The adapter's library name.
        name: String,
        /// The format.
        format: AdapterExport,
    }
}
