//! Patient-data protection for IT: the store's encryption and the audit trail (read-only).

use super::Answer;
use citrus_types::api::protection::{GetStoreStatus, ListAudit, VerifyAudit};
use tauri::State;

use crate::app::AppState;
use crate::store::AuditQuery;

/// How the case store is encrypted and where its key is kept.
#[tauri::command]
pub fn get_store_status(
    state: State<'_, AppState>,
    request: GetStoreStatus,
) -> Answer<GetStoreStatus> {
    let GetStoreStatus {} = request;
    Ok(state.store().protection()?)
}

/// Audit entries, oldest first.
#[tauri::command]
pub fn list_audit(state: State<'_, AppState>, request: ListAudit) -> Answer<ListAudit> {
    let ListAudit { case_id, latest } = request;
    let query = AuditQuery {
        case_id,
        action: None,
        latest,
    };
    Ok(state.store().audit_entries(&query)?)
}

/// Walks the audit trail's chain.
#[tauri::command]
pub fn verify_audit(state: State<'_, AppState>, request: VerifyAudit) -> Answer<VerifyAudit> {
    let VerifyAudit {} = request;
    Ok(state.store().verify_audit()?)
}
