//! Preference pairs from clinicians' reviews: for each case with several reviewed runs, the
//! runs are ranked (reached the confirmed diagnosis; fewer disagreed steps; a larger share of
//! agreed steps) and the best runs that reached it without a disagreed step are paired
//! against the worst that did not (or had disagreed steps). Ties are skipped; at most
//! [`MOST_PAIRS_PER_CASE`] pairs per case. Each pair says why it was made, and every case that
//! gave none says why not. Both answers are rendered the same way under the case's one prompt:
//! the run's steps as the think section and its answer.

use std::collections::BTreeMap;

use citrus_reasoning::build_prompt;
use citrus_training::dataset::pairs::{PairSet, PreferencePair};
use citrus_types::run::RunRecord;
use serde::Serialize;

pub use citrus_types::training::{CaseWithoutPairs, PairPreview, ReviewPairsPreview};

use crate::store::export::{citrus_target, ReviewedRun};
use crate::store::{Store, StoreResult, Verdict};

/// The most pairs one case gives.
pub const MOST_PAIRS_PER_CASE: usize = 3;

/// Where a reviewed run ranks among its case's runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedRun {
    /// The run.
    pub run_id: i64,
    /// Whether its conclusion is the confirmed diagnosis (by code, else by name).
    pub reached_confirmed: bool,
    /// Steps the reviewer disagreed with.
    pub disagreed: usize,
    /// The share of its reviewed steps the reviewer agreed with.
    pub agreed_share: f64,
}

impl RankedRun {
    /// Better runs sort first.
    fn key(&self) -> (bool, std::cmp::Reverse<usize>, i64) {
        (
            self.reached_confirmed,
            std::cmp::Reverse(self.disagreed),
            (self.agreed_share * 1000.0).round() as i64,
        )
    }

    /// A run that may be chosen: it reached the diagnosis with no disagreed step.
    fn may_be_chosen(&self) -> bool {
        self.reached_confirmed && self.disagreed == 0
    }

    fn describe(&self) -> String {
        format!(
            "run {} ({}, {} disagreed step(s), {:.0}% agreed)",
            self.run_id,
            if self.reached_confirmed {
                "reached the confirmed diagnosis"
            } else {
                "missed the confirmed diagnosis"
            },
            self.disagreed,
            self.agreed_share * 100.0
        )
    }
}

/// Pairs made from the reviews, with the preview and the cases that gave none.
#[derive(Debug, Clone)]
pub struct ReviewPairs {
    /// The pairs (grouped by case for the held-out split).
    pub set: PairSet,
    /// Each pair with the reason it was made.
    pub previews: Vec<PairPreview>,
    /// Cases with reviewed runs that gave no pair.
    pub without: Vec<CaseWithoutPairs>,
}

impl ReviewPairs {
    /// What the pair builder shows: every pair with its reason, every case without one.
    pub fn preview(&self) -> ReviewPairsPreview {
        ReviewPairsPreview {
            pairs: self.previews.clone(),
            without: self.without.clone(),
        }
    }
}

/// Builds the preference pairs of every reviewed case in `store`.
pub fn pairs_from_reviews(store: &Store) -> StoreResult<ReviewPairs> {
    let mut by_case: BTreeMap<i64, Vec<ReviewedRun>> = BTreeMap::new();
    for reviewed in store.reviewed()? {
        by_case.entry(reviewed.case.id).or_default().push(reviewed);
    }
    let (mut pairs, mut previews, mut without) = (Vec::new(), Vec::new(), Vec::new());
    for (case_id, runs) in by_case {
        match case_pairs(&runs) {
            Ok(made) => {
                for (chosen, rejected, reason) in made {
                    let pick = |id: i64| runs.iter().find(|r| r.run.summary.id == id);
                    let (Some(c), Some(r)) = (pick(chosen), pick(rejected)) else {
                        continue;
                    };
                    let Ok(prompt) = build_prompt(&c.case.input) else {
                        without.push(CaseWithoutPairs {
                            case_id,
                            reason: "its prompt cannot be built".into(),
                        });
                        break;
                    };
                    pairs.push(PreferencePair {
                        line: pairs.len() + 1,
                        prompt: vec![citrus_formats::chat_template::ChatMessage::user(
                            prompt.user,
                        )],
                        chosen: answer_text(&c.run),
                        rejected: answer_text(&r.run),
                        group: Some(format!("case {case_id}")),
                    });
                    previews.push(PairPreview {
                        case_id,
                        chosen_run: chosen,
                        rejected_run: rejected,
                        reason,
                    });
                }
            }
            Err(reason) => without.push(CaseWithoutPairs { case_id, reason }),
        }
    }
    let source = format!("reviewed cases in {}", store.path().display());
    Ok(ReviewPairs {
        set: PairSet::from_pairs(&source, pairs),
        previews,
        without,
    })
}

/// The (chosen, rejected, reason) run pairs of one case's reviewed runs, or why there are none.
fn case_pairs(runs: &[ReviewedRun]) -> Result<Vec<(i64, i64, String)>, String> {
    if runs.len() < 2 {
        return Err("only one reviewed run: a pair needs two".into());
    }
    let Some((confirmed, code)) = confirmed(runs) else {
        return Err("no review records a confirmed diagnosis".into());
    };
    let mut ranked: Vec<RankedRun> = runs
        .iter()
        .map(|r| rank(r, &confirmed, code.as_deref()))
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.key()));
    let chosen: Vec<&RankedRun> = ranked.iter().filter(|r| r.may_be_chosen()).collect();
    let rejected: Vec<&RankedRun> = ranked.iter().rev().filter(|r| !r.may_be_chosen()).collect();
    if chosen.is_empty() {
        return Err(format!(
            "no run reached the confirmed diagnosis ({confirmed}) without a disagreed step"
        ));
    }
    if rejected.is_empty() {
        return Err(
            "every run reached the confirmed diagnosis with no disagreed step: nothing to prefer"
                .into(),
        );
    }
    let mut made = Vec::new();
    for (c, r) in chosen.iter().zip(rejected.iter()) {
        if c.key() == r.key() {
            continue;
        }
        made.push((
            c.run_id,
            r.run_id,
            format!("{} over {}", c.describe(), r.describe()),
        ));
        if made.len() == MOST_PAIRS_PER_CASE {
            break;
        }
    }
    if made.is_empty() {
        return Err("its runs tie: none is better than another".into());
    }
    Ok(made)
}

/// The case's confirmed diagnosis (and code), from its latest review that has one.
fn confirmed(runs: &[ReviewedRun]) -> Option<(String, Option<String>)> {
    runs.iter()
        .rev()
        .find_map(|r| {
            let diagnosis = r.review.confirmed_diagnosis.clone()?;
            Some((diagnosis, r.review.confirmed_code.clone()))
        })
        .filter(|(d, _)| !d.trim().is_empty())
}

fn rank(reviewed: &ReviewedRun, confirmed: &str, code: Option<&str>) -> RankedRun {
    let verdicts: Vec<Verdict> = reviewed.review.steps.iter().map(|s| s.verdict).collect();
    let disagreed = verdicts.iter().filter(|v| **v == Verdict::Disagree).count();
    let agreed = verdicts.iter().filter(|v| **v == Verdict::Agree).count();
    RankedRun {
        run_id: reviewed.run.summary.id,
        reached_confirmed: reached(&reviewed.run, confirmed, code),
        disagreed,
        agreed_share: agreed as f64 / verdicts.len().max(1) as f64,
    }
}

/// Whether the run concluded with the confirmed diagnosis: its conclusion's code when both
/// have one, else its answer naming the diagnosis.
fn reached(run: &RunRecord, confirmed: &str, code: Option<&str>) -> bool {
    let conclusion = run.coded.iter().find(|c| c.concluded).or(run.coded.first());
    if let (Some(code), Some(concluded)) = (code, conclusion.and_then(|c| c.code.as_deref())) {
        return code == concluded;
    }
    let normal = |t: &str| t.trim().to_lowercase();
    run.summary
        .answer
        .as_deref()
        .is_some_and(|answer| normal(answer).contains(&normal(confirmed)))
}

/// A run's reasoning and answer in the Citrus form: its steps as the think section.
fn answer_text(run: &RunRecord) -> String {
    let answer = run.summary.answer.clone().unwrap_or_default();
    citrus_target(run.steps.iter(), &answer)
}
