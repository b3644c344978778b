//! The store's encryption and the audit trail, for IT (read-only).

use citrus_types::api::protection::{GetStoreStatus, ListAudit, VerifyAudit};
use citrus_types::protection::{AuditEntry, AuditVerification, StoreStatus};

use super::{call, ApiError};

/// How the case store is encrypted and where its key is kept.
pub async fn status() -> Result<StoreStatus, ApiError> {
    call(&GetStoreStatus {}).await
}

/// The latest `latest` audit entries (of one case, or all), oldest first.
pub async fn entries(case_id: Option<i64>, latest: usize) -> Result<Vec<AuditEntry>, ApiError> {
    call(&ListAudit {
        case_id,
        latest: Some(latest),
    })
    .await
}

/// Walks the audit trail's chain.
pub async fn verify() -> Result<AuditVerification, ApiError> {
    call(&VerifyAudit {}).await
}
