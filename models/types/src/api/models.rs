//! Imported models, the engine's settings and the model it holds.

use super::{commands, Streaming};
use crate::model::{
    EngineSettings, EngineStatus, ImportKind, Inspection, ListedModel, ModelEntry, ModelShape,
};

commands! {
    /// Every imported model, the active one marked.
    ListModels = "list_models" -> Vec<ListedModel> {}
    /// Asks for a model file or folder and imports it; None when the user cancels.
    ImportModel = "import_model" -> Option<ModelEntry> {
        /// A file or a folder.
        kind: ImportKind,
        /// Copy it into the data folder instead of referencing it where it lies.
        copy: bool,
    }
    /// What a model is and whether it fits, with `settings`.
    InspectModel = "inspect_model" -> Inspection<ModelShape> {
        /// The imported model.
        id: i64,
        /// Device, threads, re-quantization.
        settings: EngineSettings,
    }
    /// The model the engine holds, if any, and what it is doing.
    GetEngineStatus = "get_engine_status" -> EngineStatus {}
    /// Loads a model (making it active) with `settings`; progress streams on `events`.
    LoadModel = "load_model" -> ModelEntry {
        /// The imported model.
        id: i64,
        /// Device, threads, re-quantization.
        settings: EngineSettings,
    }
}

impl Streaming for LoadModel {}
