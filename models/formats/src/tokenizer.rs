//! Tokenizers: built from GGUF metadata (GPT-2 style BPE or SentencePiece) or read from a
//! Hugging Face `tokenizer.json`.
//!
//! A GGUF BPE vocabulary needs the pre-tokenizer its model was trained with
//! (`tokenizer.ggml.pre`); an unknown one is an error rather than a silently wrong split.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, DecoderWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer,
};

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::pre_tokenizers::pre_tokenizer;

/// The tags of the reasoning format, kept in generated text even when they are special tokens.
const REASONING_TAGS: [&str; 4] = ["<think>", "</think>", "<answer>", "</answer>"];
/// SentencePiece's word-boundary marker.
const SPM_SPACE: &str = "\u{2581}";

/// GGUF token types (`tokenizer.ggml.token_type`).
const TOKEN_TYPE_NORMAL: i32 = 1;
const TOKEN_TYPE_UNKNOWN: i32 = 2;
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Where a tokenizer came from, for `models inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenizerKind {
    /// GPT-2 style byte-level BPE from GGUF metadata, with its pre-tokenizer name.
    GgufBpe {
        /// The `tokenizer.ggml.pre` value.
        pre: String,
    },
    /// SentencePiece (`tokenizer.ggml.model = "llama"`) from GGUF metadata.
    GgufSentencePiece,
    /// A Hugging Face `tokenizer.json`.
    HuggingFace,
}

impl std::fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GgufBpe { pre } => write!(f, "BPE (GGUF, pre-tokenizer {pre})"),
            Self::GgufSentencePiece => write!(f, "SentencePiece (GGUF)"),
            Self::HuggingFace => write!(f, "tokenizer.json"),
        }
    }
}

/// The vocabulary part of GGUF metadata, separated from the file so it can be built in tests.
#[derive(Debug, Clone, Default)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model`: `gpt2` or `llama`.
    pub model: String,
    /// `tokenizer.ggml.pre`.
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores` (SentencePiece).
    pub scores: Vec<f32>,
    /// `tokenizer.ggml.token_type`.
    pub token_types: Vec<i32>,
    /// `tokenizer.ggml.merges` (BPE), each "left right".
    pub merges: Vec<String>,
    /// BOS token id.
    pub bos: Option<u32>,
    /// EOS token id.
    pub eos: Option<u32>,
    /// End-of-turn token id, when distinct from EOS.
    pub eot: Option<u32>,
    /// Unknown token id.
    pub unk: Option<u32>,
    /// Whether prompts start with BOS.
    pub add_bos: bool,
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece): whether a `▁` is put before the
    /// text, as SentencePiece does by default; `None` when the file does not say.
    pub add_space_prefix: Option<bool>,
}

impl GgufVocab {
    /// Reads the vocabulary from a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let missing = |detail: &str| ModelError::MissingTokenizer {
            path: file.path().to_path_buf(),
            detail: detail.to_string(),
        };
        let model = file
            .string_opt("tokenizer.ggml.model")
            .ok_or_else(|| missing("the file has no `tokenizer.ggml.model`"))?
            .to_string();
        let strings = |key: &str| -> Vec<String> {
            file.array_opt(key)
                .map(|values| {
                    values
                        .iter()
                        .map(|v| v.to_string().cloned().unwrap_or_default())
                        .collect()
                })
                .unwrap_or_default()
        };
        let tokens = strings("tokenizer.ggml.tokens");
        if tokens.is_empty() {
            return Err(missing("the file has no `tokenizer.ggml.tokens`"));
        }
        let scores = file
            .array_opt("tokenizer.ggml.scores")
            .map(|v| v.iter().map(|s| s.to_f32().unwrap_or(0.0)).collect())
            .unwrap_or_default();
        let token_types = file
            .array_opt("tokenizer.ggml.token_type")
            .map(|v| v.iter().map(|s| s.to_i32().unwrap_or(1)).collect())
            .unwrap_or_default();
        let id = |key: &str| -> Result<Option<u32>> { Ok(file.uint_opt(key)?.map(|v| v as u32)) };
        Ok(Self {
            model,
            pre: file.string_opt("tokenizer.ggml.pre").map(str::to_string),
            tokens,
            scores,
            token_types,
            merges: strings("tokenizer.ggml.merges"),
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            eot: id("tokenizer.ggml.eot_token_id")?,
            unk: id("tokenizer.ggml.unknown_token_id")?,
            add_bos: file
                .bool_opt("tokenizer.ggml.add_bos_token")
                .unwrap_or(false),
            add_space_prefix: file.bool_opt("tokenizer.ggml.add_space_prefix"),
        })
    }

    fn token_type(&self, id: usize) -> i32 {
        self.token_types
            .get(id)
            .copied()
            .unwrap_or(TOKEN_TYPE_NORMAL)
    }
}

/// A tokenizer plus the special tokens generation and chat templates need.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    kind: TokenizerKind,
    bos: Option<u32>,
    eos: Option<u32>,
    stop_ids: Vec<u32>,
    add_bos: bool,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("kind", &self.kind)
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

impl TextTokenizer {
    /// Builds the tokenizer described by GGUF metadata.
    pub fn from_gguf_vocab(vocab: &GgufVocab, path: &Path) -> Result<Self> {
        let (mut inner, kind) = match vocab.model.as_str() {
            "gpt2" => byte_level_bpe(vocab, path)?,
            "llama" => (sentencepiece_bpe(vocab)?, TokenizerKind::GgufSentencePiece),
            other => {
                return Err(ModelError::MissingTokenizer {
                    path: path.to_path_buf(),
                    detail: format!(
                        "tokenizer model `{other}` is not supported (supported: gpt2, llama)"
                    ),
                })
            }
        };
        register_added_tokens(&mut inner, vocab)?;
        let stop_ids = [vocab.eos, vocab.eot].into_iter().flatten().collect();
        Ok(Self {
            inner,
            kind,
            bos: vocab.bos,
            eos: vocab.eos,
            stop_ids,
            add_bos: vocab.add_bos,
        })
    }

    /// Reads `tokenizer.json` from a Hugging Face folder; special tokens come from
    /// `tokenizer_config.json`, `config.json` and `generation_config.json` when present.
    pub fn from_hf_folder(folder: &Path) -> Result<Self> {
        let file = folder.join("tokenizer.json");
        if !file.exists() {
            return Err(ModelError::MissingTokenizer {
                path: folder.to_path_buf(),
                detail: "no tokenizer.json in the folder".into(),
            });
        }
        let inner = Tokenizer::from_file(&file).map_err(|e| ModelError::Corrupt {
            path: file.clone(),
            detail: format!("unreadable tokenizer.json: {e}"),
        })?;
        let specials = HfSpecialTokens::read(folder, &inner);
        let eos = specials.eos.first().copied();
        Ok(Self {
            inner,
            kind: TokenizerKind::HuggingFace,
            bos: specials.bos,
            eos,
            stop_ids: specials.eos,
            add_bos: specials.add_bos,
        })
    }

    /// Where the tokenizer came from.
    pub fn kind(&self) -> &TokenizerKind {
        &self.kind
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token string, e.g. `<|im_start|>`.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The string of a token id.
    pub fn token_str(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// BOS token text, for chat templates.
    pub fn bos_token(&self) -> Option<String> {
        self.bos.and_then(|id| self.token_str(id))
    }

    /// EOS token text, for chat templates.
    pub fn eos_token(&self) -> Option<String> {
        self.eos.and_then(|id| self.token_str(id))
    }

    /// Token ids that end generation (EOS, end-of-turn).
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    /// Encodes text, recognising special tokens written in it (`<|im_start|>`), without BOS.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(ModelError::tokenizer)?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Encodes a full prompt: BOS first when the model wants it and the text lacks it.
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode(text)?;
        if let Some(bos) = self.bos.filter(|_| self.add_bos) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Decodes ids to text; special tokens are dropped when `skip_special` is set.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(ModelError::tokenizer)
    }

    /// Decodes generated ids to text: special tokens are dropped, except the reasoning tags
    /// (`<think>`, `</think>`, `<answer>`, `</answer>`), which reasoning models emit as single
    /// special tokens and the reasoning parser needs to see.
    pub fn decode_reply(&self, ids: &[u32]) -> Result<String> {
        let mut text = String::new();
        let mut run_start = 0;
        for (at, id) in ids.iter().enumerate() {
            let tag = REASONING_TAGS
                .iter()
                .find(|tag| self.inner.token_to_id(tag) == Some(*id));
            if let Some(tag) = tag {
                text.push_str(&self.decode(&ids[run_start..at], true)?);
                text.push_str(tag);
                run_start = at + 1;
            }
        }
        text.push_str(&self.decode(&ids[run_start..], true)?);
        Ok(text)
    }

    /// Whether a prompt starts with the BOS token.
    pub fn adds_bos(&self) -> bool {
        self.add_bos
    }

    /// The underlying `tokenizers` object (e.g. to save it as tokenizer.json).
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// GPT-2 style byte-level BPE with the pre-tokenizer named by `tokenizer.ggml.pre`.
fn byte_level_bpe(vocab: &GgufVocab, path: &Path) -> Result<(Tokenizer, TokenizerKind)> {
    let pre_name = vocab.pre.clone().unwrap_or_else(|| "default".to_string());
    let byte_level =
        |use_regex| PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, use_regex));
    let regex_split = |pattern: &str| -> Result<PreTokenizerWrapper> {
        let split = Split::new(
            SplitPattern::Regex(pattern.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(ModelError::tokenizer)?;
        Ok(PreTokenizerWrapper::Split(split))
    };
    let mut ignore_merges = false;
    let mut nfc = false;
    let pre = match pre_name.as_str() {
        "smollm" => vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            byte_level(true),
        ],
        "default" | "gpt-2" | "gpt2" => vec![byte_level(true)],
        other => {
            let spec = pre_tokenizer(other).ok_or_else(|| ModelError::UnknownPreTokenizer {
                path: path.to_path_buf(),
                pre: pre_name.clone(),
            })?;
            ignore_merges = spec.ignore_merges;
            nfc = spec.nfc;
            let mut steps = spec
                .splits
                .iter()
                .map(|pattern| regex_split(pattern))
                .collect::<Result<Vec<_>>>()?;
            steps.push(byte_level(false));
            steps
        }
    };
    let vocab_map = vocab_map(vocab);
    let merges = vocab
        .merges
        .iter()
        .filter_map(|m| m.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let model = BPE::builder()
        .vocab_and_merges(vocab_map, merges)
        .ignore_merges(ignore_merges)
        .build()
        .map_err(ModelError::tokenizer)?;
    let mut tokenizer = Tokenizer::new(model);
    if nfc {
        tokenizer
            .with_normalizer(Some(NFC))
            .map_err(ModelError::tokenizer)?;
    }
    tokenizer.with_pre_tokenizer(Some(PreSequence::new(pre)));
    tokenizer.with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())));
    Ok((tokenizer, TokenizerKind::GgufBpe { pre: pre_name }))
}

/// SentencePiece BPE (Llama 1/2 style): merges are derived from the piece scores, unknown
/// bytes fall back to `<0xNN>` tokens.
fn sentencepiece_bpe(vocab: &GgufVocab) -> Result<Tokenizer> {
    let vocab_map = vocab_map(vocab);
    let mut merges: Vec<(f32, u32, String, String)> = Vec::new();
    for (id, piece) in vocab.tokens.iter().enumerate() {
        if vocab.token_type(id) != TOKEN_TYPE_NORMAL {
            continue;
        }
        let score = vocab.scores.get(id).copied().unwrap_or(0.0);
        for (split, _) in piece.char_indices().skip(1) {
            let (left, right) = piece.split_at(split);
            if vocab_map.contains_key(left) && vocab_map.contains_key(right) {
                merges.push((score, id as u32, left.to_string(), right.to_string()));
            }
        }
    }
    // Higher-scoring merged pieces are merged first.
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let merges = merges.into_iter().map(|(_, _, l, r)| (l, r)).collect();
    let unk = vocab
        .unk
        .and_then(|id| vocab.tokens.get(id as usize).cloned())
        .unwrap_or_else(|| "<unk>".to_string());
    let model = BPE::builder()
        .vocab_and_merges(vocab_map, merges)
        .unk_token(unk)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(ModelError::tokenizer)?;
    let mut tokenizer = Tokenizer::new(model);
    let mut steps = Vec::new();
    if vocab.add_space_prefix.unwrap_or(true) {
        steps.push(Prepend::new(SPM_SPACE.to_string()).into());
    }
    steps.push(
        Replace::new(" ", SPM_SPACE)
            .map_err(ModelError::tokenizer)?
            .into(),
    );
    let normalizer = NormalizerSequence::new(steps);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(ModelError::tokenizer)?;
    let decoder = DecoderSequence::new(vec![
        Replace::new(SPM_SPACE, " ")
            .map_err(ModelError::tokenizer)?
            .into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
        Strip::new(' ', usize::from(vocab.add_space_prefix.unwrap_or(true)), 0).into(),
    ]);
    tokenizer.with_decoder(Some(decoder));
    Ok(tokenizer)
}

fn vocab_map(vocab: &GgufVocab) -> Vocab {
    vocab
        .tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect()
}

/// Control tokens become special added tokens (never split, skippable when decoding);
/// user-defined tokens become plain added tokens.
fn register_added_tokens(tokenizer: &mut Tokenizer, vocab: &GgufVocab) -> Result<()> {
    let mut special = Vec::new();
    let mut user = Vec::new();
    for (id, token) in vocab.tokens.iter().enumerate() {
        match vocab.token_type(id) {
            TOKEN_TYPE_CONTROL | TOKEN_TYPE_UNKNOWN => {
                special.push(AddedToken::from(token.clone(), true))
            }
            TOKEN_TYPE_USER_DEFINED => user.push(AddedToken::from(token.clone(), false)),
            // Normal, byte and unused tokens live in the model's own vocabulary.
            _ => {}
        }
    }
    tokenizer
        .add_special_tokens(special)
        .map_err(ModelError::tokenizer)?;
    tokenizer.add_tokens(user).map_err(ModelError::tokenizer)?;
    Ok(())
}

/// Special tokens of a Hugging Face folder, gathered from its JSON side files.
struct HfSpecialTokens {
    bos: Option<u32>,
    eos: Vec<u32>,
    add_bos: bool,
}

impl HfSpecialTokens {
    fn read(folder: &Path, tokenizer: &Tokenizer) -> Self {
        let json = |name: &str| -> Option<serde_json::Value> {
            let text = std::fs::read_to_string(folder.join(name)).ok()?;
            serde_json::from_str(&text).ok()
        };
        let tokenizer_config = json("tokenizer_config.json");
        let token_of = |key: &str| -> Option<u32> {
            let value = tokenizer_config.as_ref()?.get(key)?;
            let text = value
                .as_str()
                .or_else(|| value.get("content").and_then(|c| c.as_str()))?;
            tokenizer.token_to_id(text)
        };
        let mut eos: Vec<u32> = token_of("eos_token").into_iter().collect();
        for file in ["generation_config.json", "config.json"] {
            if let Some(value) = json(file).and_then(|j| j.get("eos_token_id").cloned()) {
                eos.extend(ids_of(&value));
            }
        }
        eos.dedup();
        let mut seen = std::collections::HashSet::new();
        eos.retain(|id| seen.insert(*id));
        let add_bos = tokenizer_config
            .as_ref()
            .and_then(|c| c.get("add_bos_token"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        Self {
            bos: token_of("bos_token"),
            eos,
            add_bos,
        }
    }
}

fn ids_of(value: &serde_json::Value) -> Vec<u32> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().map(|v| v as u32).into_iter().collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(ids_of).collect(),
        _ => Vec::new(),
    }
}

/// Where a Hugging Face folder keeps its tokenizer, for error messages.
pub fn hf_tokenizer_path(folder: &Path) -> PathBuf {
    folder.join("tokenizer.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_TYPE_BYTE: i32 = 6;

    /// A tiny SentencePiece vocabulary: specials, byte fallbacks, and pieces with scores.
    fn spm_vocab() -> GgufVocab {
        let mut tokens = vec!["<unk>".to_string(), "<s>".into(), "</s>".into()];
        let mut types = vec![2, 3, 3];
        let mut scores = vec![0.0, 0.0, 0.0];
        for byte in 0..=255u8 {
            tokens.push(format!("<0x{byte:02X}>"));
            types.push(TOKEN_TYPE_BYTE);
            scores.push(0.0);
        }
        for (piece, score) in [
            ("\u{2581}", -1.0),
            ("h", -2.0),
            ("e", -2.0),
            ("l", -2.0),
            ("o", -2.0),
            ("\u{2581}h", -3.0),
            ("el", -4.0),
            ("\u{2581}hel", -5.0),
            ("lo", -6.0),
            ("\u{2581}hello", -7.0),
        ] {
            tokens.push(piece.to_string());
            types.push(1);
            scores.push(score);
        }
        GgufVocab {
            model: "llama".into(),
            tokens,
            scores,
            token_types: types,
            bos: Some(1),
            eos: Some(2),
            unk: Some(0),
            add_bos: true,
            ..Default::default()
        }
    }

    #[test]
    fn sentencepiece_merges_whole_words_and_falls_back_to_bytes() {
        let tokenizer =
            TextTokenizer::from_gguf_vocab(&spm_vocab(), Path::new("test.gguf")).unwrap();
        assert_eq!(tokenizer.kind(), &TokenizerKind::GgufSentencePiece);
        let ids = tokenizer.encode_prompt("hello").unwrap();
        let hello = tokenizer.token_id("\u{2581}hello").unwrap();
        assert_eq!(ids, vec![1, hello]);
        // "é" is not in the vocabulary: two UTF-8 byte tokens.
        let ids = tokenizer.encode("é").unwrap();
        let c3 = tokenizer.token_id("<0xC3>").unwrap();
        let a9 = tokenizer.token_id("<0xA9>").unwrap();
        assert!(ids.ends_with(&[c3, a9]), "{ids:?}");
        assert_eq!(tokenizer.decode(&ids, true).unwrap(), "é");
        assert_eq!(tokenizer.decode(&[1, hello], true).unwrap(), "hello");
    }

    #[test]
    fn reasoning_tags_survive_decoding_even_as_special_tokens() {
        let mut vocab = spm_vocab();
        vocab.tokens.push("<think>".into());
        vocab.token_types.push(TOKEN_TYPE_CONTROL);
        vocab.scores.push(0.0);
        let tokenizer = TextTokenizer::from_gguf_vocab(&vocab, Path::new("test.gguf")).unwrap();
        let think = tokenizer.token_id("<think>").unwrap();
        let hello = tokenizer.token_id("\u{2581}hello").unwrap();
        assert_eq!(tokenizer.decode(&[think, hello], true).unwrap(), "hello");
        assert_eq!(
            tokenizer.decode_reply(&[think, hello, 2]).unwrap(),
            "<think>hello"
        );
    }

    #[test]
    fn sentencepiece_without_a_space_prefix_does_not_mark_the_first_word() {
        let vocab = GgufVocab {
            add_space_prefix: Some(false),
            ..spm_vocab()
        };
        let tokenizer = TextTokenizer::from_gguf_vocab(&vocab, Path::new("test.gguf")).unwrap();
        let ids = tokenizer.encode("hello").unwrap();
        let id = |piece: &str| tokenizer.token_id(piece).unwrap();
        // As llama.cpp: no `▁` before the text, so the pieces merge by score from the letters.
        assert_eq!(ids, vec![id("h"), id("el"), id("lo")]);
        assert_eq!(tokenizer.decode(&ids, true).unwrap(), "hello");
        // A space inside the text still becomes `▁`.
        let ids = tokenizer.encode("lo hello").unwrap();
        assert_eq!(ids, vec![id("lo"), id("\u{2581}hello")]);
    }

    #[test]
    fn unknown_pre_tokenizer_is_an_error_naming_it() {
        let vocab = GgufVocab {
            model: "gpt2".into(),
            pre: Some("mystery-bpe".into()),
            tokens: vec!["a".into()],
            ..Default::default()
        };
        let err = TextTokenizer::from_gguf_vocab(&vocab, Path::new("m.gguf")).unwrap_err();
        assert_eq!(err.code(), "tokenizer.unknown_pre_tokenizer");
        assert!(err.to_string().contains("mystery-bpe"));
        assert!(err.to_string().contains("m.gguf"));
    }

    #[test]
    fn unsupported_tokenizer_model_is_an_error() {
        let vocab = GgufVocab {
            model: "bert".into(),
            tokens: vec!["a".into()],
            ..Default::default()
        };
        let err = TextTokenizer::from_gguf_vocab(&vocab, Path::new("m.gguf")).unwrap_err();
        assert_eq!(err.code(), "tokenizer.missing");
        assert!(err.to_string().contains("bert"));
    }
}
