//! Cases: list, read, create, autosave, delete.

use super::Answer;
use citrus_reasoning::Validate;
use citrus_types::api::cases::{CreateCase, DeleteCase, GetCase, ListCases, UpdateCase};
use tauri::State;

use crate::app::AppState;

/// Cases matching the search and filters, most recently changed first.
#[tauri::command]
pub fn list_cases(state: State<'_, AppState>, request: ListCases) -> Answer<ListCases> {
    let ListCases { query } = request;
    Ok(state.store().list_cases(&query)?)
}

/// One case (recorded in the audit trail as viewed).
#[tauri::command]
pub fn get_case(state: State<'_, AppState>, request: GetCase) -> Answer<GetCase> {
    let GetCase { id } = request;
    Ok(state.store().view_case(id)?)
}

/// Saves a new case (validated first) and returns its id.
#[tauri::command]
pub fn create_case(state: State<'_, AppState>, request: CreateCase) -> Answer<CreateCase> {
    let CreateCase { input } = request;
    input.validate()?;
    Ok(state.store().create_case(&input)?)
}

/// Replaces a case's content (autosave; validated first).
#[tauri::command]
pub fn update_case(state: State<'_, AppState>, request: UpdateCase) -> Answer<UpdateCase> {
    let UpdateCase { id, input } = request;
    input.validate()?;
    Ok(state.store().update_case(id, &input)?)
}

/// Deletes a case with its runs and reviews.
#[tauri::command]
pub fn delete_case(state: State<'_, AppState>, request: DeleteCase) -> Answer<DeleteCase> {
    let DeleteCase { id } = request;
    Ok(state.store().delete_case(id)?)
}
