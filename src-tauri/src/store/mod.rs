//! The case store: one SQLCipher-encrypted SQLite file in `$CITRUS_HOME` (WAL, versioned
//! migrations) holding cases, runs with their steps, reviews, imported models and the audit
//! trail of who did what to which case ([`audit`]). How it is encrypted and where its key is
//! kept: [`crypt`].
//!
//! A run is written while it streams, so a crash or a kill leaves a partial run; opening the
//! store marks such runs `interrupted`, and nothing the user entered is lost.

pub mod audit;
mod cases;
pub mod crypt;
mod engines;
mod error;
mod evaluations;
pub mod export;
mod migrations;
mod models;
pub mod overhead;
mod reviews;
mod runs;
mod settings;
mod training;

use std::path::{Path, PathBuf};

use citrus_types::protection::{AuditAction, StoreStatus};
use rusqlite::Connection;

pub use audit::{AuditEvent, AuditQuery};
pub use cases::{CaseQuery, CaseRecord, CaseSummary};
pub use crypt::keyed_connection;
pub use error::{StoreError, StoreResult};
pub use evaluations::{EvalRunSummary, NewEvalRun, StoredEvalItem};
pub use models::ModelEntry;
pub use reviews::{QueuedReview, Review, StepReview, Verdict};
pub use runs::{NewRun, RunRecord, RunRecorder, RunStatus, RunSummary};
pub use training::{
    DataSource, NewTrainRun, PointKind, TrainPoint, TrainRunRecord, TrainRunSummary,
};

/// File name of the store inside the data folder.
pub const STORE_FILE: &str = "citrus.db";

/// Whether a store is opened encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// SQLCipher with the store's key: always, in the app.
    On,
    /// A plaintext file: only to measure encryption's cost on a scratch store.
    Off,
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    recovered_runs: usize,
    actor: String,
}

impl Store {
    /// Opens (creating if needed) the store at `path`, migrates it to the current schema and
    /// marks runs left `running` by a process that is gone as `interrupted` (runs whose owner
    /// still runs, in another terminal or window, stay `running`).
    ///
    /// Call this once per process, at start; further connections use [`Store::open_shared`].
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut store = Self::open_shared(path)?;
        store.recovered_runs = runs::mark_interrupted(&store.conn)?;
        Ok(store)
    }

    /// Opens another connection to a store (creating and migrating it if needed) without
    /// touching running runs: they may belong to this process, e.g. to a job writing its run
    /// while the window reads cases.
    pub fn open_shared(path: &Path) -> StoreResult<Self> {
        Self::open_shared_with(path, Encryption::On)
    }

    /// [`Store::open_shared`] with encryption on, or off. The app always opens with it on;
    /// off exists to measure what encryption costs (`citrus store bench`) on a scratch file.
    pub fn open_shared_with(path: &Path, encryption: Encryption) -> StoreResult<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(path, e))?;
        }
        let (conn, encrypted) = match encryption {
            Encryption::On => crypt::connect(path)?,
            Encryption::Off => (
                Connection::open(path).map_err(|e| StoreError::open(path, e))?,
                None,
            ),
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError::open(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| StoreError::open(path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| StoreError::open(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| StoreError::open(path, e))?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            recovered_runs: 0,
            actor: audit::os_user(),
        };
        migrations::migrate(&mut store.conn).map_err(|e| StoreError::migrate(path, e))?;
        if let Some(copied) = encrypted {
            store.audit(
                AuditEvent::new(AuditAction::StoreEncrypted, []).detail(format!(
                    "a plaintext store was encrypted: {} rows in {} tables copied and checked",
                    copied.rows(),
                    copied.0.len()
                )),
            )?;
        }
        Ok(store)
    }

    /// Opens the store in the data folder (`$CITRUS_HOME/citrus.db`).
    pub fn open_default() -> StoreResult<Self> {
        Self::open(&citrus_host::home::citrus_home().join(STORE_FILE))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder the store file is in: the app's data folder (`$CITRUS_HOME` for the app's
    /// own store), where the window keeps training runs and the adapter library beside it.
    pub fn folder(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// How many runs were found unfinished (and marked interrupted) when the store opened.
    pub fn recovered_runs(&self) -> usize {
        self.recovered_runs
    }

    /// How the store is encrypted and where its key is kept.
    pub fn protection(&self) -> StoreResult<StoreStatus> {
        crypt::status(&self.conn, &self.path, self.audit_count()?)
    }

    /// The schema version.
    pub fn schema_version(&self) -> StoreResult<u32> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }
}

/// The current time as RFC 3339 UTC text (what every timestamp column holds), strictly
/// increasing within the process so that "most recent first" never ties between two writes
/// in the same millisecond.
fn now() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_MILLIS: AtomicU64 = AtomicU64::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let previous = LAST_MILLIS
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(clock.max(last + 1))
        })
        .unwrap_or(clock);
    let millis = clock.max(previous + 1);
    let time =
        jiff::Timestamp::from_millisecond(millis as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{time:.3}")
}

#[cfg(test)]
mod tests {
    use super::now;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds_and_increase() {
        let first = now();
        let second = now();
        assert_eq!(first.len(), "2026-11-21T01:02:03.500Z".len(), "{first}");
        assert!(
            first.ends_with('Z') && first.as_bytes()[10] == b'T',
            "{first}"
        );
        let parsed: jiff::Timestamp = first.parse().expect("RFC 3339");
        assert_eq!(format!("{parsed:.3}"), first);
        assert!(second > first, "{second} after {first}");
    }
}
