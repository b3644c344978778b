//! Who owns running work: a process identified by its pid and its start time, so that work
//! is declared interrupted only when its owner is gone (a reused pid is a different process).
//! Reasoning runs in the store and training runs in their folder use it: reading never
//! changes the status of work whose owner still runs.

/// A process that owns running work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    /// Its process id.
    pub pid: u32,
    /// When it started (boot id and start time in clock ticks on Linux), empty where the
    /// platform does not tell.
    pub start: String,
}

impl Owner {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start: start_of(pid).unwrap_or_default(),
        }
    }

    /// Whether the owner still runs: a process with its pid exists and started when it did.
    pub fn is_alive(&self) -> bool {
        if self.pid == std::process::id() {
            return self.start == Self::current().start;
        }
        match start_of(self.pid) {
            Some(start) => self.start.is_empty() || start == self.start,
            None => !cfg!(target_os = "linux") && pid_exists(self.pid),
        }
    }
}

/// The start marker of process `pid`, if it runs (Linux: `/proc`).
fn start_of(pid: u32) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime) counts from after the command name, which may hold spaces.
    let after_name: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // A zombie (killed, not yet reaped by its parent) or dead process no longer runs.
    if matches!(after_name.first(), Some(&"Z") | Some(&"X") | None) {
        return None;
    }
    let ticks = after_name.get(19)?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{}:{ticks}", boot.trim()))
}

/// Whether a process with `pid` exists, where `/proc` is not available.
fn pid_exists(pid: u32) -> bool {
    if cfg!(unix) {
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    } else {
        // No portable check: keep the work as running rather than declare it lost.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_not() {
        let me = Owner::current();
        assert!(me.is_alive());
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let pid = child.id();
        let owner = Owner {
            pid,
            start: start_of(pid).unwrap_or_default(),
        };
        assert!(owner.is_alive());
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert!(
            !owner.is_alive(),
            "a finished, unreaped child is a zombie: not alive"
        );
        child.wait().unwrap();
        assert!(!owner.is_alive());
        let reused = Owner {
            pid: me.pid,
            start: "another-boot:1".into(),
        };
        assert!(!reused.is_alive());
    }
}
