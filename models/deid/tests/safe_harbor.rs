//! De-identification measured on synthetic vignettes with planted identifiers: every Safe
//! Harbor category that occurs in free text, generated here with its span. Structured
//! identifiers must all go; name and place recall is reported per category; eponyms and
//! drug names must survive; replacement is consistent within a case.

use std::collections::{BTreeMap, HashSet};

use citrus_deid::{deidentify, deidentify_case, find_case, Category, Hit};

/// A small deterministic generator (xorshift), so the vignettes are the same on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// Names and places partly outside the recognizers' word lists.
const FIRST: &[&str] = &[
    "Yolanda",
    "Dmitri",
    "Priya",
    "Marcus",
    "Henrietta",
    "Tomasz",
    "Ngozi",
    "Keiko",
    "Luis",
    "Abigail",
    "Rahul",
    "Siobhan",
    "Kwame",
    "Ingrid",
    "Mateo",
    "Beatriz",
    "John",
    "Mary",
    "Robert",
    "Linda",
];
const LAST: &[&str] = &[
    "Pruitt",
    "Okonkwo",
    "Vasquez",
    "Lindqvist",
    "Abernathy",
    "Nakamura",
    "Castellano",
    "Whitfield",
    "Brennan",
    "Oyelaran",
    "Dubrovsky",
    "Halvorsen",
    "McAllister",
    "Szymanski",
    "Smith",
    "Garcia",
    "Carter",
    "Nguyen",
];
const CITIES: &[&str] = &[
    "Springfield",
    "Fairview",
    "Riverton",
    "Lakewood",
    "Brookhaven",
    "Millbrook",
    "Cedar Falls",
    "Ashland",
    "Oakridge",
    "Greenville",
    "Boston",
    "Tucson",
];
const STREETS: &[&str] = &[
    "Maple",
    "Elm",
    "Harbor View",
    "Old Mill",
    "Chestnut",
    "Lincoln",
];
const STATES: &[&str] = &["MA", "OH", "TX", "Oregon", "GA", "IL"];

/// Clinical sentences with eponyms, drugs and numbers that are not identifiers.
const FILLER: &[&str] = &[
    "History of Graves disease treated with methimazole; on Synthroid now.",
    "Exam shows a positive Murphy sign and BP 132/84, HR 96, SpO2 97% on room air.",
    "He was started on Eliquis 5 mg twice daily and Lasix 40 mg.",
    "Labs: WBC 12.4, Hgb 10.9, platelets 250, troponin 0.04, lactate 2.1.",
    "Past history includes Hodgkin lymphoma in remission and Bell palsy.",
    "A Wells score of 4 and a CURB-65 of 2 were calculated.",
    "There is no family history of Parkinson disease or Down syndrome.",
    "ECG: sinus tachycardia, no Brugada pattern; Austin Flint murmur absent.",
    "Takes Tylenol as needed and Zoloft 50 mg daily.",
    "Addison disease was considered; cortisol pending.",
];

/// One planted identifier.
#[derive(Debug, Clone)]
struct Planted {
    category: Category,
    start: usize,
    end: usize,
}

/// A vignette being written: text with the spans of what was planted.
#[derive(Default)]
struct Vignette {
    text: String,
    planted: Vec<Planted>,
}

impl Vignette {
    fn say(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    fn plant(&mut self, category: Category, text: &str) -> &mut Self {
        let start = self.text.len();
        self.text.push_str(text);
        self.planted.push(Planted {
            category,
            start,
            end: self.text.len(),
        });
        self
    }
}

/// A valid SSN (area not 000, 666 or 9xx; group and serial not zero).
fn ssn(dice: &mut Dice) -> String {
    let area = 1 + dice.below(665);
    format!(
        "{area:03}-{:02}-{:04}",
        1 + dice.below(98),
        1 + dice.below(9998)
    )
}

/// A valid NPI (Luhn with the 80840 prefix).
fn npi(dice: &mut Dice) -> String {
    loop {
        let candidate = format!("1{}", dice.digits(9));
        let digits: Vec<u32> = format!("80840{candidate}")
            .chars()
            .map(|c| c.to_digit(10).unwrap())
            .collect();
        if citrus_deid::structured::luhn(&digits) {
            return candidate;
        }
    }
}

fn vignette(dice: &mut Dice) -> Vignette {
    let (first, last) = (dice.pick(FIRST), dice.pick(LAST));
    let (relative, doctor) = (dice.pick(FIRST), dice.pick(LAST));
    let city = dice.pick(CITIES);
    let state = dice.pick(STATES);
    let mut v = Vignette::default();
    let title = dice.pick(&["Mr.", "Mrs.", "Ms."]);
    match dice.below(5) {
        0 => v
            .plant(Category::Name, &format!("{first} {last}"))
            .say(" is a 58-year-old seen "),
        1 => v
            .say("Patient name: ")
            .plant(Category::Name, &format!("{first} {last}"))
            .say(". Seen "),
        2 => v
            .say(title)
            .say(" ")
            .plant(Category::Name, last)
            .say(" was seen "),
        // Harder: no title, label or list to go by.
        3 => v
            .say("We met ")
            .plant(Category::Name, &format!("{first} {last}"))
            .say(" in clinic, seen "),
        _ => v
            .say("Patient ")
            .plant(Category::Name, &format!("{first} {last}"))
            .say(" reports chest pain, seen "),
    };
    v.say("on ").plant(
        Category::Date,
        &format!("{}/{}/2024", 1 + dice.below(12), 1 + dice.below(28)),
    );
    v.say(" with chest pain. DOB: ").plant(
        Category::Date,
        &format!("0{}/1{}/1931", 1 + dice.below(9), dice.below(9)),
    );
    v.say(", so ")
        .plant(Category::Age, &(90 + dice.below(9)).to_string())
        .say(" years old. ");
    v.say(dice.pick(FILLER)).say(" ");
    v.say("MRN: ")
        .plant(Category::MedicalRecord, &dice.digits(8))
        .say(". ");
    v.say("SSN ").plant(Category::Ssn, &ssn(dice)).say(". ");
    v.say("Lives at ").plant(
        Category::Location,
        &format!(
            "{} {} Street, Apt {}B",
            10 + dice.below(900),
            dice.pick(STREETS),
            1 + dice.below(9)
        ),
    );
    v.say(", ")
        .plant(Category::Location, city)
        .say(", ")
        .say(state)
        .say(" ");
    v.plant(Category::Zip, &format!("0{}", dice.digits(4)))
        .say(". ");
    v.say("Phone ").plant(
        Category::Phone,
        &format!(
            "({}) {}-{}",
            200 + dice.below(700),
            200 + dice.below(700),
            dice.digits(4)
        ),
    );
    v.say(", fax: ").plant(
        Category::Fax,
        &format!(
            "{}-{}-{}",
            200 + dice.below(700),
            200 + dice.below(700),
            dice.digits(4)
        ),
    );
    v.say(", e-mail ")
        .plant(
            Category::Email,
            &format!(
                "{}.{}@example.org",
                first.to_lowercase(),
                last.to_lowercase()
            ),
        )
        .say(". ");
    v.say(dice.pick(FILLER)).say(" ");
    v.say("Her ")
        .say(dice.pick(&["daughter", "son", "husband", "sister"]))
        .say(" ")
        .plant(Category::Name, relative)
        .say(" brought her in. ");
    v.say("Transferred from ")
        .plant(
            Category::Location,
            &format!("{} Memorial Hospital", dice.pick(LAST)),
        )
        .say(". ");
    v.say("Member ID: ")
        .plant(Category::HealthPlan, &format!("XK{}", dice.digits(9)))
        .say("; account #: ")
        .plant(Category::Account, &dice.digits(10))
        .say(". ");
    v.say("Driver's license ")
        .plant(Category::License, &format!("D{}", dice.digits(7)))
        .say(", referring NPI ")
        .plant(Category::License, &npi(dice))
        .say(". ");
    v.say("Arrived by car, license plate ")
        .plant(
            Category::Vehicle,
            &format!("{}ABC{}", 1 + dice.below(9), dice.digits(3)),
        )
        .say(", VIN ")
        .plant(Category::Vehicle, "1M8GDM9AXKP042788")
        .say(". ");
    v.say("Pacemaker serial number ")
        .plant(Category::Device, &format!("PJN{}", dice.digits(6)))
        .say(". ");
    v.say("Records at ")
        .plant(
            Category::Url,
            &format!("https://portal.example.org/p/{}", dice.digits(5)),
        )
        .say(" from ")
        .plant(
            Category::IpAddress,
            &format!("192.168.{}.{}", dice.below(255), 1 + dice.below(254)),
        )
        .say(". ");
    v.say("Accession number ")
        .plant(Category::OtherId, &dice.digits(9))
        .say(". ");
    v.say(dice.pick(FILLER)).say(" ");
    v.say("Seen again on ")
        .plant(
            Category::Date,
            &format!("March {}, 2024", 1 + dice.below(28)),
        )
        .say(" by Dr. ")
        .plant(Category::Name, doctor)
        .say(". ");
    v.say("She moved from ")
        .plant(Category::Location, dice.pick(CITIES))
        .say(" last year. ");
    v.say("Resident of ")
        .plant(
            Category::Location,
            &format!(
                "{} County",
                dice.pick(&["Essex", "Franklin", "Marion", "Travis"])
            ),
        )
        .say(". ");
    v.plant(Category::Name, last).say(" agrees with the plan. ");
    v.say("Electronically signed by ")
        .plant(
            Category::Name,
            &format!("{} {}", dice.pick(FIRST), dice.pick(LAST)),
        )
        .say(", MD.");
    v
}

/// Whether the hits cover every letter and digit of the planted span.
fn covered(text: &str, planted: &Planted, hits: &[Hit]) -> bool {
    text[planted.start..planted.end]
        .char_indices()
        .filter(|(_, c)| c.is_alphanumeric())
        .all(|(i, _)| {
            let at = planted.start + i;
            hits.iter().any(|h| h.start <= at && at < h.end)
        })
}

#[test]
fn planted_identifiers_are_removed_and_recall_is_reported_per_category() {
    let mut dice = Dice(0x5eed_1234_abcd_ef01);
    let mut tally: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    let mut extra = 0;
    const VIGNETTES: usize = 200;
    for _ in 0..VIGNETTES {
        let v = vignette(&mut dice);
        let out = deidentify(&v.text);
        for planted in &v.planted {
            let entry = tally.entry(planted.category.describe()).or_default();
            entry.0 += 1;
            if covered(&v.text, planted, &out.hits) {
                entry.1 += 1;
            } else {
                missed.push((
                    planted.category,
                    v.text[planted.start..planted.end].to_string(),
                ));
            }
        }
        for hit in out
            .hits
            .iter()
            .filter(|h| !v.planted.iter().any(|p| h.start < p.end && p.start < h.end))
        {
            extra += 1;
            if extra <= 10 {
                println!(
                    "not an identifier, replaced: {:?} ({})",
                    hit.text, hit.reason
                );
            }
        }
    }
    println!("category                          planted  removed  recall");
    for (category, (planted, removed)) in &tally {
        println!(
            "{category:<33} {planted:>7}  {removed:>7}  {:.3}",
            *removed as f64 / *planted as f64
        );
    }
    println!("hits on text that was not an identifier: {extra} in {VIGNETTES} vignettes");
    for (category, text) in missed.iter().take(20) {
        println!("missed {}: {text:?}", category.describe());
    }
    for category in Category::ALL.into_iter().filter(|c| c.is_structured()) {
        let (planted, removed) = tally.get(category.describe()).copied().unwrap_or((0, 0));
        assert!(planted > 0, "no {} planted", category.describe());
        assert_eq!(
            removed,
            planted,
            "{} not all removed: {missed:?}",
            category.describe()
        );
    }
    for category in [Category::Name, Category::Location] {
        let (planted, removed) = tally[category.describe()];
        let recall = removed as f64 / planted as f64;
        assert!(recall >= 0.95, "{} recall {recall:.3}", category.describe());
    }
}

#[test]
fn eponyms_and_drug_names_survive() {
    let sentences = [
        "Graves disease, Addison disease and Wilson disease were considered.",
        "Hodgkin lymphoma, Parkinson disease and Down syndrome run in the family.",
        "Bell palsy resolved; Cushing syndrome was excluded; Crohn disease is quiescent.",
        "A positive Murphy sign, a negative Kernig sign and a Babinski sign were noted.",
        "Wells score 6, Glasgow Coma Scale 15, Apgar 9, CURB-65 of 1.",
        "Guillain-Barré syndrome, Stevens-Johnson syndrome and Wolff-Parkinson-White pattern.",
        "Austin Flint murmur, Marcus Gunn pupil, Argyll Robertson pupil, Osler nodes.",
        "Started Eliquis, Lasix, Coumadin, Synthroid, Keppra, Zoloft and Humira.",
        "Tylenol, Advil, Bactrim, Augmentin, Xarelto and Lipitor were stopped.",
        "Barrett esophagus, Kaposi sarcoma, Ewing sarcoma, Wilms tumor and Burkitt lymphoma.",
        "Hashimoto thyroiditis and Raynaud phenomenon with Sjögren syndrome.",
        "Trousseau sign and Chvostek sign were positive; Tinel and Phalen tests negative.",
    ];
    for sentence in sentences {
        let out = deidentify(sentence);
        assert_eq!(out.text, sentence, "altered: {:?}", out.hits);
    }
}

#[test]
fn replacement_is_consistent_within_a_case() {
    let fields = [
        "Mr. John Carter, 93-year-old, seen 03/01/2024 at Mercy General Hospital.",
        "Carter's daughter Anna called on 03/15/2024; John Carter agrees.",
    ];
    let out = deidentify_case(&fields);
    assert_eq!(
        out[0].text,
        "Mr. [NAME 1], 90+-year-old, seen [day 0] at [PLACE 1]."
    );
    assert_eq!(
        out[1].text,
        "[NAME 1]'s daughter [NAME 2] called on [day +14]; [NAME 1] agrees."
    );
    let ids: HashSet<&str> = out
        .iter()
        .flat_map(|d| d.hits.iter().map(|h| h.id.as_str()))
        .collect();
    assert_eq!(
        ids.len(),
        out.iter().map(|d| d.hits.len()).sum::<usize>(),
        "ids are unique"
    );
    assert_eq!(find_case(&fields)[1], out[1].hits, "hits are stable");
}
