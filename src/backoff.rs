//! The spin, then yield, then sleep state machine that both sides of the
//! pool use while they wait for the other side.
//!
//! Kept in one place because the counts are hard to get right (review of
//! the 2018 series: "busywait counts probably need isolating"). The phases:
//!
//! 1. *spin*: poll with a CPU pause between polls. Cheapest reaction, but it
//!    holds the core, which on a 2-core host is the core the other side may
//!    need to make the progress being waited for.
//! 2. *yield*: poll with `sched_yield()` between polls. Lets a runnable
//!    thread that shares the core run, without the cost of a kernel
//!    sleep/wake round trip when nothing else is runnable.
//! 3. *sleep*: the caller publishes that it sleeps (its need-wakeup flag)
//!    and blocks on an `Event`; the other side pays one kernel wake-up.
//!
//! `snooze` returns `false` once both budgets are spent: time to sleep.
//!
//! The spin adapts. A thread that spun through its whole budget in
//! [`MISS_LIMIT`] waits in a row, and got what it waited for only later,
//! skips the spin from then on: on a loaded host (other threads on every
//! core) the other side is then usually not running, and spinning only
//! delays the sleep that lets it run. Every [`PROBE_EVERY`]th wait spins
//! again, so a thread that the load left goes back to spinning once a spin
//! pays off again; one hit ends the skipping at once. A skipped spin only
//! starts the wait at the yield or sleep phase: the handshake is the one
//! that a zero spin budget runs, which the loom models check.

use crate::sync::{spin_loop, yield_now};

/// Waits in a row that spent the whole spin budget before the spin is
/// skipped. Eight, so that a short burst of misses (a worker that starts
/// a long request) does not turn spinning off.
pub(crate) const MISS_LIMIT: u32 = 8;
/// While the spin is skipped, one wait in this many spins anyway.
pub(crate) const PROBE_EVERY: u32 = 16;

/// How many polls of each kind to make before sleeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    pub(crate) spins: u32,
    pub(crate) yields: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    budget: Budget,
    /// Polls made since the last reset. 64 bits, so that even two maximal
    /// 32-bit budgets together cannot make it wrap back to spinning.
    step: u64,
    /// Waits in a row that spent the spin budget (saturating).
    misses: u32,
    /// Waits since the spin was last probed, while it is skipped.
    skipped: u32,
    /// This wait skips the spin phase.
    skipping: bool,
}

impl Backoff {
    pub(crate) fn new(budget: Budget) -> Self {
        Backoff {
            budget,
            step: 0,
            misses: 0,
            skipped: 0,
            skipping: false,
        }
    }

    /// Called when the awaited thing happened: the next wait starts with
    /// the cheap phase again, unless spinning has kept missing.
    pub(crate) fn reset(&mut self) {
        let spins = u64::from(self.budget.spins);
        // `step` snoozes came before the poll that succeeded. Up to and
        // including `spins` of them, that poll followed a spin: the spin
        // paid. (`snooze` counts the miss only when it is called once more,
        // i.e. when the poll after the last spin failed too.) A wait that
        // skipped the spin has `step > spins` after its first snooze.
        if self.step > 0 && self.step <= spins {
            self.misses = 0;
        }
        self.step = 0;
        self.skipping = false;
    }

    /// Waits one step. Returns `false` when the caller should sleep instead.
    pub(crate) fn snooze(&mut self) -> bool {
        let spins = u64::from(self.budget.spins);
        let yields = u64::from(self.budget.yields);
        if self.step == 0 && spins > 0 && self.misses >= MISS_LIMIT {
            self.skipped += 1;
            if self.skipped < PROBE_EVERY {
                self.skipping = true;
                self.step = spins;
            } else {
                self.skipped = 0;
            }
        }
        if self.step < spins {
            spin_loop();
            self.step += 1;
            return true;
        }
        if self.step == spins && !self.skipping {
            self.misses = self.misses.saturating_add(1);
        }
        if self.step < spins + yields {
            yield_now();
            self.step += 1;
            return true;
        }
        if self.step == spins {
            // Counted once: the caller may snooze again before sleeping.
            self.step += 1;
        }
        false
    }

    /// True while waits skip the spin phase.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn skips_spin(&self) -> bool {
        self.misses >= MISS_LIMIT
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn snooze_counts_spins_then_yields_then_says_sleep() {
        let mut b = Backoff::new(Budget {
            spins: 3,
            yields: 2,
        });
        for _ in 0..5 {
            assert!(b.snooze());
        }
        assert!(!b.snooze());
        assert!(!b.snooze(), "stays spent until reset");
        b.reset();
        assert!(b.snooze());
    }

    #[test]
    fn maximal_budgets_do_not_wrap_back_to_spinning() {
        let mut b = Backoff::new(Budget {
            spins: u32::MAX,
            yields: 1,
        });
        b.step = u64::from(u32::MAX);
        assert!(b.snooze(), "the one yield");
        assert!(!b.snooze(), "then sleep, not a wrapped step");
    }

    /// Snoozes until told to sleep; returns how many polls it made.
    fn wait_out(b: &mut Backoff) -> u32 {
        let mut n = 0;
        while b.snooze() {
            n += 1;
        }
        b.reset();
        n
    }

    /// Spins `k` polls, then gets what it waited for.
    fn hit_after(b: &mut Backoff, k: u32) {
        for _ in 0..k {
            assert!(b.snooze());
        }
        b.reset();
    }

    const B: Budget = Budget {
        spins: 10,
        yields: 2,
    };

    #[test]
    fn spin_is_skipped_after_missing_limit_times_in_a_row() {
        let mut b = Backoff::new(B);
        for _ in 0..MISS_LIMIT - 1 {
            assert_eq!(wait_out(&mut b), 12);
        }
        assert!(!b.skips_spin());
        assert_eq!(wait_out(&mut b), 12, "the last full miss");
        assert!(b.skips_spin());
        assert_eq!(wait_out(&mut b), 2, "only the yields");
    }

    #[test]
    fn a_hit_while_spinning_restarts_the_count() {
        let mut b = Backoff::new(B);
        for _ in 0..MISS_LIMIT - 1 {
            wait_out(&mut b);
        }
        hit_after(&mut b, 3);
        for _ in 0..MISS_LIMIT - 1 {
            wait_out(&mut b);
        }
        assert!(!b.skips_spin());
        assert_eq!(wait_out(&mut b), 12);
    }

    /// The poll that follows the last spin is still the spin's: a wait
    /// that ends there is a hit, like one that ends on an earlier poll.
    #[test]
    fn a_hit_on_the_poll_after_the_last_spin_is_a_hit() {
        let mut b = Backoff::new(B);
        for _ in 0..MISS_LIMIT - 1 {
            wait_out(&mut b);
        }
        hit_after(&mut b, B.spins);
        for _ in 0..MISS_LIMIT - 1 {
            wait_out(&mut b);
        }
        assert!(!b.skips_spin(), "that hit restarted the count");
        assert_eq!(wait_out(&mut b), 12);
    }

    #[test]
    fn a_hit_without_waiting_says_nothing() {
        let mut b = Backoff::new(B);
        for _ in 0..MISS_LIMIT {
            wait_out(&mut b);
        }
        b.reset();
        assert!(b.skips_spin());
    }

    #[test]
    fn skipping_probes_the_spin_and_a_hit_there_ends_it() {
        let mut b = Backoff::new(B);
        for _ in 0..MISS_LIMIT {
            wait_out(&mut b);
        }
        for _ in 0..PROBE_EVERY - 1 {
            assert_eq!(wait_out(&mut b), 2);
        }
        // The probe spins; it misses: still skipping.
        assert_eq!(wait_out(&mut b), 12);
        assert!(b.skips_spin());
        for _ in 0..PROBE_EVERY - 1 {
            assert_eq!(wait_out(&mut b), 2);
        }
        // This probe hits: spinning is back.
        hit_after(&mut b, 4);
        assert!(!b.skips_spin());
        assert_eq!(wait_out(&mut b), 12);
    }

    #[test]
    fn a_hit_after_the_spin_is_a_miss() {
        let mut b = Backoff::new(B);
        for _ in 0..MISS_LIMIT {
            hit_after(&mut b, 11); // in the yield phase
        }
        assert!(b.skips_spin());
    }

    #[test]
    fn zero_budget_sleeps_at_once() {
        let mut b = Backoff::new(Budget {
            spins: 0,
            yields: 0,
        });
        assert!(!b.snooze());
    }
}
