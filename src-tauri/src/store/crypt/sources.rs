//! Where a store's key is kept, recorded beside the store in `<store>.key.json` (which holds
//! no secret): the OS keyring, a key file, or a passphrase's salt. A new store takes the
//! keyring when one answers, else a key file; IT can choose a passphrase
//! (`CITRUS_STORE_PASSPHRASE`) or a key file of its own (`CITRUS_STORE_KEY_FILE`) instead.
//! An existing store always follows its record: a key that cannot be found is an error,
//! never a new key.

use std::path::{Path, PathBuf};

use citrus_types::protection::KeyKind;
use serde::{Deserialize, Serialize};

use super::key::{hex, unhex, StoreKey, PASSPHRASE_ITERATIONS};
use crate::store::error::{StoreError, StoreResult};

/// The variable holding IT's passphrase.
pub const PASSPHRASE_VAR: &str = "CITRUS_STORE_PASSPHRASE";
/// The variable naming a key file to use for a new store.
pub const KEY_FILE_VAR: &str = "CITRUS_STORE_KEY_FILE";
/// Set to `off` to skip the keyring for a new store (a key file is used).
pub const KEYRING_VAR: &str = "CITRUS_STORE_KEYRING";
/// The keyring service name.
const KEYRING_SERVICE: &str = "citrus-workstation";
/// The default key file's name, beside the store.
const DEFAULT_KEY_FILE: &str = "citrus.key";

/// Where the key of one store is kept (the record beside the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum KeySource {
    /// An entry of the OS keyring.
    Keyring {
        /// Its service.
        service: String,
        /// Its user (names the store).
        user: String,
    },
    /// A file holding the key as hex (relative paths are relative to the store's folder).
    KeyFile {
        /// The file.
        path: PathBuf,
    },
    /// Derived from the passphrase in `CITRUS_STORE_PASSPHRASE`.
    Passphrase {
        /// The salt, hex.
        salt: String,
        /// PBKDF2 rounds.
        iterations: u32,
    },
}

impl KeySource {
    /// The kind of place.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Keyring { .. } => KeyKind::Keyring,
            Self::KeyFile { .. } => KeyKind::KeyFile,
            Self::Passphrase { .. } => KeyKind::Passphrase,
        }
    }

    /// Where, in words.
    pub fn location(&self, store: &Path) -> String {
        match self {
            Self::Keyring { service, user } => format!("keyring entry {service:?} / {user:?}"),
            Self::KeyFile { path } => key_file_path(store, path).display().to_string(),
            Self::Passphrase { iterations, .. } => {
                format!("{PASSPHRASE_VAR} ({iterations} PBKDF2 rounds)")
            }
        }
    }

    /// Advice when the key's place weakens the protection.
    pub fn warning(&self, store: &Path) -> Option<String> {
        let Self::KeyFile { path } = self else {
            return None;
        };
        let file = key_file_path(store, path);
        (file.parent() == store.parent()).then(|| {
            format!(
                "the key file {} is in the store's folder: a copy of the folder carries the key. \
                 Keep it elsewhere (`citrus store rekey --key-file PATH`) or use the keyring or a passphrase",
                file.display()
            )
        })
    }
}

/// The record beside a store.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyRecord {
    format: u32,
    #[serde(flatten)]
    source: KeySource,
}

/// The record's file for a store.
pub fn record_path(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".key.json");
    store.with_file_name(name)
}

/// The store's recorded key place, if it has one.
pub fn recorded_source(store: &Path) -> StoreResult<Option<KeySource>> {
    read_record(&record_path(store))
}

fn read_record(path: &Path) -> StoreResult<Option<KeySource>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let record: KeyRecord = serde_json::from_str(&text).map_err(|e| StoreError::KeyInvalid {
        path: path.to_path_buf(),
        detail: format!("unreadable key record: {e}"),
    })?;
    Ok(Some(record.source))
}

/// The record of a key being switched to (by a rekey), kept until the store has switched.
pub fn pending_path(store: &Path) -> PathBuf {
    record_path(store).with_extension("next.json")
}

/// The key place a rekey was switching to, if one was left pending.
pub fn pending_source(store: &Path) -> StoreResult<Option<KeySource>> {
    read_record(&pending_path(store))
}

/// Records the place a rekey is switching to, before the store switches.
pub fn record_pending(store: &Path, source: &KeySource) -> StoreResult<()> {
    write_record(&pending_path(store), source)
}

/// Makes the pending record the store's record.
pub fn promote_pending(store: &Path) -> StoreResult<()> {
    let pending = pending_path(store);
    std::fs::rename(&pending, record_path(store)).map_err(|e| StoreError::io(&pending, e))
}

/// Writes the record (atomically).
pub fn record(store: &Path, source: &KeySource) -> StoreResult<()> {
    write_record(&record_path(store), source)
}

fn write_record(path: &Path, source: &KeySource) -> StoreResult<()> {
    let record = KeyRecord {
        format: 1,
        source: source.clone(),
    };
    let text = serde_json::to_string_pretty(&record).unwrap_or_default();
    write_atomically(path, text.as_bytes(), false)
}

/// Reads the key from where `source` keeps it.
pub fn read_key(store: &Path, source: &KeySource) -> StoreResult<StoreKey> {
    match source {
        KeySource::Keyring { service, user } => {
            let entry = keyring_entry(store, service, user)?;
            let secret = entry.get_password().map_err(|e| match e {
                keyring::Error::NoEntry => StoreError::KeyMissing {
                    path: store.to_path_buf(),
                    detail: format!(
                        "the keyring has no entry {service:?} / {user:?}: the key was removed, \
                         or this is another user's or machine's keyring"
                    ),
                },
                other => keyring_unavailable(store, other),
            })?;
            StoreKey::from_hex(&secret).ok_or_else(|| StoreError::KeyInvalid {
                path: store.to_path_buf(),
                detail: format!("keyring entry {service:?} / {user:?} does not hold a key"),
            })
        }
        KeySource::KeyFile { path } => {
            let file = key_file_path(store, path);
            let text = std::fs::read_to_string(&file).map_err(|e| StoreError::KeyMissing {
                path: store.to_path_buf(),
                detail: format!("its key file {} cannot be read: {e}", file.display()),
            })?;
            StoreKey::from_hex(&text).ok_or_else(|| StoreError::KeyInvalid {
                path: file.clone(),
                detail: "a key file holds 64 hex digits".into(),
            })
        }
        KeySource::Passphrase { salt, iterations } => {
            let passphrase = passphrase().ok_or_else(|| StoreError::KeyMissing {
                path: store.to_path_buf(),
                detail: format!("its key is a passphrase: set {PASSPHRASE_VAR}"),
            })?;
            let salt = unhex(salt).ok_or_else(|| StoreError::KeyInvalid {
                path: record_path(store),
                detail: "the passphrase's salt is not hex".into(),
            })?;
            Ok(StoreKey::from_passphrase(&passphrase, &salt, *iterations))
        }
    }
}

/// Where a new key for `store` goes: a passphrase or key file IT chose, else the keyring when
/// it answers, else a key file beside the store. Returns the place and the key (stored there).
pub fn new_key(store: &Path) -> StoreResult<(KeySource, StoreKey)> {
    if let Some(passphrase) = passphrase() {
        return Ok(new_passphrase_key(&passphrase));
    }
    if let Some(path) = std::env::var_os(KEY_FILE_VAR).filter(|p| !p.is_empty()) {
        return key_file_key(store, PathBuf::from(path));
    }
    let keyring_off = std::env::var(KEYRING_VAR).is_ok_and(|v| v.eq_ignore_ascii_case("off"));
    if !keyring_off {
        if let Some(created) = keyring_key(store) {
            return Ok(created);
        }
    }
    key_file_key(store, PathBuf::from(DEFAULT_KEY_FILE))
}

/// A key derived from `passphrase` with a fresh salt.
pub fn new_passphrase_key(passphrase: &str) -> (KeySource, StoreKey) {
    let salt: [u8; 16] = rand::random();
    let key = StoreKey::from_passphrase(passphrase, &salt, PASSPHRASE_ITERATIONS);
    let source = KeySource::Passphrase {
        salt: hex(&salt),
        iterations: PASSPHRASE_ITERATIONS,
    };
    (source, key)
}

/// The key in the file at `path`, written there first (owner-only) when the file is missing.
pub fn key_file_key(store: &Path, path: PathBuf) -> StoreResult<(KeySource, StoreKey)> {
    let file = key_file_path(store, &path);
    let source = KeySource::KeyFile { path };
    if file.exists() {
        let key = read_key(store, &source)?;
        return Ok((source, key));
    }
    let key = StoreKey::random();
    write_atomically(&file, key.to_hex().as_bytes(), true)?;
    Ok((source, key))
}

/// A new random key kept in the OS keyring; None when no keyring answers (or it does not
/// give the key back).
pub fn keyring_key(store: &Path) -> Option<(KeySource, StoreKey)> {
    let user = keyring_user(store);
    let entry = keyring::Entry::new(KEYRING_SERVICE, &user).ok()?;
    let key = StoreKey::random();
    entry.set_password(&key.to_hex()).ok()?;
    let back = entry
        .get_password()
        .ok()
        .and_then(|s| StoreKey::from_hex(&s));
    if back.as_ref() != Some(&key) {
        let _ = entry.delete_credential();
        return None;
    }
    let source = KeySource::Keyring {
        service: KEYRING_SERVICE.into(),
        user,
    };
    Some((source, key))
}

/// Removes a key the store no longer uses (after a rekey): its keyring entry or key file.
pub fn forget(store: &Path, source: &KeySource) {
    match source {
        KeySource::Keyring { service, user } => {
            if let Ok(entry) = keyring_entry(store, service, user) {
                let _ = entry.delete_credential();
            }
        }
        KeySource::KeyFile { path } => {
            let _ = std::fs::remove_file(key_file_path(store, path));
        }
        KeySource::Passphrase { .. } => {}
    }
}

/// The keyring user naming a store's key; a random suffix keeps a rekey's new key apart from
/// the old one until the store has switched.
fn keyring_user(store: &Path) -> String {
    let absolute = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
    let id: u32 = rand::random();
    format!("case store {} ({id:08x})", absolute.display())
}

fn keyring_entry(store: &Path, service: &str, user: &str) -> StoreResult<keyring::Entry> {
    keyring::Entry::new(service, user).map_err(|e| keyring_unavailable(store, e))
}

fn keyring_unavailable(store: &Path, error: keyring::Error) -> StoreError {
    StoreError::KeyUnavailable {
        path: store.to_path_buf(),
        detail: format!("the OS keyring holding its key cannot be reached ({error}); unlock it, or log in to the desktop session"),
    }
}

fn passphrase() -> Option<String> {
    std::env::var(PASSPHRASE_VAR).ok().filter(|p| !p.is_empty())
}

/// A key file's path: relative paths are relative to the store's folder.
fn key_file_path(store: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        store.parent().unwrap_or(Path::new(".")).join(path)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename; `private` makes it
/// readable by its owner only (on Unix).
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> StoreResult<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    let temporary = path.with_extension("writing");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(&temporary)
        .map_err(|e| StoreError::io(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| StoreError::io(path, e))
}
