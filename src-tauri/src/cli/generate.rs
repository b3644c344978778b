//! `citrus generate`: chat-templated generation streamed to stdout; Ctrl-C stops it.

use citrus_types::defaults;
use std::io::Write;

use crate::error::AppResult;
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use clap::Args;

use super::model_args::ModelArgs;

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The user's message.
    #[arg(long)]
    prompt: String,
    /// A system message.
    #[arg(long)]
    system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = defaults::GENERATE_MAX_NEW_TOKENS)]
    max_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    model: ModelArgs,
}

/// Sampling flags.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Temperature (0 = greedy).
    #[arg(long, default_value_t = defaults::TEMPERATURE)]
    temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long, default_value_t = defaults::TOP_P)]
    top_p: f32,
    /// Keep only the K most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Drop tokens less likely than MIN_P times the best one.
    #[arg(long)]
    min_p: Option<f32>,
    /// Repetition penalty (1 = off).
    #[arg(long, default_value_t = defaults::REPETITION_PENALTY)]
    repeat_penalty: f32,
    /// Random seed.
    #[arg(long, default_value_t = defaults::SEED)]
    seed: u64,
}

impl SamplingArgs {
    /// The sampling parameters these flags describe.
    pub fn params(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: (self.top_p < 1.0).then_some(self.top_p),
            min_p: self.min_p,
            repetition_penalty: self.repeat_penalty,
            repeat_last_n: 64,
            seed: self.seed,
        }
    }
}

/// Streams the model's reply to stdout; statistics go to stderr.
pub fn run(args: GenerateArgs) -> AppResult<()> {
    let mut model = args.model.load()?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system));
    }
    messages.push(ChatMessage::user(&args.prompt));
    let settings = ChatSettings {
        max_new_tokens: args.max_tokens,
        sampling: args.sampling.params(),
        stop_strings: Vec::new(),
        reuse_prefix: false,
    };
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    // A second Ctrl-C while one is being handled is ignored; failing to install is harmless.
    let _ = ctrlc::set_handler(move || on_interrupt.cancel());
    let mut stdout = std::io::stdout();
    let output = model.chat(&messages, &settings, &cancel, &mut |text| {
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    })?;
    println!();
    if output.stop_reason == StopReason::Cancelled {
        eprintln!("[cancelled]");
    }
    eprintln!(
        "[{} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s, stop: {:?}]",
        output.prompt_tokens,
        output.prefill_tokens_per_second(),
        output.tokens.len(),
        output.decode_tokens_per_second(),
        output.stop_reason,
    );
    Ok(())
}
