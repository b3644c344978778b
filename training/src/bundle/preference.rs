//! A preference run in a hand-off bundle: the pairs as a ranking dataset (the prompt's
//! messages with the chosen and the rejected reply, which LLaMA-Factory's sharegpt ranking
//! format and axolotl's `chat_template.default` both read), Citrus' own `dpo_data.jsonl`
//! form, and each trainer's keys for the same loss:
//!
//! | Citrus | LLaMA-Factory (`stage: dpo`) | axolotl (TRL) |
//! |---|---|---|
//! | CPO-SimPO β, γ, α | `pref_loss: simpo`, `pref_beta: β`, `simpo_gamma: γ`, `pref_ftx: α` | `rl: simpo`, `rl_beta: β`, `simpo_gamma: γ`, `cpo_alpha: α` |
//! | SimPO | the same with `pref_ftx: 0` | the same with `cpo_alpha: 0` |
//! | DPO β (α) | `pref_loss: sigmoid`, `pref_beta: β`, `pref_ftx: α` | `rl: dpo`, `rl_beta: β`, `rpo_alpha: α` |
//!
//! Both compute SimPO's −log σ(β·(mean log p chosen − mean log p rejected) − γ) with γ as the
//! margin itself (not γ/β). CPO (the summed margin without length normalisation) has no
//! counterpart in either and is refused.

use serde_json::{json, Value};

use super::{message_values, spell_out_system, Written, DATA_DIR};
use crate::config::TrainConfig;
use crate::dataset::pairs::{PairSet, PreferencePair};
use crate::error::{Result, TrainError};
use crate::preference::{PreferenceMethod, PreferenceSettings};

/// Writes the pairs, split by group as a local run splits them.
pub fn write_pairs(
    set: &PairSet,
    config: &TrainConfig,
    system: Option<&str>,
    write: &mut dyn FnMut(&str, String) -> Result<()>,
) -> Result<Written> {
    let (train, validation) = set.split(config.val_split, config.seed)?;
    write("data/train.jsonl", ranking_jsonl(&train, system))?;
    if !validation.is_empty() {
        write("data/validation.jsonl", ranking_jsonl(&validation, system))?;
    }
    write("data/train_citrus_dpo.jsonl", citrus_jsonl(&train, system))?;
    Ok(Written {
        train: train.len(),
        validation: validation.len(),
        multi_turn: 0,
    })
}

/// `{"messages": prompt, "chosen": reply, "rejected": reply}` per line.
fn ranking_jsonl(pairs: &[PreferencePair], system: Option<&str>) -> String {
    let reply = |text: &str| json!({"role": "assistant", "content": text});
    pairs
        .iter()
        .map(|pair| {
            let prompt = spell_out_system(pair.prompt.clone(), system);
            let line = json!({
                "messages": message_values(&prompt),
                "chosen": reply(&pair.chosen),
                "rejected": reply(&pair.rejected),
            });
            format!("{line}\n")
        })
        .collect()
}

/// Citrus' `{"chosen": [messages], "rejected": [messages]}` per line.
fn citrus_jsonl(pairs: &[PreferencePair], system: Option<&str>) -> String {
    pairs
        .iter()
        .map(|pair| {
            let conversation =
                |answer: &str| message_values(&spell_out_system(pair.conversation(answer), system));
            let line = json!({
                "chosen": conversation(&pair.chosen),
                "rejected": conversation(&pair.rejected),
            });
            format!("{line}\n")
        })
        .collect()
}

/// Adds LLaMA-Factory's keys for the loss to its SFT config.
pub fn llama_factory_keys(settings: &PreferenceSettings, config: &mut Value) -> Result<()> {
    let loss = match settings.method {
        PreferenceMethod::CpoSimpo | PreferenceMethod::Simpo => "simpo",
        PreferenceMethod::Dpo => "sigmoid",
        PreferenceMethod::Cpo => return Err(no_counterpart()),
    };
    config["stage"] = "dpo".into();
    config["pref_loss"] = loss.into();
    config["pref_beta"] = settings.beta.into();
    config["pref_ftx"] = settings.alpha.into();
    if loss == "simpo" {
        config["simpo_gamma"] = settings.gamma.into();
    }
    config["output_dir"] = "output/llamafactory".into();
    Ok(())
}

/// Adds axolotl's keys for the loss, and its preference datasets, to its SFT config.
pub fn axolotl_keys(
    settings: &PreferenceSettings,
    validation: bool,
    config: &mut Value,
) -> Result<()> {
    match settings.method {
        PreferenceMethod::CpoSimpo | PreferenceMethod::Simpo => {
            config["rl"] = "simpo".into();
            config["simpo_gamma"] = settings.gamma.into();
            config["cpo_alpha"] = settings.alpha.into();
        }
        PreferenceMethod::Dpo => {
            config["rl"] = "dpo".into();
            if settings.alpha > 0.0 {
                config["rpo_alpha"] = settings.alpha.into();
            }
        }
        PreferenceMethod::Cpo => return Err(no_counterpart()),
    }
    config["rl_beta"] = settings.beta.into();
    let dataset = |file: &str| {
        json!({
            "path": format!("{DATA_DIR}/{file}"),
            "ds_type": "json",
            "split": "train",
            "type": "chat_template.default",
            "chat_template": "tokenizer_default",
            "field_messages": "messages",
            "field_chosen": "chosen",
            "field_rejected": "rejected",
            "message_property_mappings": {"role": "role", "content": "content"},
        })
    };
    config["datasets"] = json!([dataset("train.jsonl")]);
    if validation {
        config["test_datasets"] = json!([dataset("validation.jsonl")]);
    }
    if let Some(map) = config.as_object_mut() {
        map.remove("train_on_inputs");
    }
    Ok(())
}

fn no_counterpart() -> TrainError {
    TrainError::setting(
        "method",
        "CPO (a summed margin without length normalisation) has no counterpart in LLaMA-Factory \
         or axolotl: hand off cpo-simpo, simpo or dpo",
    )
}
