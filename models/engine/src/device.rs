//! Compute devices and CPU threads.

use std::str::FromStr;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use citrus_formats::error::{ModelError, Result};

/// Where to run the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "ordinal")]
pub enum DeviceChoice {
    /// The CPU (the default everywhere).
    #[default]
    Cpu,
    /// An NVIDIA GPU (needs the `cuda` feature).
    Cuda(usize),
    /// An Apple GPU (needs the `metal` feature).
    Metal(usize),
}

impl DeviceChoice {
    /// Opens the device.
    pub fn open(self) -> Result<Device> {
        let unavailable = |e: candle_core::Error| ModelError::DeviceUnavailable {
            device: self.to_string(),
            detail: e.to_string(),
        };
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(i) => Device::new_cuda(i).map_err(unavailable),
            Self::Metal(i) => Device::new_metal(i).map_err(unavailable),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Metal(i) => write!(f, "metal:{i}"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = ModelError;

    /// Parses `cpu`, `cuda`, `cuda:1`, `metal`, `metal:0`.
    fn from_str(s: &str) -> Result<Self> {
        let (name, ordinal) = match s.split_once(':') {
            Some((name, n)) => {
                let n = n.parse().map_err(|_| {
                    ModelError::invalid_setting("device", format!("bad device number in `{s}`"))
                })?;
                (name, n)
            }
            None => (s, 0),
        };
        match name.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(ordinal)),
            "metal" => Ok(Self::Metal(ordinal)),
            _ => Err(ModelError::invalid_setting(
                "device",
                format!("`{s}` is not one of cpu, cuda[:N], metal[:N]"),
            )),
        }
    }
}

/// Sets the number of CPU threads candle uses.
///
/// candle sizes its thread pools once, on first use, from `RAYON_NUM_THREADS`: call this at
/// process start, before any model is loaded. When other work shares the cores, fewer threads
/// are faster (candle's spinning pool collapses under contention).
pub fn set_cpu_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(ModelError::invalid_setting("threads", "must be at least 1"));
    }
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    Ok(())
}

/// Spin rounds after which candle's pool workers sleep, when the project's kernels compute on
/// the CPU (candle's default is 25,000).
const CANDLE_SPIN_ROUNDS: &str = "64";

/// Lets candle's pool workers sleep soon after each of its operations when the project's
/// kernels run the heavy work on their own pool ([`citrus_kernels`]): otherwise both pools'
/// idle workers spin at once and take turns on the same cores, which costs prefill about a
/// fifth on two cores. A value set in `CANDLE_BARRIER_POOL_SPIN_LIMIT` is kept. candle reads it
/// once, when its pool starts: call this before the first tensor operation.
pub fn quiet_candle_spinning() {
    const VARIABLE: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";
    if citrus_kernels::Kernels::enabled() && std::env::var_os(VARIABLE).is_none() {
        std::env::set_var(VARIABLE, CANDLE_SPIN_ROUNDS);
    }
}

/// The number of CPU threads candle will use.
pub fn cpu_threads() -> usize {
    candle_core::utils::get_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert_eq!(
            "metal".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Metal(0)
        );
        let err = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert_eq!(err.code(), "settings.invalid");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let err = DeviceChoice::Cuda(0).open().unwrap_err();
        assert_eq!(err.code(), "device.unavailable");
        assert!(err.to_string().contains("cuda:0"));
    }
}
