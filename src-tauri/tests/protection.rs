//! Patient-data protection on real files: the store encrypted at rest (no plaintext on disk,
//! the WAL included), wrong and missing keys as typed errors, a plaintext store from the
//! previous release migrated intact (or left untouched when that fails), the audit trail
//! chained so that an edited, deleted or reordered entry is found, and `citrus deid`.

use std::path::Path;

use citrus_types::protection::{AuditAction, AuditBreak};
use citrus_workstation::store::{
    keyed_connection, AuditQuery, NewRun, Review, StepReview, Store, Verdict,
};

mod common;
use common::release::{contents, previous_release_copy};
use common::{clinical, run_citrus, text, TempDir};

const CANARY: &str = "CANARY-7f3e9b1c Mrs. Philippa Quarterbridge";

/// Whether `needle` occurs in the bytes of `path` (false when the file does not exist).
fn file_contains(path: &Path, needle: &[u8]) -> bool {
    std::fs::read(path)
        .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        .unwrap_or(false)
}

fn store_files(db: &Path) -> Vec<std::path::PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = db.file_name().unwrap().to_os_string();
            name.push(suffix);
            db.with_file_name(name)
        })
        .collect()
}

fn assert_no_plaintext(db: &Path) {
    for file in store_files(db) {
        for needle in [CANARY.as_bytes(), b"SQLite format 3", b"Quarterbridge"] {
            assert!(
                !file_contains(&file, needle),
                "{} holds {:?}",
                file.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

/// Starts a run of the default model on `case`.
fn start_local_run(store: &Store, case: i64) -> i64 {
    store
        .start_run(&NewRun {
            case_id: case,
            engine: "local".into(),
            model_path: "/models/smollm2.gguf".into(),
            model_name: "SmolLM2".into(),
            model_fingerprint: None,
            adapter: None,
            mode: "free".into(),
            settings_json: "{}".into(),
        })
        .unwrap()
}

/// A store with a case, a run with a step, a review and an evaluation-free history.
fn fill(store: &mut Store) -> (i64, i64) {
    let mut input = clinical("Chest pain");
    if let citrus_reasoning::CaseInput::Clinical(case) = &mut input {
        case.history_of_present_illness = Some(CANARY.into());
    }
    let case = store.create_case(&input).unwrap();
    let run = start_local_run(store, case);
    store
        .append_run_text(run, "<think>thinking</think>", 3)
        .unwrap();
    store
        .add_step(
            run,
            0,
            &citrus_reasoning::Step::new(
                citrus_reasoning::Stage::Findings,
                None,
                "Chest pain in a smoker",
            ),
        )
        .unwrap();
    store
        .save_review(&Review {
            run_id: run,
            reviewer: "Dr. Reviewer".into(),
            confirmed_diagnosis: Some("Angina".into()),
            confirmed_code: None,
            comment: None,
            steps: vec![StepReview {
                position: 0,
                verdict: Verdict::Agree,
                comment: None,
            }],
        })
        .unwrap();
    (case, run)
}

#[test]
fn the_store_is_encrypted_at_rest_and_a_wrong_or_missing_key_is_a_typed_error() {
    let dir = TempDir::new("encrypted");
    let db = dir.db();
    {
        let mut store = Store::open(&db).unwrap();
        fill(&mut store);
        // While open, the WAL holds the latest pages: encrypted too.
        assert!(
            store_files(&db)[1].exists(),
            "a WAL while the store is open"
        );
        assert_no_plaintext(&db);
        let status = store.protection().unwrap();
        assert!(status.encrypted, "{status:?}");
        assert!(status.cipher.unwrap().starts_with('4'));
    }
    assert_no_plaintext(&db);

    let db_arg = db.to_str().unwrap();
    let ok = run_citrus(&["store", "--db", db_arg, "status"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("encrypted:  yes"),
        "{}",
        text(&ok.stdout)
    );

    let key_file = dir.0.join("citrus.key");
    let right_key =
        std::fs::read_to_string(&key_file).expect("a key file where no keyring answers");
    std::fs::write(&key_file, "ab".repeat(32)).unwrap();
    let wrong = run_citrus(&["store", "--db", db_arg, "status"]);
    assert!(!wrong.status.success());
    let message = text(&wrong.stderr);
    assert!(message.contains("[store.wrong_key]"), "{message}");
    assert!(!message.contains("panicked"), "{message}");

    std::fs::remove_file(&key_file).unwrap();
    let missing = run_citrus(&["store", "--db", db_arg, "status"]);
    let message = text(&missing.stderr);
    assert!(message.contains("[store.key_missing]"), "{message}");
    assert!(message.contains("citrus.key"), "{message}");
    assert!(
        db.exists(),
        "the store is never replaced by a new empty one"
    );

    // Re-key to a passphrase (PBKDF2) and back: the data survive, the old key no longer opens.
    std::fs::write(&key_file, right_key).unwrap();
    let rekeyed = run_citrus_with(
        &["store", "--db", db_arg, "rekey", "--passphrase"],
        &[(
            "CITRUS_STORE_NEW_PASSPHRASE",
            "correct horse battery staple",
        )],
    );
    assert!(rekeyed.status.success(), "{}", text(&rekeyed.stderr));
    assert!(!key_file.exists(), "the old key file is removed");
    let no_passphrase = run_citrus(&["audit", "--db", db_arg, "list"]);
    assert!(text(&no_passphrase.stderr).contains("CITRUS_STORE_PASSPHRASE"));
    let wrong_passphrase = run_citrus_with(
        &["audit", "--db", db_arg, "list"],
        &[("CITRUS_STORE_PASSPHRASE", "wrong")],
    );
    assert!(text(&wrong_passphrase.stderr).contains("[store.wrong_key]"));
    let listed = run_citrus_with(
        &["audit", "--db", db_arg, "list"],
        &[("CITRUS_STORE_PASSPHRASE", "correct horse battery staple")],
    );
    let listing = text(&listed.stdout);
    assert!(
        listing.contains("case.created") && listing.contains("store.key_changed"),
        "{listing}"
    );
    assert_no_plaintext(&db);
}

fn run_citrus_with(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = common::citrus_command(args);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn a_plaintext_store_of_the_previous_release_migrates_intact_or_is_left_untouched() {
    let dir = TempDir::new("migrate");
    let source = dir.0.join("source.db");
    {
        let mut store = Store::open(&source).unwrap();
        for _ in 0..3 {
            fill(&mut store);
        }
    }
    let expected = contents(&keyed_connection(&source).unwrap());

    // A copy that cannot be written (a folder squats its path) fails and leaves the
    // plaintext store as it was.
    let blocked = dir.0.join("blocked").join("citrus.db");
    std::fs::create_dir_all(blocked.parent().unwrap()).unwrap();
    previous_release_copy(&source, &blocked);
    std::fs::create_dir_all(dir.0.join("blocked").join("citrus.db.encrypting")).unwrap();
    let before = std::fs::read(&blocked).unwrap();
    let err = Store::open(&blocked)
        .err()
        .expect("the copy cannot be written");
    assert_eq!(err.code(), "store.encrypt", "{err}");
    assert_eq!(
        std::fs::read(&blocked).unwrap(),
        before,
        "the original is untouched"
    );

    let plain = dir.0.join("release").join("citrus.db");
    std::fs::create_dir_all(plain.parent().unwrap()).unwrap();
    previous_release_copy(&source, &plain);
    assert!(file_contains(&plain, b"SQLite format 3"));
    assert!(file_contains(&plain, b"Quarterbridge"));
    let store = Store::open(&plain).unwrap();
    assert_eq!(store.schema_version().unwrap(), 10);
    assert_eq!(contents(&keyed_connection(&plain).unwrap()), expected);
    let entries = store.audit_entries(&AuditQuery::default()).unwrap();
    assert_eq!(
        entries[0].action,
        AuditAction::StoreEncrypted,
        "{entries:?}"
    );
    drop(store);
    assert_no_plaintext(&plain);
    assert!(!dir.0.join("release").join("citrus.db.encrypting").exists());
}

/// A store with a few audit entries, and a connection that may tamper with them (the
/// append-only triggers dropped, as someone with the key could).
fn audited_store(name: &str) -> (TempDir, rusqlite::Connection) {
    let dir = TempDir::new(name);
    let mut store = Store::open(&dir.db()).unwrap();
    let (case, run) = fill(&mut store);
    store.view_case(case).unwrap();
    store.view_run(run).unwrap();
    assert!(store.verify_audit().unwrap().intact());
    assert_eq!(store.audit_count().unwrap(), 5);
    drop(store);
    let conn = keyed_connection(&dir.db()).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    (dir, conn)
}

fn verify(dir: &TempDir) -> Option<(i64, AuditBreak)> {
    Store::open(&dir.db())
        .unwrap()
        .verify_audit()
        .unwrap()
        .first_broken
}

#[test]
fn editing_deleting_or_reordering_audit_entries_is_found() {
    let (dir, conn) = audited_store("audit-edit");
    conn.execute(
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3",
        [],
    )
    .unwrap();
    assert_eq!(verify(&dir), Some((3, AuditBreak::Edited)));
    let out = run_citrus(&["audit", "--db", dir.db().to_str().unwrap(), "verify"]);
    assert!(!out.status.success());
    let message = text(&out.stderr);
    assert!(
        message.contains("[store.audit_broken]") && message.contains("entry 3"),
        "{message}"
    );

    let (dir, conn) = audited_store("audit-delete");
    conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    assert_eq!(verify(&dir), Some((2, AuditBreak::Missing)));

    let (dir, conn) = audited_store("audit-delete-last");
    conn.execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap();
    assert_eq!(verify(&dir), Some((5, AuditBreak::Missing)));

    let (dir, conn) = audited_store("audit-reorder");
    conn.execute_batch(
        "UPDATE audit_log SET seq = -1 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = -1;",
    )
    .unwrap();
    assert_eq!(verify(&dir), Some((2, AuditBreak::OutOfOrder)));
}

#[test]
fn the_trail_refuses_changes_and_records_who_did_what_to_which_case() {
    let dir = TempDir::new("audit-who");
    let mut store = Store::open(&dir.db()).unwrap();
    let (case, run) = fill(&mut store);
    store.view_case(case).unwrap();
    store
        .update_case(case, &clinical("Chest pain, worse"))
        .unwrap();
    store.view_run(run).unwrap();
    store.delete_case(case).unwrap();
    let entries = store.audit_entries(&AuditQuery::default()).unwrap();
    let actions: Vec<AuditAction> = entries.iter().map(|e| e.action).collect();
    use AuditAction::*;
    assert_eq!(
        actions,
        [
            CaseCreated,
            CaseRun,
            CaseReviewed,
            CaseViewed,
            CaseEdited,
            RunViewed,
            CaseDeleted
        ]
    );
    assert!(entries.iter().all(|e| e.case_ids == [case]));
    assert!(
        entries[2].actor.starts_with("Dr. Reviewer (OS user "),
        "{}",
        entries[2].actor
    );
    assert!(entries[0].actor == store.actor());
    drop(store);
    let conn = keyed_connection(&dir.db()).unwrap();
    let err = conn
        .execute("DELETE FROM audit_log WHERE seq = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(conn
        .execute("UPDATE audit_log SET detail = 'x'", [])
        .is_err());
}

/// Identifiers planted in a case, each of which must be gone from anything exported.
const PLANTED: &[&str] = &[
    "Philippa",
    "Quarterbridge",
    "MRN 48213377",
    "48213377",
    "(617) 555-0142",
    "555-0142",
    "03/14/2024",
    "1 Harbor View Street",
    "Harbor View",
    "p.quarterbridge@example.org",
    "quarterbridge",
    "123-45-6789",
];

/// A reviewed case full of identifiers, its steps quoting some of them.
fn canary_store(dir: &TempDir) {
    let mut store = Store::open(&dir.db()).unwrap();
    let mut input = clinical("Chest pain since 03/14/2024");
    if let citrus_reasoning::CaseInput::Clinical(case) = &mut input {
        case.history_of_present_illness = Some(
            "Mrs. Philippa Quarterbridge (MRN 48213377, SSN 123-45-6789) of 1 Harbor View Street, \
             reachable at (617) 555-0142 or p.quarterbridge@example.org, had chest pain on 03/14/2024."
                .into(),
        );
    }
    let case = store.create_case(&input).unwrap();
    let run = start_local_run(&store, case);
    let step = citrus_reasoning::Step::new(
        citrus_reasoning::Stage::Findings,
        None,
        "Mrs. Quarterbridge, seen 03/14/2024, has chest pain.",
    );
    store.add_step(run, 0, &step).unwrap();
    store
        .save_review(&Review {
            run_id: run,
            reviewer: "Dr. Reviewer".into(),
            confirmed_diagnosis: Some("Angina".into()),
            confirmed_code: None,
            comment: Some("Call Philippa at (617) 555-0142.".into()),
            steps: vec![StepReview {
                position: 0,
                verdict: Verdict::Agree,
                comment: None,
            }],
        })
        .unwrap();
}

/// Every planted identifier found in the files under `dir`, with the file.
fn planted_in(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            for planted in PLANTED {
                if bytes
                    .windows(planted.len())
                    .any(|w| w == planted.as_bytes())
                {
                    found.push((path.display().to_string(), planted.to_string()));
                }
            }
        }
    }
    found
}

#[test]
fn a_canary_case_leaves_no_identifier_in_a_bundle_or_an_export() {
    let dir = TempDir::new("canary-bundle");
    canary_store(&dir);
    let db = dir.db();
    let db = db.to_str().unwrap();
    let out = dir.0.join("out");
    let bundle = out.join("bundle");
    let output = run_citrus(&[
        "train",
        "--from-reviews",
        "--db",
        db,
        "--export-bundle",
        bundle.to_str().unwrap(),
        "--epochs",
        "1",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("de-identified:"),
        "{}",
        text(&output.stderr)
    );
    let readme = std::fs::read_to_string(bundle.join("README.md")).unwrap();
    assert!(
        readme.contains("not a certified de-identification"),
        "{readme}"
    );
    for (flag, target) in [
        ("--sft", "sft.jsonl"),
        ("--markdown", "reports"),
        ("--json", "all.json"),
    ] {
        let target = out.join(target);
        let exported = run_citrus(&["export", "--db", db, flag, target.to_str().unwrap()]);
        assert!(exported.status.success(), "{}", text(&exported.stderr));
    }
    assert_eq!(planted_in(&out), Vec::<(String, String)>::new());
    let sft = std::fs::read_to_string(out.join("sft.jsonl")).unwrap();
    assert!(sft.contains("[NAME 1]") && sft.contains("[day 0]"), "{sft}");

    // Written as typed only when asked, and the trail says which.
    let plain = dir.0.join("plain.jsonl");
    let as_typed = run_citrus(&[
        "export",
        "--db",
        db,
        "--sft",
        plain.to_str().unwrap(),
        "--deidentify",
        "false",
    ]);
    assert!(as_typed.status.success(), "{}", text(&as_typed.stderr));
    assert!(std::fs::read_to_string(&plain)
        .unwrap()
        .contains("Quarterbridge"));
    let store = Store::open(&dir.db()).unwrap();
    let exports = store
        .audit_entries(&AuditQuery {
            action: Some(AuditAction::CaseExported),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(exports.len(), 5, "{exports:?}");
    assert!(exports
        .iter()
        .all(|e| e.content_hash.as_ref().is_some_and(|h| h.len() == 64)));
    assert!(exports[0].detail.contains("bundle") && exports[0].case_ids == [1]);
    assert!(
        exports[4].detail.contains("NOT de-identified"),
        "{}",
        exports[4].detail
    );

    // citrus deid prints the case de-identified, reports each replacement, and is recorded.
    let printed = run_citrus(&["deid", "--case", "1", "--report", "--db", db]);
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let shown = text(&printed.stdout);
    assert!(
        !shown.contains("Quarterbridge") && shown.contains("[NAME 1]"),
        "{shown}"
    );
    let report = text(&printed.stderr);
    assert!(
        report.contains("medical record number") && report.contains("high confidence"),
        "{report}"
    );
    drop(store);
    let store = Store::open(&dir.db()).unwrap();
    let last = store
        .audit_entries(&AuditQuery {
            latest: Some(1),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(last[0].action, AuditAction::CaseDeidentified);
}

#[test]
fn a_remote_engine_added_with_deidentification_gets_the_case_de_identified() {
    use citrus_types::engine::RemoteEngineEntry;
    use citrus_workstation::reasoning::outgoing_input;
    let dir = TempDir::new("remote-deid");
    let mut store = Store::open(&dir.db()).unwrap();
    let (case, _) = fill(&mut store);
    let input = store.case(case).unwrap().input;
    for (name, deidentify) in [("as-typed", false), ("careful", true)] {
        store
            .put_engine(&RemoteEngineEntry {
                name: name.into(),
                url: "http://127.0.0.1:9/v1".into(),
                model: Some("citrus".into()),
                api_key_file: None,
                template_file: None,
                capabilities: None,
                models: Vec::new(),
                added_at: String::new(),
                deidentify,
            })
            .unwrap();
    }
    let remote = |name: &str| citrus_runner::engine::EngineOrigin::Remote {
        engine: name.into(),
        url: "http://127.0.0.1:9/v1".into(),
        model: "citrus".into(),
    };
    let sent = outgoing_input(&store, &remote("as-typed"), Some(case), &input).unwrap();
    assert_eq!(sent, input);
    let sent = outgoing_input(&store, &remote("careful"), Some(case), &input).unwrap();
    let text = serde_json::to_string(&sent).unwrap();
    assert!(
        !text.contains("Quarterbridge") && text.contains("[NAME 1]"),
        "{text}"
    );
    assert!(store.engine("careful").unwrap().deidentify);
    let last = store
        .audit_entries(&AuditQuery {
            latest: Some(1),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(last[0].action, AuditAction::CaseDeidentified);
    assert!(
        last[0].detail.contains("engine careful"),
        "{}",
        last[0].detail
    );
}

#[test]
fn training_an_adapter_on_reviewed_cases_is_recorded() {
    use citrus_workstation::training::{read_dataset, start_training, DataSource, TrainChoices};
    let dir = TempDir::new("audit-training");
    let mut store = Store::open(&dir.db()).unwrap();
    let (case, _) = fill(&mut store);
    let options = citrus_engine::model::LoadOptions::default();
    let model =
        citrus_engine::model::Model::load(&common::default_model(), &options, &mut |_| {}).unwrap();
    let dataset = read_dataset(&store, &DataSource::Reviews).unwrap();
    let job = start_training(
        &store,
        &model,
        DataSource::Reviews,
        dataset,
        &TrainChoices::default(),
        Some(dir.0.join("adapter-run")),
    )
    .unwrap();
    let last = store
        .audit_entries(&AuditQuery {
            latest: Some(1),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(last[0].action, AuditAction::AdapterTrainedFromReviews);
    assert_eq!(last[0].case_ids, [case]);
    assert!(
        last[0].detail.contains(&format!("training run {}", job.id)),
        "{}",
        last[0].detail
    );
}
