//! The instruction set the kernels use, detected once per process.

use std::sync::OnceLock;

/// The instruction sets the kernels have code for, from the plainest to the widest. Each one
/// includes the ones before it (an AVX-512 CPU also runs the AVX2 kernels, which take the rows
/// the wider kernels leave).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust: any CPU.
    Portable,
    /// AVX2, FMA and F16C (x86-64).
    Avx2,
    /// AVX-512 F + BW + VL on top of AVX2 (Intel Skylake-SP and later, AMD Zen 4 and later).
    Avx512,
    /// AVX-512 with VNNI (`vpdpbusd`, `vpdpwssd`: Intel Cascade Lake / Ice Lake and later, Zen 4).
    Avx512Vnni,
}

impl Isa {
    /// Every instruction set, plainest first.
    pub const ALL: [Isa; 4] = [Self::Portable, Self::Avx2, Self::Avx512, Self::Avx512Vnni];

    /// The instruction set the kernels use: the best this CPU supports, capped by the
    /// environment variable `CITRUS_ISA` (`portable`, `avx2`, `avx512`, `avx512vnni`), which
    /// benchmarks use to compare paths on one machine.
    pub fn detect() -> Self {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let best = Self::best_supported();
            let cap = std::env::var("CITRUS_ISA")
                .ok()
                .and_then(|name| Self::ALL.into_iter().find(|isa| isa.name() == name));
            cap.map_or(best, |cap| cap.min(best))
        })
    }

    /// The best instruction set this CPU supports, whatever `CITRUS_ISA` says.
    pub fn best_supported() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl");
            if avx512 && is_x86_feature_detected!("avx512vnni") {
                return Self::Avx512Vnni;
            }
            if avx512 {
                return Self::Avx512;
            }
            if avx2 {
                return Self::Avx2;
            }
        }
        Self::Portable
    }

    /// Every instruction set this CPU runs, plainest first (what the tests compare).
    pub fn supported() -> Vec<Self> {
        let best = Self::best_supported();
        Self::ALL.into_iter().filter(|&isa| isa <= best).collect()
    }

    /// Whether the AVX2 kernels run here.
    pub fn has_avx2(self) -> bool {
        self >= Self::Avx2
    }

    /// Whether the AVX-512 kernels run here.
    pub fn has_avx512(self) -> bool {
        self >= Self::Avx512
    }

    /// Lower-case name, for reports (and `CITRUS_ISA`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
            Self::Avx512Vnni => "avx512vnni",
        }
    }
}
