//! Counters a pool keeps about itself, for `threads_get_stats`.
//!
//! Any thread may read them at any time, also while the submitter works
//! (a QMP handler reading them during a migration): they live outside the
//! submitter's state, in atomics that only the submitter (or, for
//! `worker_sleeps`, each worker) raises. What a reader gets:
//!
//! - each counter it reads never goes down from one read to the next
//!   (read-read coherence of one atomic; every counter only grows);
//! - in one snapshot, `completed <= submitted`: see `Counter::add`.
//!
//! The counters of one snapshot are otherwise read one by one, not at one
//! instant: e.g. a wake-up may be counted before the sleep it ends.

use crossbeam_utils::CachePadded;

use crate::lane::LaneStats;
use crate::sync::Arc;

/// A snapshot of a pool's counters since it was created. `prepare_full`
/// counts the times no worker could take a request (QEMU's "compression
/// busy"); `threads_get_prepare_full()` reads it alone, more cheaply.
/// Every counter only grows, and `completed <= submitted` in every
/// snapshot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadsStats {
    /// Requests committed.
    pub submitted: u64,
    /// Requests whose `done` callback has run.
    pub completed: u64,
    /// `threads_submit_request_prepare` calls that returned NULL because
    /// every worker's ring was full, plus
    /// `threads_submit_request_prepare_wait` calls that had to wait.
    pub prepare_full: u64,
    /// Times a worker went to sleep in the kernel.
    pub worker_sleeps: u64,
    /// Kernel wake-ups the submitter sent to sleeping workers.
    pub worker_wakeups: u64,
    /// Times the submitter went to sleep waiting for completions.
    pub submitter_sleeps: u64,
}

/// A count that one thread at a time raises and any thread reads: the
/// pool's submitter (the one-submitter rule hands the role from one
/// submitting thread to the next with a happens-before edge), or a lane's
/// worker.
pub(crate) struct Counter(imp::Word);

#[cfg(any(loom, target_has_atomic = "64"))]
mod imp {
    #[cfg(loom)]
    pub(super) use loom::sync::atomic::AtomicU64 as Word;
    #[cfg(not(loom))]
    pub(super) use std::sync::atomic::AtomicU64 as Word;
    use std::sync::atomic::Ordering;

    use super::Counter;

    impl Counter {
        pub(crate) fn new() -> Self {
            Counter(Word::new(0))
        }

        /// Adds `n`. A load and a store rather than a `fetch_add`: there is
        /// one writer at a time, so no increment can be lost, and the
        /// submitter's hot path pays no locked instruction for statistics.
        pub(crate) fn add(&self, n: u64) {
            // Relaxed: reads this writer's own last store, or that of the
            // previous writer, which happens-before this one.
            let v = self.0.load(Ordering::Relaxed);
            // Release: pairs with the Acquire load in `get`, so a reader that
            // sees this value also sees every counter raised before it by
            // the same writer. `StatsReader::read` reads `completed` first and
            // `submitted` after: every completion it sees was preceded by the
            // commit of that request, so it sees `submitted >= completed`.
            self.0.store(v + n, Ordering::Release);
        }

        pub(crate) fn get(&self) -> u64 {
            // Acquire: pairs with the Release store in `add`.
            self.0.load(Ordering::Acquire)
        }
    }
}

/// Hosts without 64-bit atomics (32-bit PowerPC): crossbeam's `AtomicCell`
/// guards the `u64` with a sequence lock instead, which orders as the
/// Release/Acquire pair above does, so that the counters need not wrap at
/// 2^32 there.
#[cfg(not(any(loom, target_has_atomic = "64")))]
mod imp {
    pub(super) type Word = crossbeam_utils::atomic::AtomicCell<u64>;

    use super::Counter;

    impl Counter {
        pub(crate) fn new() -> Self {
            Counter(Word::new(0))
        }

        pub(crate) fn add(&self, n: u64) {
            self.0.store(self.0.load() + n);
        }

        pub(crate) fn get(&self) -> u64 {
            self.0.load()
        }
    }
}

/// The counters of one pool, shared by the pool and its `StatsReader`s.
pub(crate) struct Counters {
    pub(crate) submitted: Counter,
    pub(crate) completed: Counter,
    pub(crate) prepare_full: Counter,
    pub(crate) worker_wakeups: Counter,
    pub(crate) submitter_sleeps: Counter,
    /// Each worker counts its sleeps in its own lane.
    lanes: Box<[LaneStats]>,
}

/// Reads a pool's counters from any thread, at any time, while the pool
/// lives; it may be cloned and sent to other threads. Get one from
/// `RawPool::stats_reader` or `RequestPool::stats_reader`.
#[derive(Clone)]
pub struct StatsReader {
    /// Padded: the submitter raises these on every commit, and a reader
    /// must not also slow down whatever shares their cache line.
    counters: Arc<CachePadded<Counters>>,
}

impl StatsReader {
    /// Counters for a pool with these lanes, all zero.
    pub(crate) fn new(lanes: Box<[LaneStats]>) -> Self {
        StatsReader {
            counters: Arc::new(CachePadded::new(Counters {
                submitted: Counter::new(),
                completed: Counter::new(),
                prepare_full: Counter::new(),
                worker_wakeups: Counter::new(),
                submitter_sleeps: Counter::new(),
                lanes,
            })),
        }
    }

    /// The counters, for the submitter to raise.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A snapshot of the pool's counters.
    pub fn read(&self) -> ThreadsStats {
        let c = &self.counters;
        // `completed` before `submitted`: see `Counter::add`.
        let completed = c.completed.get();
        ThreadsStats {
            submitted: c.submitted.get(),
            completed,
            prepare_full: c.prepare_full.get(),
            worker_sleeps: c.lanes.iter().map(LaneStats::worker_sleeps).sum(),
            worker_wakeups: c.worker_wakeups.get(),
            submitter_sleeps: c.submitter_sleeps.get(),
        }
    }

    /// `read().prepare_full` alone: one of the submitter's counters,
    /// without reading every worker's cache line for `worker_sleeps`.
    pub fn prepare_full(&self) -> u64 {
        self.counters.prepare_full.get()
    }
}
