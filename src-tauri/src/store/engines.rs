//! Remote engines someone added: name, URL, model, the path of the file with the API key (the
//! key itself is never stored), and what the last probe found.

use citrus_types::engine::{EngineCapabilities, RemoteEngineEntry};
use rusqlite::{params, OptionalExtension, Row};

use super::{now, Store, StoreError, StoreResult};

const COLUMNS: &str = "name, url, model, api_key_file, capabilities_json, models_json, added_at, template_file, deidentify";

fn read_entry(row: &Row<'_>) -> rusqlite::Result<RemoteEngineEntry> {
    let capabilities: Option<String> = row.get(4)?;
    let models: String = row.get(5)?;
    Ok(RemoteEngineEntry {
        name: row.get(0)?,
        url: row.get(1)?,
        model: row.get(2)?,
        api_key_file: row.get(3)?,
        capabilities: capabilities.and_then(|c| serde_json::from_str(&c).ok()),
        models: serde_json::from_str(&models).unwrap_or_default(),
        added_at: row.get(6)?,
        template_file: row.get(7)?,
        deidentify: row.get(8)?,
    })
}

impl Store {
    /// Adds a remote engine, or replaces the one of the same name.
    pub fn put_engine(&self, entry: &RemoteEngineEntry) -> StoreResult<()> {
        self.conn.execute(
            &format!(
                "INSERT INTO engines ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (name) DO UPDATE SET url = excluded.url, model = excluded.model,
                   deidentify = excluded.deidentify,
                   api_key_file = excluded.api_key_file, template_file = excluded.template_file,
                   capabilities_json = excluded.capabilities_json,
                   models_json = excluded.models_json"
            ),
            params![
                entry.name,
                entry.url,
                entry.model,
                entry.api_key_file,
                entry
                    .capabilities
                    .map(|c| serde_json::to_string(&c).unwrap_or_default()),
                serde_json::to_string(&entry.models).unwrap_or_else(|_| "[]".into()),
                now(),
                entry.template_file,
                entry.deidentify,
            ],
        )?;
        Ok(())
    }

    /// Every remote engine, by name.
    pub fn engines(&self) -> StoreResult<Vec<RemoteEngineEntry>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM engines ORDER BY name"))?;
        let rows = statement.query_map([], read_entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The remote engine called `name`.
    pub fn engine(&self, name: &str) -> StoreResult<RemoteEngineEntry> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM engines WHERE name = ?1"),
                [name],
                read_entry,
            )
            .optional()?
            .ok_or_else(|| StoreError::NoEngine {
                name: name.to_string(),
            })
    }

    /// Records what a probe of `name` found.
    pub fn set_engine_probe(
        &self,
        name: &str,
        capabilities: EngineCapabilities,
        models: &[String],
    ) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE engines SET capabilities_json = ?2, models_json = ?3 WHERE name = ?1",
            params![
                name,
                serde_json::to_string(&capabilities).unwrap_or_default(),
                serde_json::to_string(models).unwrap_or_else(|_| "[]".into()),
            ],
        )?;
        Ok(())
    }

    /// Removes the remote engine `name` (its runs keep its name and URL).
    pub fn remove_engine(&self, name: &str) -> StoreResult<()> {
        if self
            .conn
            .execute("DELETE FROM engines WHERE name = ?1", [name])?
            == 0
        {
            return Err(StoreError::NoEngine {
                name: name.to_string(),
            });
        }
        Ok(())
    }
}
