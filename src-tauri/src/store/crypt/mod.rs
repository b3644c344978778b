//! Encryption at rest: every case store is a SQLCipher database (AES-256, HMAC-SHA512 per
//! page, the WAL included) opened with a raw 32-byte key. The key lives in the OS keyring, a
//! key file or IT's passphrase ([`sources`]); a plaintext store from an earlier release is
//! copied into an encrypted one once, at first open ([`convert`]).
//!
//! Adapters and training checkpoints are not encrypted: they are weights, derived data the
//! trainers and other tools must read as files. They can still memorise training text, so
//! the data folder is created owner-only, and the README advises an encrypted volume where
//! adapters trained on patient data must be protected at rest.

pub mod convert;
pub mod key;
pub mod sources;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use citrus_types::protection::StoreStatus;
use rusqlite::{Connection, ErrorCode};

pub use convert::CopiedTables;
pub use key::StoreKey;
pub use sources::KeySource;

use super::error::{StoreError, StoreResult};

/// The header of a plaintext SQLite file.
const PLAINTEXT_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Keys of the stores this process opened, by absolute path.
static KEYS: LazyLock<Mutex<HashMap<PathBuf, StoreKey>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// What a store file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// No file, or an empty one.
    Absent,
    /// A plaintext SQLite database.
    Plaintext,
    /// Anything else: an encrypted database (or not a database at all).
    Encrypted,
}

/// What the file at `path` is.
pub fn file_state(path: &Path) -> StoreResult<FileState> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Absent),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let mut header = [0u8; 16];
    let read = file
        .read(&mut header)
        .map_err(|e| StoreError::io(path, e))?;
    Ok(match read {
        0 => FileState::Absent,
        16 if &header == PLAINTEXT_HEADER => FileState::Plaintext,
        _ => FileState::Encrypted,
    })
}

/// A connection to the store at `path` with its key applied and checked, creating a key for
/// a new store and encrypting a plaintext one first. Returns what the encryption copied when
/// this call encrypted a plaintext store.
pub fn connect(path: &Path) -> StoreResult<(Connection, Option<CopiedTables>)> {
    let (key, encrypted) = store_key(path)?;
    let conn = keyed(path, &key)?;
    Ok((conn, encrypted))
}

/// A connection to an existing encrypted store with its key (no migration, no audit, no
/// new key): for tools and tests that read the file directly, perhaps while another
/// process writes it.
pub fn keyed_connection(path: &Path) -> StoreResult<Connection> {
    if file_state(path)? != FileState::Encrypted {
        return Err(StoreError::KeyMissing {
            path: path.to_path_buf(),
            detail: "there is no encrypted store there yet".into(),
        });
    }
    Ok(connect(path)?.0)
}

/// Opens `path` with `key`, checking that the key opens it.
fn keyed(path: &Path, key: &StoreKey) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
    // A wrong key is reported as a typed error; SQLCipher need not also log it to stderr.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")
        .map_err(|e| StoreError::open(path, e))?;
    conn.execute_batch(&key.pragma())
        .map_err(|e| StoreError::open(path, e))?;
    check_key(&conn, path)?;
    Ok(conn)
}

/// Reads the schema, which fails with "not a database" under a wrong key.
fn check_key(conn: &Connection, path: &Path) -> StoreResult<()> {
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            Err(StoreError::WrongKey {
                path: path.to_path_buf(),
            })
        }
        Err(e) => Err(StoreError::open(path, e)),
    }
}

/// The key of the store at `path` (looked up once per process), and what was copied when a
/// plaintext store was encrypted now.
fn store_key(path: &Path) -> StoreResult<(StoreKey, Option<CopiedTables>)> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(key) = keys.get(&absolute) {
        return Ok((key.clone(), None));
    }
    let (key, encrypted) = match file_state(path)? {
        FileState::Absent => (recorded_or_new_key(path)?, None),
        FileState::Plaintext => {
            let key = recorded_or_new_key(path)?;
            let plain = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
            super::migrations::refuse_too_new(&plain)?;
            let copied = convert::copy_and_swap(plain, path, &key)?;
            (key, Some(copied))
        }
        FileState::Encrypted => (existing_key(path)?, None),
    };
    keys.insert(absolute, key.clone());
    Ok((key, encrypted))
}

/// The key recorded for a store not yet written (or a plaintext one), else a new one.
fn recorded_or_new_key(path: &Path) -> StoreResult<StoreKey> {
    if let Some(source) = sources::recorded_source(path)? {
        return sources::read_key(path, &source);
    }
    let (source, key) = sources::new_key(path)?;
    sources::record(path, &source)?;
    Ok(key)
}

/// The key of an encrypted store; a rekey interrupted after its swap is finished here.
fn existing_key(path: &Path) -> StoreResult<StoreKey> {
    let recorded = sources::recorded_source(path)?;
    let pending = sources::pending_source(path)?;
    let Some(source) = recorded.or(pending.clone()) else {
        return Err(StoreError::KeyMissing {
            path: path.to_path_buf(),
            detail: format!(
                "it is not a plaintext SQLite file and no key is recorded for it ({} is missing): \
                 it is encrypted with a key kept elsewhere, or it is not a case store",
                sources::record_path(path).display()
            ),
        });
    };
    let key = sources::read_key(path, &source)?;
    match (keyed(path, &key), pending) {
        (Ok(_), _) => Ok(key),
        (Err(StoreError::WrongKey { .. }), Some(next)) => {
            let next_key = sources::read_key(path, &next)?;
            keyed(path, &next_key)?;
            sources::promote_pending(path)?;
            Ok(next_key)
        }
        (Err(e), _) => Err(e),
    }
}

/// Encrypts the store under a new key kept in `source` (made by one of [`sources`]' `new_*`
/// functions): copies it, swaps the copy in, then records the new place. No other
/// connection to the store may be open.
pub fn rekey(path: &Path, new: (KeySource, StoreKey)) -> StoreResult<CopiedTables> {
    let (old_key, _) = store_key(path)?;
    let old_source = sources::recorded_source(path)?;
    let (source, key) = new;
    sources::record_pending(path, &source)?;
    let conn = keyed(path, &old_key)?;
    let copied = match convert::copy_and_swap(conn, path, &key) {
        Ok(copied) => copied,
        Err(e) => {
            let _ = std::fs::remove_file(sources::pending_path(path));
            sources::forget(path, &source);
            return Err(e);
        }
    };
    sources::promote_pending(path)?;
    if let Some(old) = old_source.filter(|old| *old != source) {
        sources::forget(path, &old);
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    KEYS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(absolute, key);
    Ok(copied)
}

/// How the store at `path` (opened as `conn`) is protected.
pub fn status(conn: &Connection, path: &Path, audit_entries: u64) -> StoreResult<StoreStatus> {
    let encrypted = file_state(path)? == FileState::Encrypted;
    let cipher: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |row| row.get(0))
        .ok();
    let source = sources::recorded_source(path)?;
    let schema_version = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(StoreStatus {
        path: path.display().to_string(),
        encrypted,
        cipher: cipher.filter(|_| encrypted),
        key: source.as_ref().map(KeySource::kind),
        key_location: source.as_ref().map(|s| s.location(path)),
        warning: source.as_ref().and_then(|s| s.warning(path)),
        schema_version,
        audit_entries,
    })
}
