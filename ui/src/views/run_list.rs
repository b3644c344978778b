//! The recorded runs a screen lists (evaluations, training runs) and the one it has open,
//! shared by the screen's parts.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;

use crate::api;
use crate::state::AppState;
use crate::types::{EvalRunSummary, TrainRunSummary};
use citrus_types::api::evaluations::ListEvaluations;
use citrus_types::api::training::ListTrainingRuns;
use citrus_types::api::Command;

/// A run in a screen's list.
pub(crate) trait ListedRun: Clone + DeserializeOwned + Send + Sync + 'static {
    /// The request that lists the runs.
    type Listing: Command<Response = Vec<Self>>;
    /// That request.
    const LISTING: Self::Listing;
    /// Its id.
    fn id(&self) -> i64;
}

impl ListedRun for EvalRunSummary {
    type Listing = ListEvaluations;
    const LISTING: ListEvaluations = ListEvaluations {};

    fn id(&self) -> i64 {
        self.id
    }
}

impl ListedRun for TrainRunSummary {
    type Listing = ListTrainingRuns;
    const LISTING: ListTrainingRuns = ListTrainingRuns {};

    fn id(&self) -> i64 {
        self.id
    }
}

/// What a screen's parts share: the recorded runs and the one open.
pub(crate) struct RunList<T: ListedRun> {
    /// The app.
    pub app: AppState,
    /// Every recorded run, newest first.
    pub runs: RwSignal<Vec<T>>,
    /// Whether the list has loaded once.
    pub loaded: RwSignal<bool>,
    /// The run that is open.
    pub selected: RwSignal<Option<i64>>,
    /// Bumped to reload the open run.
    pub revision: RwSignal<u32>,
    /// Whether the newest run opens when none is open.
    open_newest: bool,
}

impl<T: ListedRun> Clone for RunList<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ListedRun> Copy for RunList<T> {}

impl<T: ListedRun> RunList<T> {
    /// An empty list, loaded at once and provided to the parts below.
    pub fn provide(app: AppState, open_newest: bool) -> Self {
        let list = Self {
            app,
            runs: RwSignal::new(Vec::new()),
            loaded: RwSignal::new(false),
            selected: RwSignal::new(None),
            revision: RwSignal::new(0),
            open_newest,
        };
        provide_context(list);
        list.reload();
        list
    }

    /// Reloads the list of runs (and, through `revision`, the open one).
    pub fn reload(self) {
        let app = self.app;
        spawn_local(async move {
            match api::call(&T::LISTING).await {
                Ok(list) => {
                    if self.open_newest && self.selected.get_untracked().is_none() {
                        self.selected.try_set(list.first().map(ListedRun::id));
                    }
                    self.runs.try_set(list);
                    self.loaded.try_set(true);
                    self.revision.try_update(|r| *r += 1);
                }
                Err(err) => app.report(err),
            }
        });
    }
}
