//! What reviewed runs become: training data in the Citrus SFT format, and reports.
//!
//! An SFT example is `{"input": <Citrus user turn>, "target": "<think>…</think>\n<answer>…</answer>"}`
//! where the think text keeps only the steps the reviewer did not reject, and the answer is
//! the confirmed diagnosis when one was recorded (with its ICD-10-CM code in brackets when it
//! has one, and the example's `code` and `diagnosis` fields then say which), else the run's
//! own answer.

use std::collections::HashSet;

use citrus_reasoning::{build_prompt, CaseInput, CaseQuote, Step};
use citrus_types::protection::{AuditAction, DeidHit, DeidOptions, ExportView};
pub use citrus_types::review::ExportFormat;
use citrus_types::vocabulary::CodedDiagnosis;
use serde::{Deserialize, Serialize};

use super::reviews::{Review, Verdict};
use super::{AuditEvent, CaseRecord, RunRecord, Store, StoreError, StoreResult};
use crate::deid::{deidentify_records, NOTICE};

/// One training example in the Citrus SFT format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SftExample {
    /// The full user prompt.
    pub input: String,
    /// The reviewed reasoning and answer.
    pub target: String,
    /// The confirmed diagnosis's ICD-10-CM code, when the reviewer chose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The confirmed diagnosis (the table's title when it has a code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
    /// The de-identification label, when the example was de-identified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deidentification: Option<String>,
}

/// A reviewed run with its case, for reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewedRun {
    /// The case.
    pub case: CaseRecord,
    /// The run.
    pub run: RunRecord,
    /// The review.
    pub review: Review,
}

/// An export as it will be written, and the cases it holds.
#[derive(Debug, Clone)]
pub struct Export {
    /// The text, with what de-identification replaced.
    pub view: ExportView,
    /// The cases whose text it holds.
    pub case_ids: Vec<i64>,
}

impl Export {
    /// Records in the audit trail that this export was written (to `destination`), with the
    /// hash of its text.
    pub fn record(
        &self,
        store: &Store,
        format: ExportFormat,
        destination: &str,
    ) -> StoreResult<()> {
        let how = if self.view.notice.is_some() {
            format!(
                "de-identified, {} identifier(s) replaced",
                self.view.hits.len()
            )
        } else {
            "NOT de-identified".into()
        };
        store.audit(
            AuditEvent::new(AuditAction::CaseExported, self.case_ids.iter().copied())
                .detail(format!("{} to {destination} ({how})", format.extension()))
                .content(self.view.text.as_bytes()),
        )?;
        Ok(())
    }
}

/// The reviewed runs an export covers (`run_id`, or all of them; SFT always covers all), with
/// their text de-identified when `deid` asks (hits in `deid.keep` left as written).
pub fn reviewed_for_export(
    store: &Store,
    format: ExportFormat,
    run_id: Option<i64>,
    deid: &DeidOptions,
) -> StoreResult<(Vec<ReviewedRun>, Vec<DeidHit>)> {
    let reviewed = match (format, run_id) {
        (ExportFormat::Sft, _) | (_, None) => store.reviewed()?,
        (_, Some(id)) => vec![store.reviewed_run(id)?],
    };
    if !deid.deidentify {
        return Ok((reviewed, Vec::new()));
    }
    let keep: HashSet<String> = deid.keep.iter().cloned().collect();
    deidentify_records(reviewed, |r| r.case.id, &keep).map_err(|e| StoreError::Corrupt {
        what: "reviewed run",
        detail: e.to_string(),
    })
}

/// The export of one reviewed run (`run_id`) or of every reviewed run (`None`), de-identified
/// when `deid` asks. Training data (SFT) always covers every reviewed run.
pub fn export(
    store: &Store,
    format: ExportFormat,
    run_id: Option<i64>,
    deid: &DeidOptions,
) -> StoreResult<Export> {
    let (reviewed, hits) = reviewed_for_export(store, format, run_id, deid)?;
    let notice = deid.deidentify.then(|| NOTICE.to_string());
    let text = match format {
        ExportFormat::Sft => sft_jsonl_labelled(&reviewed, notice.as_deref()),
        ExportFormat::Markdown => {
            let reports = reviewed
                .iter()
                .map(markdown_report)
                .collect::<Vec<_>>()
                .join("\n---\n\n");
            labelled_markdown(reports, notice.as_deref())
        }
        ExportFormat::Json => {
            let value = match reviewed.as_slice() {
                [one] if run_id.is_some() => serde_json::to_value(one),
                all => serde_json::to_value(all),
            }
            .unwrap_or_default();
            serde_json::to_string_pretty(&labelled_json(value, notice.as_deref()))
                .unwrap_or_default()
        }
    };
    let mut case_ids: Vec<i64> = reviewed.iter().map(|r| r.case.id).collect();
    case_ids.sort_unstable();
    case_ids.dedup();
    Ok(Export {
        view: ExportView { text, hits, notice },
        case_ids,
    })
}

/// A Markdown export opening with the de-identification label, when it has one.
pub fn labelled_markdown(markdown: String, notice: Option<&str>) -> String {
    match notice {
        Some(notice) => format!("> {notice}\n\n{markdown}"),
        None => markdown,
    }
}

/// A JSON export with the de-identification label beside each record, when it has one.
pub fn labelled_json(mut value: serde_json::Value, notice: Option<&str>) -> serde_json::Value {
    let Some(notice) = notice else {
        return value;
    };
    let label = |v: &mut serde_json::Value| {
        if let Some(map) = v.as_object_mut() {
            map.insert("deidentification".into(), notice.into());
        }
    };
    match &mut value {
        serde_json::Value::Array(items) => items.iter_mut().for_each(label),
        other => label(other),
    }
    value
}

impl Store {
    /// A reviewed run with its case and review (`store.not_reviewed` if it has no review).
    pub fn reviewed_run(&self, run_id: i64) -> StoreResult<ReviewedRun> {
        let run = self.run(run_id)?;
        let review = self
            .review(run_id)?
            .ok_or(super::StoreError::NotReviewed { run_id })?;
        let case = self.case(run.summary.case_id)?;
        Ok(ReviewedRun { case, run, review })
    }

    /// Every reviewed run with its case and review.
    pub fn reviewed(&self) -> StoreResult<Vec<ReviewedRun>> {
        let mut out = Vec::new();
        for run_id in self.reviewed_runs()? {
            let run = self.run(run_id)?;
            let case = self.case(run.summary.case_id)?;
            if let Some(review) = self.review(run_id)? {
                out.push(ReviewedRun { case, run, review });
            }
        }
        Ok(out)
    }
}

/// The SFT example a reviewed run yields, or `None` when nothing of it was accepted (no kept
/// step and no answer).
pub fn sft_example(reviewed: &ReviewedRun) -> Option<SftExample> {
    let input = build_prompt(&reviewed.case.input).ok()?.user;
    let kept: Vec<&Step> = reviewed
        .run
        .steps
        .iter()
        .enumerate()
        .filter(|(position, _)| verdict(&reviewed.review, *position) != Some(Verdict::Disagree))
        .map(|(_, step)| step)
        .collect();
    let review = &reviewed.review;
    let confirmed = review
        .confirmed_diagnosis
        .clone()
        .filter(|d| !d.trim().is_empty());
    let answer = match (&confirmed, &review.confirmed_code) {
        (Some(diagnosis), Some(code)) => Some(format!("{} ({code})", diagnosis.trim())),
        _ => confirmed.clone(),
    }
    .or_else(|| reviewed.run.summary.answer.clone())
    .filter(|a| !a.trim().is_empty())?;
    Some(SftExample {
        input,
        target: citrus_target(kept.into_iter(), &answer),
        code: review.confirmed_code.clone(),
        diagnosis: confirmed,
        deidentification: None,
    })
}

/// The Citrus answer form: `steps` (titled ones in bold) as the think section, then `answer`.
pub fn citrus_target<'a>(steps: impl Iterator<Item = &'a Step>, answer: &str) -> String {
    let think = steps
        .map(|step| match &step.title {
            Some(title) => format!("**{title}:**\n{}", step.text),
            None => step.text.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    format!(
        "<think>\n{think}\n</think>\n<answer>\n{}\n</answer>",
        answer.trim()
    )
}

fn verdict(review: &Review, position: usize) -> Option<Verdict> {
    review
        .steps
        .iter()
        .find(|s| s.position == position)
        .map(|s| s.verdict)
}

/// All reviewed runs as SFT JSON Lines (one example per line).
pub fn sft_jsonl(reviewed: &[ReviewedRun]) -> String {
    sft_jsonl_labelled(reviewed, None)
}

/// SFT JSON Lines, each example carrying the de-identification label when there is one.
pub fn sft_jsonl_labelled(reviewed: &[ReviewedRun], notice: Option<&str>) -> String {
    reviewed
        .iter()
        .filter_map(sft_example)
        .map(|mut example| {
            example.deidentification = notice.map(str::to_string);
            example
        })
        .filter_map(|example| serde_json::to_string(&example).ok())
        .map(|line| line + "\n")
        .collect()
}

/// A Markdown report of one reviewed run.
pub fn markdown_report(reviewed: &ReviewedRun) -> String {
    let ReviewedRun { case, run, review } = reviewed;
    let mut md = format!("# Case {}: {}\n\n", case.id, case.title);
    md.push_str("> Decision support, not a diagnosis.\n\n## Case\n\n");
    match &case.input {
        CaseInput::Clinical(clinical) => {
            md.push_str(&citrus_reasoning::clinical_question_text(clinical));
        }
        CaseInput::Exam(item) => md.push_str(&citrus_reasoning::exam_question_text(item)),
    }
    md.push_str(&format!(
        "\n\n## Run {}\n\n- Model: {}\n- Mode: {}\n- Status: {:?}\n- Tokens: {}\n\n## Steps\n\n",
        run.summary.id,
        run.summary.model_name,
        run.summary.mode,
        run.summary.status,
        run.summary.generated_tokens
    ));
    for (position, step) in run.steps.iter().enumerate() {
        let mark = match verdict(review, position) {
            Some(Verdict::Agree) => "✓ agree",
            Some(Verdict::Disagree) => "✗ disagree",
            None => "not reviewed",
        };
        let stage = serde_json::to_value(step.stage)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        md.push_str(&format!(
            "### {}. [{stage}] {} ({mark})\n\n{}\n\n",
            position + 1,
            step.title.as_deref().unwrap_or(""),
            step.text
        ));
        let mentioned: Vec<String> = step
            .mentions
            .iter()
            .filter(|q| !step.text.contains(&q.text))
            .map(|q| q.cited())
            .collect();
        if !mentioned.is_empty() {
            md.push_str(&format!("Case findings: {}\n\n", mentioned.join("; ")));
        }
        if let Some(comment) = review
            .steps
            .iter()
            .find(|s| s.position == position)
            .and_then(|s| s.comment.as_deref())
        {
            md.push_str(&format!("Reviewer: {comment}\n\n"));
        }
    }
    md.push_str(&format!(
        "## Answer\n\n{}\n\n",
        run.summary.answer.as_deref().unwrap_or("(none)"),
    ));
    md.push_str(&coded_table(&run.coded));
    let code = review
        .confirmed_code
        .as_deref()
        .map(|code| format!(" (ICD-10-CM {code})"))
        .unwrap_or_default();
    md.push_str(&format!(
        "## Review\n\n- Reviewer: {}\n- Confirmed diagnosis: {}{code}\n",
        review.reviewer,
        review
            .confirmed_diagnosis
            .as_deref()
            .unwrap_or("(not recorded)"),
    ));
    if let Some(comment) = &review.comment {
        md.push_str(&format!("- Comment: {comment}\n"));
    }
    md
}

/// The run's diagnoses with their ICD-10-CM codes as a Markdown table (nothing when none).
fn coded_table(coded: &[CodedDiagnosis]) -> String {
    if coded.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "## Coded differential (ICD-10-CM)\n\n| Code | Diagnosis | Likelihood | Can't miss | For | Against |\n|---|---|---|---|---|---|\n",
    );
    let quotes = |quotes: &[CaseQuote]| {
        quotes
            .iter()
            .map(|q| format!("\"{}\"", q.text))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for c in coded {
        let (code, diagnosis) = match (&c.code, &c.diagnosis) {
            (Some(code), Some(title)) => (code.clone(), title.clone()),
            _ => (
                "uncoded".to_string(),
                format!(
                    "{} ({})",
                    c.written,
                    c.uncoded.as_deref().unwrap_or_default()
                ),
            ),
        };
        md.push_str(&format!(
            "| {code} | {} | {} | {} | {} | {} |\n",
            diagnosis.replace('|', "/"),
            c.likelihood.as_deref().unwrap_or(""),
            c.cant_miss.as_deref().unwrap_or(""),
            quotes(&c.supporting).replace('|', "/"),
            quotes(&c.against).replace('|', "/"),
        ));
    }
    md.push('\n');
    md
}
