//! The case editor: clinical fields or an exam item, autosaved.

use leptos::prelude::*;

use super::context::use_case;
use crate::draft::{letter, FieldSpec, CLINICAL_FIELDS, EXAM_FIELDS};

/// The Case tab.
#[component]
pub fn Editor() -> impl IntoView {
    let ctx = use_case();
    let is_exam = Memo::new(move |_| ctx.draft.with(|d| d.kind == "exam"));
    view! {
        <div class="editor">
            <div class="save-line">
                <span id="save-status" role="status" aria-live="polite">{move || ctx.save.status.get()}</span>
            </div>
            {move || {
                if !ctx.loaded.get() {
                    return view! { <p class="muted">"Loading the case…"</p> }.into_any();
                }
                if is_exam.get() {
                    view! { <ExamFields/> }.into_any()
                } else {
                    view! { <div class="field-grid">{CLINICAL_FIELDS.iter().map(text_field).collect_view()}</div> }
                        .into_any()
                }
            }}
        </div>
    }
}

/// A labelled input or textarea bound to one draft field.
fn text_field(spec: &'static FieldSpec) -> impl IntoView {
    let ctx = use_case();
    let name = spec.name;
    let id = format!("field-{name}");
    let value = move || ctx.draft.with(|d| d.get(name));
    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        ctx.save.edit(|d| {
            d.fields.insert(name.to_string(), text);
        });
    };
    let control = if spec.multiline {
        view! { <textarea id=id.clone() rows="3" prop:value=value on:input=on_input></textarea> }
            .into_any()
    } else {
        view! { <input id=id.clone() type="text" prop:value=value on:input=on_input/> }.into_any()
    };
    let class = if spec.multiline {
        "field wide"
    } else {
        "field"
    };
    let required = name == "chief_complaint" || name == "question";
    view! {
        <div class=class>
            <label for=id>{spec.label}{required.then_some(" *")}</label>
            {control}
        </div>
    }
}

/// The exam item's question, context, options and answer key.
#[component]
fn ExamFields() -> impl IntoView {
    let ctx = use_case();
    let count = Memo::new(move |_| ctx.draft.with(|d| d.options.len()));
    let answer_key = move || ctx.draft.with(|d| d.answer_key.clone());
    view! {
        <div class="field-grid">
            {EXAM_FIELDS.iter().map(text_field).collect_view()}
            <fieldset class="field wide options">
                <legend>"Options (optional — leave empty for an open question)"</legend>
                <ol class="option-list">
                    {move || (0..count.get()).map(|index| view! { <OptionRow index=index/> }).collect_view()}
                </ol>
                <button id="add-option" class="secondary" on:click=move |_| ctx.save.edit(|d| d.options.push(String::new()))>
                    "Add option"
                </button>
            </fieldset>
            <div class="field">
                <label for="field-answer_key">"Answer key"</label>
                <select
                    id="field-answer_key"
                    on:change=move |ev| {
                        let key = event_target_value(&ev);
                        ctx.save.edit(|d| d.answer_key = key);
                    }
                >
                    <option value="" selected=move || answer_key().is_empty()>"None"</option>
                    {move || {
                        (0..count.get())
                            .map(|i| {
                                let l = letter(i);
                                let this = l.clone();
                                let text = l.clone();
                                view! { <option value=l selected=move || answer_key() == this>{text}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </div>
        </div>
    }
}

/// One lettered option input with its remove button.
#[component]
fn OptionRow(index: usize) -> impl IntoView {
    let ctx = use_case();
    let id = format!("option-{}", letter(index));
    view! {
        <li class="option-row">
            <label class="option-letter" for=id.clone()>{letter(index)}</label>
            <input
                id=id
                class="option-text"
                type="text"
                data-letter=letter(index)
                prop:value=move || ctx.draft.with(|d| d.options.get(index).cloned().unwrap_or_default())
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    ctx.save.edit(|d| {
                        if let Some(slot) = d.options.get_mut(index) {
                            *slot = text;
                        }
                    });
                }
            />
            <button
                class="remove-option icon-button"
                aria-label=format!("Remove option {}", letter(index))
                on:click=move |_| ctx.save.edit(|d| d.remove_option(index))
            >
                "Remove"
            </button>
        </li>
    }
}
