//! Evaluation on the hospital's own cases: for each case a reviewer confirmed with an ICD-10-CM
//! code, where that code's category stands in each model's differential — first, in the first
//! three, or anywhere — per model, adapter, engine and mode, with 95% intervals. Exam items
//! measure knowledge; this measures usefulness on the cases the workstation actually sees.

use std::collections::BTreeMap;

use citrus_runner::evaluation::stats::wilson;
use citrus_types::evaluation::ReviewedAccuracy;
use citrus_types::vocabulary::{category_of, CodedDiagnosis};
use citrus_types::RunStatus;

use crate::error::AppResult;
use crate::store::Store;

/// Where a differential puts the confirmed category: its rank from 1, if present.
pub fn rank_of(coded: &[CodedDiagnosis], confirmed_code: &str) -> Option<usize> {
    let category = category_of(confirmed_code);
    coded
        .iter()
        .filter(|c| c.code.is_some())
        .position(|c| c.category() == Some(category))
        .map(|i| i + 1)
}

/// The group a run belongs to: engine, model, adapter, mode.
type Group = (String, String, Option<String>, String);

/// The reviewed-case accuracy of every group that ran on a case with a confirmed code.
pub fn reviewed_accuracy(store: &Store) -> AppResult<Vec<ReviewedAccuracy>> {
    let mut ranks: BTreeMap<Group, Vec<Option<usize>>> = BTreeMap::new();
    for (case_id, code) in store.confirmed_codes()? {
        // The latest finished run of each group on this case.
        let mut latest: BTreeMap<Group, i64> = BTreeMap::new();
        for run in store.runs_of_case(case_id)? {
            if run.status == RunStatus::Done {
                let group = (run.engine, run.model_name, run.adapter, run.mode);
                latest.insert(group, run.id);
            }
        }
        for (group, run_id) in latest {
            let record = store.run(run_id)?;
            ranks
                .entry(group)
                .or_default()
                .push(rank_of(&record.coded, &code));
        }
    }
    Ok(ranks
        .into_iter()
        .map(|((engine, model_name, adapter, mode), ranks)| {
            let within = |most: usize| {
                ranks
                    .iter()
                    .filter(|r| r.is_some_and(|r| r <= most))
                    .count()
            };
            ReviewedAccuracy {
                engine,
                model_name,
                adapter,
                mode,
                first: wilson(within(1), ranks.len()),
                top3: wilson(within(3), ranks.len()),
                anywhere: wilson(within(usize::MAX), ranks.len()),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coded(code: &str) -> CodedDiagnosis {
        CodedDiagnosis::coded(code, (code, "title"), 1.0, None)
    }

    #[test]
    fn the_rank_is_that_of_the_first_entry_of_the_confirmed_category() {
        let differential = [
            coded("K44"),
            CodedDiagnosis::uncoded("Potassium Diophantine", "no entry"),
            coded("I21"),
            coded("I21.1"),
        ];
        assert_eq!(rank_of(&differential, "I21.19"), Some(2));
        assert_eq!(rank_of(&differential, "K44.9"), Some(1));
        assert_eq!(rank_of(&differential, "I26.99"), None);
    }
}
