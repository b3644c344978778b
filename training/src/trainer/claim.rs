//! One process trains in a run folder at a time: `owner.json` names the process (pid and
//! start time, [`Owner`]) while it trains. A folder whose owner still runs is refused; one
//! left by a process that is gone (killed, crashed) is taken over.

use std::path::{Path, PathBuf};

use citrus_host::owner::Owner;

use crate::error::{Result, TrainError};

/// The file naming the process training in a run folder.
pub const OWNER_FILE: &str = "owner.json";

/// This process's claim on a run folder, released when dropped.
#[derive(Debug)]
pub struct RunClaim {
    path: PathBuf,
}

impl RunClaim {
    /// Claims `dir` (created if missing) for this process.
    pub fn take(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let path = dir.join(OWNER_FILE);
        let me = Owner::current();
        if let Some(owner) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Owner>(&text).ok())
        {
            if owner != me && owner.is_alive() {
                return Err(TrainError::RunConflict {
                    path: dir.to_path_buf(),
                    detail: format!(
                        "process {} is training in this folder now: wait for it, stop it, or choose another --out",
                        owner.pid
                    ),
                });
            }
        }
        let text = serde_json::to_string(&me).unwrap_or_default();
        std::fs::write(&path, text).map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path })
    }
}

impl Drop for RunClaim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owner_keeps_the_folder_and_a_gone_one_does_not() {
        let dir = std::env::temp_dir().join(format!("citrus-claim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let other = Owner {
            pid: child.id(),
            start: String::new(),
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(OWNER_FILE), serde_json::to_string(&other).unwrap()).unwrap();
        let error = RunClaim::take(&dir).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("process {}", child.id())),
            "{error}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        {
            let _claim = RunClaim::take(&dir).unwrap();
            let owner: Owner =
                serde_json::from_str(&std::fs::read_to_string(dir.join(OWNER_FILE)).unwrap())
                    .unwrap();
            assert_eq!(owner, Owner::current());
        }
        assert!(!dir.join(OWNER_FILE).exists(), "released when dropped");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
