//! Patient-data protection: the store's encryption, the audit trail, de-identification.

use super::commands;
use crate::protection::{AuditEntry, AuditVerification, StoreStatus};

commands! {
    /// How the case store is encrypted and where its key is kept.
    GetStoreStatus = "get_store_status" -> StoreStatus {}
    /// Audit entries, oldest first: the latest `latest` (all when None), of one case or all.
    ListAudit = "list_audit" -> Vec<AuditEntry> {
        /// Only entries about this case.
        case_id: Option<i64>,
        /// At most this many, the latest.
        latest: Option<usize>,
    }
    /// Walks the audit trail's chain and names the first broken entry.
    VerifyAudit = "verify_audit" -> AuditVerification {}
}
