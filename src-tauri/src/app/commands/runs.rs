//! Runs of a case.

use super::Answer;
use citrus_types::api::runs::{GetRun, ListRuns};
use tauri::State;

use crate::app::AppState;

/// Every run of a case, oldest first.
#[tauri::command]
pub fn list_runs(state: State<'_, AppState>, request: ListRuns) -> Answer<ListRuns> {
    let ListRuns { case_id } = request;
    Ok(state.store().runs_of_case(case_id)?)
}

/// One run with its text, steps and differential (recorded in the audit trail as viewed).
#[tauri::command]
pub fn get_run(state: State<'_, AppState>, request: GetRun) -> Answer<GetRun> {
    let GetRun { id } = request;
    Ok(state.store().view_run(id)?)
}
