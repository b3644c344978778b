//! The differential as ICD-10-CM entries: each diagnosis's code and the table's title, how
//! likely the reasoning judged it, whether it must not be missed, and the case's findings for and
//! against it (linked to the case like a step's); free-text diagnoses that map to no entry are
//! shown uncoded, with the reason.

use leptos::prelude::*;

use super::case_quotes::StepMentions;
use citrus_types::vocabulary::{CodedDiagnosis, ICD10_RELEASE};

/// The coded differential of a run.
#[component]
pub fn CodedDifferential(
    /// The coded diagnoses.
    #[prop(into)]
    entries: Signal<Vec<CodedDiagnosis>>,
    /// The element id, for the main view only.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    view! {
        <Show when=move || !entries.with(Vec::is_empty)>
            <div class="coded-differential panel" id=id>
                <h4>"Differential (ICD-10-CM)"</h4>
                <table>
                    <thead>
                        <tr>
                            <th>"Code"</th>
                            <th>"Diagnosis"</th>
                            <th>"Likelihood"</th>
                            <th>"Findings for"</th>
                            <th>"Findings against"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || entries.get().into_iter().map(row).collect_view()}
                    </tbody>
                </table>
                <p class="muted small">{format!("Codes from {ICD10_RELEASE}. Decision support, not a diagnosis.")}</p>
            </div>
        </Show>
    }
}

/// One diagnosis as a table row.
fn row(entry: CodedDiagnosis) -> impl IntoView {
    let code = entry.code.clone().unwrap_or_default();
    let coded = entry.code.is_some();
    let shown_code = if coded { code.clone() } else { "—".into() };
    let title = match (&entry.diagnosis, &entry.uncoded) {
        (Some(title), _) => title.clone(),
        (None, reason) => format!(
            "{} — uncoded: {}",
            entry.written,
            reason.as_deref().unwrap_or("no entry")
        ),
    };
    // A free run's text mapped by words: say how close the match is, and what was written.
    let matched = entry
        .confidence
        .filter(|c| *c < 1.0)
        .map(|c| format!("“{}”, {:.0}% of words matched", entry.written, c * 100.0));
    view! {
        <tr
            class="coded-entry"
            class:uncoded=!coded
            class:concluded=entry.concluded
            data-code=code
            data-cant-miss=entry.cant_miss.is_some().to_string()
        >
            <td class="code">{shown_code}</td>
            <td class="coded-title">
                <span>{title}</span>
                {entry.cant_miss.clone().map(|condition| view! {
                    <span class="badge cant-miss" title=format!("Must not be missed: {condition}")>"Can't miss"</span>
                })}
                {entry.added_by_check.then(|| view! {
                    <span class="badge checked" title="The presentation fits this can't-miss condition: the app had it tested, though the model had not named it">"Checked for safety"</span>
                })}
                {entry.concluded.then(|| view! { <span class="badge concluded">"Conclusion"</span> })}
                {matched.map(|text| view! { <div class="muted small">{text}</div> })}
            </td>
            <td class="likelihood">{entry.likelihood.clone().unwrap_or_default()}</td>
            <td><StepMentions mentions=entry.supporting.clone()/></td>
            <td><StepMentions mentions=entry.against.clone()/></td>
        </tr>
    }
}
