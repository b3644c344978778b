//! Cases: list, read, create, autosave, delete.

use citrus_reasoning::CaseInput;
use citrus_reasoning::Validate;
use tauri::State;

use crate::app::AppState;
use crate::error::AppResult;
use crate::store::{CaseQuery, CaseRecord, CaseSummary};

/// Cases matching the search and filters, most recently changed first.
#[tauri::command]
pub fn list_cases(state: State<'_, AppState>, query: CaseQuery) -> AppResult<Vec<CaseSummary>> {
    Ok(state.store().list_cases(&query)?)
}

/// One case.
#[tauri::command]
pub fn get_case(state: State<'_, AppState>, id: i64) -> AppResult<CaseRecord> {
    Ok(state.store().case(id)?)
}

/// Saves a new case (validated first) and returns its id.
#[tauri::command]
pub fn create_case(state: State<'_, AppState>, input: CaseInput) -> AppResult<i64> {
    input.validate()?;
    Ok(state.store().create_case(&input)?)
}

/// Replaces a case's content (autosave; validated first).
#[tauri::command]
pub fn update_case(state: State<'_, AppState>, id: i64, input: CaseInput) -> AppResult<()> {
    input.validate()?;
    Ok(state.store().update_case(id, &input)?)
}

/// Deletes a case with its runs and reviews.
#[tauri::command]
pub fn delete_case(state: State<'_, AppState>, id: i64) -> AppResult<()> {
    Ok(state.store().delete_case(id)?)
}
