//! The operating system's memory: huge pages for weights, own pages for large allocations,
//! available, resident and peak memory.

/// Allocations of at least this many bytes get their own pages from the system.
const OWN_PAGES_FROM: i32 = 1 << 20;

/// Makes allocations of a megabyte or more map their own pages (glibc): a freed KV cache or
/// activation goes back to the system at once, and a zeroed allocation (the KV cache) is only
/// resident where written. Without this glibc raises its threshold after the first large free
/// and serves later ones from the heap, zeroing them by hand and keeping them resident after
/// they are freed. Idempotent; while a [`ReuseFreedMemory`] guard lives it waits for the guard.
pub fn use_own_pages_for_large_allocations() {
    let reusers = REUSERS.lock().unwrap_or_else(|p| p.into_inner());
    if *reusers == 0 {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes the allocator's tuning; M_MMAP_THRESHOLD takes a size.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_PAGES_FROM);
        }
    }
}

/// glibc's largest allowed mmap threshold on 64-bit systems (half its 64 MiB heap size).
const HEAP_SERVED_BELOW: i32 = 32 << 20;

/// Training jobs alive that asked for [`ReuseFreedMemory`].
static REUSERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// While alive, allocations below 32 MiB come from the heap and freed memory stays there for
/// the next one (glibc), undoing [`use_own_pages_for_large_allocations`] for a while: a
/// training step allocates and frees the same activation sizes hundreds of times, and with own
/// pages each would be mapped, faulted in page by page and unmapped again (a sixth of the
/// step). When the last guard drops, own pages are back and the heap's free top is returned to
/// the system. No effect on other systems.
#[must_use = "memory is reused only while the guard lives"]
pub struct ReuseFreedMemory(());

impl ReuseFreedMemory {
    /// Starts reusing freed memory (nests: the last guard dropped restores own pages).
    pub fn begin() -> Self {
        let mut count = REUSERS.lock().unwrap_or_else(|p| p.into_inner());
        if *count == 0 {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: mallopt only changes the allocator's tuning; each option takes a size.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_SERVED_BELOW);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
                libc::mallopt(libc::M_TOP_PAD, HEAP_SERVED_BELOW);
            }
        }
        *count += 1;
        Self(())
    }
}

impl Drop for ReuseFreedMemory {
    fn drop(&mut self) {
        let mut count = REUSERS.lock().unwrap_or_else(|p| p.into_inner());
        *count -= 1;
        if *count == 0 {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: as in `begin`; malloc_trim only returns free memory to the system.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_PAGES_FROM);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
                libc::mallopt(libc::M_TOP_PAD, 0);
                libc::malloc_trim(0);
            }
        }
    }
}

/// The transparent huge page size of x86-64 and of most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Asks Linux to back the 2 MiB-aligned pages wholly inside `len` bytes at `start` with
/// transparent huge pages when they are first touched (`MADV_HUGEPAGE`): for a buffer about to
/// be filled with weights, which then need no copy ([`back_with_huge_pages`]). No effect on
/// other systems.
pub fn advise_huge_pages(start: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        let first = (start as usize).next_multiple_of(HUGE_PAGE);
        let end = (start as usize + len) & !(HUGE_PAGE - 1);
        if end > first {
            // SAFETY: MADV_HUGEPAGE only changes how the range is backed, never its contents.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
}

/// Backs the 2 MiB pages that hold `bytes` with transparent huge pages, now (Linux 6.1+
/// `MADV_COLLAPSE`, which copies them), when `bytes` holds no whole aligned 2 MiB page: a
/// buffer too small to have been given huge pages when first written ([`advise_huge_pages`]),
/// which shares its pages with neighbours (the heap). For weights that the CPU kernels stream
/// once per token: with 4 KiB pages every 4 KiB of weights costs a TLB miss and a page walk
/// (measured: decode 5–13% faster on SmolLM2-135M in Q8_0, Q6_K and Q4_K_M files whose
/// tensors are all under 2 MiB). Larger buffers are left alone: their aligned interior was
/// advised when read, and collapsing them all again cost up to two seconds of system time
/// per gigabyte here. Pages not wholly inside one anonymous mapping stay as they are,
/// as does everything on older kernels and other systems. Contents never change.
pub fn back_with_huge_pages(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    {
        // The kernel's value; libc only exports it for some targets.
        const MADV_COLLAPSE: libc::c_int = 25;
        let (first, last) = (
            bytes.as_ptr() as usize,
            bytes.as_ptr() as usize + bytes.len(),
        );
        if last & !(HUGE_PAGE - 1) > first.next_multiple_of(HUGE_PAGE) {
            return;
        }
        let start = first & !(HUGE_PAGE - 1);
        let end = last.next_multiple_of(HUGE_PAGE);
        // One call for the whole range: each call first drains the page lists of every CPU.
        // SAFETY: MADV_COLLAPSE only changes how the range is backed, never its contents;
        // pages that are not wholly mapped anonymous memory are left as they are.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, MADV_COLLAPSE) };
    }
}

/// Memory the system can give a new allocation now (Linux `MemAvailable`), if known.
pub fn available_system_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_kib(&text, "MemAvailable:").map(|kib| kib * 1024)
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
pub fn peak_resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_meminfo_kib(&text, "VmHWM:").map(|kib| kib * 1024)
}

/// Current resident memory of this process (Linux `VmRSS`), if known.
pub fn resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_meminfo_kib(&text, "VmRSS:").map(|kib| kib * 1024)
}

fn parse_meminfo_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|line| line.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Bytes to whole MiB, rounded up.
pub fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_lines() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n";
        assert_eq!(parse_meminfo_kib(text, "MemAvailable:"), Some(1000));
        assert_eq!(parse_meminfo_kib(text, "Nope:"), None);
        assert!(available_system_memory().unwrap() > 0);
    }
}
