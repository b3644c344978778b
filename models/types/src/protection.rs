//! Patient-data protection as the window and the CLI show it: how the case store is
//! encrypted and where its key is kept, the audit trail's entries and its verification.

use serde::{Deserialize, Serialize};

/// Where the key of the encrypted case store is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The operating system's keyring (Keychain, Credential Manager, Secret Service).
    Keyring,
    /// A file holding the key (headless servers, CI, or where IT provisions one).
    KeyFile,
    /// Derived from a passphrase chosen by IT (PBKDF2), given in `CITRUS_STORE_PASSPHRASE`.
    Passphrase,
}

impl KeyKind {
    /// The kind in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Keyring => "the operating system's keyring",
            Self::KeyFile => "a key file",
            Self::Passphrase => "a passphrase (PBKDF2-HMAC-SHA256)",
        }
    }
}

/// How the case store is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    /// The database file.
    pub path: String,
    /// Whether the file is encrypted (SQLCipher).
    pub encrypted: bool,
    /// SQLCipher's version, when encrypted.
    pub cipher: Option<String>,
    /// Where the key is kept.
    pub key: Option<KeyKind>,
    /// Where exactly, in words (the keyring entry, the key file's path, the variable).
    pub key_location: Option<String>,
    /// Advice when the key's place weakens the protection (a key file beside the store).
    pub warning: Option<String>,
    /// The schema version.
    pub schema_version: u32,
    /// Entries in the audit trail.
    pub audit_entries: u64,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// A case was saved for the first time.
    #[serde(rename = "case.created")]
    CaseCreated,
    /// A case's content changed.
    #[serde(rename = "case.edited")]
    CaseEdited,
    /// A case was deleted with its runs and reviews.
    #[serde(rename = "case.deleted")]
    CaseDeleted,
    /// A case was opened to read.
    #[serde(rename = "case.viewed")]
    CaseViewed,
    /// A model reasoned on a case (a run started).
    #[serde(rename = "case.run")]
    CaseRun,
    /// A run was opened to read.
    #[serde(rename = "run.viewed")]
    RunViewed,
    /// A run was reviewed.
    #[serde(rename = "case.reviewed")]
    CaseReviewed,
    /// Case text left the store (an export, a report, a bundle); the entry holds its hash.
    #[serde(rename = "case.exported")]
    CaseExported,
    /// Case text was de-identified (to read, or before it left).
    #[serde(rename = "case.deidentified")]
    CaseDeidentified,
    /// An adapter was trained on reviewed cases.
    #[serde(rename = "adapter.trained_from_reviews")]
    AdapterTrainedFromReviews,
    /// The store was encrypted (a plaintext store migrated).
    #[serde(rename = "store.encrypted")]
    StoreEncrypted,
    /// The store's key changed.
    #[serde(rename = "store.key_changed")]
    KeyChanged,
    /// The audit trail was exported.
    #[serde(rename = "audit.exported")]
    AuditExported,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 13] = [
        Self::CaseCreated,
        Self::CaseEdited,
        Self::CaseDeleted,
        Self::CaseViewed,
        Self::CaseRun,
        Self::RunViewed,
        Self::CaseReviewed,
        Self::CaseExported,
        Self::CaseDeidentified,
        Self::AdapterTrainedFromReviews,
        Self::StoreEncrypted,
        Self::KeyChanged,
        Self::AuditExported,
    ];

    /// The stable code stored and shown (`case.created`…).
    pub fn code(self) -> &'static str {
        match self {
            Self::CaseCreated => "case.created",
            Self::CaseEdited => "case.edited",
            Self::CaseDeleted => "case.deleted",
            Self::CaseViewed => "case.viewed",
            Self::CaseRun => "case.run",
            Self::RunViewed => "run.viewed",
            Self::CaseReviewed => "case.reviewed",
            Self::CaseExported => "case.exported",
            Self::CaseDeidentified => "case.deidentified",
            Self::AdapterTrainedFromReviews => "adapter.trained_from_reviews",
            Self::StoreEncrypted => "store.encrypted",
            Self::KeyChanged => "store.key_changed",
            Self::AuditExported => "audit.exported",
        }
    }

    /// The action named by its code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.code() == code)
    }

    /// The action in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::CaseCreated => "created a case",
            Self::CaseEdited => "edited a case",
            Self::CaseDeleted => "deleted a case",
            Self::CaseViewed => "viewed a case",
            Self::CaseRun => "ran a model on a case",
            Self::RunViewed => "viewed a run",
            Self::CaseReviewed => "reviewed a run",
            Self::CaseExported => "exported case text",
            Self::CaseDeidentified => "de-identified case text",
            Self::AdapterTrainedFromReviews => "trained an adapter on reviewed cases",
            Self::StoreEncrypted => "encrypted the case store",
            Self::KeyChanged => "changed the store's key",
            Self::AuditExported => "exported the audit trail",
        }
    }
}

/// One entry of the audit trail: append-only, chained to the one before by a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the trail, from 1.
    pub seq: i64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: the operating-system user, or a named reviewer with the OS user.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// Which cases.
    pub case_ids: Vec<i64>,
    /// Details in words (the run, the export's format and destination…).
    pub detail: String,
    /// For an export: the SHA-256 of what was written.
    pub content_hash: Option<String>,
    /// The hash of the entry before (64 zeros for the first).
    pub prev_hash: String,
    /// This entry's hash, over its fields and `prev_hash`.
    pub hash: String,
}

/// Why an entry breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditBreak {
    /// Its fields no longer give its hash: it was edited.
    Edited,
    /// It is missing: the trail jumps over it, or ends before the head recorded.
    Missing,
    /// It does not follow the entry before (reordered, or inserted).
    OutOfOrder,
}

impl AuditBreak {
    /// The reason in words.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Edited => "its content does not match its hash: it was edited",
            Self::Missing => "it is missing: it was deleted",
            Self::OutOfOrder => {
                "it does not follow the entry before it: entries were reordered or inserted"
            }
        }
    }
}

/// The result of verifying the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    /// Entries read.
    pub entries: u64,
    /// The first broken entry and why; None when the whole chain holds.
    pub first_broken: Option<(i64, AuditBreak)>,
}

impl AuditVerification {
    /// Whether the chain holds.
    pub fn intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// De-identification of what an export writes: on by default; high-confidence hits must be
/// reviewed (or kept, when judged not identifiers) before the window exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeidOptions {
    /// Replace identifiers (Safe Harbor) in what leaves the store.
    pub deidentify: bool,
    /// Hits the user has looked at (their ids).
    #[serde(default)]
    pub reviewed: Vec<String>,
    /// Hits the user judged not identifiers: left as written.
    #[serde(default)]
    pub keep: Vec<String>,
}

impl Default for DeidOptions {
    fn default() -> Self {
        Self {
            deidentify: true,
            reviewed: Vec::new(),
            keep: Vec::new(),
        }
    }
}

/// One identifier de-identification found, as the window lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeidHit {
    /// Its id (stable while the text does not change).
    pub id: String,
    /// The case it is in.
    pub case_id: Option<i64>,
    /// What it is, in words ("name", "date", "medical record number"…).
    pub category: String,
    /// The text found.
    pub text: String,
    /// What replaces it.
    pub replacement: String,
    /// A high-confidence hit (must be reviewed before the window exports).
    pub high: bool,
    /// The evidence, in words.
    pub reason: String,
}

/// An export as it will be written, with what de-identification replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportView {
    /// The text.
    pub text: String,
    /// What was found (empty when de-identification is off).
    pub hits: Vec<DeidHit>,
    /// The label de-identified output carries (None when it is off).
    pub notice: Option<String>,
}
