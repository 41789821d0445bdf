//! A binary wake-up token that one thread sleeps on and any thread sets.
//!
//! Unlike `std::thread::park`, the token is not tied to a thread's identity:
//! the submitter of a pool may be a different thread from one call to the
//! next (QEMU creates the pool on one thread and submits from another), so
//! workers wake "whoever sleeps on this event" without knowing who that is.
//!
//! Only the sleep/wake protocol in `lane.rs` and `pool.rs` decides *whether*
//! to sleep or set; the event only carries the wake-up across the kernel.
//! A set that comes before the wait is kept (it is a token), so a wake-up
//! can never be lost between deciding to sleep and sleeping; a stale token
//! makes one later wait return early, which every caller tolerates because
//! it re-checks its condition in a loop.

#[cfg(all(target_os = "linux", not(loom)))]
mod imp {
    use crate::sync::{AtomicU32Like, Ordering};

    pub(crate) struct Event {
        /// 1 when a token is pending, 0 otherwise.
        state: AtomicU32Like,
    }

    impl Event {
        pub(crate) const fn new() -> Self {
            Event {
                state: AtomicU32Like::new(0),
            }
        }

        /// Sleeps until a token is available, then consumes it.
        pub(crate) fn wait(&self) {
            // Acquire: pairs with the Release swap in `set`, so what the
            // setter wrote before setting is visible once the token is taken.
            while self.state.swap(0, Ordering::Acquire) == 0 {
                futex_wait(&self.state, 0);
            }
        }

        /// Makes a token available and wakes the sleeper if there is one.
        pub(crate) fn set(&self) {
            // Release: pairs with the Acquire swap in `wait`.
            if self.state.swap(1, Ordering::Release) == 0 {
                futex_wake(&self.state);
            }
        }
    }

    fn futex_wait(word: &AtomicU32Like, expected: u32) {
        // SAFETY: FUTEX_WAIT only reads the aligned u32 that `word` points
        // to, which lives for the call; a null timeout means no timeout.
        // Errors (EAGAIN when the value already changed, EINTR) are benign:
        // the caller re-checks the word in a loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }

    fn futex_wake(word: &AtomicU32Like) {
        // SAFETY: FUTEX_WAKE does not dereference user memory beyond using
        // the address as a key; `word` is a live, aligned u32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

#[cfg(any(loom, not(target_os = "linux")))]
mod imp {
    use crate::sync::{Condvar, Mutex};

    /// The portable (and model-checked) form of the same token.
    pub(crate) struct Event {
        token: Mutex<bool>,
        cond: Condvar,
    }

    impl Event {
        pub(crate) fn new() -> Self {
            Event {
                token: Mutex::new(false),
                cond: Condvar::new(),
            }
        }

        pub(crate) fn wait(&self) {
            let mut token = self.token.lock().unwrap();
            while !*token {
                token = self.cond.wait(token).unwrap();
            }
            *token = false;
        }

        pub(crate) fn set(&self) {
            *self.token.lock().unwrap() = true;
            self.cond.notify_one();
        }
    }
}

pub(crate) use imp::Event;
