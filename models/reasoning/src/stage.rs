//! Deterministic stage labelling of a reasoning step from its heading and its wording.
//!
//! Rules, in order:
//! 1. a heading naming a stage decides (`Conclusion`, `Differential Diagnosis`, `Option A`,
//!    `Key Findings`…), checked Conclusion → Reflection → Testing → Hypotheses → management
//!    words (`Management`, `Next steps`: Conclusion) → Findings;
//! 2. the opening words decide for reflection (`Alternatively`, `But maybe`, `Wait`, `However`…),
//!    conclusion (`Therefore`, `In summary`, `The most likely`…) and per-option analysis
//!    (`Option A`…);
//! 3. an explicit conclusion statement anywhere (`the answer is`, `most likely diagnosis is`…),
//!    outside sentences that restate the question;
//! 4. otherwise the stage whose cue phrases occur most often wins (ties: Hypotheses, Testing,
//!    Reflection, Findings);
//! 5. with no cue at all the first step is `Findings` and any later one `Testing`.
//!
//! All phrases match whole words, case-insensitively, with markdown emphasis ignored.

use super::text::{contains_phrase, phrase_positions, starts_with_phrase, strip_markdown};
use citrus_types::run::Stage;

/// Heading words naming a stage, in the order they are checked.
const TITLE_CUES: [(Stage, &[&str]); 6] = [
    (
        Stage::Conclusion,
        &[
            "conclusion",
            "conclusions",
            "final answer",
            "correct answer",
            "best answer",
            "final diagnosis",
            "most likely diagnosis",
            "in summary",
            "putting it all together",
            "putting it together",
            "bottom line",
            "final thoughts",
            "verdict",
        ],
    ),
    (
        Stage::Reflection,
        &[
            "reflection",
            "reflecting",
            "reconsider",
            "reconsidering",
            "reconsideration",
            "re-evaluation",
            "reevaluation",
            "re-evaluating",
            "second thought",
            "second thoughts",
            "double-check",
            "double check",
            "double-checking",
            "revisiting",
            "revisit",
            "sanity check",
            "caveats",
            "pitfalls",
        ],
    ),
    (
        Stage::Testing,
        &[
            "option",
            "options",
            "choice",
            "choices",
            "evaluation",
            "evaluating",
            "evaluate",
            "analysis",
            "analyzing",
            "analysing",
            "explanation",
            "explaining",
            "assessment",
            "assessing",
            "evidence",
            "supporting",
            "against",
            "test",
            "testing",
            "correlation",
            "correlating",
            "interpretation",
            "interpreting",
            "mechanism",
            "pathophysiology",
            "comparison",
            "comparing",
            "ruling out",
            "rule out",
            "excluding",
            "why not",
        ],
    ),
    (
        Stage::Hypotheses,
        &[
            "differential",
            "differentials",
            "possible",
            "potential",
            "probable",
            "suspected",
            "hypothesis",
            "hypotheses",
            "considerations",
            "possibilities",
            "alternative diagnoses",
            "alternative diagnosis",
            "causes",
            "etiology",
            "etiologies",
            "can't-miss",
            "cannot miss",
        ],
    ),
    (
        Stage::Conclusion,
        &[
            "management",
            "next step",
            "next steps",
            "plan",
            "recommendation",
            "recommendations",
            "decide",
            "decision",
            "disposition",
        ],
    ),
    (
        Stage::Findings,
        &[
            "findings",
            "finding",
            "presentation",
            "case summary",
            "clinical summary",
            "summary of",
            "overview",
            "history",
            "clinical signs",
            "signs",
            "symptoms",
            "key features",
            "key points",
            "key concepts",
            "principles",
            "case",
            "patient",
            "observations",
            "vital signs",
            "vitals",
            "labs",
            "laboratory",
            "information",
            "known",
            "data",
            "examination",
            "exam",
            "facts",
            "background",
            "scenario",
            "question",
        ],
    ),
];

/// Opening words of a reflection step.
const REFLECTION_OPENERS: &[&str] = &[
    "alternatively",
    "but maybe",
    "maybe",
    "wait",
    "but wait",
    "on second thought",
    "however",
    "hmm",
    "let me reconsider",
    "let's reconsider",
    "reconsidering",
    "actually",
    "then again",
    "but what about",
    "what about",
    "could it be",
    "on the other hand",
    "another possibility",
    "let me double-check",
    "let me double check",
];

/// Opening words of a conclusion step.
const CONCLUSION_OPENERS: &[&str] = &[
    "therefore",
    "thus",
    "hence",
    "so",
    "in summary",
    "in conclusion",
    "to summarize",
    "to conclude",
    "overall",
    "putting it all together",
    "putting this together",
    "taken together",
    "all things considered",
    "ultimately",
    "final answer",
    "the most likely",
    "the answer",
    "the correct answer",
    "the best answer",
];

/// Opening words of a per-option analysis.
const OPTION_OPENERS: &[&str] = &["option", "choice"];

/// Explicit conclusion statements, wherever they occur.
const CONCLUSION_STATEMENTS: &[&str] = &[
    "final answer",
    "the answer is",
    "correct answer is",
    "best answer is",
    "most likely diagnosis is",
    "is the most likely",
    "most likely answer",
    "in conclusion",
    "in summary",
];

/// Words marking a sentence that restates the question rather than answering it.
const QUESTION_MARKERS: &[&str] = &[
    "question",
    "asks",
    "asked",
    "need to determine",
    "we need to",
];

/// Cue phrases scored anywhere in the text, in tie-break order.
const SCORED_CUES: [(Stage, &[&str]); 4] = [
    (
        Stage::Hypotheses,
        &[
            "differential",
            "differentials",
            "possible diagnoses",
            "possibilities include",
            "possibilities are",
            "diagnoses include",
            "causes include",
            "possible causes",
            "potential causes",
            "considerations include",
            "should be considered",
            "must be considered",
            "consider",
            "could represent",
            "hypothesis",
            "hypotheses",
            "can't-miss",
            "cannot miss",
            "must not miss",
        ],
    ),
    (Stage::Testing, TESTING_CUES),
    (
        Stage::Reflection,
        &[
            "on second thought",
            "reconsider",
            "reconsidering",
            "alternatively",
            "but maybe",
            "double-check",
            "double check",
            "re-evaluate",
            "reevaluate",
            "re-examine",
            "revisit",
            "wait,",
        ],
    ),
    (
        Stage::Findings,
        &[
            "key findings",
            "key features",
            "presents with",
            "presenting with",
            "presented with",
            "clinical presentation",
            "the patient is a",
            "the patient presents",
            "summary of the case",
            "let's summarize",
            "let me summarize",
            "the question describes",
            "the case describes",
        ],
    ),
];

/// Phrases that test a hypothesis against the findings.
const TESTING_CUES: &[&str] = &[
    "consistent with",
    "inconsistent with",
    "does not explain",
    "doesn't explain",
    "would not explain",
    "wouldn't explain",
    "explains",
    "would explain",
    "supports",
    "supported by",
    "support this",
    "support the",
    "argues against",
    "argue against",
    "arguing against",
    "speaks against",
    "evidence for",
    "evidence against",
    "in favor of",
    "in favour of",
    "points toward",
    "points towards",
    "unlikely",
    "less likely",
    "more likely",
    "rules out",
    "ruled out",
    "typical of",
    "characteristic of",
    "classic for",
    "fits",
    "does not fit",
    "doesn't fit",
    "would expect",
    "would be expected",
    "is incorrect",
    "is correct",
    "can be excluded",
    "excludes",
];

/// Labels a step with its stage (see the module documentation for the rules).
pub fn classify_stage(title: Option<&str>, text: &str, is_first: bool) -> Stage {
    if let Some(stage) = title.and_then(stage_from_title) {
        return stage;
    }
    let prepared = prepare(text);
    let opening = opening_words(&prepared);
    let opens_with = |cues: &[&str]| cues.iter().any(|cue| starts_with_phrase(opening, cue));
    if opens_with(REFLECTION_OPENERS) {
        return Stage::Reflection;
    }
    if opens_with(CONCLUSION_OPENERS) {
        return Stage::Conclusion;
    }
    if opens_with(OPTION_OPENERS) {
        return Stage::Testing;
    }
    if states_conclusion(&prepared) {
        return Stage::Conclusion;
    }
    let mut best: Option<(Stage, usize)> = None;
    for (stage, cues) in SCORED_CUES {
        let score: usize = cues
            .iter()
            .map(|cue| phrase_positions(&prepared, cue).len())
            .sum();
        if score > 0 && best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((stage, score));
        }
    }
    match best {
        Some((stage, _)) => stage,
        None if is_first => Stage::Findings,
        None => Stage::Testing,
    }
}

/// The stage a heading names, if it names one.
pub(crate) fn stage_from_title(title: &str) -> Option<Stage> {
    let prepared = prepare(title);
    TITLE_CUES.iter().find_map(|(stage, cues)| {
        cues.iter()
            .any(|cue| contains_phrase(&prepared, cue))
            .then_some(*stage)
    })
}

/// Whether the text weighs a hypothesis against the findings (`consistent with`, `explains`,
/// `less likely`…).
pub(crate) fn has_testing_cue(text: &str) -> bool {
    let prepared = prepare(text);
    TESTING_CUES
        .iter()
        .any(|cue| contains_phrase(&prepared, cue))
}

/// Whether a line opens with a strong reflection or conclusion cue, so that it starts a new step
/// even without a blank line before it.
pub(crate) fn opens_new_thought(line: &str) -> bool {
    const STRONG_OPENERS: &[&str] = &[
        "alternatively",
        "but maybe",
        "wait",
        "but wait",
        "on second thought",
        "hmm",
        "let me reconsider",
        "let's reconsider",
        "therefore",
        "in summary",
        "in conclusion",
        "to summarize",
        "putting it all together",
    ];
    let prepared = prepare(line);
    let opening = opening_words(&prepared);
    STRONG_OPENERS
        .iter()
        .any(|cue| starts_with_phrase(opening, cue))
}

/// Markdown-free, ASCII-lower-cased text with typographic apostrophes made plain.
fn prepare(text: &str) -> String {
    strip_markdown(text)
        .replace('\u{2019}', "'")
        .to_ascii_lowercase()
}

/// The text from its first word on (skipping list markers, quotes, brackets and spaces).
fn opening_words(prepared: &str) -> &str {
    prepared.trim_start_matches(|c: char| !c.is_alphanumeric())
}

/// Whether a sentence that does not restate the question makes a conclusion statement.
fn states_conclusion(prepared: &str) -> bool {
    prepared
        .split_inclusive(['.', '?', '!', '\n'])
        .filter(|sentence| !sentence.trim_end().ends_with('?'))
        .filter(|sentence| {
            !QUESTION_MARKERS
                .iter()
                .any(|marker| contains_phrase(sentence, marker))
        })
        .any(|sentence| {
            CONCLUSION_STATEMENTS
                .iter()
                .any(|cue| contains_phrase(sentence, cue))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(title: Option<&str>, text: &str) -> Stage {
        classify_stage(title, text, false)
    }

    #[test]
    fn titles_decide_first() {
        assert_eq!(
            stage(Some("Conclusion"), "Alternatively x"),
            Stage::Conclusion
        );
        assert_eq!(stage(Some("Differential Diagnosis"), ""), Stage::Hypotheses);
        assert_eq!(
            stage(Some("Possible Tracheoesophageal Fistula"), ""),
            Stage::Hypotheses
        );
        assert_eq!(stage(Some("Explanation of Symptoms"), ""), Stage::Testing);
        assert_eq!(stage(Some("Option A: Aspirin"), ""), Stage::Testing);
        assert_eq!(
            stage(Some("Clinical Signs in the Infant"), ""),
            Stage::Findings
        );
        assert_eq!(
            stage(Some("Step 1: Identify key findings"), ""),
            Stage::Findings
        );
        assert_eq!(stage(Some("Reconsidering PE"), ""), Stage::Reflection);
        assert_eq!(stage(Some("Testing the Hypotheses"), ""), Stage::Testing);
        assert_eq!(
            stage(Some("Step 4: Decide on management"), ""),
            Stage::Conclusion
        );
        assert_eq!(
            stage(Some("Option B: Conservative management"), ""),
            Stage::Testing
        );
    }

    #[test]
    fn openers_decide_next() {
        assert_eq!(
            stage(None, "Alternatively, this could be PE."),
            Stage::Reflection
        );
        assert_eq!(
            stage(None, "**Wait**, the troponin is normal."),
            Stage::Reflection
        );
        assert_eq!(stage(None, "But maybe it is viral."), Stage::Reflection);
        assert_eq!(
            stage(None, "However, the rash argues against it."),
            Stage::Reflection
        );
        assert_eq!(stage(None, "On second thought, no."), Stage::Reflection);
        assert_eq!(
            stage(None, "Therefore, the answer is B."),
            Stage::Conclusion
        );
        assert_eq!(stage(None, "In summary, DKA."), Stage::Conclusion);
        assert_eq!(stage(None, "Option C: this is consistent."), Stage::Testing);
        assert_eq!(
            stage(None, "- Option D does not explain the rash."),
            Stage::Testing
        );
    }

    #[test]
    fn conclusion_statements_outside_question_restatements() {
        assert_eq!(
            stage(None, "Given all this, the most likely diagnosis is DKA."),
            Stage::Conclusion
        );
        assert_eq!(
            classify_stage(
                None,
                "The question asks which is the most likely diagnosis.",
                true
            ),
            Stage::Findings
        );
        assert_eq!(stage(None, "What is the final answer?"), Stage::Testing);
    }

    #[test]
    fn scored_cues_and_defaults() {
        assert_eq!(
            stage(None, "The differential includes MI and PE."),
            Stage::Hypotheses
        );
        assert_eq!(
            stage(None, "ST elevation is consistent with MI and supports it."),
            Stage::Testing
        );
        assert_eq!(
            classify_stage(None, "A 58-year-old man presents with chest pain.", false),
            Stage::Findings
        );
        assert_eq!(classify_stage(None, "Plain words.", true), Stage::Findings);
        assert_eq!(classify_stage(None, "Plain words.", false), Stage::Testing);
        assert_eq!(
            stage(
                None,
                "Considering the polyhydramnios, the fetus cannot swallow."
            ),
            Stage::Testing,
            "'considering' is not the cue 'consider'"
        );
    }

    #[test]
    fn helper_cues() {
        assert!(has_testing_cue("This **explains** the rash"));
        assert!(!has_testing_cue("A rash"));
        assert!(opens_new_thought("Therefore, B."));
        assert!(opens_new_thought("  **Wait** — no"));
        assert!(!opens_new_thought("However, mild."));
        assert_eq!(stage_from_title("Acute Coronary Syndrome"), None);
    }
}
