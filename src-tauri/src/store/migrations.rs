//! Versioned schema migrations, tracked in SQLite's `user_version`.
//!
//! Each migration runs in its own transaction together with the version bump, so a failure
//! leaves the file at the previous version. Migrations are only ever appended.

use rusqlite::Connection;

use super::{StoreError, StoreResult};

/// The schema, one entry per version (index 0 brings version 0 to 1).
const MIGRATIONS: &[&str] = &[
    // 1: cases, runs written as they stream, their steps, reviews, imported models.
    r#"
    CREATE TABLE cases (
        id            INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('exam', 'clinical')),
        title         TEXT NOT NULL,
        input_json    TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE models (
        id            INTEGER PRIMARY KEY,
        path          TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        format        TEXT NOT NULL,
        architecture  TEXT NOT NULL,
        quantization  TEXT NOT NULL,
        info_json     TEXT NOT NULL,
        copied        INTEGER NOT NULL DEFAULT 0,
        imported_at   TEXT NOT NULL
    );
    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY,
        case_id          INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
        model_path       TEXT NOT NULL,
        model_name       TEXT NOT NULL,
        adapter          TEXT,
        mode             TEXT NOT NULL,
        settings_json    TEXT NOT NULL,
        status           TEXT NOT NULL
                         CHECK (status IN ('running', 'done', 'cancelled', 'failed', 'interrupted')),
        error            TEXT,
        raw_text         TEXT NOT NULL DEFAULT '',
        answer           TEXT,
        option           TEXT,
        correct          INTEGER,
        structured       INTEGER,
        generated_tokens INTEGER NOT NULL DEFAULT 0,
        seconds          REAL,
        started_at       TEXT NOT NULL,
        finished_at      TEXT
    );
    CREATE INDEX runs_by_case ON runs (case_id, started_at);
    CREATE TABLE steps (
        id        INTEGER PRIMARY KEY,
        run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        stage     TEXT NOT NULL,
        title     TEXT,
        text      TEXT NOT NULL,
        UNIQUE (run_id, position)
    );
    CREATE TABLE reviews (
        id                  INTEGER PRIMARY KEY,
        run_id              INTEGER NOT NULL UNIQUE REFERENCES runs (id) ON DELETE CASCADE,
        reviewer            TEXT NOT NULL,
        confirmed_diagnosis TEXT,
        comment             TEXT,
        created_at          TEXT NOT NULL,
        updated_at          TEXT NOT NULL
    );
    CREATE TABLE step_reviews (
        step_id  INTEGER PRIMARY KEY REFERENCES steps (id) ON DELETE CASCADE,
        verdict  TEXT NOT NULL CHECK (verdict IN ('agree', 'disagree')),
        comment  TEXT
    );
    "#,
    // 2: the differential of a finished run; app settings (active model, reviewer name…).
    r#"
    ALTER TABLE runs ADD COLUMN differential_json TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE settings (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    "#,
    // 3: running work has an owner (pid and start time): only a gone owner's work is
    // interrupted.
    r#"
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE runs ADD COLUMN owner_start TEXT;
    "#,
    // 4: evaluations on benchmark files: the run (owned like reasoning runs) and its items,
    // each written as it finishes.
    r#"
    CREATE TABLE eval_runs (
        id             INTEGER PRIMARY KEY,
        bench_path     TEXT NOT NULL,
        bench_hash     TEXT NOT NULL,
        model_path     TEXT NOT NULL,
        model_name     TEXT NOT NULL,
        adapter        TEXT,
        mode           TEXT NOT NULL,
        settings_json  TEXT NOT NULL,
        planned        INTEGER NOT NULL,
        status         TEXT NOT NULL
                       CHECK (status IN ('running', 'done', 'cancelled', 'failed', 'interrupted')),
        error          TEXT,
        owner_pid      INTEGER,
        owner_start    TEXT,
        started_at     TEXT NOT NULL,
        finished_at    TEXT
    );
    CREATE TABLE eval_items (
        run_id           INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
        position         INTEGER NOT NULL,
        source           INTEGER NOT NULL,
        item_id          TEXT,
        exam_name        TEXT,
        options          INTEGER NOT NULL,
        answer_key       TEXT NOT NULL,
        predicted        TEXT,
        outcome          TEXT NOT NULL CHECK (outcome IN ('correct', 'wrong', 'unmatched')),
        unmatched_reason TEXT,
        prompt           TEXT NOT NULL,
        raw_text         TEXT NOT NULL,
        steps_json       TEXT NOT NULL,
        scores_json      TEXT,
        tokens           INTEGER NOT NULL,
        seconds          REAL NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    "#,
    // 5: training runs (owned like evaluations) and their metric series, written as they
    // arrive.
    r#"
    CREATE TABLE train_runs (
        id             INTEGER PRIMARY KEY,
        source_json    TEXT NOT NULL,
        dataset_name   TEXT NOT NULL,
        dataset_hash   TEXT NOT NULL,
        model_path     TEXT NOT NULL,
        model_name     TEXT NOT NULL,
        out_dir        TEXT NOT NULL,
        choices_json   TEXT NOT NULL,
        total_steps    INTEGER NOT NULL,
        status         TEXT NOT NULL
                       CHECK (status IN ('running', 'done', 'cancelled', 'paused', 'failed',
                                         'interrupted')),
        error          TEXT,
        owner_pid      INTEGER,
        owner_start    TEXT,
        started_at     TEXT NOT NULL,
        finished_at    TEXT
    );
    CREATE TABLE train_points (
        run_id            INTEGER NOT NULL REFERENCES train_runs (id) ON DELETE CASCADE,
        step              INTEGER NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('train', 'validation')),
        loss              REAL NOT NULL,
        learning_rate     REAL,
        tokens_per_second REAL,
        eta_seconds       REAL,
        PRIMARY KEY (run_id, kind, step)
    );
    "#,
    // 6: the case findings each step quotes or mentions.
    r#"
    ALTER TABLE steps ADD COLUMN mentions_json TEXT NOT NULL DEFAULT '[]';
    "#,
    // 7: remote engines (inference servers someone added; API keys stay in their files), and
    // the engine each run and evaluation used, with the local model file's fingerprint.
    r#"
    CREATE TABLE engines (
        name              TEXT PRIMARY KEY,
        url               TEXT NOT NULL,
        model             TEXT,
        api_key_file      TEXT,
        template_file     TEXT,
        capabilities_json TEXT,
        models_json       TEXT NOT NULL DEFAULT '[]',
        added_at          TEXT NOT NULL
    );
    ALTER TABLE runs ADD COLUMN engine TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE runs ADD COLUMN model_fingerprint TEXT;
    ALTER TABLE eval_runs ADD COLUMN engine TEXT NOT NULL DEFAULT 'local';
    "#,
    // 8: each run's diagnoses with their ICD-10-CM codes, and the confirmed diagnosis's code.
    r#"
    ALTER TABLE runs ADD COLUMN coded_json TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE reviews ADD COLUMN confirmed_code TEXT;
    "#,
    // 9: the audit trail, and whether case text sent to a remote engine is de-identified first.
    // The audit trail: append-only (triggers refuse changes), each entry chained to the one
    // before by its hash; `audit_head` remembers the last entry so that a deleted tail shows.
    r#"
    CREATE TABLE audit_log (
        seq           INTEGER PRIMARY KEY,
        at            TEXT NOT NULL,
        actor         TEXT NOT NULL,
        action        TEXT NOT NULL,
        case_ids      TEXT NOT NULL,
        detail        TEXT NOT NULL,
        content_hash  TEXT,
        prev_hash     TEXT NOT NULL,
        hash          TEXT NOT NULL
    );
    CREATE TABLE audit_head (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        seq   INTEGER NOT NULL,
        hash  TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    ALTER TABLE engines ADD COLUMN deidentify INTEGER NOT NULL DEFAULT 0;
    "#,
    // 10: a preference run's rewards and log-probabilities at each point (JSON).
    r#"
    ALTER TABLE train_points ADD COLUMN preference_json TEXT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Refuses a database written by a newer version of the app; returns its version.
pub fn refuse_too_new(conn: &Connection) -> StoreResult<u32> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(current)
}

/// Brings the database to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current = refuse_too_new(conn)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
