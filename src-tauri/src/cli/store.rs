//! `citrus store`: how the case store is encrypted, encrypting a plaintext one, changing
//! its key.

use std::path::PathBuf;

use citrus_types::protection::{AuditAction, StoreStatus};
use clap::{Args, Subcommand};

use super::runs::open_store;
use crate::error::{AppError, AppResult};
use crate::store::crypt::{self, sources, FileState};
use crate::store::{AuditEvent, Store};

/// Arguments of `store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
    /// The case store [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE", global = true)]
    db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Say whether the store is encrypted and where its key is kept.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Encrypt a plaintext store (from an earlier release) now; opening it does the same.
    Encrypt,
    /// Measure what encryption costs on the store's work (scratch stores, side by side).
    Bench {
        /// Cases in each scratch store.
        #[arg(long, default_value_t = 500)]
        cases: usize,
    },
    /// Encrypt the store under a new key. Without an option the new key goes where the old one
    /// is kept. Close the window and other `citrus` commands first.
    Rekey {
        /// Derive the new key from the passphrase in CITRUS_STORE_NEW_PASSPHRASE (PBKDF2).
        #[arg(long, conflicts_with_all = ["keyring", "key_file"])]
        passphrase: bool,
        /// Keep the new key in the operating system's keyring.
        #[arg(long, conflicts_with = "key_file")]
        keyring: bool,
        /// Keep the new key in this file (created owner-only; an existing key file is used).
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
}

/// The variable holding the new passphrase for `rekey --passphrase`.
const NEW_PASSPHRASE_VAR: &str = "CITRUS_STORE_NEW_PASSPHRASE";

/// Runs `citrus store`.
pub fn run(args: StoreArgs) -> AppResult<()> {
    let path = args
        .db
        .clone()
        .unwrap_or_else(|| citrus_host::home::citrus_home().join(crate::store::STORE_FILE));
    match args.command {
        StoreCommand::Status { json } => {
            let status = open_store(args.db.as_deref())?.protection()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).unwrap_or_default()
                );
            } else {
                print_status(&status);
            }
        }
        StoreCommand::Encrypt => {
            let was = crypt::file_state(&path)?;
            let store = open_store(Some(&path))?;
            let status = store.protection()?;
            match was {
                FileState::Plaintext => println!("encrypted {}", path.display()),
                FileState::Absent => println!("created {}, encrypted", path.display()),
                FileState::Encrypted => println!("{} was already encrypted", path.display()),
            }
            print_status(&status);
        }
        StoreCommand::Bench { cases } => {
            let folder =
                std::env::temp_dir().join(format!("citrus-store-bench-{}", std::process::id()));
            let rows = crate::store::overhead::measure(&folder, cases)?;
            let _ = std::fs::remove_dir_all(&folder);
            println!(
                "{:<52} {:>10} {:>10} {:>7}",
                "work", "plaintext", "encrypted", "ratio"
            );
            for row in rows {
                println!(
                    "{:<52} {:>8.3}ms {:>8.3}ms {:>6.2}×",
                    row.work,
                    row.plaintext_ms,
                    row.encrypted_ms,
                    row.ratio()
                );
            }
        }
        StoreCommand::Rekey {
            passphrase,
            keyring,
            key_file,
        } => rekey(&path, passphrase, keyring, key_file)?,
    }
    Ok(())
}

fn rekey(
    path: &std::path::Path,
    passphrase: bool,
    keyring: bool,
    key_file: Option<PathBuf>,
) -> AppResult<()> {
    let before = open_store(Some(path))?.protection()?;
    let current = sources::recorded_source(path)?;
    let new = if passphrase {
        let phrase = std::env::var(NEW_PASSPHRASE_VAR)
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                AppError::Usage(format!("set {NEW_PASSPHRASE_VAR} to the new passphrase"))
            })?;
        sources::new_passphrase_key(&phrase)
    } else if keyring {
        sources::keyring_key(path).ok_or_else(|| {
            AppError::Usage("no OS keyring answers here: choose --key-file or --passphrase".into())
        })?
    } else if let Some(file) = key_file {
        if file.exists() {
            return Err(AppError::Usage(format!(
                "{} exists: a rekey writes a new key file",
                file.display()
            )));
        }
        sources::key_file_key(path, file)?
    } else {
        match current {
            Some(sources::KeySource::KeyFile { path: file }) => {
                sources::key_file_key(path, alternate_key_file(&file))?
            }
            _ => sources::new_key(path)?,
        }
    };
    let copied = crypt::rekey(path, new)?;
    let store = Store::open(path)?;
    let after = store.protection()?;
    store.audit(AuditEvent::new(AuditAction::KeyChanged, []).detail(format!(
        "from {} to {}",
        before.key_location.unwrap_or_default(),
        after.key_location.clone().unwrap_or_default()
    )))?;
    println!(
        "re-keyed {}: {} rows copied and checked",
        path.display(),
        copied.rows()
    );
    print_status(&after);
    Ok(())
}

/// The other of two names a key file alternates between on each rekey (`citrus.key` and
/// `citrus.next.key`), so the old key stays until the store has switched.
fn alternate_key_file(file: &std::path::Path) -> PathBuf {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let other = match name.strip_suffix(".next.key") {
        Some(stem) => format!("{stem}.key"),
        None => format!("{}.next.key", name.trim_end_matches(".key")),
    };
    file.with_file_name(other)
}

fn print_status(status: &StoreStatus) {
    println!("store:      {}", status.path);
    match (&status.cipher, status.encrypted) {
        (Some(cipher), true) => println!("encrypted:  yes, SQLCipher {cipher} (AES-256)"),
        (_, true) => println!("encrypted:  yes"),
        (_, false) => println!("encrypted:  NO"),
    }
    if let (Some(kind), Some(location)) = (status.key, &status.key_location) {
        println!("key:        {} — {location}", kind.describe());
    }
    if let Some(warning) = &status.warning {
        println!("warning:    {warning}");
    }
    println!("schema:     version {}", status.schema_version);
    println!("audit:      {} entries", status.audit_entries);
}
