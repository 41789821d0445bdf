//! Tunables of a pool, as passed to `threads_create_with_options`.

use std::fmt;
use std::os::raw::c_uint;

use crate::backoff::Budget;

/// Most worker threads one pool may have.
pub const THREADS_MAX_THREADS: c_uint = 256;
/// Most requests one worker's ring may hold.
pub const THREADS_MAX_RING_SIZE: c_uint = 64;
/// Requests per worker ring when none is given (the 2018 series' value).
pub const THREADS_DEFAULT_RING_SIZE: c_uint = 4;

/// Options for `threads_create_with_options`. Start from
/// `threads_options_default()` and change what you need, so that fields
/// added later keep their defaults.
///
/// An idle worker polls its ring `worker_spin` times with a CPU pause in
/// between, then `worker_yield` times with `sched_yield()` in between, then
/// sleeps until a commit wakes it. A submitter waiting in
/// `threads_wait_done` or `threads_submit_request_prepare_wait` does the
/// same with `submitter_spin` and `submitter_yield`. Spinning reacts fastest
/// but holds a core; yielding gives the core to a thread that needs it;
/// sleeping costs the other side a kernel wake-up (tens of microseconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadsOptions {
    /// Requests in each worker's ring: a power of two, 1 to
    /// `THREADS_MAX_RING_SIZE`. The pool holds `threads_nr * ring_size`
    /// requests.
    pub ring_size: c_uint,
    /// Polls with a CPU pause an idle worker makes before yielding.
    pub worker_spin: c_uint,
    /// Polls with `sched_yield()` an idle worker makes before sleeping.
    pub worker_yield: c_uint,
    /// Polls with a CPU pause a waiting submitter makes before yielding.
    pub submitter_spin: c_uint,
    /// Polls with `sched_yield()` a waiting submitter makes before sleeping.
    pub submitter_yield: c_uint,
}

/// The spin was measured with `scripts/bench-threads --sweep` on a 2-core
/// host (docs/benchmarks-threads.md): 50 pauses (about 0.75 us) keep a busy
/// pipeline free of kernel round trips (under 0.001 context switches per
/// request), while a spin of 1000 (15 us) added 30% CPU per zlib page with
/// one worker, and a spin of 100000 halved throughput with two workers
/// because three spinners shared two cores.
///
/// No yields: in QEMU beside two CPU hogs (docs/benchmarks-history.md,
/// "Loaded host"), 8 yields on each side made a live compressed migration
/// 2 to 6 times slower than stock QEMU's threads, which always sleep; without
/// them 5 pairs gave 0.41 to 1.34 of stock's time (median 0.69), and on
/// the quiet host one compression thread went from 9-12% more source CPU
/// per GiB than stock to 9-13% less. Our reading: a thread that yields on
/// a busy run queue hands its slice to the other runnable threads, while
/// one woken from sleep is usually let in at once (wake-up preemption); on
/// an idle core a yield returns at once and is only a dearer spin.
impl Default for ThreadsOptions {
    fn default() -> Self {
        ThreadsOptions {
            ring_size: THREADS_DEFAULT_RING_SIZE,
            worker_spin: 50,
            worker_yield: 0,
            submitter_spin: 50,
            submitter_yield: 0,
        }
    }
}

/// Why options or a thread count were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidArgument {
    /// `threads_nr` was 0 or above `THREADS_MAX_THREADS`.
    ThreadCount(c_uint),
    /// `ring_size` was not a power of two from 1 to `THREADS_MAX_RING_SIZE`.
    RingSize(c_uint),
}

impl fmt::Display for InvalidArgument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidArgument::ThreadCount(n) => write!(
                f,
                "threads_nr is {n}; it must be 1 to {THREADS_MAX_THREADS}"
            ),
            InvalidArgument::RingSize(n) => write!(
                f,
                "ring_size is {n}; it must be a power of two from 1 to {THREADS_MAX_RING_SIZE}"
            ),
        }
    }
}

impl ThreadsOptions {
    pub(crate) fn validate(&self, threads_nr: c_uint) -> Result<(), InvalidArgument> {
        if threads_nr == 0 || threads_nr > THREADS_MAX_THREADS {
            return Err(InvalidArgument::ThreadCount(threads_nr));
        }
        if !self.ring_size.is_power_of_two() || self.ring_size > THREADS_MAX_RING_SIZE {
            return Err(InvalidArgument::RingSize(self.ring_size));
        }
        Ok(())
    }

    pub(crate) fn worker_budget(&self) -> Budget {
        Budget {
            spins: self.worker_spin,
            yields: self.worker_yield,
        }
    }

    pub(crate) fn submitter_budget(&self) -> Budget {
        Budget {
            spins: self.submitter_spin,
            yields: self.submitter_yield,
        }
    }
}
