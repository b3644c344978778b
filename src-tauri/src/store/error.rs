//! Errors of the case store, with stable codes.

use std::path::{Path, PathBuf};

/// Result alias of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened (permissions, not a database, locked).
    #[error("{path}: cannot open the case store: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A migration failed; the database is left at its previous version.
    #[error("{path}: cannot upgrade the case store: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database was written by a newer version of the app.
    #[error("the case store is at schema version {found}, newer than this app's {supported}: update Citrus Workstation")]
    TooNew {
        /// The file's schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A file-system error around the database.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No record with this id.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// `case`, `run`…
        kind: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// No remote engine of this name was added.
    #[error("no engine named {name:?} (add one with `citrus engines add`)")]
    NoEngine {
        /// The name asked for.
        name: String,
    },
    /// An export of a run that has no review.
    #[error("run {run_id} has not been reviewed yet")]
    NotReviewed {
        /// The run.
        run_id: i64,
    },
    /// A stored value could not be read back (damaged JSON column).
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// Work another live process is running.
    #[error("{what} is being run by process {pid} now: wait for it or stop it")]
    Busy {
        /// What.
        what: String,
        /// The owner's process id.
        pid: u32,
    },
    /// Work that cannot continue because it has finished.
    #[error("{what} is already finished")]
    Finished {
        /// What.
        what: String,
    },
    /// The store is encrypted and its key cannot be found where it is recorded.
    #[error("{path}: the case store's key is missing: {detail}")]
    KeyMissing {
        /// The database file.
        path: PathBuf,
        /// Where the key was looked for, and what to do.
        detail: String,
    },
    /// A key (or its record) is there but is not a key.
    #[error("{path}: not a usable store key: {detail}")]
    KeyInvalid {
        /// The file holding it.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The place holding the key (the OS keyring) does not answer now.
    #[error("{path}: the case store's key cannot be read: {detail}")]
    KeyUnavailable {
        /// The database file.
        path: PathBuf,
        /// What did not answer, and what to do.
        detail: String,
    },
    /// The key does not open the store (a wrong passphrase, another store's key file).
    #[error("{path}: the key does not open this case store (a wrong passphrase or key file?); nothing was changed")]
    WrongKey {
        /// The database file.
        path: PathBuf,
    },
    /// Encrypting (or re-keying) the store failed; the store was left as it was.
    #[error("{path}: cannot encrypt the case store, which was left as it was: {detail}")]
    Encrypt {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The audit trail is broken (an entry edited, deleted or reordered).
    #[error("the audit trail is broken at entry {seq}: {reason}")]
    AuditBroken {
        /// The first broken entry.
        seq: i64,
        /// Why, in words.
        reason: String,
    },
    /// Any other SQLite error.
    #[error("case store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// A stable code for the error kind, e.g. `store.not_found`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Open { .. } => "store.open",
            Self::Migrate { .. } => "store.migrate",
            Self::TooNew { .. } => "store.too_new",
            Self::Io { .. } => "store.io",
            Self::NotFound { .. } => "store.not_found",
            Self::NoEngine { .. } => "store.no_engine",
            Self::NotReviewed { .. } => "store.not_reviewed",
            Self::Corrupt { .. } => "store.corrupt",
            Self::Busy { .. } => "store.busy",
            Self::Finished { .. } => "store.finished",
            Self::KeyMissing { .. } => "store.key_missing",
            Self::KeyInvalid { .. } => "store.key_invalid",
            Self::KeyUnavailable { .. } => "store.key_unavailable",
            Self::WrongKey { .. } => "store.wrong_key",
            Self::Encrypt { .. } => "store.encrypt",
            Self::AuditBroken { .. } => "store.audit_broken",
            Self::Sqlite(_) => "store.sqlite",
        }
    }

    pub(crate) fn open(path: &Path, source: rusqlite::Error) -> Self {
        Self::Open {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn migrate(path: &Path, error: StoreError) -> Self {
        match error {
            Self::Sqlite(source) => Self::Migrate {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
