//! `citrus bench --engine NAME`: what a server's users wait for, measured from the workstation
//! over its streaming API: time to the first text (the prompt's processing plus the network),
//! then the rate of the rest.

use std::time::Instant;

use citrus_engine::generation::CancelToken;
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_runner::engine::ChatCall;
use serde::Serialize;

use super::{BenchArgs, BENCH_TEXT};
use crate::error::AppResult;

/// Words per token of clinical English, roughly, for a prompt of about the asked length.
const WORDS_PER_TOKEN: f64 = 0.75;

/// The measured numbers.
#[derive(Debug, Serialize)]
struct RemoteBenchReport {
    engine: String,
    model: String,
    url: String,
    prompt_words: usize,
    seconds_to_first_text: f64,
    gen_tokens: usize,
    decode_tokens_per_second: f64,
}

/// Streams one greedy completion of about `--prompt-tokens` and `--gen-tokens` and times it.
pub(super) fn run(args: &BenchArgs) -> AppResult<()> {
    let mut engine = args.engine.open(&args.model, args.db.as_deref())?;
    let origin = engine.origin();
    let words = (args.prompt_tokens as f64 * WORDS_PER_TOKEN).ceil() as usize;
    let text: Vec<&str> = BENCH_TEXT.split_whitespace().cycle().take(words).collect();
    let messages = [ChatMessage::user(format!(
        "{}\n\nSummarize the case.",
        text.join(" ")
    ))];
    let settings = ChatSettings {
        max_new_tokens: args.gen_tokens,
        sampling: SamplingParams::greedy(),
        stop_strings: Vec::new(),
        reuse_prefix: false,
    };
    let started = Instant::now();
    let mut first = None;
    let reply = engine.chat(
        ChatCall::new(&messages, &settings),
        &CancelToken::new(),
        &mut |_| {
            first.get_or_insert_with(Instant::now);
        },
    )?;
    let ended = Instant::now();
    let first = first.unwrap_or(ended);
    let rest = reply.tokens.saturating_sub(1);
    let report = RemoteBenchReport {
        engine: origin.engine().to_string(),
        model: origin.model_name().to_string(),
        url: origin.location().to_string(),
        prompt_words: words,
        seconds_to_first_text: (first - started).as_secs_f64(),
        gen_tokens: reply.tokens,
        decode_tokens_per_second: rest as f64 / (ended - first).as_secs_f64().max(1e-9),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!(
            "{} on {} ({})\n  first text {:>8.2} s ({} words of prompt)\n  decode     {:>8.1} tok/s ({} tokens)",
            report.model,
            report.engine,
            report.url,
            report.seconds_to_first_text,
            report.prompt_words,
            report.decode_tokens_per_second,
            report.gen_tokens,
        );
    }
    Ok(())
}
