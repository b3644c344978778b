//! Constrained decoding: token masks that hold generation to a JSON schema (llguidance).
//!
//! At every step the constraint masks the logits of tokens the schema cannot accept next, so
//! even a small model produces schema-valid JSON. The token environment is built from our own
//! tokenizer (its tokenizer.json form), so llguidance sees exactly the bytes every token means.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{TokEnv, TokRxInfo, TokTrie, TokenId, TokenizerEnv};
use llguidance::{Matcher, ParserFactory};

use citrus_formats::error::{ModelError, Result};
use citrus_formats::tokenizer::TextTokenizer;

/// Something that restricts which token may come next.
pub trait TokenConstraint {
    /// Sets the logits of tokens that may not come next to −∞.
    fn mask_logits(&mut self, logits: &mut [f32]) -> Result<()>;
    /// Records the token that was chosen; returns true when the constraint is satisfied and
    /// generation should stop.
    fn accept(&mut self, token: u32) -> Result<bool>;
    /// The tokens the constraint allows as the only continuation from here (a JSON key, the
    /// rest of an enum value), already accepted; empty when the next token is a real choice.
    /// Generation feeds them to the model in one batch instead of one forward pass each.
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
    /// Whether the constraint is satisfied and generation should stop.
    fn is_complete(&self) -> bool {
        false
    }
}

/// Our tokenizer as llguidance's token environment.
struct CitrusTokEnv {
    trie: TokTrie,
    tokenizer: TextTokenizer,
}

impl TokenizerEnv for CitrusTokEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        self.trie.tokenize_with_greedy_fallback(s, |text| {
            self.tokenizer.encode(text).unwrap_or_default()
        })
    }
}

/// A compiled token environment for one tokenizer; cheap to clone and reuse across schemas.
#[derive(Clone)]
pub struct ConstraintFactory {
    factory: Arc<ParserFactory>,
}

impl ConstraintFactory {
    /// Builds the token trie for `tokenizer`, with llguidance's default limits on how large a
    /// grammar may be.
    pub fn new(tokenizer: &TextTokenizer) -> Result<Self> {
        Self::with_grammar_scale(tokenizer, 1)
    }

    /// As [`ConstraintFactory::new`], with the limits on a grammar's size and on the lexer work
    /// at its start and per token raised `scale` times (for measuring grammars beyond them).
    pub fn with_grammar_scale(tokenizer: &TextTokenizer, scale: u64) -> Result<Self> {
        let json = tokenizer
            .inner()
            .to_string(false)
            .map_err(ModelError::tokenizer)?;
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(ModelError::tokenizer)?;
        let token_bytes =
            std::panic::catch_unwind(|| llguidance::token_bytes_from_tokenizer_json(&value))
                .map_err(|_| {
                    ModelError::tokenizer("cannot derive token bytes for constrained decoding")
                })?
                .map_err(ModelError::tokenizer)?;
        let stop = tokenizer.stop_ids();
        let eos = *stop
            .first()
            .ok_or_else(|| ModelError::tokenizer("the tokenizer has no end-of-sequence token"))?;
        let mut info = TokRxInfo::new(token_bytes.len() as u32, eos);
        info.tok_end_of_turn = stop.get(1).copied();
        let mut trie = TokTrie::from(&info, &token_bytes);
        if stop.len() > 1 {
            trie = trie.with_eos_tokens(stop);
        }
        let env: TokEnv = Arc::new(CitrusTokEnv {
            trie,
            tokenizer: tokenizer.clone(),
        });
        let mut factory = ParserFactory::new_simple(&env).map_err(ModelError::tokenizer)?;
        factory.quiet();
        let limits = factory.limits_mut();
        limits.initial_lexer_fuel *= scale;
        limits.step_lexer_fuel *= scale;
        limits.max_grammar_size *= scale as usize;
        limits.max_lexer_states *= scale as usize;
        Ok(Self {
            factory: Arc::new(factory),
        })
    }

    /// A constraint that accepts exactly the JSON documents valid under `schema`, written
    /// compactly (no free whitespace, which small models would otherwise loop on).
    pub fn json_schema(&self, schema: &serde_json::Value) -> Result<JsonConstraint> {
        let mut schema = schema.clone();
        if let Some(object) = schema.as_object_mut() {
            object.insert(
                "x-guidance".into(),
                serde_json::json!({
                    "whitespace_flexible": false,
                    "item_separator": ", ",
                    "key_separator": ": ",
                    "lenient": false,
                }),
            );
        }
        let grammar = TopLevelGrammar::from_json_schema(schema);
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| ModelError::invalid_setting("json_schema", e.to_string()))?;
        Ok(JsonConstraint {
            matcher: Matcher::new(Ok(parser)),
        })
    }
}

/// Holds one generation to a JSON schema.
pub struct JsonConstraint {
    matcher: Matcher,
}

impl JsonConstraint {
    fn error(&self, context: &str) -> ModelError {
        ModelError::invalid_setting(
            "json_schema",
            format!(
                "{context}: {}",
                self.matcher
                    .get_error()
                    .unwrap_or_else(|| "unknown error".into())
            ),
        )
    }
}

impl TokenConstraint for JsonConstraint {
    fn mask_logits(&mut self, logits: &mut [f32]) -> Result<()> {
        let mask = self
            .matcher
            .compute_mask_or_eos()
            .map_err(|_| self.error("no valid continuation"))?;
        let mut any_allowed = false;
        for (id, logit) in logits.iter_mut().enumerate() {
            if id < mask.len() && mask.is_allowed(id as TokenId) {
                any_allowed |= logit.is_finite();
            } else {
                *logit = f32::NEG_INFINITY;
            }
        }
        if !any_allowed {
            return Err(self.error("the schema allows no token the model can produce"));
        }
        Ok(())
    }

    fn accept(&mut self, token: u32) -> Result<bool> {
        if self.matcher.is_stopped() {
            return Ok(true);
        }
        self.matcher
            .consume_token(token)
            .map_err(|_| self.error("token rejected"))?;
        Ok(self.matcher.is_stopped())
    }

    fn forced_tokens(&mut self) -> Vec<u32> {
        if self.matcher.is_stopped() {
            return Vec::new();
        }
        self.matcher.consume_ff_tokens()
    }

    fn is_complete(&self) -> bool {
        self.matcher.is_stopped()
    }
}
