//! The audit trail: who did what to which case, when, inside the encrypted store.
//!
//! Entries are append-only (triggers refuse updates and deletes) and chained: each holds the
//! hash of the one before, and its own hash is SHA-256 over its fields and that link, so
//! [`Store::verify_audit`] finds an edited entry (its hash no longer matches), a deleted one
//! (a gap, or a trail shorter than the head `audit_head` records) and reordered ones (a link
//! that does not match). An entry is written in the same transaction as the change it
//! records, so there is never a change without its entry.

use citrus_types::protection::{AuditAction, AuditBreak, AuditEntry, AuditVerification};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::{now, Store, StoreError, StoreResult};

/// The link of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Something to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// What.
    pub action: AuditAction,
    /// Which cases.
    pub case_ids: Vec<i64>,
    /// Details in words.
    pub detail: String,
    /// SHA-256 of what was written, for exports.
    pub content_hash: Option<String>,
    /// A named person acting (a reviewer), recorded beside the OS user.
    pub person: Option<String>,
}

impl AuditEvent {
    /// An event on `case_ids`.
    pub fn new(action: AuditAction, case_ids: impl IntoIterator<Item = i64>) -> Self {
        let mut case_ids: Vec<i64> = case_ids.into_iter().collect();
        case_ids.sort_unstable();
        case_ids.dedup();
        Self {
            action,
            case_ids,
            detail: String::new(),
            content_hash: None,
            person: None,
        }
    }

    /// With details in words.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// With the hash of what was written.
    pub fn content(mut self, bytes: &[u8]) -> Self {
        self.content_hash = Some(sha256_hex(bytes));
        self
    }

    /// Done by a named person (a reviewer).
    pub fn by(mut self, person: impl Into<String>) -> Self {
        let person = person.into();
        self.person = Some(person).filter(|p| !p.trim().is_empty());
        self
    }
}

/// The operating-system user running this process: the login name the environment gives,
/// else (on Linux) the name of the process's user id in `/etc/passwd`, else that id.
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(user_of_process)
        .unwrap_or_else(|| "unknown user".into())
}

#[cfg(unix)]
fn user_of_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

#[cfg(not(unix))]
fn user_of_process() -> Option<String> {
    None
}

/// SHA-256 of `bytes` as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    super::crypt::key::hex(&Sha256::digest(bytes))
}

/// An entry's hash: over every field but its position (the links carry the order).
fn entry_hash(entry: &AuditEntry) -> String {
    let cases = serde_json::to_string(&entry.case_ids).unwrap_or_default();
    let text = [
        entry.at.as_str(),
        entry.actor.as_str(),
        entry.action.code(),
        cases.as_str(),
        entry.detail.as_str(),
        entry.content_hash.as_deref().unwrap_or(""),
        entry.prev_hash.as_str(),
    ]
    .join("\u{1f}");
    sha256_hex(text.as_bytes())
}

/// Appends `event` inside the caller's transaction.
pub(crate) fn append(
    conn: &Connection,
    actor: &str,
    event: &AuditEvent,
) -> StoreResult<AuditEntry> {
    let head: Option<(i64, String)> = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let (last, prev_hash) = head.unwrap_or((0, GENESIS.to_string()));
    let actor = match &event.person {
        Some(person) => format!("{person} (OS user {actor})"),
        None => actor.to_string(),
    };
    let mut entry = AuditEntry {
        seq: last + 1,
        at: now(),
        actor,
        action: event.action,
        case_ids: event.case_ids.clone(),
        detail: event.detail.clone(),
        content_hash: event.content_hash.clone(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, case_ids, detail, content_hash, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            entry.seq,
            entry.at,
            entry.actor,
            entry.action.code(),
            serde_json::to_string(&entry.case_ids).unwrap_or_else(|_| "[]".into()),
            entry.detail,
            entry.content_hash,
            entry.prev_hash,
            entry.hash,
        ],
    )?;
    conn.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![entry.seq, entry.hash],
    )?;
    Ok(entry)
}

fn read_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<AuditEntry, StoreError>> {
    let action: String = row.get(3)?;
    let cases: String = row.get(4)?;
    let Some(action) = AuditAction::from_code(&action) else {
        return Ok(Err(StoreError::Corrupt {
            what: "audit entry",
            detail: format!("unknown action {action:?}"),
        }));
    };
    let case_ids = match serde_json::from_str(&cases) {
        Ok(ids) => ids,
        Err(e) => {
            return Ok(Err(StoreError::Corrupt {
                what: "audit entry",
                detail: e.to_string(),
            }))
        }
    };
    Ok(Ok(AuditEntry {
        seq: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        action,
        case_ids,
        detail: row.get(5)?,
        content_hash: row.get(6)?,
        prev_hash: row.get(7)?,
        hash: row.get(8)?,
    }))
}

const ENTRY_COLUMNS: &str =
    "seq, at, actor, action, case_ids, detail, content_hash, prev_hash, hash";

/// Which entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries about this case.
    pub case_id: Option<i64>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// At most this many, the latest (None: all, oldest first).
    pub latest: Option<usize>,
}

impl Store {
    /// The OS user this store records as the actor.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Records `event` (in its own transaction).
    pub fn audit(&self, event: AuditEvent) -> StoreResult<AuditEntry> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let entry = append(&tx, &self.actor, &event)?;
        tx.commit()?;
        Ok(entry)
    }

    /// Runs `change` and records `event` in one transaction: both happen or neither.
    pub(crate) fn audited<T>(
        &self,
        event: AuditEvent,
        change: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.audited_with(|conn| Ok((change(conn)?, event)))
    }

    /// Runs `change`, which also says what to record, and records it in one transaction.
    pub(crate) fn audited_with<T>(
        &self,
        change: impl FnOnce(&Connection) -> StoreResult<(T, AuditEvent)>,
    ) -> StoreResult<T> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let (value, event) = change(&tx)?;
        append(&tx, &self.actor, &event)?;
        tx.commit()?;
        Ok(value)
    }

    /// Entries matching `query`, oldest first.
    pub fn audit_entries(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log ORDER BY seq DESC"
        ))?;
        let rows = statement.query_map([], read_entry)?;
        let mut entries = Vec::new();
        for row in rows {
            let entry = row??;
            let case_ok = query.case_id.is_none_or(|id| entry.case_ids.contains(&id));
            let action_ok = query.action.is_none_or(|a| a == entry.action);
            if case_ok && action_ok {
                entries.push(entry);
                if query.latest.is_some_and(|n| entries.len() >= n) {
                    break;
                }
            }
        }
        entries.reverse();
        Ok(entries)
    }

    /// How many entries the trail holds.
    pub fn audit_count(&self) -> StoreResult<u64> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM audit_log", [], |row| row.get(0))?;
        Ok(count as u64)
    }

    /// Walks the chain and names the first entry that breaks it.
    pub fn verify_audit(&self) -> StoreResult<AuditVerification> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log ORDER BY seq"
        ))?;
        let rows = statement.query_map([], read_entry)?;
        let mut expected = 1i64;
        let mut previous = GENESIS.to_string();
        let mut entries = 0u64;
        let broken = |entries, seq, why| {
            Ok(AuditVerification {
                entries,
                first_broken: Some((seq, why)),
            })
        };
        for row in rows {
            let entry = match row? {
                Ok(entry) => entry,
                Err(_) => return broken(entries, expected, AuditBreak::Edited),
            };
            entries += 1;
            if entry.seq != expected {
                return broken(entries, expected, AuditBreak::Missing);
            }
            if entry_hash(&entry) != entry.hash {
                return broken(entries, entry.seq, AuditBreak::Edited);
            }
            if entry.prev_hash != previous {
                return broken(entries, entry.seq, AuditBreak::OutOfOrder);
            }
            previous = entry.hash;
            expected += 1;
        }
        let head: Option<(i64, String)> = self
            .conn
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match head {
            Some((seq, _)) if seq >= expected => broken(entries, expected, AuditBreak::Missing),
            Some((seq, hash)) if hash != previous => broken(entries, seq, AuditBreak::Edited),
            None if expected > 1 => broken(entries, expected - 1, AuditBreak::Edited),
            _ => Ok(AuditVerification {
                entries,
                first_broken: None,
            }),
        }
    }
}
