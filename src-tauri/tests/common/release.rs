//! The store as the previous release left it: a plaintext SQLite file at schema 8, without
//! the audit trail, made from an encrypted store of this release; and a store's contents to
//! compare before and after a migration.

use std::path::Path;

use citrus_workstation::store::keyed_connection;

/// Columns this release added after schema 9, which the previous release's store lacks (a
/// migrated store has them empty).
const NEWER_COLUMNS: &[&str] = &["preference_json"];

/// Every row of every table but the audit trail's, as text, table by table (without the
/// [`NEWER_COLUMNS`]).
pub fn contents(conn: &rusqlite::Connection) -> Vec<(String, Vec<String>)> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'audit_%' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|table| {
            let mut statement = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
                .unwrap();
            let columns: Vec<usize> = (0..statement.column_count())
                .filter(|&i| !NEWER_COLUMNS.contains(&statement.column_name(i).unwrap()))
                .collect();
            let rows = statement
                .query_map([], |row| {
                    Ok(columns
                        .iter()
                        .map(|&i| format!("{:?}", row.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (table, rows)
        })
        .collect()
}

/// Writes `from` (encrypted) as a plaintext store of the previous release (schema 8: no
/// audit trail, no engine de-identification, no preference metrics) at `to`.
pub fn previous_release_copy(from: &Path, to: &Path) {
    let conn = keyed_connection(from).unwrap();
    conn.execute_batch(&format!(
        "ATTACH DATABASE '{}' AS plain KEY ''; SELECT sqlcipher_export('plain'); DETACH DATABASE plain;",
        to.display()
    ))
    .unwrap();
    let plain = rusqlite::Connection::open(to).unwrap();
    plain
        .execute_batch(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
             DROP TABLE audit_log; DROP TABLE audit_head;
             ALTER TABLE engines DROP COLUMN deidentify;
             ALTER TABLE train_points DROP COLUMN preference_json; PRAGMA user_version = 8;",
        )
        .unwrap();
}
