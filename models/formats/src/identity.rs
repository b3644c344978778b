//! Identity of model files: a content fingerprint that tells one base model from another
//! without reading tens of gigabytes, and SHA-256 helpers.
//!
//! The fingerprint hashes the file's size, its first MiB (the GGUF header, metadata and tensor
//! table, or a safetensors header) and 64 KiB at 16 evenly spaced offsets. Two files with the
//! same fingerprint have the same layout and, in practice, the same weights; a fine-tune, a
//! re-quantization or another model changes it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

const HEAD_BYTES: u64 = 1 << 20;
const SAMPLE_BYTES: u64 = 64 << 10;
const SAMPLES: u64 = 16;

/// SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a model file (GGUF) or folder (config.json and every safetensors shard).
pub fn model_fingerprint(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ModelError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().is_some_and(|n| n == "config.json")
                    || p.extension().is_some_and(|e| e == "safetensors")
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    for file in files {
        if let Some(name) = file.file_name() {
            hasher.update(name.as_encoded_bytes());
        }
        sample_file(&file, &mut hasher)?;
    }
    Ok(hex(&hasher.finalize()))
}

fn sample_file(path: &Path, hasher: &mut Sha256) -> Result<()> {
    let io = |e| ModelError::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    hasher.update(size.to_le_bytes());
    let mut read_at = |offset: u64, len: u64| -> Result<()> {
        let len = len.min(size.saturating_sub(offset));
        let mut buffer = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        file.read_exact(&mut buffer).map_err(io)?;
        hasher.update(&buffer);
        Ok(())
    };
    read_at(0, HEAD_BYTES)?;
    if size > HEAD_BYTES {
        for i in 0..SAMPLES {
            let offset = HEAD_BYTES + (size - HEAD_BYTES) * i / SAMPLES;
            read_at(offset, SAMPLE_BYTES)?;
        }
        read_at(size.saturating_sub(SAMPLE_BYTES), SAMPLE_BYTES)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_change_with_the_content() {
        let dir = std::env::temp_dir().join(format!("citrus-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.gguf");
        let mut data = vec![7u8; 3 << 20];
        std::fs::write(&file, &data).unwrap();
        let first = model_fingerprint(&file).unwrap();
        assert_eq!(first, model_fingerprint(&file).unwrap());
        data[(3 << 20) - 1] = 8;
        std::fs::write(&file, &data).unwrap();
        assert_ne!(first, model_fingerprint(&file).unwrap());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
