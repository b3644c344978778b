//! Jobs started from the window — reasoning on a case, an evaluation, a training run — as
//! they stream in: each job's state folded from its [`citrus_types::job::JobEvent`]s, and the
//! starting and stopping of jobs.

pub mod evaluations;
pub mod job;
pub mod launch;
pub mod reasoning;
pub mod start;
pub mod training;
