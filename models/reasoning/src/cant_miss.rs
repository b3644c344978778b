//! Diagnoses that must not be missed in an undifferentiated presentation: each condition's
//! ICD-10-CM code prefixes, the entry a guided run tests when a case's presentation fits it, and
//! the presentations that make it fit.
//!
//! Source: the list of issue #31 of this project (acute coronary syndrome, pulmonary embolism,
//! aortic dissection, sepsis, meningitis, subarachnoid haemorrhage, ectopic pregnancy,
//! testicular and ovarian torsion, appendicitis, tension pneumothorax), each mapped by the
//! Citrus Workstation team to the FY2025 table's categories whose titles name it, with the
//! textbook presenting complaints of each. It is not taken from a published guideline; review
//! it clinically before relying on it.

/// A condition that must not be missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CantMiss {
    /// The condition, in words.
    pub condition: &'static str,
    /// The ICD-10-CM code prefixes (with their dots) that belong to it.
    pub prefixes: &'static [&'static str],
    /// The entry (with its dot) a guided run tests when a case's presentation fits.
    pub consider: &'static str,
    /// Presentations that make a case fit: each a set of words that must all appear in the
    /// case (lower case, matched at the start of a word).
    pub presentations: &'static [&'static [&'static str]],
}

const CHEST_PAIN: &[&str] = &["chest pain"];

/// The conditions, in the order a guided run considers them.
pub const CANT_MISS: [CantMiss; 11] = [
    CantMiss {
        condition: "acute coronary syndrome",
        prefixes: &["I20.0", "I21", "I22", "I24"],
        consider: "I21",
        presentations: &[
            CHEST_PAIN,
            &["chest pressure"],
            &["chest tightness"],
            &["chest discomfort"],
            &["substernal"],
            &["retrosternal"],
            &["troponin"],
            &["st elevation"],
            &["st depression"],
        ],
    },
    CantMiss {
        condition: "pulmonary embolism",
        prefixes: &["I26"],
        consider: "I26.9",
        presentations: &[
            CHEST_PAIN,
            &["pleuritic"],
            &["dyspnea"],
            &["dyspnoea"],
            &["shortness of breath"],
            &["short of breath"],
            &["hemoptysis"],
            &["haemoptysis"],
            &["hypoxia"],
            &["hypoxemia"],
            &["syncope"],
        ],
    },
    CantMiss {
        condition: "aortic dissection",
        prefixes: &["I71.0"],
        consider: "I71.0",
        presentations: &[
            CHEST_PAIN,
            &["tearing"],
            &["ripping"],
            &["back pain", "hypertension"],
            &["pulse deficit"],
            &["widened mediastinum"],
        ],
    },
    CantMiss {
        condition: "sepsis",
        prefixes: &["A40", "A41", "R65.2"],
        consider: "A41.9",
        presentations: &[
            &["fever"],
            &["febrile"],
            &["rigors"],
            &["hypotension"],
            &["hypotensive"],
            &["lactate"],
        ],
    },
    CantMiss {
        condition: "meningitis",
        prefixes: &["A39.0", "G00", "G01", "G03"],
        consider: "G03.9",
        presentations: &[
            &["neck stiffness"],
            &["stiff neck"],
            &["nuchal rigidity"],
            &["photophobia"],
            &["kernig"],
            &["brudzinski"],
            &["headache", "fever"],
        ],
    },
    CantMiss {
        condition: "subarachnoid haemorrhage",
        prefixes: &["I60"],
        consider: "I60.9",
        presentations: &[
            &["thunderclap"],
            &["worst headache"],
            &["sudden", "headache"],
            &["headache", "neck stiffness"],
        ],
    },
    CantMiss {
        condition: "ectopic pregnancy",
        prefixes: &["O00"],
        consider: "O00.9",
        presentations: &[
            &["pelvic pain"],
            &["vaginal bleeding"],
            &["amenorrh"],
            &["missed period"],
            &["pregnancy test"],
            &["hcg"],
            &["abdominal pain", "woman"],
            &["abdominal pain", "female"],
        ],
    },
    CantMiss {
        condition: "testicular torsion",
        prefixes: &["N44.0"],
        consider: "N44.0",
        presentations: &[
            &["testic", "pain"],
            &["scrot", "pain"],
            &["scrot", "swelling"],
        ],
    },
    CantMiss {
        condition: "ovarian torsion",
        prefixes: &["N83.5"],
        consider: "N83.5",
        presentations: &[
            &["pelvic pain"],
            &["adnexal"],
            &["lower abdominal pain", "woman"],
            &["lower abdominal pain", "female"],
        ],
    },
    CantMiss {
        condition: "appendicitis",
        prefixes: &["K35"],
        consider: "K35",
        presentations: &[
            &["right lower quadrant"],
            &["periumbilical"],
            &["mcburney"],
            &["rebound"],
            &["abdominal pain"],
        ],
    },
    CantMiss {
        condition: "tension pneumothorax",
        prefixes: &["J93.0"],
        consider: "J93.0",
        presentations: &[
            &["absent breath sounds"],
            &["decreased breath sounds"],
            &["diminished breath sounds"],
            &["tracheal deviation"],
            &["hyperresonan"],
            &["pneumothorax"],
        ],
    },
];

/// The can't-miss condition `code` (with its dot) belongs to, if any.
pub fn cant_miss(code: &str) -> Option<&'static str> {
    CANT_MISS
        .iter()
        .find(|c| c.prefixes.iter().any(|prefix| code.starts_with(prefix)))
        .map(|c| c.condition)
}

/// Every listed prefix and entry to consider, for checking them against the table.
pub fn cant_miss_codes() -> impl Iterator<Item = &'static str> {
    CANT_MISS.iter().flat_map(|c| {
        c.prefixes
            .iter()
            .copied()
            .chain(std::iter::once(c.consider))
    })
}

/// The conditions whose presentation `case_text` shows, in the list's order.
pub fn fitting_cant_miss(case_text: &str) -> Vec<&'static CantMiss> {
    let text = case_text.to_lowercase();
    CANT_MISS
        .iter()
        .filter(|c| {
            c.presentations
                .iter()
                .any(|words| words.iter().all(|w| has_word_starting(&text, w)))
        })
        .collect()
}

/// Whether `text` holds `word` at the start of a word.
fn has_word_starting(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(text: &str) -> Vec<&'static str> {
        fitting_cant_miss(text)
            .iter()
            .map(|c| c.condition)
            .collect()
    }

    #[test]
    fn codes_under_a_listed_prefix_are_flagged() {
        assert_eq!(cant_miss("I21.19"), Some("acute coronary syndrome"));
        assert_eq!(cant_miss("K35.80"), Some("appendicitis"));
        assert_eq!(cant_miss("I20.9"), None);
        assert_eq!(cant_miss("J18.9"), None);
    }

    #[test]
    fn the_entry_considered_belongs_to_its_condition() {
        for c in &CANT_MISS {
            assert_eq!(cant_miss(c.consider), Some(c.condition), "{}", c.consider);
        }
    }

    #[test]
    fn presentations_fit_the_conditions_they_suggest() {
        assert_eq!(
            conditions("Crushing substernal chest pain for 45 minutes. Troponin 2.4."),
            [
                "acute coronary syndrome",
                "pulmonary embolism",
                "aortic dissection"
            ]
        );
        assert_eq!(
            conditions("Fever, severe headache and neck stiffness since this morning."),
            ["sepsis", "meningitis", "subarachnoid haemorrhage"]
        );
        assert_eq!(
            conditions("A 16-year-old with sudden left testicular pain."),
            ["testicular torsion"]
        );
        assert!(conditions("Pruritic rash on both forearms for a week.").is_empty());
        // Words count at their start only: "prefever" is no fever.
        assert!(conditions("prefever").is_empty());
    }
}
