//! Cases: what the physician entered, an exam item or a clinical case.

use citrus_reasoning::CaseInput;
pub use citrus_types::case::{CaseRecord, CaseSummary};
use rusqlite::{params, OptionalExtension, Row};

use super::{now, AuditEvent, Store, StoreError, StoreResult};
pub use citrus_types::case::CaseQuery;
use citrus_types::protection::AuditAction;

/// `text` as a LIKE pattern that matches it anywhere, with `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The title shown for a case: the chief complaint, or the first 80 characters of the question.
pub fn case_title(input: &CaseInput) -> String {
    let text = match input {
        CaseInput::Clinical(case) => case.chief_complaint.trim(),
        CaseInput::Exam(item) => item.question.trim(),
    };
    let mut title: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        title.push('…');
    }
    title
}

fn kind(input: &CaseInput) -> &'static str {
    match input {
        CaseInput::Exam(_) => "exam",
        CaseInput::Clinical(_) => "clinical",
    }
}

fn to_json(input: &CaseInput) -> StoreResult<String> {
    serde_json::to_string(input).map_err(|e| StoreError::Corrupt {
        what: "case",
        detail: e.to_string(),
    })
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<(i64, String, String, String, String)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

impl Store {
    /// Saves a new case and returns its id.
    pub fn create_case(&self, input: &CaseInput) -> StoreResult<i64> {
        let at = now();
        let json = to_json(input)?;
        self.audited_with(|conn| {
            conn.execute(
                "INSERT INTO cases (kind, title, input_json, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![kind(input), case_title(input), json, at],
            )?;
            let id = conn.last_insert_rowid();
            Ok((id, AuditEvent::new(AuditAction::CaseCreated, [id])))
        })
    }

    /// Replaces what a case holds (autosave).
    pub fn update_case(&self, id: i64, input: &CaseInput) -> StoreResult<()> {
        let json = to_json(input)?;
        self.audited(AuditEvent::new(AuditAction::CaseEdited, [id]), |conn| {
            let changed = conn.execute(
                "UPDATE cases SET kind = ?2, title = ?3, input_json = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, kind(input), case_title(input), json, now()],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound { kind: "case", id });
            }
            Ok(())
        })
    }

    /// Reads a case for someone to see, recording that they did.
    pub fn view_case(&self, id: i64) -> StoreResult<CaseRecord> {
        let case = self.case(id)?;
        self.audit(AuditEvent::new(AuditAction::CaseViewed, [id]))?;
        Ok(case)
    }

    /// Reads a case (for the app's own use: what a person opens goes through
    /// [`Store::view_case`], which records it).
    pub fn case(&self, id: i64) -> StoreResult<CaseRecord> {
        let row = self
            .conn
            .query_row(
                "SELECT id, title, input_json, created_at, updated_at FROM cases WHERE id = ?1",
                [id],
                read_record,
            )
            .optional()?
            .ok_or(StoreError::NotFound { kind: "case", id })?;
        let input = serde_json::from_str(&row.2).map_err(|e| StoreError::Corrupt {
            what: "case",
            detail: e.to_string(),
        })?;
        Ok(CaseRecord {
            id: row.0,
            title: row.1,
            input,
            created_at: row.3,
            updated_at: row.4,
        })
    }

    /// Cases matching `query` (the search text may be anywhere in the case), most recently
    /// changed first.
    pub fn list_cases(&self, query: &CaseQuery) -> StoreResult<Vec<CaseSummary>> {
        let mut statement = self.conn.prepare(
            "SELECT c.id, c.kind, c.title, c.updated_at,
                    (SELECT count(*) FROM runs r WHERE r.case_id = c.id),
                    (SELECT count(*) FROM reviews v JOIN runs r ON r.id = v.run_id WHERE r.case_id = c.id),
                    (SELECT v.confirmed_diagnosis FROM reviews v JOIN runs r ON r.id = v.run_id
                      WHERE r.case_id = c.id AND v.confirmed_diagnosis IS NOT NULL
                      ORDER BY v.updated_at DESC, v.id DESC LIMIT 1) AS diagnosis
             FROM cases c
             WHERE c.title LIKE ?1 ESCAPE '\\' OR c.input_json LIKE ?1 ESCAPE '\\'
             ORDER BY c.updated_at DESC, c.id DESC",
        )?;
        let rows = statement.query_map([contains_pattern(&query.search)], |row| {
            Ok(CaseSummary {
                id: row.get(0)?,
                kind: row.get(1)?,
                title: row.get(2)?,
                updated_at: row.get(3)?,
                runs: row.get(4)?,
                reviewed: row.get::<_, i64>(5)? > 0,
                confirmed_diagnosis: row.get(6)?,
            })
        })?;
        let diagnosis = query
            .diagnosis
            .as_deref()
            .map(|d| d.trim().to_lowercase())
            .filter(|d| !d.is_empty());
        let mut cases = Vec::new();
        for case in rows {
            let case = case?;
            let reviewed_ok = query.reviewed.is_none_or(|wanted| case.reviewed == wanted);
            let diagnosis_ok = diagnosis.as_deref().is_none_or(|wanted| {
                case.confirmed_diagnosis
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(wanted))
            });
            if reviewed_ok && diagnosis_ok {
                cases.push(case);
            }
        }
        Ok(cases)
    }

    /// Deletes a case with its runs, steps and reviews.
    pub fn delete_case(&self, id: i64) -> StoreResult<()> {
        self.audited(AuditEvent::new(AuditAction::CaseDeleted, [id]), |conn| {
            if conn.execute("DELETE FROM cases WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::NotFound { kind: "case", id });
            }
            Ok(())
        })
    }
}
