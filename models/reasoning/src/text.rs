//! Small text helpers shared by the stage labeller, the differential collector and the answer
//! matcher: word-bounded phrase search, markdown stripping and normalisation.
//!
//! Phrase search works on ASCII-lower-cased text, which keeps byte offsets identical to the
//! original so that matches can be cut out of the original (case-preserving) text.

/// Whether `c` belongs to a word (letters and digits of any script).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Byte offsets of every occurrence of `phrase` in `haystack` that is not glued to a word on
/// either side. A side of `phrase` that is not itself a word character needs no boundary.
pub(crate) fn phrase_positions(haystack: &str, phrase: &str) -> Vec<usize> {
    let (Some(first), Some(last)) = (phrase.chars().next(), phrase.chars().next_back()) else {
        return Vec::new();
    };
    let mut positions = Vec::new();
    let mut from = 0;
    while let Some(found) = haystack.get(from..).and_then(|rest| rest.find(phrase)) {
        let start = from + found;
        let end = start + phrase.len();
        let before_ok = !is_word_char(first)
            || !haystack[..start]
                .chars()
                .next_back()
                .is_some_and(is_word_char);
        let after_ok =
            !is_word_char(last) || !haystack[end..].chars().next().is_some_and(is_word_char);
        if before_ok && after_ok {
            positions.push(start);
        }
        from = start + first.len_utf8();
    }
    positions
}

/// Whether `haystack` contains `phrase` as whole words (see [`phrase_positions`]).
pub(crate) fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    !phrase_positions(haystack, phrase).is_empty()
}

/// Whether `haystack` starts with `phrase` followed by a word boundary.
pub(crate) fn starts_with_phrase(haystack: &str, phrase: &str) -> bool {
    haystack.starts_with(phrase)
        && !haystack[phrase.len()..]
            .chars()
            .next()
            .is_some_and(is_word_char)
}

/// Removes markdown emphasis and code marks (`**`, `__`, `` ` ``), keeping the words.
pub(crate) fn strip_markdown(text: &str) -> String {
    text.replace("**", "").replace("__", "").replace('`', "")
}

/// Lower-cases `text`, turns every non-word character into a space and collapses spaces, so that
/// `"Cross-linking of DNA."` and `"cross linking of dna"` compare equal.
pub(crate) fn normalize_words(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| if is_word_char(c) { c } else { ' ' })
        .collect::<String>()
        .to_lowercase();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_only() {
        assert_eq!(
            phrase_positions("consider pe; considering", "consider"),
            vec![0]
        );
        assert!(!contains_phrase("reconsider", "consider"));
        assert!(contains_phrase("dissection is likely", " is likely"));
        assert_eq!(phrase_positions("aaa", "aa"), Vec::<usize>::new());
        assert_eq!(phrase_positions("a aa aa", "aa"), vec![2, 5]);
        assert!(phrase_positions("anything", "").is_empty());
    }

    #[test]
    fn prefix_needs_a_boundary() {
        assert!(starts_with_phrase("wait, the", "wait"));
        assert!(!starts_with_phrase("waiting", "wait"));
        assert!(starts_with_phrase("so", "so"));
    }

    #[test]
    fn normalizes_punctuation_case_and_spaces() {
        assert_eq!(
            normalize_words("  Cross-linking of DNA. "),
            "cross linking of dna"
        );
        assert_eq!(normalize_words("Ménière’s disease"), "ménière s disease");
        assert_eq!(strip_markdown("**B** `x` __y__"), "B x y");
    }
}
