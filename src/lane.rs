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

use crossbeam_utils::CachePadded;

use crate::event::Event;
use crate::request::ThreadRequest;
use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
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
pub(crate) const POS_MASK: usize = usize::MAX >> 2;

#[inline]
pub(crate) fn next(pos: usize) -> usize {
    pos.wrapping_add(1) & POS_MASK
}

/// How many positions `to` is ahead of `from`.
#[inline]
pub(crate) fn distance(from: usize, to: usize) -> usize {
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

/// What a worker finds when it looks at its lane.
pub(crate) enum Poll {
    /// The request at the worker's position; handle it, then `complete`.
    Request(NonNull<ThreadRequest>),
    /// Nothing to do. Pass `seen` to `try_sleep`.
    Empty { seen: usize },
    /// Nothing to do and the pool is being destroyed.
    Quit,
}

/// The worker's side of the lane: written by the worker, read by the
/// submitter (and by `threads_get_stats`).
struct WorkerSide {
    completed: AtomicUsize,
    /// While WAITER is set: the completion count at which the worker wakes
    /// the submitter. Written by the submitter in `arm_waiter`.
    wake_at: AtomicUsize,
    /// A statistic; on a 32-bit host it wraps after 2^32 sleeps.
    sleeps: AtomicUsize,
}

pub(crate) struct Lane {
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
    /// A lane of `capacity` (a power of two) slots whose positions start at
    /// `start` (0 in production; near the wrap point in tests).
    pub(crate) fn new(capacity: usize, start: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Lane {
            submitted: CachePadded::new(AtomicUsize::new(word_of(start))),
            worker: CachePadded::new(WorkerSide {
                completed: AtomicUsize::new(word_of(start)),
                wake_at: AtomicUsize::new(start),
                sleeps: AtomicUsize::new(0),
            }),
            slots: (0..capacity.div_ceil(SLOTS_PER_BLOCK))
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut()))))
                .collect(),
            mask: capacity - 1,
            event: Event::new(),
        }
    }

    // ---- submitter side -------------------------------------------------

    /// Publishes `request` at position `pos` (the submitter's count of
    /// requests pushed so far). Returns true if the worker was asleep and
    /// had to be woken, which costs a system call.
    pub(crate) fn push(&self, pos: usize, request: NonNull<ThreadRequest>) -> bool {
        self.slot_cell(pos)
            .store(request.as_ptr(), Ordering::Relaxed);
        // Release: publishes the slot and everything the caller wrote into
        // the request; pairs with the Acquire load in `poll`. The RMW also
        // reads the SLEEPING flag set by the compare-exchange in
        // `try_sleep`: being one atomic location, either that exchange sees
        // this increment and fails, or this sees SLEEPING.
        let prev = self.submitted.fetch_add(ONE, Ordering::Release);
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
        // Acquire load in `poll`. Like `push`, the RMW learns whether the
        // worker sleeps; a sleeping worker's `try_sleep` saw no QUIT.
        let prev = self.submitted.fetch_or(QUIT, Ordering::Release);
        if prev & SLEEPING != 0 {
            self.wake_worker();
        }
    }

    fn wake_worker(&self) {
        // Relaxed: only the submitter clears SLEEPING, and the worker does
        // not rely on this store for data: it re-reads `submitted` with
        // Acquire after the event (whose set/wait pair orders this store
        // before the worker's re-check).
        self.submitted.fetch_and(!SLEEPING, Ordering::Relaxed);
        self.event.set();
    }

    /// The worker's completion count.
    pub(crate) fn completed(&self) -> usize {
        // Acquire: pairs with the Release fetch_add in `complete`, so what
        // the handler wrote into the requests before completion is visible
        // to the `done` callback that the caller runs next.
        pos_of(self.worker.completed.load(Ordering::Acquire))
    }

    fn slot_cell(&self, pos: usize) -> &AtomicPtr<ThreadRequest> {
        let i = pos & self.mask;
        &self.slots[i / SLOTS_PER_BLOCK][i % SLOTS_PER_BLOCK]
    }

    /// The request at `pos`, which must be submitted and not yet reaped.
    pub(crate) fn slot(&self, pos: usize) -> NonNull<ThreadRequest> {
        let p = self.slot_cell(pos).load(Ordering::Relaxed);
        NonNull::new(p).expect("qemu-threads: lane slot read before it was written")
    }

    /// Announces that the submitter will sleep until this lane's
    /// completion count reaches `wake_at` (after `reaped`, at most the
    /// submitted count). Fails (returns false) if the lane completed a
    /// request since `reaped`, in which case there is no reason to sleep.
    ///
    /// Waking at a chosen count rather than on every completion is what
    /// keeps slow handlers from costing a sleep and a wake-up per request:
    /// `wait_done` asks to be woken when the lane is empty, and
    /// `prepare_wait` when half of what is in flight has completed.
    pub(crate) fn arm_waiter(&self, reaped: usize, wake_at: usize) -> bool {
        debug_assert!(wake_at != reaped);
        // Relaxed: published by the Release exchange below.
        self.worker.wake_at.store(wake_at, Ordering::Relaxed);
        // Release: publishes `wake_at`; pairs with the AcqRel fetch_add in
        // `complete`, which reads WAITER and then `wake_at`. Being an RMW on
        // `completed`, the exchange is ordered against that fetch_add:
        // either it sees WAITER, or this exchange fails.
        self.worker
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
        self.worker.completed.fetch_and(!WAITER, Ordering::Relaxed);
    }

    pub(crate) fn worker_sleeps(&self) -> u64 {
        // Relaxed: a statistic, read without ordering against anything.
        self.worker.sleeps.load(Ordering::Relaxed) as u64
    }

    // ---- worker side ----------------------------------------------------

    /// Looks for the request at `pos` (the worker's completion count).
    pub(crate) fn poll(&self, pos: usize) -> Poll {
        // Acquire: pairs with the Release RMWs in `push` and `quit`.
        let word = self.submitted.load(Ordering::Acquire);
        if pos_of(word) != pos {
            return Poll::Request(self.slot(pos));
        }
        if word & QUIT != 0 {
            return Poll::Quit;
        }
        Poll::Empty { seen: word }
    }

    /// Records that the request at the worker's position has been handled.
    /// Returns true if the submitter sleeps waiting for this completion and
    /// the caller must set the submitter's event.
    pub(crate) fn complete(&self) -> bool {
        // Release: publishes what the handler wrote; pairs with the Acquire
        // load in `completed`. Acquire: pairs with the Release exchange in
        // `arm_waiter`, so `wake_at` below is the armed one.
        let prev = self.worker.completed.fetch_add(ONE, Ordering::AcqRel);
        // The count moves by one per completion and `arm_waiter` only arms
        // below `wake_at`, so the worker meets `wake_at` exactly.
        // Relaxed: ordered by the fetch_add above.
        if prev & WAITER != 0 && next(pos_of(prev)) == self.worker.wake_at.load(Ordering::Relaxed) {
            // Relaxed: see `disarm_waiter`; the submitter event carries the
            // wake-up itself.
            self.worker.completed.fetch_and(!WAITER, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Sets SLEEPING if `submitted` still equals `seen` (from `poll`), then
    /// sleeps until the submitter clears it. Returns false without sleeping
    /// if anything arrived in between.
    pub(crate) fn try_sleep(&self, seen: usize) -> bool {
        debug_assert_eq!(seen & FLAGS, 0);
        // Relaxed: this only decides whether to sleep. The exchange fails if
        // `push` or `quit` changed the word since `poll`, and otherwise they
        // will see SLEEPING (same-location RMW order).
        if self
            .submitted
            .compare_exchange(seen, seen | SLEEPING, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // Relaxed: a statistic.
        self.worker.sleeps.fetch_add(1, Ordering::Relaxed);
        // The event may hold a stale token from an earlier wake whose
        // SLEEPING the worker had already seen cleared: loop on the flag.
        // Relaxed is enough for the flag: the next `poll` acquires
        // `submitted` again before touching a slot.
        while self.submitted.load(Ordering::Relaxed) & SLEEPING != 0 {
            self.event.wait();
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
}
