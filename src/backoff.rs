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

use crate::sync::{spin_loop, yield_now};

/// How many polls of each kind to make before sleeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    pub(crate) spins: u32,
    pub(crate) yields: u32,
}

pub(crate) struct Backoff {
    budget: Budget,
    /// Polls made since the last reset. 64 bits, so that even two maximal
    /// 32-bit budgets together cannot make it wrap back to spinning.
    step: u64,
}

impl Backoff {
    pub(crate) fn new(budget: Budget) -> Self {
        Backoff { budget, step: 0 }
    }

    /// Called when the awaited thing happened: the next wait starts with
    /// the cheap phase again.
    pub(crate) fn reset(&mut self) {
        self.step = 0;
    }

    /// Waits one step. Returns `false` when the caller should sleep instead.
    pub(crate) fn snooze(&mut self) -> bool {
        let spins = u64::from(self.budget.spins);
        let yields = u64::from(self.budget.yields);
        if self.step < spins {
            spin_loop();
        } else if self.step < spins + yields {
            yield_now();
        } else {
            return false;
        }
        self.step += 1;
        true
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

    #[test]
    fn zero_budget_sleeps_at_once() {
        let mut b = Backoff::new(Budget {
            spins: 0,
            yields: 0,
        });
        assert!(!b.snooze());
    }
}
