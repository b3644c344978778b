//! Runs of a case.

use tauri::State;

use crate::app::AppState;
use crate::error::AppResult;
use crate::store::{RunRecord, RunSummary};

/// Every run of a case, oldest first.
#[tauri::command]
pub fn list_runs(state: State<'_, AppState>, case_id: i64) -> AppResult<Vec<RunSummary>> {
    Ok(state.store().runs_of_case(case_id)?)
}

/// One run with its text, steps and differential.
#[tauri::command]
pub fn get_run(state: State<'_, AppState>, id: i64) -> AppResult<RunRecord> {
    Ok(state.store().run(id)?)
}
