//! Counters a pool keeps about itself, for `threads_get_stats`.

/// A snapshot of a pool's counters since it was created. `prepare_full`
/// counts the times no worker could take a request (QEMU's "compression
/// busy"); `threads_get_prepare_full()` reads it alone, more cheaply.
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

/// The submitter's own counters: plain integers, since only the submitter
/// writes or reads them (statistics are read through the submitter, under
/// the one-submitter rule).
#[derive(Default)]
pub(crate) struct SubmitterCounters {
    pub(crate) submitted: u64,
    pub(crate) completed: u64,
    pub(crate) prepare_full: u64,
    pub(crate) worker_wakeups: u64,
    pub(crate) submitter_sleeps: u64,
}
