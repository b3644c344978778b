//! Diagnoses that must not be missed in an undifferentiated presentation, as ICD-10-CM code
//! prefixes. Source: the list of issue #31 of this project (acute coronary syndrome, pulmonary
//! embolism, aortic dissection, sepsis, meningitis, subarachnoid haemorrhage, ectopic
//! pregnancy, testicular and ovarian torsion, appendicitis, tension pneumothorax), each mapped
//! by the Citrus Workstation team to the FY2025 table's categories whose titles name it. It is
//! not taken from a published guideline; review it clinically before relying on it.

/// Code prefixes (with their dots) and the condition each belongs to.
const CANT_MISS: [(&str, &str); 19] = [
    ("I20.0", "acute coronary syndrome"),
    ("I21", "acute coronary syndrome"),
    ("I22", "acute coronary syndrome"),
    ("I24", "acute coronary syndrome"),
    ("I26", "pulmonary embolism"),
    ("I71.0", "aortic dissection"),
    ("A40", "sepsis"),
    ("A41", "sepsis"),
    ("R65.2", "sepsis"),
    ("A39.0", "meningitis"),
    ("G00", "meningitis"),
    ("G01", "meningitis"),
    ("G03", "meningitis"),
    ("I60", "subarachnoid haemorrhage"),
    ("O00", "ectopic pregnancy"),
    ("N44.0", "testicular torsion"),
    ("N83.5", "ovarian torsion"),
    ("K35", "appendicitis"),
    ("J93.0", "tension pneumothorax"),
];

/// The can't-miss condition `code` (with its dot) belongs to, if any.
pub fn cant_miss(code: &str) -> Option<&'static str> {
    CANT_MISS
        .iter()
        .find(|(prefix, _)| code.starts_with(prefix))
        .map(|(_, condition)| *condition)
}

/// Every listed prefix, for checking them against the table.
pub fn cant_miss_prefixes() -> impl Iterator<Item = &'static str> {
    CANT_MISS.iter().map(|(prefix, _)| *prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_under_a_listed_prefix_are_flagged() {
        assert_eq!(cant_miss("I21.19"), Some("acute coronary syndrome"));
        assert_eq!(cant_miss("K35.80"), Some("appendicitis"));
        assert_eq!(cant_miss("I20.9"), None);
        assert_eq!(cant_miss("J18.9"), None);
    }
}
