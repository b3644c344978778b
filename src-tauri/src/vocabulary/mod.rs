//! The ICD-10-CM vocabulary: built once from the release setup installs (only its `cm_codes`
//! table is read), kept in a file of the app's own with an FTS5 index of titles, tagged with
//! its release; searched by words (type-ahead: the last word is a prefix) or by code.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use citrus_host::home::{vocabulary_dir, ICD10_SOURCE_FILE};
use citrus_runner::guided::DiagnosisVocabulary;
use citrus_types::vocabulary::{CodeEntry, ICD10_RELEASE};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::{AppError, AppResult};

mod coding;

pub use coding::{code_diagnosis, code_free_run};

/// The app's vocabulary file, next to the release it is built from.
const VOCABULARY_FILE: &str = "icd10cm.vocabulary.db";

/// The searchable ICD-10-CM.
pub struct Vocabulary {
    conn: Connection,
}

impl Vocabulary {
    /// Opens the vocabulary in the data folder, building it first from the installed release
    /// if needed.
    pub fn open_installed() -> AppResult<Self> {
        let dir = vocabulary_dir();
        Self::open_or_build(&dir.join(ICD10_SOURCE_FILE), &dir.join(VOCABULARY_FILE))
    }

    /// Opens the vocabulary at `path`, building it from the release at `source` when it is
    /// missing or holds another release (written beside, then moved into place).
    pub fn open_or_build(source: &Path, path: &Path) -> AppResult<Self> {
        if let Some(vocabulary) = Self::open_built(path)? {
            return Ok(vocabulary);
        }
        if !source.exists() {
            return Err(AppError::VocabularyMissing {
                path: source.to_path_buf(),
            });
        }
        // Built under a name of its own, then moved into place in one step: two processes
        // building at once each finish, and the file is never seen half-built.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let building = path.with_extension(format!("{}-{nanos}.building", std::process::id()));
        let built = build(source, &building)
            .and_then(|()| std::fs::rename(&building, path).map_err(|e| AppError::io(path, e)));
        if built.is_err() {
            let _ = std::fs::remove_file(&building);
        }
        built?;
        Self::open_built(path)?.ok_or(AppError::VocabularyMissing {
            path: path.to_path_buf(),
        })
    }

    fn open_built(path: &Path) -> AppResult<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
        let release: Option<String> = conn
            .query_row("SELECT name FROM release", [], |row| row.get(0))
            .optional()
            .unwrap_or(None);
        Ok((release.as_deref() == Some(ICD10_RELEASE)).then_some(Self { conn }))
    }

    /// The release and how many codes it holds.
    pub fn release(&self) -> AppResult<(String, usize)> {
        self.conn
            .query_row("SELECT name, codes FROM release", [], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)? as usize))
            })
            .map_err(sqlite)
    }

    /// The entry of `code` (with or without its dot, any case).
    pub fn lookup(&self, code: &str) -> AppResult<Option<CodeEntry>> {
        self.conn
            .query_row(
                "SELECT code_dot, title, billable FROM codes WHERE code = ?1",
                [plain_code(code)],
                read_entry,
            )
            .optional()
            .map_err(sqlite)
    }

    /// Up to `limit` entries for `query`: codes starting with it when it looks like a code,
    /// else titles holding all its words (the last one as a prefix), best match first and,
    /// among equals, the broader (shorter) code.
    pub fn search(&self, query: &str, limit: usize) -> AppResult<Vec<CodeEntry>> {
        let query = query.trim();
        if looks_like_code(query) {
            let mut statement = self
                .conn
                .prepare(
                    "SELECT code_dot, title, billable FROM codes WHERE code LIKE ?1 || '%'
                     ORDER BY length(code), code LIMIT ?2",
                )
                .map_err(sqlite)?;
            let rows = statement
                .query_map(params![plain_code(query), limit as i64], read_entry)
                .map_err(sqlite)?;
            return rows.collect::<Result<_, _>>().map_err(sqlite);
        }
        let Some(matcher) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let mut statement = self
            .conn
            .prepare(
                "SELECT c.code_dot, c.title, c.billable FROM codes_fts f
                 JOIN codes c ON c.rowid = f.rowid
                 WHERE codes_fts MATCH ?1
                 ORDER BY bm25(codes_fts), length(c.code), c.code LIMIT ?2",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map(params![matcher, limit as i64], read_entry)
            .map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }
}

/// The entries a guided differential names diagnoses from: the diseases to one decimal
/// ([`Granularity::Diseases`]). `citrus codes bench` measured what holding a diagnosis to them
/// costs with the default model's tokenizer on an Intel Xeon (2 cores): 41 ms to compile the
/// grammar and 0.2 ms per token mask, against 10 ms and 0.2 ms for the 1,917 categories and
/// 1.1 s and 0.4 ms for the 74,260 billable codes (which exceed llguidance's default limits).
pub const GUIDED_GRANULARITY: Granularity = Granularity::Diseases;

/// The installed vocabulary's guided entries, read once per process.
pub fn diagnosis_vocabulary() -> AppResult<Arc<DiagnosisVocabulary>> {
    static LOADED: Mutex<Option<Arc<DiagnosisVocabulary>>> = Mutex::new(None);
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(vocabulary) = loaded.as_ref() {
        return Ok(vocabulary.clone());
    }
    let entries = Vocabulary::open_installed()?.entries(GUIDED_GRANULARITY)?;
    let vocabulary = Arc::new(DiagnosisVocabulary::new(entries));
    *loaded = Some(vocabulary.clone());
    Ok(vocabulary)
}

/// A slice of the vocabulary, from broad to fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Granularity {
    /// The three-character categories (`I21`), every chapter: 1,917 entries.
    Categories,
    /// Diseases to one decimal (`I21.1`): the categories and subcategories of up to four
    /// characters in the disease chapters (A–Q, U), without the symptoms and signs of chapter R
    /// (the findings a differential must not repeat) or injuries and external causes (S–Z).
    Diseases,
    /// Every billable code (`I21.19`), every chapter: 74,260 entries.
    Billable,
}

impl Granularity {
    fn condition(self) -> &'static str {
        match self {
            Self::Categories => "length(code) = 3",
            Self::Diseases => {
                "length(code) <= 4 AND (substr(code, 1, 1) < 'R' OR substr(code, 1, 1) = 'U')"
            }
            Self::Billable => "billable = 1",
        }
    }
}

impl Vocabulary {
    /// Every entry of `granularity`, in code order.
    pub fn entries(&self, granularity: Granularity) -> AppResult<Vec<CodeEntry>> {
        let sql = format!(
            "SELECT code_dot, title, billable FROM codes WHERE {} ORDER BY code",
            granularity.condition()
        );
        let mut statement = self.conn.prepare(&sql).map_err(sqlite)?;
        let rows = statement.query_map([], read_entry).map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }
}

impl Vocabulary {
    /// Up to `limit` entries whose title holds any of `words`, best match first.
    pub(crate) fn candidates(&self, words: &[String], limit: usize) -> AppResult<Vec<CodeEntry>> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let matcher = words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut statement = self
            .conn
            .prepare(
                "SELECT c.code_dot, c.title, c.billable FROM codes_fts f
                 JOIN codes c ON c.rowid = f.rowid
                 WHERE codes_fts MATCH ?1 ORDER BY bm25(codes_fts) LIMIT ?2",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map(params![matcher, limit as i64], read_entry)
            .map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }

    /// The broadest entry whose title is exactly `title` (any case).
    pub(crate) fn by_title(&self, title: &str) -> AppResult<Option<CodeEntry>> {
        self.conn
            .query_row(
                "SELECT code_dot, title, billable FROM codes
                 WHERE lower(title) = lower(?1) OR lower(short_title) = lower(?1)
                 ORDER BY length(code), code LIMIT 1",
                [title.trim()],
                read_entry,
            )
            .optional()
            .map_err(sqlite)
    }
}

/// Builds the vocabulary at `target` from the `cm_codes` table of the release at `source`.
fn build(source: &Path, target: &PathBuf) -> AppResult<()> {
    let from =
        Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let mut to = Connection::open(target).map_err(sqlite)?;
    to.execute_batch(
        "CREATE TABLE codes (
             code TEXT PRIMARY KEY, code_dot TEXT NOT NULL, billable INTEGER NOT NULL,
             title TEXT NOT NULL, short_title TEXT NOT NULL);
         CREATE VIRTUAL TABLE codes_fts USING fts5(
             title, short_title, content = 'codes', tokenize = 'porter unicode61');
         CREATE TABLE release (name TEXT NOT NULL, codes INTEGER NOT NULL);",
    )
    .map_err(sqlite)?;
    let tx = to.transaction().map_err(sqlite)?;
    let mut count = 0;
    {
        let mut read = from
            .prepare("SELECT code, code_dot, billable, long_name, short_name FROM cm_codes")
            .map_err(sqlite)?;
        let mut write = tx
            .prepare("INSERT INTO codes VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(sqlite)?;
        let mut rows = read.query([]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let code: String = row.get(0).map_err(sqlite)?;
            let code_dot: String = row.get(1).map_err(sqlite)?;
            let billable: i64 = row.get(2).map_err(sqlite)?;
            let title: String = row.get(3).map_err(sqlite)?;
            let short: String = row.get(4).map_err(sqlite)?;
            write
                .execute(params![code, code_dot, billable, title, short])
                .map_err(sqlite)?;
            count += 1;
        }
    }
    tx.execute_batch("INSERT INTO codes_fts (codes_fts) VALUES ('rebuild');")
        .map_err(sqlite)?;
    tx.execute(
        "INSERT INTO release VALUES (?1, ?2)",
        params![ICD10_RELEASE, count],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

fn read_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<CodeEntry> {
    Ok(CodeEntry {
        code: row.get(0)?,
        title: row.get(1)?,
        billable: row.get::<_, i64>(2)? != 0,
    })
}

/// A code as the table keys it: no dot, upper case.
fn plain_code(code: &str) -> String {
    code.trim().replace('.', "").to_ascii_uppercase()
}

/// A letter, a digit, then digits, letters or a dot: `I21`, `k35.8`.
fn looks_like_code(query: &str) -> bool {
    let mut chars = query.chars();
    matches!(
        (chars.next(), chars.next()),
        (Some(a), Some(b)) if a.is_ascii_alphabetic() && b.is_ascii_digit()
    ) && query.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

/// An FTS5 query holding every word of `text` (quoted; the last one a prefix); None without
/// words.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect();
    let (last, rest) = words.split_last()?;
    Some(
        rest.iter()
            .cloned()
            .chain(std::iter::once(format!("{last}*")))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn sqlite(error: rusqlite::Error) -> AppError {
    AppError::Store(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_words_are_told_apart_and_quoted() {
        assert!(looks_like_code("I21"));
        assert!(looks_like_code("k35.8"));
        assert!(!looks_like_code("MI"));
        assert!(!looks_like_code("acute MI"));
        assert_eq!(plain_code("k35.80"), "K3580");
        assert_eq!(
            fts_query("acute appendi").as_deref(),
            Some("\"acute\" \"appendi\"*")
        );
        assert_eq!(fts_query(" - "), None);
    }
}
