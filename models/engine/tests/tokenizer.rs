//! The tokenizer built from the default model's GGUF metadata.

mod common;

use common::shared_model;

#[test]
fn special_tokens_have_their_known_ids() {
    let model = shared_model();
    let tok = model.tokenizer();
    assert_eq!(tok.token_id("<|endoftext|>"), Some(0));
    assert_eq!(tok.token_id("<|im_start|>"), Some(1));
    assert_eq!(tok.token_id("<|im_end|>"), Some(2));
    assert_eq!(tok.bos_token().as_deref(), Some("<|im_start|>"));
    assert_eq!(tok.eos_token().as_deref(), Some("<|im_end|>"));
    assert_eq!(tok.stop_ids(), &[2]);
    assert_eq!(tok.vocab_size(), 49152);
}

#[test]
fn chatml_markers_are_single_tokens() {
    let model = shared_model();
    let tok = model.tokenizer();
    let ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n").unwrap();
    assert_eq!(ids.first(), Some(&1));
    assert!(ids.contains(&2));
    let user = tok.token_id("user").unwrap();
    assert_eq!(ids[1], user);
}

#[test]
fn words_split_at_spaces_into_prefixed_tokens() {
    let model = shared_model();
    let tok = model.tokenizer();
    // Byte-level BPE: a leading space is part of the next word ("Ġ").
    let ids = tok.encode("Hello world").unwrap();
    let expected = vec![
        tok.token_id("Hello").unwrap(),
        tok.token_id("Ġworld").unwrap(),
    ];
    assert_eq!(ids, expected);
}

#[test]
fn digits_are_split_one_by_one() {
    let model = shared_model();
    let tok = model.tokenizer();
    let ids = tok.encode("BP 150/90").unwrap();
    let pieces: Vec<String> = ids.iter().map(|&id| tok.token_str(id).unwrap()).collect();
    for digit in ["1", "5", "0", "9"] {
        assert!(pieces.iter().any(|p| p == digit), "{pieces:?}");
    }
    assert!(
        !pieces.iter().any(|p| p.contains("150") || p.contains("90")),
        "{pieces:?}"
    );
}

#[test]
fn round_trips_are_lossless() {
    let model = shared_model();
    let tok = model.tokenizer();
    let texts = [
        "Troponin I 2.4 ng/mL at 03:15, BP 150/90 mm Hg, HbA1c 7.8%.",
        "Patient reports 😷 and 🤒 since 2024-11-03; 体温 39.2°C, 咳嗽 (cough).",
        "<|im_start|>system\nYou are a clinician.<|im_end|>\n<|im_start|>user\nDx?<|im_end|>\n",
        "  leading spaces,\ttabs\nand\r\nnewlines  ",
        "Ünïcödé façade naïve résumé — “quotes” … ½ µg",
    ];
    for text in texts {
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), text, "ids {ids:?}");
    }
}

#[test]
fn prompts_do_not_get_an_extra_bos() {
    let model = shared_model();
    let tok = model.tokenizer();
    // SmolLM2 declares add_bos_token = false: the template's own <|im_start|> leads.
    let ids = tok.encode_prompt("<|im_start|>user\nhi").unwrap();
    assert_eq!(ids.iter().filter(|&&id| id == 1).count(), 1);
}
