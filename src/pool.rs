//! The pool: one submitter, `threads_nr` workers, one lane each.
//!
//! The submitter's bookkeeping (free requests, the submitter's end of each
//! lane and the requests reserved against it) lives in `RawPool` and is
//! touched by the submitter only; the counters are atomics that any thread
//! may read through a `StatsReader` (`stats.rs`); each worker owns the
//! worker's end of its lane (see `lane.rs`), and what the workers share
//! with the submitter is `Shared` (the callbacks, the submitter's wake
//! event).
//! Requests are raw `ThreadRequest` pointers that the caller's `init`
//! produced, which is what the C ABI needs; `RequestPool` in `typed.rs`
//! wraps this for Rust callers.
//!
//! Accounting: every request is at all times in exactly one of: the free
//! list, a lane (submitted and not yet reaped), or handed out by `prepare`
//! and not yet committed ("reserved" against a lane). A lane's occupancy is
//! its submitted-unreaped requests plus its reservations and never exceeds
//! its capacity; since there are exactly `threads_nr * ring_size` requests,
//! a lane with room implies a non-empty free list. So `prepare` never needs
//! to look further than the lane it picks.

use std::fmt;
use std::io;
use std::os::raw::c_uint;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::backoff::{Backoff, Budget};
use crate::event::Event;
use crate::lane::{self, Poll, SubmitterLane, WorkerLane};
use crate::options::{InvalidArgument, ThreadsOptions};
use crate::report::fatal;
use crate::request::ThreadRequest;
use crate::spawn::spawn_worker;
use crate::stats::{Counters, StatsReader, ThreadsStats};
use crate::sync::{thread, Arc};

/// What the pool calls back. The pool guarantees that a request pointer it
/// passes is one that `init` returned, and that nobody else in the pool
/// touches that request during the call.
pub trait Callbacks: Send + Sync + 'static {
    /// Processes a request. Runs on a worker thread, once per commit.
    fn handle(&self, request: NonNull<ThreadRequest>);
    /// Finishes a handled request. Runs on the submitting thread, once per
    /// commit, after `handle` returned and before the request is reused.
    fn done(&self, request: NonNull<ThreadRequest>);
    /// Releases a request. Runs once per request `init` returned, when the
    /// pool is dropped or its creation fails.
    fn uninit(&self, request: NonNull<ThreadRequest>);
}

/// Why a pool could not be created. All requests created so far have been
/// released and all threads started so far have been joined.
#[derive(Debug)]
pub enum CreateError {
    /// A thread count or option was out of range.
    InvalidArgument(InvalidArgument),
    /// `init` returned no request at this position (0-based).
    InitFailed {
        /// Which `init` call failed.
        index: usize,
        /// How many requests the pool needed.
        total: usize,
    },
    /// The operating system refused to start worker `index`.
    Spawn {
        /// Which worker could not be started.
        index: usize,
        /// The error the OS gave.
        error: io::Error,
    },
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::InvalidArgument(e) => e.fmt(f),
            CreateError::InitFailed { index, total } => write!(
                f,
                "thread_request_init returned NULL for request {index} of {total}"
            ),
            CreateError::Spawn { index, error } => {
                write!(f, "could not start worker thread {index}: {error}")
            }
        }
    }
}

impl std::error::Error for CreateError {}

struct Shared<C> {
    callbacks: C,
    /// The submitter sleeps here when it armed WAITER on its lanes.
    submitter_event: Event,
    worker_budget: Budget,
}

/// When a sleeping submitter wants a lane to wake it.
#[derive(Clone, Copy)]
enum Wake {
    /// When everything in flight on the lane has completed (`wait_done`).
    Drained,
    /// When half of it has (`prepare_wait`): the request it needs is then
    /// free, and the other half keeps the worker busy while the submitter
    /// wakes up, so one sleep serves several requests.
    HalfDrained,
}

/// The submitter's view of one lane: its end of the lane and what
/// `prepare` reserved against it.
struct Cursor {
    /// The submitter's end of the lane: what was pushed, what was reaped.
    lane: SubmitterLane,
    /// Requests handed out by `prepare` for this lane, not yet committed.
    reserved: usize,
}

/// A pool of worker threads with the C ABI's semantics, on raw requests.
pub struct RawPool<C: Callbacks> {
    shared: Arc<Shared<C>>,
    cursors: Box<[Cursor]>,
    capacity: usize,
    free: Vec<NonNull<ThreadRequest>>,
    /// Every request `init` returned, in order, for `uninit`.
    all: Vec<NonNull<ThreadRequest>>,
    next_lane: usize,
    /// Kept across waits: its spin adapts to how waits went before.
    submitter_backoff: Backoff,
    /// Raised by the submitter (and, for sleeps, the workers); read by
    /// any thread.
    stats: StatsReader,
    workers: Vec<thread::JoinHandle<()>>,
}

// SAFETY: the request pointers are owned by the pool (the contract of
// `RawPool::new`), and everything else is Send; the pool is used by one
// submitter at a time, which may be a different thread each time.
unsafe impl<C: Callbacks> Send for RawPool<C> {}

impl<C: Callbacks> RawPool<C> {
    /// Creates `threads_nr * options.ring_size` requests with `init` and
    /// starts `threads_nr` workers named `<name>/<index>` (cut to the 15
    /// bytes Linux keeps).
    ///
    /// # Safety
    ///
    /// Every pointer `init` returns must point to a `ThreadRequest` that is
    /// valid for reads and writes and that nothing else accesses until the
    /// pool passes it to `callbacks.uninit` (apart from what the callbacks
    /// themselves do while the pool passes it to them).
    pub unsafe fn new(
        threads_nr: c_uint,
        name: &str,
        options: &ThreadsOptions,
        callbacks: C,
        init: impl FnMut() -> Option<NonNull<ThreadRequest>>,
    ) -> Result<Self, CreateError> {
        // SAFETY: forwarded to our caller.
        unsafe { Self::with_start(threads_nr, name, options, callbacks, init, 0) }
    }

    /// `new`, with lane positions starting at `start` instead of 0, so that
    /// tests can run across the point where positions wrap.
    ///
    /// # Safety
    ///
    /// As for `new`.
    #[doc(hidden)]
    pub unsafe fn with_start(
        threads_nr: c_uint,
        name: &str,
        options: &ThreadsOptions,
        callbacks: C,
        mut init: impl FnMut() -> Option<NonNull<ThreadRequest>>,
        start: usize,
    ) -> Result<Self, CreateError> {
        options
            .validate(threads_nr)
            .map_err(CreateError::InvalidArgument)?;
        let threads = threads_nr as usize;
        let capacity = options.ring_size as usize;
        let total = threads * capacity;
        let shared = Arc::new(Shared {
            callbacks,
            submitter_event: Event::new(),
            worker_budget: options.worker_budget(),
        });
        let mut cursors = Vec::with_capacity(threads);
        let mut worker_lanes: Vec<WorkerLane> = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (submitter, worker) = lane::new(capacity, start);
            cursors.push(Cursor {
                lane: submitter,
                reserved: 0,
            });
            worker_lanes.push(worker);
        }
        let stats = StatsReader::new(cursors.iter().map(|c| c.lane.stats()).collect());
        let mut pool = RawPool {
            shared,
            cursors: cursors.into_boxed_slice(),
            capacity,
            free: Vec::with_capacity(total),
            all: Vec::with_capacity(total),
            next_lane: 0,
            submitter_backoff: Backoff::new(options.submitter_budget()),
            stats,
            workers: Vec::with_capacity(threads),
        };
        // From here on, dropping `pool` on an error path releases what was
        // made so far: it joins the workers started and uninits the
        // requests created (nothing is in flight yet).
        for index in 0..total {
            let request = init().ok_or(CreateError::InitFailed { index, total })?;
            // A request from reused memory may still carry the tag of an
            // earlier pool that lived at our address: clear it, so that
            // only `prepare` can make a request pass the commit check.
            // SAFETY: `init` returned it, so by the contract of `new` the
            // pool may write it and nobody else accesses it.
            unsafe { (*request.as_ptr()).node.sqe_next = ptr::null_mut() };
            pool.all.push(request);
        }
        // Hand requests out in init order, as the seed's list did not (it
        // was LIFO); either is correct, this one is easier to follow.
        pool.free.extend(pool.all.iter().rev());
        // Each worker gets its lane's worker end, and only that: the
        // submitter's ends stay in `pool.cursors`. The ends of workers not
        // started (a spawn failed) are dropped with `worker_lanes`.
        for (index, lane) in worker_lanes.into_iter().enumerate() {
            let shared = Arc::clone(&pool.shared);
            let handle = spawn_worker(worker_name(name, index), move || run_worker(&shared, lane))
                .map_err(|error| CreateError::Spawn { index, error })?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.cursors.len()
    }

    /// Requests in each worker's ring.
    pub fn ring_size(&self) -> usize {
        self.capacity
    }

    /// Hands out a request assigned to a worker, or `None` if every
    /// worker's ring is full of requests not yet handled. Never blocks.
    ///
    /// Starts at the worker after the last one used, and skips a worker
    /// whose ring is full, so a stalled worker does not stop the others.
    /// Runs `done` on the completed requests of a full ring to make room.
    pub fn prepare(&mut self) -> Option<NonNull<ThreadRequest>> {
        let request = self.try_prepare();
        if request.is_none() {
            self.counters().prepare_full.add(1);
        }
        request
    }

    /// Like `prepare`, but waits (spin, yield, then sleep) for a worker to
    /// complete a request when all rings are full. Returns `None` only if
    /// nothing is in flight and still no request is free, i.e. every
    /// request is handed out and not yet committed.
    pub fn prepare_wait(&mut self) -> Option<NonNull<ThreadRequest>> {
        if let Some(request) = self.try_prepare() {
            return Some(request);
        }
        self.counters().prepare_full.add(1);
        loop {
            if !self.any_in_flight() {
                return None;
            }
            self.wait_progress(Wake::HalfDrained);
            if let Some(request) = self.try_prepare() {
                return Some(request);
            }
        }
    }

    fn try_prepare(&mut self) -> Option<NonNull<ThreadRequest>> {
        let threads = self.cursors.len();
        let mut lane = self.next_lane;
        for _ in 0..threads {
            if self.occupancy(lane) == self.capacity {
                self.reap(lane);
            }
            if self.occupancy(lane) < self.capacity {
                return Some(self.hand_out(lane));
            }
            lane = if lane + 1 == threads { 0 } else { lane + 1 };
        }
        None
    }

    fn hand_out(&mut self, lane: usize) -> NonNull<ThreadRequest> {
        let request = self
            .free
            .pop()
            .expect("qemu-threads: a lane with room but no free request");
        self.cursors[lane].reserved += 1;
        self.next_lane = if lane + 1 == self.cursors.len() {
            0
        } else {
            lane + 1
        };
        let tag = self.tag();
        // SAFETY: `request` came from `init` and is free, so by the contract
        // of `new` the pool may write it and nobody else accesses it.
        unsafe {
            (*request.as_ptr()).node.sqe_next = tag;
            (*request.as_ptr()).thread_index = lane as c_uint;
        }
        request
    }

    /// Returns a request from `prepare` unused (no handler, no `done`).
    /// Used by the typed API when a prepared request is dropped.
    ///
    /// # Safety
    ///
    /// `request` must point to a live `ThreadRequest`: one this pool's
    /// `prepare` handed out and that was not committed (any other is
    /// detected and aborts, as in `commit`, but is still read).
    pub(crate) unsafe fn give_back(&mut self, request: NonNull<ThreadRequest>) {
        let lane = self.check_handed_out(request, "give_back");
        self.cursors[lane].reserved -= 1;
        self.free.push(request);
    }

    /// Queues a request from `prepare` to its worker, waking the worker if
    /// it sleeps. Never blocks.
    ///
    /// Aborts the process if `request` was not handed out by this pool's
    /// `prepare`, or was committed already.
    ///
    /// # Safety
    ///
    /// `request` must point to a live `ThreadRequest` (ideally one from
    /// `prepare`; any other is detected and refused).
    pub unsafe fn commit(&mut self, request: NonNull<ThreadRequest>) {
        let lane = self.check_handed_out(request, "threads_submit_request_commit");
        // Before the push: the push's Release publishes this store along
        // with the request, so a handler reading the statistics already
        // counts its own request as submitted.
        self.counters().submitted.add(1);
        let cursor = &mut self.cursors[lane];
        cursor.reserved -= 1;
        if cursor.lane.push(request) {
            self.counters().worker_wakeups.add(1);
        }
    }

    /// Checks that `request` is one this pool's `prepare` handed out and
    /// that was not committed since, un-tags it and returns its lane.
    /// Aborts the process otherwise: the caller's bookkeeping is broken and
    /// going on would corrupt ours.
    fn check_handed_out(&mut self, request: NonNull<ThreadRequest>, what: &str) -> usize {
        let r = request.as_ptr();
        // SAFETY: both callers pass a pointer to a live ThreadRequest (the
        // contract of `commit`; `give_back` passes one from `prepare`); if
        // it is one of ours, nobody else touches it now.
        let (tag, lane) = unsafe { ((*r).node.sqe_next, (*r).thread_index as usize) };
        if tag != self.tag() {
            fatal(&format!(
                "{what}: the request was not handed out by \
                 threads_submit_request_prepare on this Threads, or was already committed"
            ));
        }
        if lane >= self.cursors.len() || self.cursors[lane].reserved == 0 {
            fatal(&format!(
                "{what}: the request's thread_index was overwritten"
            ));
        }
        // SAFETY: as above; the tag proved the request is ours and handed out.
        unsafe { (*r).node.sqe_next = ptr::null_mut() };
        lane
    }

    /// Waits until every committed request has been handled and finished
    /// (its `done` has run). Spins briefly, then sleeps until a completion
    /// wakes it.
    pub fn wait_done(&mut self) {
        loop {
            for lane in 0..self.cursors.len() {
                self.reap(lane);
            }
            if !self.any_in_flight() {
                return;
            }
            self.wait_progress(Wake::Drained);
        }
    }

    /// `stats().prepare_full` alone: one counter of the submitter's own,
    /// without reading every worker's cache line for `worker_sleeps`.
    pub fn prepare_full(&self) -> u64 {
        self.stats.prepare_full()
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> ThreadsStats {
        self.stats.read()
    }

    /// A handle that reads the pool's counters from any thread while the
    /// pool works (see `StatsReader`).
    pub fn stats_reader(&self) -> StatsReader {
        self.stats.clone()
    }

    fn counters(&self) -> &Counters {
        self.stats.counters()
    }

    /// The value `prepare` writes into `node` of a request it hands out:
    /// the address of this pool's shared state, unique while it lives.
    fn tag(&self) -> *mut ThreadRequest {
        &*self.shared as *const Shared<C> as *mut ThreadRequest
    }

    /// What identifies this pool's workers to `on_worker_of`; it does not
    /// change while the pool lives.
    #[cfg(not(loom))]
    pub(crate) fn worker_tag(&self) -> *const () {
        self.tag() as *const ()
    }

    fn occupancy(&self, lane: usize) -> usize {
        let c = &self.cursors[lane];
        c.lane.in_flight() + c.reserved
    }

    fn any_in_flight(&self) -> bool {
        self.cursors.iter().any(|c| c.lane.has_in_flight())
    }

    /// Runs `done` on the lane's completed requests and frees them.
    fn reap(&mut self, lane: usize) {
        for request in self.cursors[lane].lane.reap() {
            // Account for the request before `done` runs: a Rust `done`
            // that panics then leaves it reaped (the lane counted it so
            // when it yielded it) and free, and the next reap (in
            // `wait_done` or drop) does not run `done` on it again. Only
            // the submitter takes from `free`, and it is busy in this
            // `done`.
            self.stats.counters().completed.add(1);
            self.free.push(request);
            self.shared.callbacks.done(request);
        }
    }

    /// True if a lane with requests in flight completed one not yet reaped.
    fn progress(&self) -> bool {
        self.cursors
            .iter()
            .any(|c| c.lane.has_in_flight() && c.lane.has_completions())
    }

    /// Returns after some lane with requests in flight has made progress,
    /// or after a (rare) spurious wake-up; callers re-check in a loop. If it
    /// sleeps, `wake` says how far a lane must get to wake it.
    fn wait_progress(&mut self, wake: Wake) {
        let mut backoff = self.submitter_backoff;
        while !self.progress() {
            if backoff.snooze() {
                continue;
            }
            if self.arm_waiters(wake) {
                self.counters().submitter_sleeps.add(1);
                self.shared.submitter_event.wait();
            }
            self.disarm_waiters();
            break;
        }
        backoff.reset();
        self.submitter_backoff = backoff;
    }

    /// Announces to every lane with requests in flight that the submitter
    /// sleeps until it completes as many as `wake` says. False if one lane
    /// already completed a request.
    fn arm_waiters(&self, wake: Wake) -> bool {
        self.cursors
            .iter()
            .map(|c| &c.lane)
            .filter(|l| l.has_in_flight())
            .all(|l| {
                let in_flight = l.in_flight();
                let wanted = match wake {
                    Wake::Drained => in_flight,
                    Wake::HalfDrained => (in_flight + 1) / 2,
                };
                l.arm_waiter(wanted)
            })
    }

    fn disarm_waiters(&self) {
        for c in self.cursors.iter() {
            if c.lane.has_in_flight() {
                c.lane.disarm_waiter();
            }
        }
    }
}

impl<C: Callbacks> Drop for RawPool<C> {
    /// Finishes what is in flight (handler and `done`, once each), stops
    /// and joins the workers, then runs `uninit` on every request.
    fn drop(&mut self) {
        self.wait_done();
        for c in self.cursors.iter() {
            c.lane.quit();
        }
        for worker in self.workers.drain(..) {
            // A worker that panicked has already aborted the process.
            let _ = worker.join();
        }
        for request in self.all.drain(..) {
            self.shared.callbacks.uninit(request);
        }
    }
}

/// `<name>/<index>`, cut on a character boundary to the 15 bytes that
/// Linux keeps of a thread name.
fn worker_name(name: &str, index: usize) -> String {
    let mut full = format!("{name}/{index}");
    let mut len = full.len().min(15);
    while !full.is_char_boundary(len) {
        len -= 1;
    }
    full.truncate(len);
    full
}

#[cfg(not(loom))]
std::thread_local! {
    /// In a worker thread, the shared state of the pool it works for (the
    /// pool's tag); null elsewhere.
    static WORKER_OF: std::cell::Cell<*const ()> = const { std::cell::Cell::new(ptr::null()) };
}

/// True when called from a worker of the pool whose `worker_tag` is `tag`,
/// i.e. from inside its handler: a submitter call made there would wait
/// for the very worker that makes it.
#[cfg(not(loom))]
pub(crate) fn on_worker_of(tag: *const ()) -> bool {
    WORKER_OF.with(|w| w.get() == tag)
}

fn run_worker<C: Callbacks>(shared: &Shared<C>, lane: WorkerLane) {
    #[cfg(not(loom))]
    WORKER_OF.with(|w| w.set((shared as *const Shared<C>).cast()));
    // A panic here would be a bug in this crate (C callbacks cannot
    // unwind into Rust: an unwinding `extern "C"` call aborts). Unwinding
    // out of a thread the C side knows nothing about would leave the
    // submitter waiting forever, so stop the process with a message.
    // Under loom, a failed model check is a panic that must reach the
    // checker to be reported.
    if cfg!(loom) {
        return worker_loop(shared, lane);
    }
    let result = panic::catch_unwind(AssertUnwindSafe(|| worker_loop(shared, lane)));
    if result.is_err() {
        fatal("internal error: a worker thread panicked");
    }
}

fn worker_loop<C: Callbacks>(shared: &Shared<C>, mut lane: WorkerLane) {
    let mut backoff = Backoff::new(shared.worker_budget);
    loop {
        match lane.poll() {
            Poll::Request(request) => {
                shared.callbacks.handle(request);
                if lane.complete() {
                    shared.submitter_event.set();
                }
                backoff.reset();
            }
            Poll::Quit => return,
            Poll::Empty { seen } => {
                if !backoff.snooze() && lane.try_sleep(seen) {
                    backoff.reset();
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::worker_name;

    #[test]
    fn worker_names_are_cut_to_15_bytes_on_a_char_boundary() {
        assert_eq!(worker_name("compress", 3), "compress/3");
        assert_eq!(worker_name("decompress-thread", 12), "decompress-thre");
        // 'é' is two bytes: a cut through it backs off to the boundary.
        assert_eq!(worker_name("abcdefghijklmné", 1), "abcdefghijklmn");
    }
}
