//! The kernels' thread pool: workers that spin briefly between jobs, then sleep.
//!
//! A decode step runs a few hundred small products (tens of microseconds each), separated by
//! short serial work. Waking a sleeping thread for each costs about as much as the product, so
//! workers spin for a while ([`SPIN_ROUNDS`]) after a job before they sleep. Tasks are claimed
//! one at a time from a shared counter and the caller works too, so a worker whose core is busy
//! with other work (not yet woken, or preempted before claiming) delays nothing: the job ends
//! when its claimed tasks are done, not when every worker has checked in.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Spin iterations a worker waits for the next job before it sleeps (about 100 µs).
const SPIN_ROUNDS: u32 = 1 << 14;

/// A job: a function of the task index, behind a thin pointer to the caller's stack.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// State shared by the caller and the workers.
struct Shared {
    /// Generation (high 32 bits) and next unclaimed task (low 32 bits).
    next: AtomicU64,
    /// Tasks of the current generation.
    tasks: AtomicUsize,
    /// Tasks of the current generation finished.
    finished: AtomicUsize,
    /// The current job (a pointer to a [`Job`] on the caller's stack).
    job: AtomicPtr<()>,
    /// Workers asleep; the caller wakes them when above zero.
    sleepers: Mutex<usize>,
    wake: Condvar,
}

/// A pool of `threads - 1` workers plus the calling thread.
pub struct Pool {
    shared: Arc<Shared>,
    threads: usize,
    /// One job at a time: a second caller waits (the products are not reentrant).
    running: Mutex<()>,
}

impl Pool {
    /// The process's pool, sized by candle's thread count (`--threads`, `RAYON_NUM_THREADS`).
    pub fn global() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| Pool::new(candle_core::utils::get_num_threads().max(1)))
    }

    /// A pool that runs jobs on `threads` threads (the caller included).
    pub fn new(threads: usize) -> Self {
        let shared = Arc::new(Shared {
            next: AtomicU64::new(0),
            tasks: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            sleepers: Mutex::new(0),
            wake: Condvar::new(),
        });
        for index in 1..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("citrus-kernels-{index}"))
                .spawn(move || work(&shared))
                .expect("spawn a kernel thread");
        }
        Self {
            shared,
            threads,
            running: Mutex::new(()),
        }
    }

    /// Threads that run a job, the caller included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(0) … f(tasks − 1)` on the pool and returns when all have run.
    pub fn run(&self, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        if tasks <= 1 || self.threads == 1 {
            (0..tasks).for_each(f);
            return;
        }
        let _one_job = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let s = &*self.shared;
        let job: Job = f;
        s.job
            .store(&job as *const Job as *mut (), Ordering::Relaxed);
        s.tasks.store(tasks, Ordering::Relaxed);
        s.finished.store(0, Ordering::Relaxed);
        let generation = (s.next.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xFFFF_FFFF;
        // Publishes the job: a worker that sees this generation sees the stores above.
        s.next.store(generation << 32, Ordering::Release);
        {
            let sleepers = s.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            if *sleepers > 0 {
                s.wake.notify_all();
            }
        }
        run_tasks(s, generation);
        while s.finished.load(Ordering::Acquire) < tasks {
            std::hint::spin_loop();
        }
    }
}

/// Claims and runs tasks of `generation` until none is left.
fn run_tasks(s: &Shared, generation: u64) {
    let tasks = s.tasks.load(Ordering::Relaxed) as u64;
    let mut current = s.next.load(Ordering::Acquire);
    loop {
        let index = current & 0xFFFF_FFFF;
        if current >> 32 != generation || index >= tasks {
            return;
        }
        match s.next.compare_exchange_weak(
            current,
            current + 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: a task of `generation` was claimed, so its caller is still waiting
                // for it to finish: the job it published is alive and not yet replaced.
                let f = unsafe { *(s.job.load(Ordering::Acquire) as *const Job) };
                f(index as usize);
                s.finished.fetch_add(1, Ordering::Release);
                current = s.next.load(Ordering::Acquire);
            }
            Err(now) => current = now,
        }
    }
}

/// A worker: waits for a new generation (spinning, then asleep) and joins its job.
fn work(s: &Shared) {
    let mut seen = 0u64;
    loop {
        let mut spins = 0;
        let generation = loop {
            let generation = s.next.load(Ordering::Acquire) >> 32;
            if generation != seen {
                break generation;
            }
            if spins < SPIN_ROUNDS {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            let mut sleepers = s.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            *sleepers += 1;
            while s.next.load(Ordering::Acquire) >> 32 == seen {
                sleepers = s.wake.wait(sleepers).unwrap_or_else(|e| e.into_inner());
            }
            *sleepers -= 1;
        };
        seen = generation;
        run_tasks(s, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once_per_job() {
        let pool = Pool::new(3);
        for round in 0..200 {
            let tasks = 1 + round % 17;
            let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            pool.run(tasks, &|i| {
                counts[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn sleeping_workers_wake_for_the_next_job() {
        let pool = Pool::new(2);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let total = AtomicUsize::new(0);
        pool.run(64, &|i| {
            total.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(total.load(Ordering::Relaxed), 64 * 63 / 2);
    }
}
