//! The Reasoning tab: options, Reason/Stop, and the live or chosen run.

use leptos::prelude::*;

use crate::components::engine_picker::EnginePicker;
use leptos::task::spawn_local;

use super::context::{use_case, CaseCtx};
use crate::api;
use crate::components::case_quotes::{CaseText, SelectedFinding};
use crate::components::coded_differential::CodedDifferential;
use crate::components::run_parts::{Answer, Differential, Timeline};
use crate::components::run_view::RunView;
use crate::format;
use crate::live::reasoning::LiveRun;
use crate::live::start;
use crate::state::{use_app, AppState, Tab};
use crate::types::{CaseQuote, RunRecord};

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Saves pending edits, then starts reasoning on the open case and shows the Reasoning tab.
pub fn reason_now(app: AppState, ctx: CaseCtx) {
    let Some(id) = ctx.id.get_untracked() else {
        return;
    };
    if app
        .live
        .with_untracked(|m| m.get(&id).is_some_and(LiveRun::active))
    {
        return;
    }
    ctx.save.flush();
    app.case.update(|c| {
        c.run = None;
        c.tab = Tab::Reasoning;
    });
    let options = ctx.options.get_untracked();
    spawn_local(async move {
        for _ in 0..100 {
            if ctx.save.settled() {
                break;
            }
            sleep(50).await;
        }
        start::reasoning(app, id, options);
    });
}

/// The stored run to show when no live run applies: the chosen one, else the latest.
async fn load_run(case_id: i64, chosen: Option<i64>) -> Result<Option<RunRecord>, api::ApiError> {
    let run_id = match chosen {
        Some(id) => Some(id),
        None => {
            let runs = api::runs::list(case_id).await?;
            runs.last().map(|r| r.id)
        }
    };
    match run_id {
        Some(id) => Ok(Some(api::runs::get(id).await?)),
        None => Ok(None),
    }
}

/// One part of the shown run, or its default when none is shown.
fn part<T>(shown: Memo<Option<RunView>>, f: fn(&RunView) -> T) -> Signal<T>
where
    T: Default + Send + Sync + 'static,
{
    Signal::derive(move || shown.with(|s| s.as_ref().map(f).unwrap_or_default()))
}

/// The Reasoning tab.
#[component]
pub fn ReasoningTab() -> impl IntoView {
    let app = use_app();
    let ctx = use_case();
    let case_id = ctx.id.get_untracked().unwrap_or_default();
    let chosen = Memo::new(move |_| app.case.with(|c| c.run));
    let live = Memo::new(move |_| app.live.with(|m| m.get(&case_id).cloned()));
    let stored = RwSignal::new(None::<RunRecord>);
    Effect::new(move |_| {
        let chosen = chosen.get();
        let live_id = live.with_untracked(|l| l.as_ref().map(|l| l.run_id));
        let needs_load = match (chosen, live_id) {
            (Some(id), Some(live_id)) => live_id != Some(id),
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if needs_load {
            spawn_local(async move {
                match load_run(case_id, chosen).await {
                    Ok(run) => {
                        stored.try_set(run);
                    }
                    Err(err) => app.report(err),
                }
            });
        }
    });
    let shown = Memo::new(move |_| {
        let live = live.get();
        let use_live = match (&live, chosen.get()) {
            (Some(l), Some(id)) => l.run_id == Some(id),
            (Some(_), None) => true,
            (None, _) => false,
        };
        match live {
            Some(l) if use_live => Some(RunView::from_live(&l)),
            _ => stored.get().as_ref().map(RunView::from_record),
        }
    });
    let active = Memo::new(move |_| live.with(|l| l.as_ref().is_some_and(LiveRun::active)));
    SelectedFinding::provide();
    let case_input = Signal::derive(move || ctx.draft.with(|d| Some(d.to_input())));
    let mentions = Signal::derive(move || {
        let mut all: Vec<CaseQuote> = Vec::new();
        shown.with(|s| {
            for quote in s
                .iter()
                .flat_map(|s| s.steps.iter().flat_map(|step| &step.mentions))
            {
                if !all.contains(quote) {
                    all.push(quote.clone());
                }
            }
        });
        all
    });

    view! {
        <div class="reasoning">
            <RunControls active=active/>
            <RunStatus shown=shown/>
            <div class="run-body">
                <div class="run-main">
                    <Answer outcome=part(shown, |s| s.outcome.clone()) id="answer"/>
                    <Timeline steps=part(shown, |s| s.steps.clone()) id="timeline"/>
                    <Show when=move || active.get()>
                        <div class="live-wrap">
                            <h4>"Writing…"</h4>
                            <div id="live-text" class="live-text" aria-live="off">
                                <div class="live-inner">{move || shown.with(|s| s.as_ref().map(|s| s.tail.clone()).unwrap_or_default())}</div>
                            </div>
                        </div>
                    </Show>
                    <RawText raw=part(shown, |s| s.raw.clone())/>
                </div>
                <aside class="run-side">
                    <CodedDifferential entries=part(shown, |s| s.coded.clone()) id="coded-differential"/>
                    <Show when=move || shown.with(|s| s.as_ref().is_none_or(|s| s.coded.is_empty()))>
                        <Differential entries=part(shown, |s| s.differential.clone()) id="differential"/>
                    </Show>
                    <CaseText input=case_input mentions=mentions/>
                </aside>
            </div>
        </div>
    }
}

/// Reasoning options with the Reason and Stop buttons.
#[component]
fn RunControls(active: Memo<bool>) -> impl IntoView {
    let app = use_app();
    let ctx = use_case();
    let options = ctx.options;
    view! {
        <div class="run-controls">
            <label class="check">
                <input
                    id="guided-switch"
                    type="checkbox"
                    prop:checked=move || options.with(|o| o.guided)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        options.update(|o| o.guided = on);
                    }
                />
                "Guided mode"
            </label>
            <NumberField
                id="max-tokens"
                label="Max tokens"
                min="1"
                step="1"
                get=move || options.with(|o| o.max_new_tokens)
                set=move |n: u32| options.update(|o| o.max_new_tokens = n.max(1))
            />
            <NumberField
                id="temperature"
                label="Temperature"
                min="0"
                max="2"
                step="0.05"
                get=move || options.with(|o| o.temperature)
                set=move |t: f64| options.update(|o| o.temperature = t.clamp(0.0, 2.0))
            />
            <NumberField
                id="seed"
                label="Seed"
                min="0"
                step="1"
                get=move || options.with(|o| o.seed)
                set=move |seed: u64| options.update(|o| o.seed = seed)
            />
            <EnginePicker
                id="run-engine"
                selected=Signal::derive(move || options.with(|o| o.engine.clone()))
                on_change=Callback::new(move |engine| options.update(|o| o.engine = engine))
            />
            <div class="spacer"></div>
            <button
                id="reason-button"
                title="Reason (Ctrl+Enter)"
                disabled=move || active.get() || ctx.id.get().is_none()
                on:click=move |_| reason_now(app, ctx)
            >
                "Reason"
            </button>
            <button
                id="stop-button"
                class="secondary"
                disabled=move || !active.get()
                on:click=move |_| {
                    if let Some(id) = ctx.id.get_untracked() {
                        start::stop_reasoning(app, id);
                    }
                }
            >
                "Stop"
            </button>
        </div>
    }
}

/// The status line: state, guided stage, speed and elapsed time.
#[component]
fn RunStatus(shown: Memo<Option<RunView>>) -> impl IntoView {
    view! {
        <div class="run-status-bar">
            <span
                id="run-status"
                class="status-pill"
                data-status=part(shown, |s| s.status.clone())
                role="status"
            >
                {move || shown.with(|s| s.as_ref().map_or_else(|| "No runs yet".to_string(), |s| s.status_text.clone()))}
            </span>
            <span id="current-stage" class="stage-now">
                {part(shown, |s| s.stage.as_deref().filter(|_| s.active).map(|st| format!("Stage: {}", crate::components::run_parts::stage_label(st))).unwrap_or_default())}
            </span>
            <progress
                class="load-progress"
                max="1"
                value=move || shown.with(|s| s.as_ref().and_then(|s| s.loading).unwrap_or(0.0))
                class:hidden=move || shown.with(|s| s.as_ref().and_then(|s| s.loading).is_none())
            ></progress>
            <span class="spacer"></span>
            <span id="run-model" class="muted model-name">{part(shown, |s| s.model_name.clone())}</span>
            <span id="tokens-per-second" class="metric">{part(shown, |s| format::rate(s.tokens, s.seconds))}</span>
            <span id="elapsed" class="metric">{part(shown, |s| format::elapsed(s.seconds))}</span>
            <span class="run-error">{part(shown, |s| s.error.clone().unwrap_or_default())}</span>
        </div>
    }
}

/// The raw model text, one click away.
#[component]
fn RawText(raw: Signal<String>) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <div class="raw">
            <button
                id="raw-toggle"
                class="link"
                aria-expanded=move || open.get().to_string()
                aria-controls="raw-text"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || if open.get() { "Hide raw model text" } else { "Show raw model text" }}
            </button>
            <Show when=move || open.get()>
                <pre id="raw-text" class="raw-text">{move || raw.get()}</pre>
            </Show>
        </div>
    }
}

/// A labelled number input: shows `get()`, and hands a value that parses to `set` when the
/// field changes (text that does not parse is left for the user to correct).
#[component]
fn NumberField<T, G, S>(
    id: &'static str,
    label: &'static str,
    min: &'static str,
    #[prop(optional)] max: Option<&'static str>,
    step: &'static str,
    get: G,
    set: S,
) -> impl IntoView
where
    T: std::str::FromStr + ToString + 'static,
    G: Fn() -> T + Send + Sync + 'static,
    S: Fn(T) + Send + Sync + 'static,
{
    view! {
        <label class="inline">
            {label}
            <input
                id=id
                type="number"
                min=min
                max=max
                step=step
                prop:value=move || get().to_string()
                on:change=move |ev| {
                    if let Ok(value) = event_target_value(&ev).trim().parse::<T>() {
                        set(value);
                    }
                }
            />
        </label>
    }
}
