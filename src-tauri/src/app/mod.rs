//! The window: Tauri setup, the app's state and its commands, grouped per domain and kept
//! thin over the library functions the CLI uses.

pub mod commands;
pub(crate) mod state;

use tauri::{Builder, Runtime};

pub use state::AppState;

use crate::engine::Engine;
use crate::error::AppResult;
use crate::library;
use crate::store::{Store, STORE_FILE};

/// Opens the store in `$CITRUS_HOME` (marking runs a killed process left as interrupted),
/// records the installed default model and applies the saved thread count. Returns the state
/// and the job runner's worker, to spawn on the async runtime.
pub fn prepare() -> AppResult<(
    AppState,
    impl std::future::Future<Output = ()> + Send + 'static,
)> {
    let store_path = citrus_host::home::citrus_home().join(STORE_FILE);
    let store = Store::open(&store_path)?;
    library::register_default_model(&store)?;
    library::apply_threads(&library::engine_settings(&store)?)?;
    let (engine, worker) = Engine::new(store_path);
    Ok((AppState::new(store, engine), worker))
}

/// Registers the state, the dialog plugin and every command on `builder` (the real app or a
/// mock runtime in tests).
pub fn with_commands<R: Runtime>(builder: Builder<R>, state: AppState) -> Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app::get_app_info,
            commands::app::get_setting,
            commands::app::set_setting,
            commands::cases::list_cases,
            commands::cases::get_case,
            commands::cases::create_case,
            commands::cases::update_case,
            commands::cases::delete_case,
            commands::runs::list_runs,
            commands::runs::get_run,
            commands::reasoning::start_reasoning,
            commands::reasoning::stop_job,
            commands::reviews::get_review,
            commands::reviews::save_review,
            commands::reviews::search_codes,
            commands::reviews::list_review_queue,
            commands::reviews::export_preview,
            commands::reviews::export_save,
            commands::models::list_models,
            commands::models::import_model,
            commands::models::inspect_model,
            commands::models::get_engine_status,
            commands::models::load_model,
            commands::adapters::list_adapters,
            commands::adapters::set_active_adapter,
            commands::adapters::delete_adapter,
            commands::adapters::import_adapter_folder,
            commands::adapters::export_adapter,
            commands::evaluations::pick_benchmark,
            commands::evaluations::inspect_benchmark,
            commands::evaluations::start_evaluation,
            commands::evaluations::list_evaluations,
            commands::evaluations::reviewed_evaluation,
            commands::evaluations::get_evaluation,
            commands::evaluations::get_evaluation_item,
            commands::evaluations::compare_evaluation_runs,
            commands::evaluations::export_evaluation,
            commands::training::pick_dataset,
            commands::training::inspect_dataset,
            commands::training::start_training,
            commands::training::pause_training,
            commands::training::list_training_runs,
            commands::training::get_training_run,
            commands::server::start_api,
            commands::server::stop_api,
            commands::server::get_api_status,
            commands::engines::list_engines,
            commands::engines::add_engine,
            commands::engines::test_engine,
            commands::engines::remove_engine,
            commands::protection::get_store_status,
            commands::protection::list_audit,
            commands::protection::verify_audit,
        ])
}

/// Opens the window and runs until it is closed.
pub fn run() -> AppResult<()> {
    let (state, worker) = prepare()?;
    let engine = state.engine.clone();
    with_commands(tauri::Builder::default(), state)
        .setup(move |_| {
            tauri::async_runtime::spawn(worker);
            engine.preload();
            Ok(())
        })
        .run(tauri::generate_context!())
        .map_err(|e| crate::error::AppError::Window(e.to_string()))
}
