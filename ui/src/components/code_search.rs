//! A diagnosis typed with ICD-10-CM suggestions: as the words (or the start of a code) are
//! typed, matching entries are offered; choosing one sets the code and the table's title, and
//! typing on leaves free text without a code.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::errors;
use citrus_types::vocabulary::CodeEntry;

/// Suggestions shown at once.
const SUGGESTIONS: usize = 8;
/// Characters typed before suggestions are asked for.
const LEAST_TYPED: usize = 2;

/// A text field for a diagnosis with type-ahead ICD-10-CM suggestions.
#[component]
pub fn CodeTypeAhead(
    /// The diagnosis as typed (the table's title once an entry is chosen).
    text: RwSignal<String>,
    /// The chosen entry's code; None for free text.
    code: RwSignal<Option<String>>,
    /// The input's element id.
    id: &'static str,
) -> impl IntoView {
    let suggestions = RwSignal::new(Vec::<CodeEntry>::new());
    let message = RwSignal::new(String::new());
    // Answers to earlier keystrokes that arrive late are dropped.
    let asked = RwSignal::new(0u32);
    let on_input = move |ev| {
        let typed = event_target_value(&ev);
        text.set(typed.clone());
        code.set(None);
        let n = asked.get_untracked() + 1;
        asked.set(n);
        if typed.trim().chars().count() < LEAST_TYPED {
            suggestions.set(Vec::new());
            return;
        }
        spawn_local(async move {
            let found = api::reviews::search_codes(&typed, SUGGESTIONS).await;
            if asked.get_untracked() != n {
                return;
            }
            match found {
                Ok(list) => {
                    message.try_set(String::new());
                    suggestions.try_set(list);
                }
                Err(err) => {
                    message.try_set(errors::describe(&err));
                    suggestions.try_set(Vec::new());
                }
            }
        });
    };
    let choose = move |entry: CodeEntry| {
        text.set(entry.title.clone());
        code.set(Some(entry.code));
        suggestions.set(Vec::new());
    };
    view! {
        <div class="code-typeahead">
            <input
                id=id
                type="text"
                autocomplete="off"
                role="combobox"
                aria-autocomplete="list"
                aria-controls=format!("{id}-suggestions")
                aria-expanded=move || (!suggestions.with(Vec::is_empty)).to_string()
                placeholder="Type a diagnosis or an ICD-10-CM code"
                prop:value=move || text.get()
                on:input=on_input
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        suggestions.set(Vec::new());
                    }
                }
            />
            <span class="code-chosen" data-code=move || code.get().unwrap_or_default()>
                {move || match code.get() {
                    Some(code) => format!("ICD-10-CM {code}"),
                    None if text.with(|t| t.trim().is_empty()) => String::new(),
                    None => "Free text, no code".to_string(),
                }}
            </span>
            <ul class="code-suggestions" id=format!("{id}-suggestions") role="listbox">
                {move || suggestions.get().into_iter().map(|entry| {
                    let chosen = entry.clone();
                    view! {
                        <li role="option">
                            <button type="button" class="code-suggestion" data-code=entry.code.clone() on:click=move |_| choose(chosen.clone())>
                                <span class="code">{entry.code.clone()}</span>
                                <span class="code-title">{entry.title.clone()}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <span class="muted code-message">{move || message.get()}</span>
        </div>
    }
}
