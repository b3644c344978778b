//! ICD-10-CM as the app keeps it: built from the release setup installs (its `cm_codes`
//! table), every code there, searched by words and by code, rebuilt only when missing.

mod common;

use std::time::Instant;

use citrus_host::home::{vocabulary_dir, ICD10_SOURCE_FILE};
use citrus_reasoning::cant_miss_codes;
use citrus_workstation::vocabulary::Vocabulary;
use common::{run_citrus, text, TempDir};

#[test]
fn the_release_is_built_once_and_searched_by_words_and_codes() {
    let source = vocabulary_dir().join(ICD10_SOURCE_FILE);
    assert!(
        source.exists(),
        "{} is missing: run scripts/setup",
        source.display()
    );
    let dir = TempDir::new("vocabulary");
    let path = dir.0.join("vocabulary.db");
    let started = Instant::now();
    let vocabulary = Vocabulary::open_or_build(&source, &path).unwrap();
    eprintln!("built in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(
        vocabulary.release().unwrap(),
        ("ICD-10-CM FY2025".to_string(), 97_584)
    );

    let stemi = vocabulary.lookup("i21.19").unwrap().unwrap();
    assert_eq!(stemi.code, "I21.19");
    assert!(stemi.title.contains("inferior wall"), "{stemi:?}");
    assert!(stemi.billable);
    assert_eq!(vocabulary.lookup("X99.999").unwrap(), None);

    let appendicitis = vocabulary.search("acute appendicitis", 5).unwrap();
    assert!(
        appendicitis.iter().all(|e| e.code.starts_with("K35")),
        "{appendicitis:?}"
    );
    // Type-ahead: the last word is a prefix; broader codes first among equals.
    let embolism = vocabulary.search("pulmonary embol", 10).unwrap();
    assert!(
        embolism.iter().any(|e| e.code.starts_with("I26")),
        "{embolism:?}"
    );
    let by_code = vocabulary.search("I21.1", 10).unwrap();
    assert_eq!(by_code[0].code, "I21.1");
    assert!(by_code.iter().all(|e| e.code.starts_with("I21.1")));
    assert!(vocabulary.search("zzzqqq", 5).unwrap().is_empty());
    // Every can't-miss prefix is an entry of this release.
    for prefix in cant_miss_codes() {
        assert!(vocabulary.lookup(prefix).unwrap().is_some(), "{prefix}");
    }
    drop(vocabulary);

    // Opened again: not rebuilt.
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    Vocabulary::open_or_build(&source, &path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );

    // A missing release is a coded error, not a crash or an empty vocabulary.
    let missing = Vocabulary::open_or_build(&dir.0.join("none.db"), &dir.0.join("v2.db"))
        .err()
        .unwrap();
    assert_eq!(missing.code(), "vocabulary.missing");
}

#[test]
fn the_command_line_searches_the_installed_vocabulary() {
    let found = run_citrus(&[
        "codes",
        "search",
        "subarachnoid",
        "hemorrhage",
        "--limit",
        "3",
    ]);
    assert!(found.status.success(), "{}", text(&found.stderr));
    let out = text(&found.stdout);
    // The category of the title's words first (traumatic haemorrhage, S06.6, after it).
    assert!(out.starts_with("I60 "), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(text(&found.stderr).contains("ICD-10-CM FY2025"));
    let shown = run_citrus(&["codes", "show", "K3580"]);
    assert!(
        text(&shown.stdout).starts_with("K35.80"),
        "{}",
        text(&shown.stdout)
    );
}

#[test]
fn free_text_diagnoses_are_coded_or_left_uncoded_never_guessed() {
    use citrus_types::vocabulary::Coding;
    use citrus_workstation::vocabulary::code_diagnosis;
    let vocabulary = Vocabulary::open_installed().unwrap();
    let code = |text: &str| match code_diagnosis(&vocabulary, text).unwrap() {
        Coding::Coded { entry, confidence } => Ok((entry.code, confidence)),
        Coding::Uncoded { reason } => Err(reason),
    };
    // Written as models write differentials: titles, synonyms, abbreviations, a code.
    let category = |text: &str| code(text).map(|(c, _)| c[..3].to_string());
    assert_eq!(code("Acute myocardial infarction"), Ok(("I21".into(), 1.0)));
    assert_eq!(category("Acute MI"), Ok("I21".into()));
    assert_eq!(category("Inferior STEMI"), Ok("I21".into()));
    assert_eq!(category("PE"), Ok("I26".into()));
    assert_eq!(category("Pulmonary embolism."), Ok("I26".into()));
    assert_eq!(category("Aortic dissection"), Ok("I71".into()));
    assert_eq!(category("Acute appendicitis"), Ok("K35".into()));
    assert_eq!(category("Bacterial meningitis"), Ok("G00".into()));
    assert_eq!(category("Subarachnoid hemorrhage"), Ok("I60".into()));
    assert_eq!(category("Sepsis (A41.9)"), Ok("A41".into()));
    // Negated, invented or vague: uncoded, with the reason.
    assert!(code("No appendicitis").unwrap_err().contains("negated"));
    assert!(code("Ruled out pulmonary embolism")
        .unwrap_err()
        .contains("negated"));
    assert!(code("Potassium Diophantine, Uncertain").is_err());
    assert!(code("Crushing substernal chest pain for four weeks").is_err());
}
