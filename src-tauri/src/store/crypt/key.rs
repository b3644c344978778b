//! The store key: 32 random bytes (or derived from IT's passphrase), handed to SQLCipher as a
//! raw key so that opening a connection costs no key derivation.

use std::fmt;

use pbkdf2::pbkdf2_hmac;
use sha2::Sha256;

/// PBKDF2-HMAC-SHA256 rounds for a passphrase (OWASP's 2023 advice).
pub const PASSPHRASE_ITERATIONS: u32 = 600_000;

/// A 32-byte store key, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// A fresh random key.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The key derived from a passphrase with PBKDF2-HMAC-SHA256.
    pub fn from_passphrase(passphrase: &str, salt: &[u8], iterations: u32) -> Self {
        let mut key = [0u8; 32];
        pbkdf2_hmac::<Sha256>(passphrase.as_bytes(), salt, iterations, &mut key);
        Self(key)
    }

    /// The key written as 64 hex digits (what key files and keyring entries hold).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The key from 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = unhex(text.trim())?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The `PRAGMA key` statement that opens a connection with this key.
    pub(crate) fn pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", self.to_hex())
    }

    /// The `PRAGMA rekey`-style literal for `ATTACH … KEY`.
    pub(crate) fn literal(&self) -> String {
        format!("\"x'{}'\"", self.to_hex())
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        for byte in &mut self.0 {
            // SAFETY: a plain write through a valid, aligned, exclusive reference; volatile so
            // the compiler keeps the wipe.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digits as bytes; None when not hex or of odd length.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex_and_passphrases_are_deterministic() {
        let key = StoreKey::random();
        assert_eq!(
            StoreKey::from_hex(&format!(" {}\n", key.to_hex())),
            Some(key.clone())
        );
        assert_eq!(StoreKey::from_hex("abc"), None);
        assert_eq!(StoreKey::from_hex(&"zz".repeat(32)), None);
        let a = StoreKey::from_passphrase("correct horse", b"salt", 1000);
        assert_eq!(a, StoreKey::from_passphrase("correct horse", b"salt", 1000));
        assert_ne!(
            a,
            StoreKey::from_passphrase("correct horse", b"pepper", 1000)
        );
        assert!(!format!("{a:?}").contains(&a.to_hex()));
    }
}
