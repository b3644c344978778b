//! App-wide state shared through context: current screen, open case, errors, engine, live runs.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::live::evaluations::LiveEval;
use crate::live::reasoning::LiveRun;
use crate::live::training::LiveTraining;
use crate::types::{EngineStatus, ListedModel, QueuedReview};
use citrus_types::engine::RemoteEngineEntry;

/// A top-level screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The case list.
    Cases,
    /// One open case (see [`OpenCase`]).
    Case,
    /// The review queue.
    Review,
    /// Model management.
    Models,
    /// Benchmark evaluations.
    Evaluation,
    /// Fine-tuning LoRA adapters.
    Training,
    /// The store's encryption and the audit trail (for IT).
    Audit,
}

/// One entry of the sidebar navigation.
pub struct NavEntry {
    /// The screen it opens.
    pub screen: Screen,
    /// The element id of its button.
    pub id: &'static str,
    /// Its label.
    pub label: &'static str,
}

/// The sidebar's entries, in order. Add new screens here.
pub const NAV: &[NavEntry] = &[
    NavEntry {
        screen: Screen::Cases,
        id: "nav-cases",
        label: "Cases",
    },
    NavEntry {
        screen: Screen::Review,
        id: "nav-review",
        label: "Review",
    },
    NavEntry {
        screen: Screen::Models,
        id: "nav-models",
        label: "Models",
    },
    NavEntry {
        screen: Screen::Evaluation,
        id: "nav-evaluation",
        label: "Evaluation",
    },
    NavEntry {
        screen: Screen::Training,
        id: "nav-training",
        label: "Training",
    },
    NavEntry {
        screen: Screen::Audit,
        id: "nav-audit",
        label: "Audit",
    },
];

/// A tab of the case screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// The case editor.
    Case,
    /// Running and watching reasoning.
    Reasoning,
    /// All runs and comparison.
    Runs,
    /// Reviewing a run and exporting.
    Review,
}

/// Which case is open, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenCase {
    /// Changes whenever a different case (or a new draft) is opened.
    pub nonce: u64,
    /// The stored case, or `None` for a new case not yet saved.
    pub id: Option<i64>,
    /// `clinical` or `exam` (for new drafts).
    pub kind: String,
    /// The visible tab.
    pub tab: Tab,
    /// A run chosen to show in the Reasoning tab (else the live or latest run).
    pub run: Option<i64>,
}

/// A review session walking the review queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The queue as it was when the session started.
    pub queue: Vec<QueuedReview>,
    /// The position of the current item.
    pub index: usize,
}

/// Handles to the app-wide signals (cheap to copy).
#[derive(Clone, Copy)]
pub struct AppState {
    /// The visible screen.
    pub screen: RwSignal<Screen>,
    /// The open case.
    pub case: RwSignal<OpenCase>,
    /// The error shown in the banner.
    pub error: RwSignal<Option<ApiError>>,
    /// Live and recently finished runs, keyed by case id.
    pub live: RwSignal<HashMap<i64, LiveRun>>,
    /// The engine's last known status.
    pub engine: RwSignal<Option<EngineStatus>>,
    /// The review session, when one is going.
    pub session: RwSignal<Option<Session>>,
    /// The evaluation job started from this window (running or last finished).
    pub evaluation: RwSignal<Option<LiveEval>>,
    /// The training job started from this window (running or last finished).
    pub training: RwSignal<Option<LiveTraining>>,
    /// The imported models, once loaded (every screen reads this one list).
    pub models: RwSignal<Option<Vec<ListedModel>>>,
    /// The remote engines added, once loaded.
    pub engines: RwSignal<Option<Vec<RemoteEngineEntry>>>,
}

impl AppState {
    /// Creates the state and provides it as context.
    pub fn provide() -> Self {
        let state = Self {
            screen: RwSignal::new(Screen::Cases),
            case: RwSignal::new(OpenCase {
                nonce: 0,
                id: None,
                kind: "clinical".into(),
                tab: Tab::Case,
                run: None,
            }),
            error: RwSignal::new(None),
            live: RwSignal::new(HashMap::new()),
            engine: RwSignal::new(None),
            session: RwSignal::new(None),
            evaluation: RwSignal::new(None),
            training: RwSignal::new(None),
            models: RwSignal::new(None),
            engines: RwSignal::new(None),
        };
        provide_context(state);
        state
    }

    /// Opens a case (or a new draft when `id` is `None`) on the given tab.
    pub fn open_case(&self, id: Option<i64>, kind: &str, tab: Tab) {
        let nonce = self.case.with_untracked(|c| c.nonce) + 1;
        self.case.set(OpenCase {
            nonce,
            id,
            kind: kind.to_string(),
            tab,
            run: None,
        });
        self.screen.set(Screen::Case);
    }

    /// Shows a run of the open case in the Reasoning tab.
    pub fn show_run(&self, run: i64) {
        self.case.update(|c| {
            c.run = Some(run);
            c.tab = Tab::Reasoning;
        });
    }

    /// Shows an error in the banner.
    pub fn report(&self, error: ApiError) {
        self.error.try_set(Some(error));
    }

    /// Loads the imported models, unless already loaded.
    pub fn load_models(&self) {
        if self.models.with_untracked(Option::is_none) {
            self.refresh_models();
        }
    }

    /// Reloads the imported models (after an import, or a model made active).
    pub fn refresh_models(&self) {
        let (models, app) = (self.models, *self);
        spawn_local(async move {
            match api::models::list().await {
                Ok(list) => {
                    models.try_set(Some(list));
                }
                Err(err) => app.report(err),
            }
        });
    }

    /// Loads the remote engines, unless already loaded.
    pub fn load_engines(&self) {
        if self.engines.with_untracked(Option::is_none) {
            self.refresh_engines();
        }
    }

    /// Reloads the remote engines (after one is added, tested or removed).
    pub fn refresh_engines(&self) {
        let (engines, app) = (self.engines, *self);
        spawn_local(async move {
            match api::engines::list().await {
                Ok(list) => {
                    engines.try_set(Some(list));
                }
                Err(err) => app.report(err),
            }
        });
    }

    /// Reloads the engine status (active model, queue).
    pub fn refresh_engine(&self) {
        let engine = self.engine;
        spawn_local(async move {
            if let Ok(status) = api::models::engine_status().await {
                engine.try_set(Some(status));
            }
        });
    }
}

/// The app state from context.
pub fn use_app() -> AppState {
    expect_context::<AppState>()
}
