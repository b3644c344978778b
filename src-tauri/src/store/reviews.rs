//! Reviews: a physician's verdict on each step of a run, the confirmed diagnosis and who
//! reviewed it. Reviewed runs become training data and reports (see `export`).

pub use citrus_types::review::{QueuedReview, Review, StepReview, Verdict};
use rusqlite::{params, OptionalExtension};

use super::{now, AuditEvent, Store, StoreError, StoreResult};
use citrus_types::protection::AuditAction;

/// A stored verdict read back (an unknown name means the file was changed by hand).
fn parse_verdict(text: &str) -> StoreResult<Verdict> {
    Verdict::parse(text).ok_or_else(|| StoreError::Corrupt {
        what: "step verdict",
        detail: text.to_string(),
    })
}

impl Store {
    /// The review queue: every case none of whose runs is reviewed yet, with its latest run
    /// that ended (failed and running runs are skipped), most recently changed case first.
    pub fn review_queue(&self) -> StoreResult<Vec<QueuedReview>> {
        let mut statement = self.conn.prepare(
            "SELECT c.id, r.id, c.title FROM cases c
             JOIN runs r ON r.id = (SELECT id FROM runs WHERE case_id = c.id
                                     AND status IN ('done', 'cancelled', 'interrupted')
                                     ORDER BY started_at DESC, id DESC LIMIT 1)
             WHERE NOT EXISTS (SELECT 1 FROM reviews v JOIN runs x ON x.id = v.run_id
                               WHERE x.case_id = c.id)
             ORDER BY c.updated_at DESC, c.id DESC",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(QueuedReview {
                case_id: r.get(0)?,
                run_id: r.get(1)?,
                title: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saves (or replaces) the review of a run, all at once.
    pub fn save_review(&mut self, review: &Review) -> StoreResult<()> {
        let at = now();
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT count(*) FROM runs WHERE id = ?1",
            [review.run_id],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if !exists {
            return Err(StoreError::NotFound {
                kind: "run",
                id: review.run_id,
            });
        }
        tx.execute(
            "INSERT INTO reviews (run_id, reviewer, confirmed_diagnosis, comment, created_at, updated_at, confirmed_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
             ON CONFLICT (run_id) DO UPDATE SET reviewer = ?2, confirmed_diagnosis = ?3, comment = ?4, updated_at = ?5,
                                                confirmed_code = ?6",
            params![review.run_id, review.reviewer, review.confirmed_diagnosis, review.comment, at,
                    review.confirmed_code],
        )?;
        tx.execute(
            "DELETE FROM step_reviews WHERE step_id IN (SELECT id FROM steps WHERE run_id = ?1)",
            [review.run_id],
        )?;
        for step in &review.steps {
            let step_id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM steps WHERE run_id = ?1 AND position = ?2",
                    params![review.run_id, step.position as i64],
                    |r| r.get(0),
                )
                .optional()?;
            let step_id = step_id.ok_or(StoreError::NotFound {
                kind: "step",
                id: step.position as i64,
            })?;
            tx.execute(
                "INSERT INTO step_reviews (step_id, verdict, comment) VALUES (?1, ?2, ?3)",
                params![step_id, step.verdict.as_str(), step.comment],
            )?;
        }
        let case_id: i64 = tx.query_row(
            "SELECT case_id FROM runs WHERE id = ?1",
            [review.run_id],
            |r| r.get(0),
        )?;
        let event = AuditEvent::new(AuditAction::CaseReviewed, [case_id])
            .by(review.reviewer.clone())
            .detail(format!(
                "run {}: {} step verdicts{}",
                review.run_id,
                review.steps.len(),
                review
                    .confirmed_code
                    .as_deref()
                    .map(|code| format!(", confirmed {code}"))
                    .unwrap_or_default()
            ));
        super::audit::append(&tx, &self.actor, &event)?;
        tx.commit()?;
        Ok(())
    }

    /// The review of a run, if it has one.
    pub fn review(&self, run_id: i64) -> StoreResult<Option<Review>> {
        let head = self
            .conn
            .query_row(
                "SELECT reviewer, confirmed_diagnosis, comment, confirmed_code FROM reviews WHERE run_id = ?1",
                [run_id],
                |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((reviewer, confirmed_diagnosis, comment, confirmed_code)) = head else {
            return Ok(None);
        };
        let mut statement = self.conn.prepare(
            "SELECT s.position, v.verdict, v.comment FROM step_reviews v JOIN steps s ON s.id = v.step_id
             WHERE s.run_id = ?1 ORDER BY s.position",
        )?;
        let rows = statement.query_map([run_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let steps = rows
            .map(|row| {
                let (position, verdict, comment) = row?;
                Ok(StepReview {
                    position: position as usize,
                    verdict: parse_verdict(&verdict)?,
                    comment,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(Some(Review {
            run_id,
            reviewer,
            confirmed_diagnosis,
            confirmed_code,
            comment,
            steps,
        }))
    }

    /// Each case's confirmed ICD-10-CM code (from its latest review that has one), by case id.
    pub fn confirmed_codes(&self) -> StoreResult<Vec<(i64, String)>> {
        let mut statement = self.conn.prepare(
            "SELECT r.case_id, v.confirmed_code FROM reviews v JOIN runs r ON r.id = v.run_id
             WHERE v.confirmed_code IS NOT NULL ORDER BY v.updated_at, v.id",
        )?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut latest: Vec<(i64, String)> = Vec::new();
        for row in rows {
            let (case_id, code): (i64, String) = row?;
            latest.retain(|(id, _)| *id != case_id);
            latest.push((case_id, code));
        }
        Ok(latest)
    }

    /// Ids of every reviewed run, oldest review first.
    pub fn reviewed_runs(&self) -> StoreResult<Vec<i64>> {
        let mut statement = self
            .conn
            .prepare("SELECT run_id FROM reviews ORDER BY created_at, id")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether a case has at least one reviewed run (for the case list's filter).
    pub fn case_is_reviewed(&self, case_id: i64) -> StoreResult<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM reviews v JOIN runs r ON r.id = v.run_id WHERE r.case_id = ?1",
            [case_id],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }
}
