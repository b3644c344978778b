//! Imported models: the files and folders the user chose, referenced where they lie (or copied
//! into the data folder when asked), with what inspecting them found.

use citrus_engine::model::ModelInfo;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{now, Store, StoreError, StoreResult};

pub use citrus_types::model::ModelEntry;

const COLUMNS: &str = "id, path, name, format, architecture, quantization, info_json, copied";

fn read_entry(row: &Row<'_>) -> rusqlite::Result<(ModelEntry, String)> {
    Ok((
        ModelEntry {
            id: row.get(0)?,
            path: row.get(1)?,
            name: row.get(2)?,
            format: row.get(3)?,
            architecture: row.get(4)?,
            quantization: row.get(5)?,
            parameter_count: 0,
            file_bytes: 0,
            copied: row.get(7)?,
        },
        row.get(6)?,
    ))
}

/// Fills the numbers kept in the inspection JSON.
fn with_sizes((mut entry, info_json): (ModelEntry, String)) -> ModelEntry {
    if let Ok(info) = serde_json::from_str::<serde_json::Value>(&info_json) {
        entry.parameter_count = info["parameter_count"].as_u64().unwrap_or(0);
        entry.file_bytes = info["file_bytes"].as_u64().unwrap_or(0);
    }
    entry
}

fn text_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Store {
    /// Records an inspected model (or refreshes the record of one already imported from the
    /// same path) and returns its id.
    pub fn import_model(&self, info: &ModelInfo, copied: bool) -> StoreResult<i64> {
        let path = info.path.display().to_string();
        let info_json = serde_json::to_string(info).map_err(|e| StoreError::Corrupt {
            what: "model information",
            detail: e.to_string(),
        })?;
        self.conn.execute(
            "INSERT INTO models (path, name, format, architecture, quantization, info_json, copied, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (path) DO UPDATE SET name = excluded.name, format = excluded.format,
                 architecture = excluded.architecture, quantization = excluded.quantization,
                 info_json = excluded.info_json, copied = excluded.copied",
            params![
                path,
                info.name,
                text_of(&info.format),
                text_of(&info.architecture),
                info.quantization,
                info_json,
                copied,
                now()
            ],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM models WHERE path = ?1", [path], |row| {
                row.get(0)
            })?)
    }

    /// Every imported model, in import order.
    pub fn models(&self) -> StoreResult<Vec<ModelEntry>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM models ORDER BY id"))?;
        let rows = statement.query_map([], read_entry)?;
        Ok(rows
            .map(|row| row.map(with_sizes))
            .collect::<Result<_, _>>()?)
    }

    /// One imported model.
    pub fn model(&self, id: i64) -> StoreResult<ModelEntry> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM models WHERE id = ?1"),
                [id],
                read_entry,
            )
            .optional()?
            .map(with_sizes)
            .ok_or(StoreError::NotFound { kind: "model", id })
    }
}
