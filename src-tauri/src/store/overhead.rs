//! What encryption costs on the store's real work, measured side by side on two scratch
//! stores (one plaintext, one SQLCipher) with the same content: opening a connection, listing
//! the cases, and writing a streaming run (start, text appended as the recorder flushes it,
//! steps, finish).

use std::path::Path;
use std::time::Instant;

use citrus_reasoning::{CaseInput, ClinicalCase, Stage, Step};
use citrus_types::case::CaseQuery;

use super::{Encryption, NewRun, RunStatus, Store, StoreResult};

/// One measured operation: mean milliseconds on each store.
#[derive(Debug, Clone, PartialEq)]
pub struct OverheadRow {
    /// What was measured.
    pub work: String,
    /// Plaintext, ms per operation.
    pub plaintext_ms: f64,
    /// Encrypted, ms per operation.
    pub encrypted_ms: f64,
}

impl OverheadRow {
    /// Encrypted time over plaintext time.
    pub fn ratio(&self) -> f64 {
        self.encrypted_ms / self.plaintext_ms.max(1e-9)
    }
}

/// Text appends per streamed run (the recorder flushes about every 50 ms: a 20 s run).
const APPENDS_PER_RUN: usize = 400;
/// Steps per streamed run.
const STEPS_PER_RUN: usize = 8;

fn case(i: usize) -> CaseInput {
    let mut case = ClinicalCase::new(format!("Chest pain, case {i}"));
    case.history_of_present_illness = Some(
        "Pain at rest radiating to the left arm and jaw, with sweating and nausea. ".repeat(8),
    );
    CaseInput::Clinical(case)
}

fn stream_run(store: &Store, case_id: i64) -> StoreResult<()> {
    let run = store.start_run(&NewRun {
        case_id,
        engine: "local".into(),
        model_path: "bench.gguf".into(),
        model_name: "bench".into(),
        model_fingerprint: None,
        adapter: None,
        mode: "free".into(),
        settings_json: "{}".into(),
    })?;
    for i in 0..APPENDS_PER_RUN {
        store.append_run_text(run, "some streamed tokens of reasoning ", 5)?;
        if i % (APPENDS_PER_RUN / STEPS_PER_RUN) == 0 {
            let step = Step::new(Stage::Findings, None, "A step of the reasoning. ".repeat(6));
            store.add_step(run, i / (APPENDS_PER_RUN / STEPS_PER_RUN), &step)?;
        }
    }
    store.finish_run(run, RunStatus::Done, None, None)
}

/// Times `work` `times` times; mean milliseconds.
fn mean_ms(times: usize, mut work: impl FnMut() -> StoreResult<()>) -> StoreResult<f64> {
    let start = Instant::now();
    for _ in 0..times {
        work()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / times as f64)
}

/// Measures both stores in `folder` (created; files removed at the end) holding `cases` cases.
pub fn measure(folder: &Path, cases: usize) -> StoreResult<Vec<OverheadRow>> {
    let paths = [
        (Encryption::Off, folder.join("plaintext.db")),
        (Encryption::On, folder.join("encrypted.db")),
    ];
    let mut results: Vec<Vec<f64>> = Vec::new();
    for (encryption, path) in &paths {
        let _ = std::fs::remove_file(path);
        let store = Store::open_shared_with(path, *encryption)?;
        let ids: Vec<i64> = (0..cases)
            .map(|i| store.create_case(&case(i)))
            .collect::<StoreResult<_>>()?;
        let open = mean_ms(20, || Store::open_shared_with(path, *encryption).map(drop))?;
        let list = mean_ms(20, || store.list_cases(&CaseQuery::search("")).map(drop))?;
        let search = mean_ms(20, || store.list_cases(&CaseQuery::search("jaw")).map(drop))?;
        let mut next = ids.iter().cycle();
        let run = mean_ms(10, || stream_run(&store, *next.next().unwrap_or(&1)))?;
        let read = mean_ms(20, || store.case(ids[0]).map(drop))?;
        results.push(vec![open, list, search, run, read]);
    }
    for (_, path) in &paths {
        for suffix in ["", "-wal", "-shm", ".key.json"] {
            let mut name = path.as_os_str().to_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
    let _ = std::fs::remove_file(folder.join("citrus.key"));
    let names = [
        "open a connection".to_string(),
        format!("list {cases} cases"),
        format!("search {cases} cases"),
        format!("write a streaming run ({APPENDS_PER_RUN} appends, {STEPS_PER_RUN} steps)"),
        "read one case".to_string(),
    ];
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, work)| OverheadRow {
            work,
            plaintext_ms: results[0][i],
            encrypted_ms: results[1][i],
        })
        .collect())
}
