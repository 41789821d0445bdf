//! One worker's lane: a single-producer single-consumer ring of request
//! pointers that also reports completion, plus the need-wakeup flags of both
//! sides.
//!
//! The submitter produces into the ring; the worker takes requests in ring
//! order, runs the handler and *then* advances its index. So the worker's
//! index counts completed requests, not merely taken ones, and the
//! submitter finds completed requests in the same ring it submitted them to.
//! There is no shared "done" ring, hence no multi-producer ring and no
//! "ring full, retry" path on the worker side: the slot of a completed
//! request is reused only after the submitter has reaped it, and a slot is
//! handed out only when the ring has room, so neither index can overrun the
//! other. Indices are counts modulo 2^62, compared by difference, so they
//! may wrap (tested) without the 2^32 hazard the 2018 review asked about.
//!
//! Each index lives in one atomic word together with the flags that the
//! *other* side sets when it goes to sleep:
//!
//! - `submitted` = count << 2 | QUIT | SLEEPING. The submitter adds to it
//!   with a read-modify-write and so learns, in the same atomic operation
//!   that publishes a request, whether the worker is asleep: a kernel wake-up
//!   is made only then. The worker sets SLEEPING with a compare-exchange
//!   that fails if a request (or QUIT) arrived since it last looked, so a
//!   wake-up cannot be missed (loom-checked in `tests/loom.rs`).
//! - `completed` = count << 2 | WAITER. Symmetric: the worker adds to it and
//!   learns whether the submitter sleeps waiting for completions.
//!
//! Making each handshake a read-modify-write of a single location keeps the
//! protocol free of Dekker-style fences (which loom does not model exactly)
//! and costs the same as a store plus full fence on x86.
//!
//! # The two ends
//!
//! `new` makes a lane and returns its two ends, as rtrb's
//! `RingBuffer::new` returns a `Producer` and a `Consumer`:
//!
//! - `SubmitterLane`, kept by the pool's submitter: `push`, `quit`,
//!   reaping completed requests, arming and disarming its wake-up, and a
//!   `LaneStats` handle on the worker's sleep statistic for any thread;
//! - `WorkerLane`, moved into the lane's worker thread: `poll`,
//!   `complete` and `try_sleep`.
//!
//! The state both ends share (`Lane`) is private to this file, and neither
//! end is `Clone`, so the worker, which holds only its `WorkerLane`, has no
//! way to call a submitter operation, and the submitter none to call a
//! worker one. Each end also keeps its own positions (the submitter how far
//! it has pushed and reaped, the worker how far it has completed), so the
//! position arithmetic (counts modulo 2^62, `POS_MASK`) stays in this file:
//! the pool speaks in requests ("how many are in flight", "wake me when `n`
//! more have completed"), never in positions.
//!
//! There is no `compile_fail` doctest of the split: doctests are built as a
//! separate crate against the public API, and these types are crate-private
//! (`pub(crate)` in a private module), so a doctest that calls
//! `WorkerLane::push` would fail to compile for privacy whether or not the
//! method existed, and prove nothing. Making the lane public only for a
//! doctest would widen the crate's API. The check is the compiler's own: a
//! submitter call on a `WorkerLane` in `pool.rs` is error E0599 (no such
//! method).

use crossbeam_utils::CachePadded;

use crate::event::Event;
use crate::request::ThreadRequest;
use crate::stats::Counter;
use crate::sync::{Arc, AtomicPtr, AtomicUsize, Ordering};
use std::ptr::{self, NonNull};

/// `submitted`: the worker is asleep (or about to be) on `Lane::event`.
const SLEEPING: usize = 1;
/// `submitted`: the worker must exit once its ring is empty.
const QUIT: usize = 2;
/// `completed`: the submitter is asleep (or about to be) waiting for this
/// lane to complete a request.
const WAITER: usize = 1;
const FLAGS: usize = 3;
const ONE: usize = 4;

/// Slots per cache-padded block: the ring's storage is whole padded blocks,
/// so that no two lanes' slots share a cache line (the submitter writes a
/// slot while another lane's worker reads its own).
const SLOTS_PER_BLOCK: usize = 128 / std::mem::size_of::<usize>();

type SlotBlock = CachePadded<[AtomicPtr<ThreadRequest>; SLOTS_PER_BLOCK]>;

/// Positions are counts of requests modulo 2^62 (2^30 on 32-bit hosts).
const POS_MASK: usize = usize::MAX >> 2;

/// The position `n` requests after `pos`.
#[inline]
fn after(pos: usize, n: usize) -> usize {
    pos.wrapping_add(n) & POS_MASK
}

/// How many positions `to` is ahead of `from`.
#[inline]
fn distance(from: usize, to: usize) -> usize {
    to.wrapping_sub(from) & POS_MASK
}

#[inline]
fn pos_of(word: usize) -> usize {
    word >> 2
}

#[inline]
fn word_of(pos: usize) -> usize {
    pos << 2
}

/// Makes a lane of `capacity` (a power of two) slots whose positions start
/// at `start` modulo 2^62 (0 in production; near the wrap point in tests),
/// and returns its submitter's end and its worker's end.
pub(crate) fn new(capacity: usize, start: usize) -> (SubmitterLane, WorkerLane) {
    let start = start & POS_MASK;
    let lane = Arc::new(Lane::new(capacity, start));
    let submitter = SubmitterLane {
        lane: Arc::clone(&lane),
        pushed: start,
        reaped: start,
    };
    let worker = WorkerLane { lane, pos: start };
    (submitter, worker)
}

/// What a worker finds when it looks at its lane.
pub(crate) enum Poll {
    /// The request at the worker's position; handle it, then `complete`.
    Request(NonNull<ThreadRequest>),
    /// Nothing to do. Pass `seen` to `try_sleep`.
    Empty { seen: Seen },
    /// Nothing to do and the pool is being destroyed.
    Quit,
}

/// The `submitted` word a worker's `poll` found empty, for `try_sleep`;
/// opaque outside this file.
pub(crate) struct Seen(usize);

/// The worker's side of the lane: written by the worker, read by the
/// submitter (and by `threads_get_stats`).
struct WorkerSide {
    completed: AtomicUsize,
    /// While WAITER is set: the completion count at which the worker wakes
    /// the submitter. Written by the submitter in `arm_waiter`.
    wake_at: AtomicUsize,
    /// A statistic, raised by the worker alone.
    sleeps: Counter,
}

/// What the two ends share.
struct Lane {
    submitted: CachePadded<AtomicUsize>,
    worker: CachePadded<WorkerSide>,
    /// Written only by the submitter at a position the worker has not
    /// reached yet (or has completed and the submitter has reaped), read by
    /// the worker after it acquired `submitted` and by the submitter. The
    /// request data itself is published by the `submitted` and `completed`
    /// read-modify-writes, so the slots themselves need no ordering.
    slots: Box<[SlotBlock]>,
    mask: usize,
    /// The worker sleeps here when SLEEPING is set.
    event: Event,
}

impl Lane {
    fn new(capacity: usize, start: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Lane {
            submitted: CachePadded::new(AtomicUsize::new(word_of(start))),
            worker: CachePadded::new(WorkerSide {
                completed: AtomicUsize::new(word_of(start)),
                wake_at: AtomicUsize::new(start),
                sleeps: Counter::new(),
            }),
            slots: (0..(capacity + SLOTS_PER_BLOCK - 1) / SLOTS_PER_BLOCK)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut()))))
                .collect(),
            mask: capacity - 1,
            event: Event::new(),
        }
    }

    /// The worker's completion count, as the submitter reads it.
    fn completed(&self) -> usize {
        // Acquire: pairs with the Release fetch_add in
        // `WorkerLane::complete`, so what the handler wrote into the
        // requests before completion is visible to the `done` callback that
        // the submitter runs next.
        pos_of(self.worker.completed.load(Ordering::Acquire))
    }

    fn slot_cell(&self, pos: usize) -> &AtomicPtr<ThreadRequest> {
        let i = pos & self.mask;
        &self.slots[i / SLOTS_PER_BLOCK][i % SLOTS_PER_BLOCK]
    }

    /// The request at `pos`, which must be submitted and not yet reaped.
    fn slot(&self, pos: usize) -> NonNull<ThreadRequest> {
        // Relaxed: the Acquire load of `submitted` (worker) or `completed`
        // (submitter) before this call orders it; see `slots`.
        let p = self.slot_cell(pos).load(Ordering::Relaxed);
        NonNull::new(p).expect("qemu-threads: lane slot read before it was written")
    }
}

/// The submitter's end of a lane (see the module documentation).
pub(crate) struct SubmitterLane {
    lane: Arc<Lane>,
    /// Requests pushed into the lane (a position).
    pushed: usize,
    /// Requests whose `done` has run (a position); `reaped..pushed` are in
    /// the ring.
    reaped: usize,
}

impl SubmitterLane {
    /// Publishes `request` at the next position. Returns true if the worker
    /// was asleep and had to be woken, which costs a system call.
    pub(crate) fn push(&mut self, request: NonNull<ThreadRequest>) -> bool {
        let pos = self.pushed;
        self.pushed = after(pos, 1);
        // Relaxed: published by the Release fetch_add below; see `slots`.
        self.lane
            .slot_cell(pos)
            .store(request.as_ptr(), Ordering::Relaxed);
        // Release: publishes the slot and everything the caller wrote into
        // the request; pairs with the Acquire load in `WorkerLane::poll`.
        // The RMW also reads the SLEEPING flag set by the compare-exchange
        // in `WorkerLane::try_sleep`: being one atomic location, either that
        // exchange sees this increment and fails, or this sees SLEEPING.
        let prev = self.lane.submitted.fetch_add(ONE, Ordering::Release);
        debug_assert_eq!(pos_of(prev), pos, "submitter position out of step");
        if prev & SLEEPING != 0 {
            self.wake_worker();
            return true;
        }
        false
    }

    /// Asks the worker to exit once its ring is empty.
    pub(crate) fn quit(&self) {
        // Release: orders the quit after all earlier pushes for the worker's
        // Acquire load in `WorkerLane::poll`. Like `push`, the RMW learns
        // whether the worker sleeps; a sleeping worker's `try_sleep` saw no
        // QUIT.
        let prev = self.lane.submitted.fetch_or(QUIT, Ordering::Release);
        if prev & SLEEPING != 0 {
            self.wake_worker();
        }
    }

    fn wake_worker(&self) {
        // Relaxed: only the submitter clears SLEEPING, and the worker does
        // not rely on this store for data: it re-reads `submitted` with
        // Acquire after the event (whose set/wait pair orders this store
        // before the worker's re-check).
        self.lane.submitted.fetch_and(!SLEEPING, Ordering::Relaxed);
        self.lane.event.set();
    }

    /// Requests pushed and not yet reaped (in the ring, handled or not).
    pub(crate) fn in_flight(&self) -> usize {
        distance(self.reaped, self.pushed)
    }

    /// `in_flight() != 0`, without the arithmetic.
    pub(crate) fn has_in_flight(&self) -> bool {
        self.pushed != self.reaped
    }

    /// True if the worker has completed a request not yet reaped.
    pub(crate) fn has_completions(&self) -> bool {
        self.lane.completed() != self.reaped
    }

    /// The requests the worker had completed when this is called and that
    /// are not yet reaped, oldest first. Each counts as reaped (its slot may
    /// be reused) as soon as the iterator yields it; the caller then runs
    /// `done` on it and frees it.
    pub(crate) fn reap(&mut self) -> Reap<'_> {
        let completed = self.lane.completed();
        Reap {
            lane: self,
            completed,
        }
    }

    /// Announces that the submitter will sleep until this lane has
    /// completed `wanted` more requests than it has reaped (at least one,
    /// at most `in_flight()`). Fails (returns false) if the lane completed a
    /// request since the last reap, in which case there is no reason to
    /// sleep.
    ///
    /// Waking at a chosen count rather than on every completion is what
    /// keeps slow handlers from costing a sleep and a wake-up per request:
    /// `wait_done` asks to be woken when the lane is empty, and
    /// `prepare_wait` when half of what is in flight has completed.
    pub(crate) fn arm_waiter(&self, wanted: usize) -> bool {
        let reaped = self.reaped;
        let wake_at = after(reaped, wanted);
        debug_assert!(wake_at != reaped);
        // Relaxed: published by the Release exchange below.
        self.lane.worker.wake_at.store(wake_at, Ordering::Relaxed);
        // Release: publishes `wake_at`; pairs with the AcqRel fetch_add in
        // `WorkerLane::complete`, which reads WAITER and then `wake_at`.
        // Being an RMW on `completed`, the exchange is ordered against that
        // fetch_add: either it sees WAITER, or this exchange fails.
        self.lane
            .worker
            .completed
            .compare_exchange(
                word_of(reaped),
                word_of(reaped) | WAITER,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Withdraws `arm_waiter`, if the worker has not already done so.
    pub(crate) fn disarm_waiter(&self) {
        // Relaxed: a flag with no data attached; see `arm_waiter`.
        self.lane
            .worker
            .completed
            .fetch_and(!WAITER, Ordering::Relaxed);
    }

    /// A handle on the lane's worker statistics that any thread may keep
    /// and read.
    pub(crate) fn stats(&self) -> LaneStats {
        LaneStats(Arc::clone(&self.lane))
    }
}

/// Reads a lane's worker statistics from any thread (see `stats.rs`).
pub(crate) struct LaneStats(Arc<Lane>);

impl LaneStats {
    pub(crate) fn worker_sleeps(&self) -> u64 {
        self.0.worker.sleeps.get()
    }
}

/// What `SubmitterLane::reap` returns.
pub(crate) struct Reap<'a> {
    lane: &'a mut SubmitterLane,
    /// The completion count read when the reap began.
    completed: usize,
}

impl Iterator for Reap<'_> {
    type Item = NonNull<ThreadRequest>;

    fn next(&mut self) -> Option<NonNull<ThreadRequest>> {
        let lane = &mut *self.lane;
        if lane.reaped == self.completed {
            return None;
        }
        let request = lane.lane.slot(lane.reaped);
        lane.reaped = after(lane.reaped, 1);
        Some(request)
    }
}

/// The worker's end of a lane (see the module documentation).
pub(crate) struct WorkerLane {
    lane: Arc<Lane>,
    /// The worker's completion count (a position): where it finds the next
    /// request. Only the worker advances `completed`, so this is always the
    /// count in `completed`.
    pos: usize,
}

impl WorkerLane {
    /// Looks for the request at the worker's position.
    pub(crate) fn poll(&self) -> Poll {
        // Acquire: pairs with the Release RMWs in `SubmitterLane::push` and
        // `SubmitterLane::quit`.
        let word = self.lane.submitted.load(Ordering::Acquire);
        if pos_of(word) != self.pos {
            return Poll::Request(self.lane.slot(self.pos));
        }
        if word & QUIT != 0 {
            return Poll::Quit;
        }
        Poll::Empty { seen: Seen(word) }
    }

    /// Records that the request at the worker's position has been handled.
    /// Returns true if the submitter sleeps waiting for this completion and
    /// the caller must set the submitter's event.
    pub(crate) fn complete(&mut self) -> bool {
        self.pos = after(self.pos, 1);
        // Release: publishes what the handler wrote; pairs with the Acquire
        // load in `Lane::completed`. Acquire: pairs with the Release
        // exchange in `SubmitterLane::arm_waiter`, so `wake_at` below is the
        // armed one.
        let prev = self.lane.worker.completed.fetch_add(ONE, Ordering::AcqRel);
        // The count moves by one per completion and `arm_waiter` only arms
        // below `wake_at`, so the worker meets `wake_at` exactly.
        // Relaxed: ordered by the fetch_add above.
        if prev & WAITER != 0
            && after(pos_of(prev), 1) == self.lane.worker.wake_at.load(Ordering::Relaxed)
        {
            // Relaxed: see `SubmitterLane::disarm_waiter`; the submitter
            // event carries the wake-up itself.
            self.lane
                .worker
                .completed
                .fetch_and(!WAITER, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Sets SLEEPING if `submitted` still equals `seen` (from `poll`), then
    /// sleeps until the submitter clears it. Returns false without sleeping
    /// if anything arrived in between.
    pub(crate) fn try_sleep(&self, seen: Seen) -> bool {
        let Seen(seen) = seen;
        debug_assert_eq!(seen & FLAGS, 0);
        // Relaxed: this only decides whether to sleep. The exchange fails if
        // `SubmitterLane::push` or `quit` changed the word since `poll`, and
        // otherwise they will see SLEEPING (same-location RMW order).
        if self
            .lane
            .submitted
            .compare_exchange(seen, seen | SLEEPING, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.lane.worker.sleeps.add(1);
        // The event may hold a stale token from an earlier wake whose
        // SLEEPING the worker had already seen cleared: loop on the flag.
        // Relaxed is enough for the flag: the next `poll` acquires
        // `submitted` again before touching a slot.
        while self.lane.submitted.load(Ordering::Relaxed) & SLEEPING != 0 {
            self.lane.event.wait();
        }
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Two lanes' slots never share a cache line: each lane's ring is whole
    /// padded blocks of its own (a 4-slot ring used to be a 32-byte
    /// allocation of its own, which the allocator packs next to another).
    #[test]
    fn slots_fill_whole_cache_lines() {
        for capacity in [1, 4, 16, 64] {
            let lanes: Vec<Lane> = (0..4).map(|_| Lane::new(capacity, 0)).collect();
            for lane in &lanes {
                let start = lane.slots.as_ptr() as usize;
                let bytes = std::mem::size_of_val(&*lane.slots);
                let line = std::mem::align_of::<SlotBlock>();
                assert!(line >= 64);
                assert_eq!(start % line, 0, "capacity {capacity}: slots start mid-line");
                assert_eq!(bytes % line, 0, "capacity {capacity}: slots end mid-line");
                assert!(bytes >= capacity * std::mem::size_of::<usize>());
            }
        }
    }

    #[test]
    fn every_position_has_its_own_slot() {
        let lane = Lane::new(64, 0);
        let cells: std::collections::HashSet<usize> = (0..64)
            .map(|pos| lane.slot_cell(pos) as *const _ as usize)
            .collect();
        assert_eq!(cells.len(), 64);
        assert!(std::ptr::eq(lane.slot_cell(3), lane.slot_cell(3 + 64)));
    }

    /// The two ends on one thread, with positions crossing the wrap point:
    /// requests come out in order, the in-flight count and the wake-up
    /// point are right on both sides of it.
    #[test]
    fn ends_agree_across_the_wrap() {
        let mut requests: Vec<ThreadRequest> = (0..3).map(|_| ThreadRequest::new()).collect();
        let ptrs: Vec<NonNull<ThreadRequest>> = requests.iter_mut().map(NonNull::from).collect();
        // Positions POS_MASK - 1, POS_MASK, then 0.
        let (mut submitter, mut worker) = new(4, POS_MASK - 1);
        assert!(!submitter.has_in_flight());
        let seen = match worker.poll() {
            Poll::Empty { seen } => seen,
            _ => panic!("a new lane has work"),
        };
        for &p in &ptrs {
            assert!(!submitter.push(p), "nobody sleeps");
        }
        // A stale `seen`: the worker must not sleep.
        assert!(!worker.try_sleep(seen));
        assert_eq!(submitter.in_flight(), 3);
        assert!(!submitter.has_completions());
        // Wake after two completions, across the wrap.
        assert!(submitter.arm_waiter(2));
        for (i, &p) in ptrs.iter().take(2).enumerate() {
            match worker.poll() {
                Poll::Request(r) => assert_eq!(r, p),
                _ => panic!("request {i} not found"),
            }
            assert_eq!(worker.complete(), i == 1, "woken after completion {i}");
        }
        assert!(submitter.has_completions());
        assert!(!submitter.arm_waiter(1), "armed with completions to reap");
        submitter.disarm_waiter();
        assert_eq!(submitter.reap().collect::<Vec<_>>(), ptrs[..2]);
        assert_eq!(submitter.in_flight(), 1);
        assert!(!submitter.has_completions());
        match worker.poll() {
            Poll::Request(r) => assert_eq!(r, ptrs[2]),
            _ => panic!("request 2 not found"),
        }
        assert!(!worker.complete());
        assert_eq!(submitter.reap().collect::<Vec<_>>(), ptrs[2..]);
        assert!(!submitter.has_in_flight());
        assert!(matches!(worker.poll(), Poll::Empty { .. }));
        submitter.quit();
        assert!(matches!(worker.poll(), Poll::Quit));
        assert_eq!(submitter.stats().worker_sleeps(), 0);
    }
}
