//! The pre-tokenizers llama.cpp assigns to the `tokenizer.ggml.pre` values of Llama-, Qwen2- and
//! Qwen3-architecture files, as the regex splits each one means (llama.cpp's `llama-vocab.cpp`,
//! itself the published `tokenizer.json` regexes). The regexes apply in sequence: each one
//! splits every piece the previous ones left into its matches and the text between them.
//!
//! GPT-2 style values (`gpt2`, `default`, `smollm`) are built by the tokenizer module itself.

/// Llama 3's regex (`llama-bpe`, `llama3`…): digits in runs of up to three.
pub(crate) const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's regex (`qwen2`, `deepseek-r1-qwen`…): digits one at a time.
pub(crate) const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen3.5's regex (`qwen35`): Qwen2's, with combining marks kept inside words.
const QWEN35: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// DeepSeek LLM's cased-letter runs (its explicit letter class, written as code points).
const DEEPSEEK_LETTERS: &str = r"\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+";
/// DeepSeek LLM's ASCII and full-width punctuation runs.
const DEEPSEEK_PUNCTUATION: &str =
    r"\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+";
/// DeepSeek's CJK and Hangul runs.
const DEEPSEEK_CJK: &str = r"[\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+";
/// DeepSeek V3's main regex (after digits and kana/kanji runs).
const DEEPSEEK_V3: &str = r"[!\x{22}#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How a `tokenizer.ggml.pre` value splits text before byte-level BPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PreTokenizer {
    /// The regexes, applied in sequence.
    pub splits: &'static [&'static str],
    /// Whether a whole piece found in the vocabulary is one token without merging (Llama 3).
    pub ignore_merges: bool,
    /// Whether text is NFC-normalised first (Qwen2's `tokenizer.json`).
    pub nfc: bool,
}

/// The pre-tokenizer llama.cpp uses for `pre`, for the values of Llama-, Qwen2- and
/// Qwen3-architecture files; `None` for an unknown value.
pub(crate) fn pre_tokenizer(pre: &str) -> Option<PreTokenizer> {
    let plain = |splits| PreTokenizer {
        splits,
        ignore_merges: false,
        nfc: false,
    };
    Some(match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" => PreTokenizer {
            ignore_merges: true,
            ..plain(&[LLAMA3])
        },
        "dbrx" | "smaug-bpe" => plain(&[LLAMA3]),
        "qwen2" => PreTokenizer {
            nfc: true,
            ..plain(&[QWEN2])
        },
        "deepseek-r1-qwen" | "kormo" | "megrez" | "stablelm2" | "hunyuan" => plain(&[QWEN2]),
        "qwen35" => plain(&[QWEN35]),
        "deepseek-llm" => plain(&[
            r"[\r\n]",
            DEEPSEEK_LETTERS,
            DEEPSEEK_PUNCTUATION,
            r"\s+$",
            DEEPSEEK_CJK,
            r"\p{N}+",
        ]),
        "deepseek-coder" => plain(&[
            r"[\r\n]",
            r"\s?\p{L}+",
            r"\s?\p{P}+",
            DEEPSEEK_CJK,
            r"\p{N}",
        ]),
        "deepseek-v3" => plain(&[
            r"\p{N}{1,3}",
            r"[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
            DEEPSEEK_V3,
        ]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer as _};

    use crate::tokenizer::{GgufVocab, TextTokenizer};

    /// Texts with digits, punctuation runs, contractions, CJK, emoji and a combining mark.
    const TEXTS: [&str; 4] = [
        "I'm sure it's 12345 mg, isn't it?!! She'LL go... (really) --- ok",
        "Fever 38.5°C\n\n  BP 150/90   mmHg\tRR 20",
        "日本語のテキスト、東京。한국어 中文字符",
        "emoji 😀👍🏽 café naïve q\u{307}uick",
    ];

    /// The pieces each pre-tokenizer's published regexes cut [`TEXTS`] into (derived with
    /// Python's `regex` module, applying the regexes in sequence as llama.cpp does).
    const EXPECTED: [(&str, [&[&str]; 4]); 6] = [
        (
            "llama3",
            [
                &[
                    "I", "'m", " sure", " it", "'s", " ", "123", "45", " mg", ",", " isn", "'t",
                    " it", "?!!", " She", "'LL", " go", "...", " (", "really", ")", " ---", " ok",
                ],
                &[
                    "Fever", " ", "38", ".", "5", "°C", "\n\n", " ", " BP", " ", "150", "/", "90",
                    "  ", " mmHg", "\tRR", " ", "20",
                ],
                &["日本語のテキスト", "、東京", "。한국어", " 中文字符"],
                &["emoji", " 😀👍🏽", " café", " naïve", " q", "\u{307}uick"],
            ],
        ),
        (
            "qwen2",
            [
                &[
                    "I", "'m", " sure", " it", "'s", " ", "1", "2", "3", "4", "5", " mg", ",",
                    " isn", "'t", " it", "?!!", " She", "'LL", " go", "...", " (", "really", ")",
                    " ---", " ok",
                ],
                &[
                    "Fever", " ", "3", "8", ".", "5", "°C", "\n\n", " ", " BP", " ", "1", "5", "0",
                    "/", "9", "0", "  ", " mmHg", "\tRR", " ", "2", "0",
                ],
                &["日本語のテキスト", "、東京", "。한국어", " 中文字符"],
                &["emoji", " 😀👍🏽", " café", " naïve", " q", "\u{307}uick"],
            ],
        ),
        (
            "qwen35",
            [
                &[
                    "I", "'m", " sure", " it", "'s", " ", "1", "2", "3", "4", "5", " mg", ",",
                    " isn", "'t", " it", "?!!", " She", "'LL", " go", "...", " (", "really", ")",
                    " ---", " ok",
                ],
                &[
                    "Fever", " ", "3", "8", ".", "5", "°C", "\n\n", " ", " BP", " ", "1", "5", "0",
                    "/", "9", "0", "  ", " mmHg", "\tRR", " ", "2", "0",
                ],
                &["日本語のテキスト", "、東京", "。한국어", " 中文字符"],
                &["emoji", " 😀👍🏽", " café", " naïve", " q\u{307}uick"],
            ],
        ),
        (
            "deepseek-llm",
            [
                &[
                    "I", "'", "m", " sure", " it", "'", "s", " ", "12345", " mg", ",", " isn", "'",
                    "t", " it", "?!!", " She", "'", "LL", " go", "...", " (", "really", ")",
                    " ---", " ok",
                ],
                &[
                    "Fever", " ", "38", ".", "5", "°", "C", "\n", "\n", " ", " BP", " ", "150",
                    "/", "90", "  ", " mmHg", "\tRR", " ", "20",
                ],
                &[
                    "日本語のテキスト",
                    "、",
                    "東京",
                    "。",
                    "한국어",
                    " ",
                    "中文字符",
                ],
                &[
                    "emoji",
                    " 😀👍🏽",
                    " caf",
                    "é",
                    " na",
                    "ï",
                    "ve",
                    " q",
                    "\u{307}",
                    "uick",
                ],
            ],
        ),
        (
            "deepseek-coder",
            [
                &[
                    "I", "'", "m", " sure", " it", "'", "s", " ", "1", "2", "3", "4", "5", " mg",
                    ",", " isn", "'", "t", " it", "?!!", " She", "'", "LL", " go", "...", " (",
                    "really", ")", " ---", " ok",
                ],
                &[
                    "Fever", " ", "3", "8", ".", "5", "°", "C", "\n", "\n", " ", " BP", " ", "1",
                    "5", "0", "/", "9", "0", "  ", " mmHg", "\tRR", " ", "2", "0",
                ],
                &[
                    "日本語のテキスト",
                    "、",
                    "東京",
                    "。",
                    "한국어",
                    " ",
                    "中文字符",
                ],
                &["emoji", " 😀👍🏽", " café", " naïve", " q", "\u{307}", "uick"],
            ],
        ),
        (
            "deepseek-v3",
            [
                &[
                    "I", "'m", " sure", " it", "'s", " ", "123", "45", " mg", ",", " isn", "'t",
                    " it", "?!!", " She", "'LL", " go", "...", " (", "really", ")", " ---", " ok",
                ],
                &[
                    "Fever", " ", "38", ".", "5", "°", "C", "\n\n", " ", " BP", " ", "150", "/",
                    "90", "  ", " mmHg", "\tRR", " ", "20",
                ],
                &[
                    "日本語のテキスト",
                    "、",
                    "東京",
                    "。",
                    "한국어",
                    " ",
                    "中文字符",
                ],
                &["emoji", " 😀👍🏽", " café", " naïve", " q\u{307}uick"],
            ],
        ),
    ];

    /// The `tokenizer.ggml.pre` values tested, with the regex family of [`EXPECTED`] each means.
    const VALUES: [(&str, &str); 9] = [
        ("llama-bpe", "llama3"),
        ("llama3", "llama3"),
        ("smaug-bpe", "llama3"),
        ("qwen2", "qwen2"),
        ("deepseek-r1-qwen", "qwen2"),
        ("qwen35", "qwen35"),
        ("deepseek-llm", "deepseek-llm"),
        ("deepseek-coder", "deepseek-coder"),
        ("deepseek-v3", "deepseek-v3"),
    ];

    /// GPT-2's byte-to-character map of byte-level BPE.
    fn byte_chars() -> Vec<char> {
        let printable = |b: u32| {
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b)
        };
        let mut shifted = 0;
        (0..256u32)
            .map(|b| {
                if printable(b) {
                    char::from_u32(b).unwrap()
                } else {
                    shifted += 1;
                    char::from_u32(255 + shifted).unwrap()
                }
            })
            .collect()
    }

    fn byte_level(text: &str, chars: &[char]) -> String {
        text.bytes().map(|b| chars[b as usize]).collect()
    }

    /// A byte-level BPE vocabulary whose merges build exactly the `pieces` (every byte, then
    /// every prefix of every piece), so a text encodes to one token per piece only when the
    /// pre-tokenizer cuts it into exactly those pieces.
    fn vocab_of(pre: &str, pieces: &[&str]) -> GgufVocab {
        let chars = byte_chars();
        let mut tokens: Vec<String> = chars.iter().map(char::to_string).collect();
        let mut merges = Vec::new();
        for piece in pieces {
            let encoded: Vec<char> = byte_level(piece, &chars).chars().collect();
            for end in 2..=encoded.len() {
                let prefix: String = encoded[..end].iter().collect();
                if !tokens.contains(&prefix) {
                    let left: String = encoded[..end - 1].iter().collect();
                    merges.push(format!("{left} {}", encoded[end - 1]));
                    tokens.push(prefix);
                }
            }
        }
        GgufVocab {
            model: "gpt2".into(),
            pre: Some(pre.into()),
            token_types: vec![1; tokens.len()],
            tokens,
            merges,
            ..Default::default()
        }
    }

    #[test]
    fn each_pre_tokenizer_cuts_text_as_its_published_regexes_do() {
        let chars = byte_chars();
        for (value, family) in VALUES {
            let (_, expected) = EXPECTED.iter().find(|(name, _)| *name == family).unwrap();
            let pieces: Vec<&str> = expected.iter().flat_map(|p| p.iter().copied()).collect();
            let vocab = vocab_of(value, &pieces);
            let tokenizer = TextTokenizer::from_gguf_vocab(&vocab, Path::new("t.gguf")).unwrap();
            let splitter = tokenizer.inner().get_pre_tokenizer().unwrap();
            for (text, cut) in TEXTS.iter().zip(expected) {
                // The pieces themselves, as the byte-level BPE sees them.
                let mut pieces = PreTokenizedString::from(*text);
                splitter.pre_tokenize(&mut pieces).unwrap();
                let split: Vec<String> = pieces
                    .get_splits(OffsetReferential::Original, OffsetType::Char)
                    .into_iter()
                    .map(|(piece, _, _)| piece.to_string())
                    .collect();
                let want: Vec<String> = cut.iter().map(|p| byte_level(p, &chars)).collect();
                assert_eq!(split, want, "{value} cuts {text:?}");
                // And the ids of those pieces.
                let want: Vec<u32> = cut
                    .iter()
                    .map(|piece| tokenizer.token_id(&byte_level(piece, &chars)).unwrap())
                    .collect();
                let got = tokenizer.encode(text).unwrap();
                assert_eq!(got, want, "{value} on {text:?}");
                assert_eq!(tokenizer.decode(&got, false).unwrap(), *text);
            }
        }
    }
}
