//! Findings linked to the case: each step lists the case spans it quotes or mentions, and the
//! case beside the timeline marks them; hovering or selecting one highlights it in the case.

use leptos::prelude::*;

use crate::types::{marked_segments, CaseInput, CaseQuote};

/// The finding selected in the timeline, shared by the steps and the case panel.
#[derive(Clone, Copy)]
pub struct SelectedFinding(pub RwSignal<Option<CaseQuote>>);

impl SelectedFinding {
    /// A new selection, provided to the components below.
    pub fn provide() -> Self {
        let selected = Self(RwSignal::new(None));
        provide_context(selected);
        selected
    }
}

/// The case spans one step mentions, as buttons that highlight them in the case.
#[component]
pub fn StepMentions(
    /// The spans.
    mentions: Vec<CaseQuote>,
) -> impl IntoView {
    let selected = use_context::<SelectedFinding>();
    (!mentions.is_empty()).then(|| {
        view! {
            <ul class="step-mentions" aria-label="Case findings this step uses">
                {mentions
                    .into_iter()
                    .map(|quote| {
                        let label = CaseInput::field_label(&quote.field);
                        let show = {
                            let quote = quote.clone();
                            move || {
                                if let Some(SelectedFinding(signal)) = selected {
                                    signal.set(Some(quote.clone()));
                                }
                            }
                        };
                        let (on_hover, on_focus, on_click) = (show.clone(), show.clone(), show);
                        let is_selected = {
                            let quote = quote.clone();
                            move || {
                                selected.is_some_and(|SelectedFinding(s)| {
                                    s.with(|s| s.as_ref() == Some(&quote))
                                })
                            }
                        };
                        view! {
                            <li>
                                <button
                                    class="finding-link"
                                    class:selected=is_selected
                                    data-field=quote.field.clone()
                                    data-start=quote.start
                                    data-end=quote.end
                                    title=format!("{label}, characters {}–{}", quote.start, quote.end)
                                    on:mouseenter=move |_| on_hover()
                                    on:focus=move |_| on_focus()
                                    on:click=move |_| on_click()
                                >
                                    <q>{quote.text.clone()}</q>
                                    <span class="finding-field">{label}</span>
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

/// The case's quotable fields, with the run's mentioned spans marked and the selected finding
/// highlighted.
#[component]
pub fn CaseText(
    /// The case reasoned on.
    #[prop(into)]
    input: Signal<Option<CaseInput>>,
    /// Every span the run's steps mention.
    #[prop(into)]
    mentions: Signal<Vec<CaseQuote>>,
) -> impl IntoView {
    let selected = use_context::<SelectedFinding>();
    view! {
        <div class="case-text panel" id="case-text">
            <h4>"Case"</h4>
            {move || {
                let Some(input) = input.get() else {
                    return view! { <p class="muted">"The case is not saved yet."</p> }.into_any();
                };
                let mentions = mentions.get();
                let chosen = selected.and_then(|SelectedFinding(s)| s.get());
                input
                    .quotable_fields()
                    .into_iter()
                    .map(|(field, text)| {
                        let pieces = marked_segments(field, text, &mentions, chosen.as_ref());
                        view! {
                            <div class="case-field" data-field=field>
                                <span class="case-field-label">{CaseInput::field_label(field)}</span>
                                <p>
                                    {pieces
                                        .into_iter()
                                        .map(|piece| match (piece.selected, piece.mentioned) {
                                            (true, _) => view! { <mark class="case-highlight">{piece.text}</mark> }.into_any(),
                                            (false, true) => view! { <mark class="case-mention">{piece.text}</mark> }.into_any(),
                                            _ => piece.text.into_any(),
                                        })
                                        .collect_view()}
                                </p>
                            </div>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </div>
    }
}
