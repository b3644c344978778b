//! Plain-words explanations for the shell's stable error codes.

use crate::api::ApiError;

/// The sentence shown to the user for an error: a known code's explanation, else its message.
pub fn describe(error: &ApiError) -> String {
    let known = match error.code.as_str() {
        "store.not_found" => "That item no longer exists.",
        "model.too_large" => "The model does not fit in this machine's memory.",
        "model.unsupported" => "This model's format or architecture is not supported.",
        "model.unsupported_setting" => {
            "This model uses a setting the app does not compute (named below), so it was not \
             loaded rather than run as a different model."
        }
        "model.not_found" => {
            "The model file could not be found. It may have been moved or deleted."
        }
        "reasoning.empty_complaint" => "Enter the chief complaint first.",
        "reasoning.empty_question" => "Enter the question first.",
        "reasoning.no_options" => "Add at least one answer option, or leave the options empty.",
        "reasoning.duplicate_option" => "Each answer option needs its own letter.",
        "reasoning.invalid_field" => {
            "One of the fields is not valid. Check the case and try again."
        }
        "engine.no_model" => "No model is loaded. Choose one under Models.",
        "engine.busy" => "The engine is busy with another job. Try again when it finishes.",
        "generation.prompt_too_long" => {
            "The case is too long for this model's context. Shorten it or lower the token limit."
        }
        "store.busy" => {
            "Another open window or terminal is running this now. Wait for it or stop it there."
        }
        "store.finished" => "This is already finished; start a new one instead.",
        "store.key_missing" => {
            "The case store is encrypted and its key cannot be found where it is kept (named \
             below). Nothing was changed; restore the key or ask IT."
        }
        "store.wrong_key" => {
            "The key does not open the case store (a wrong passphrase or key file?). Nothing \
             was changed."
        }
        "store.key_unavailable" => {
            "The operating system's keyring holding the store's key does not answer. Unlock it \
             or log in to the desktop session, then start again."
        }
        "store.key_invalid" => "The store's key file or key record is damaged (named below).",
        "store.encrypt" => {
            "The case store could not be encrypted; it was left exactly as it was (details below)."
        }
        "store.audit_broken" => {
            "The audit trail has been tampered with: an entry was edited, deleted or reordered \
             (the first one is named below)."
        }
        "deid.unreviewed" => {
            "Review the replacements de-identification proposes (tick the ones that are not \
             identifiers to keep them) and confirm before exporting."
        }
        "eval.mismatch" => {
            "These evaluations cannot be combined: they ran different files or settings."
        }
        "eval.no_items" => {
            "The benchmark file has no usable items: each line needs a question, options and a \
             key that is one of them."
        }
        "server.listen" => {
            "The local API could not listen on that port; another program may be using it. \
             Choose another port."
        }
        "server.key_required" => {
            "Serving beyond this machine needs an API key, so that only those given it can use \
             the model."
        }
        "remote.unreachable" => {
            "The inference server did not answer. Check that it runs and that this computer can \
             reach it."
        }
        "remote.unauthorized" => "The inference server refused the API key (or needs one).",
        "remote.status" => "The inference server reported an error (its message is below).",
        "remote.stream_cut" => {
            "The server's reply was cut off. What arrived is kept in the run, marked failed."
        }
        "remote.malformed" => {
            "The server sent something that is not an OpenAI-compatible reply. What arrived is \
             kept in the run, marked failed."
        }
        "remote.unsupported" => "This engine cannot do what was asked (see below).",
        "remote.model_not_found" => "The server does not list that model.",
        "remote.key_file" => "The API key file could not be read.",
        "store.no_engine" => "There is no engine of that name. Add it under Models.",
        "vocabulary.missing" => {
            "The ICD-10-CM vocabulary is not installed, so diagnoses cannot be coded. Run \
             scripts/setup to install it."
        }
        "vocabulary.unknown_code" => {
            "That code is not in the installed ICD-10-CM release. Pick one from the suggestions."
        }
        "engine.bad_name" => {
            "An engine's name uses letters, digits, '-', '_' or '.', and cannot be \"local\"."
        }
        "engine.is_self" => {
            "That engine is this window's own local API: a run on it would wait for itself. \
             Choose This computer."
        }
        "dialog.unavailable" => "The file dialog could not be opened on this system.",
        "ipc.failed" => "The app's window lost contact with its engine.",
        _ => "",
    };
    if !known.is_empty() {
        known.to_string()
    } else if !error.message.is_empty() {
        error.message.clone()
    } else {
        format!("Something went wrong ({}).", error.code)
    }
}

/// The shell's own message, when [`describe`] replaced it with plain words (it names the file,
/// line or item concerned).
pub fn detail(error: &ApiError) -> Option<String> {
    (!error.message.is_empty() && describe(error) != error.message).then(|| error.message.clone())
}
