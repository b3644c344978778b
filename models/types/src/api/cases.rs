//! Cases: listed, read, created, saved and deleted.

use super::commands;
use crate::case::{CaseInput, CaseQuery, CaseRecord, CaseSummary};

commands! {
    /// The cases `query` selects, newest first.
    ListCases = "list_cases" -> Vec<CaseSummary> {
        /// Which cases.
        query: CaseQuery,
    }
    /// One case.
    GetCase = "get_case" -> CaseRecord {
        /// The case.
        id: i64,
    }
    /// Saves a new case; answers its id.
    CreateCase = "create_case" -> i64 {
        /// What the user entered.
        input: CaseInput,
    }
    /// Saves an edited case.
    UpdateCase = "update_case" -> () {
        /// The case.
        id: i64,
        /// Its new content.
        input: CaseInput,
    }
    /// Deletes a case with its runs and reviews.
    DeleteCase = "delete_case" -> () {
        /// The case.
        id: i64,
    }
}
