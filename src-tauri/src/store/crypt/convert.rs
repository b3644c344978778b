//! Copying a store into a new file under another key (or from plaintext) with SQLCipher's
//! `sqlcipher_export`, checking the copy (schema version and every table's row count) and
//! swapping it in with one rename. Until the rename the original is untouched; a failure
//! removes the copy and leaves the original as it was.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::key::StoreKey;
use crate::store::error::{StoreError, StoreResult};

/// What a copy held: rows per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTables(pub Vec<(String, i64)>);

impl CopiedTables {
    /// Rows in all tables.
    pub fn rows(&self) -> i64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// Copies the database `source` (an open connection to the file at `path`, keyed already when
/// encrypted) into a new file encrypted with `key`, checks it and swaps it in place of `path`,
/// removing the old file's WAL. `source` is closed on the way.
pub fn copy_and_swap(source: Connection, path: &Path, key: &StoreKey) -> StoreResult<CopiedTables> {
    let copy = sibling(path, ".encrypting");
    remove_with_journals(&copy);
    let copied = match export(&source, &copy, key) {
        Ok(copied) => copied,
        Err(detail) => {
            remove_with_journals(&copy);
            return Err(StoreError::Encrypt {
                path: path.to_path_buf(),
                detail,
            });
        }
    };
    drop(source);
    for journal in ["-wal", "-shm"] {
        let file = sibling(path, journal);
        if file.exists() {
            if let Err(e) = std::fs::remove_file(&file) {
                remove_with_journals(&copy);
                return Err(StoreError::io(&file, e));
            }
        }
    }
    std::fs::rename(&copy, path).map_err(|e| StoreError::io(path, e))?;
    if let Some(folder) = path.parent().and_then(|p| std::fs::File::open(p).ok()) {
        let _ = folder.sync_all();
    }
    Ok(copied)
}

/// Exports into `copy`, returning the tables copied, or what went wrong in words.
fn export(source: &Connection, copy: &Path, key: &StoreKey) -> Result<CopiedTables, String> {
    let version: u32 = source
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| format!("cannot read the schema version: {e}"))?;
    let (busy, _, _): (i64, i64, i64) = source
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(|e| format!("cannot checkpoint its journal: {e}"))?;
    if busy != 0 {
        return Err("another process has the store open: close the window and other `citrus` commands first".into());
    }
    let expected = table_counts(source).map_err(|e| format!("cannot count its rows: {e}"))?;
    let name = copy.to_string_lossy().replace('\'', "''");
    source
        .execute_batch(&format!(
            "ATTACH DATABASE '{name}' AS copy KEY {};
             SELECT sqlcipher_export('copy');
             PRAGMA copy.user_version = {version};
             DETACH DATABASE copy;",
            key.literal()
        ))
        .map_err(|e| format!("the encrypted copy failed: {e}"))?;
    let check = Connection::open(copy).map_err(|e| format!("cannot reopen the copy: {e}"))?;
    check
        .execute_batch(&key.pragma())
        .map_err(|e| format!("cannot key the copy: {e}"))?;
    let copied_version: u32 = check
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| format!("the copy is unreadable: {e}"))?;
    if copied_version != version {
        return Err(format!(
            "the copy is at schema version {copied_version}, the store at {version}"
        ));
    }
    let copied = table_counts(&check).map_err(|e| format!("cannot count the copy's rows: {e}"))?;
    if copied != expected {
        return Err(format!(
            "the copy's rows differ from the store's: {copied:?} against {expected:?}"
        ));
    }
    Ok(CopiedTables(copied))
}

/// Rows per table, by table name.
fn table_counts(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names
        .into_iter()
        .map(|name| {
            let quoted = name.replace('"', "\"\"");
            let count =
                conn.query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |row| {
                    row.get(0)
                })?;
            Ok((name, count))
        })
        .collect()
}

/// `path` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn remove_with_journals(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(sibling(path, suffix));
    }
}
