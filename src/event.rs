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
//!
//! On Linux the token is a futex word. EINTR and EAGAIN are the only
//! errors a working futex gives here; any other errno (ENOSYS from a
//! seccomp filter, say) switches the process's events to waiting in short
//! naps, with one line on stderr (`FUTEX_REFUSED` says why not an abort).

#[cfg(all(target_os = "linux", not(loom)))]
mod imp {
    use std::io;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use crate::report;
    use crate::sync::{AtomicU32Like, Ordering};

    /// Set once a futex call failed with an errno that only a refused or
    /// broken futex explains (ENOSYS from a seccomp filter, say). From
    /// then on every event of the process waits in naps instead.
    ///
    /// Naps, not a Mutex and Condvar: those of std and glibc sleep on the
    /// same futex. Not an abort either, although glibc aborts on such an
    /// errno in its own locks: aborting kills the guest in the middle of a
    /// migration, while naps keep the pool correct (the waiter re-checks
    /// the token after each nap, so no wake-up is lost, only late by up to
    /// `MAX_NAP`) and cost an idle waiter about a thousand short wake-ups
    /// a second. What naps cannot save is a waiter already asleep in a
    /// futex that worked for it when the wake that should end it fails.
    static FUTEX_REFUSED: AtomicBool = AtomicBool::new(false);

    const FIRST_NAP: Duration = Duration::from_micros(50);
    /// The latest a waiter without futex notices a set.
    const MAX_NAP: Duration = Duration::from_millis(1);

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
            let mut nap = FIRST_NAP;
            // Acquire: pairs with the Release swap in `set`, so what the
            // setter wrote before setting is visible once the token is taken.
            while self.state.swap(0, Ordering::Acquire) == 0 {
                // Relaxed: the flag only picks how to sleep and publishes no
                // data; the token's swaps order everything else.
                if FUTEX_REFUSED.load(Ordering::Relaxed) || !futex_wait(&self.state, 0) {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(MAX_NAP);
                }
            }
        }

        /// Makes a token available and wakes the sleeper if there is one.
        pub(crate) fn set(&self) {
            // Release: pairs with the Acquire swap in `wait`.
            if self.state.swap(1, Ordering::Release) == 0 {
                // Also once futex is refused: a waiter may have gone to
                // sleep in it before, and a napping one needs nothing.
                futex_wake(&self.state);
            }
        }
    }

    /// The address the kernel keys the futex on: an atomic has the same
    /// in-memory representation as its integer.
    fn futex_word(word: &AtomicU32Like) -> *const u32 {
        (word as *const AtomicU32Like).cast()
    }

    /// Sleeps while `word` holds `expected`. Returns false if futex is
    /// refused (reported, and `FUTEX_REFUSED` set): the caller must find
    /// another way to sleep.
    fn futex_wait(word: &AtomicU32Like, expected: u32) -> bool {
        // SAFETY: FUTEX_WAIT only reads the aligned u32 that `word` points
        // to, which lives for the call; a null timeout means no timeout.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                futex_word(word),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            )
        };
        if rc == 0 {
            return true;
        }
        // EAGAIN: the word no longer held `expected`; EINTR: a signal (one
        // of those left open, or a stop and continue). The caller re-checks
        // the word in a loop. There is no timeout, hence no ETIMEDOUT.
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN | libc::EINTR) => true,
            errno => {
                refused("FUTEX_WAIT", errno);
                false
            }
        }
    }

    fn futex_wake(word: &AtomicU32Like) {
        // SAFETY: FUTEX_WAKE does not dereference user memory beyond using
        // the address as a key; `word` is a live, aligned u32.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                futex_word(word),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            )
        };
        // FUTEX_WAKE fails only if futex itself is refused or broken.
        if rc < 0 {
            refused("FUTEX_WAKE", io::Error::last_os_error().raw_os_error());
        }
    }

    /// Switches every event to naps, and says why the first time.
    #[cold]
    fn refused(op: &str, errno: Option<i32>) {
        // Relaxed: as in `Event::wait`; the swap only makes the report
        // come once.
        if !FUTEX_REFUSED.swap(true, Ordering::Relaxed) {
            let why = errno.map_or_else(
                || "no errno".to_owned(),
                |e| io::Error::from_raw_os_error(e).to_string(),
            );
            report::error(&format!(
                "futex({op}) failed: {why}; waiting in naps of up to 1 ms from now on"
            ));
        }
    }

    /// A seccomp filter makes every futex call on one event's word fail
    /// with ENOSYS (as a sandbox that forbids futex would), in a child
    /// process: the test binary again, running only this test.
    #[cfg(all(test, target_arch = "x86_64", not(miri)))]
    mod tests {
        use super::Event;
        use std::process::Command;
        use std::time::{Duration, Instant};

        static EVENT: Event = Event::new();
        static UNFILTERED: Event = Event::new();
        const CHILD: &str = "QEMU_THREADS_FUTEX_ENOSYS_CHILD";
        const NAME: &str = "event::imp::tests::a_waiter_sleeps_when_futex_is_refused";
        /// How long the waiter waits before the token comes.
        const WAIT: Duration = Duration::from_millis(300);

        /// The filter: ENOSYS for futex() on the word at `addr`, every other
        /// call allowed. Applies to the calling thread and the threads it
        /// starts afterwards.
        fn refuse_futex_on(addr: usize) {
            // Offsets in struct seccomp_data: nr, then (at 16) args[0], whose
            // low half comes first on x86_64.
            const NR: u32 = 0;
            const ARG0_LO: u32 = 16;
            const ARG0_HI: u32 = 20;
            let ld = |k| libc::sock_filter {
                code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
                jt: 0,
                jf: 0,
                k,
            };
            // Jumps to the last instruction (allow) unless equal.
            let jeq = |k, jf| libc::sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                jt: 0,
                jf,
                k,
            };
            let ret = |k| libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k,
            };
            let mut filter = [
                ld(NR),
                jeq(libc::SYS_futex as u32, 5),
                ld(ARG0_LO),
                jeq(addr as u32, 3),
                ld(ARG0_HI),
                jeq((addr >> 32) as u32, 1),
                ret(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
                ret(libc::SECCOMP_RET_ALLOW),
            ];
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_mut_ptr(),
            };
            // SAFETY: prctl with these options takes plain integers.
            let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            assert_eq!(
                rc,
                0,
                "PR_SET_NO_NEW_PRIVS: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: `prog` points to `filter`, both live for the call; the
            // kernel copies the program.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const libc::sock_fprog,
                )
            };
            assert_eq!(rc, 0, "PR_SET_SECCOMP: {}", std::io::Error::last_os_error());
        }

        /// CPU time the calling thread has used.
        fn thread_cpu_time() -> Duration {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid timespec to write.
            let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            assert_eq!(rc, 0);
            Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        }

        /// With futex refused, a waiter still sleeps (it uses a few percent
        /// of the CPU while it waits, not all of it), gets the token, and
        /// the library says once on stderr why it no longer uses futex.
        #[test]
        fn a_waiter_sleeps_when_futex_is_refused() {
            if std::env::var_os(CHILD).is_some() {
                // A thread the filter does not cover, asleep in a futex
                // that works for it: it must still be woken once futex is
                // known to be refused elsewhere.
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    UNFILTERED.wait();
                    tx.send(()).unwrap();
                });
                std::thread::sleep(Duration::from_millis(50));
                refuse_futex_on(super::futex_word(&EVENT.state) as usize);
                let waiter = std::thread::spawn(|| {
                    let (cpu, start) = (thread_cpu_time(), Instant::now());
                    EVENT.wait();
                    (thread_cpu_time() - cpu, start, Instant::now())
                });
                std::thread::sleep(WAIT);
                let set_at = Instant::now();
                EVENT.set();
                let (cpu, start, woke) = waiter.join().unwrap();
                assert!(woke >= set_at, "the wait ended before the set");
                let wall = woke - start;
                assert!(
                    cpu < wall / 10,
                    "the waiter used {cpu:?} of CPU in {wall:?}: it spun"
                );
                // A second wait on the token set before it, from the same
                // thread: it returns, and nothing more is printed.
                EVENT.set();
                EVENT.wait();
                UNFILTERED.set();
                rx.recv_timeout(Duration::from_secs(10))
                    .expect("a waiter asleep in a working futex was not woken");
                return;
            }
            let exe = std::env::current_exe().unwrap();
            let out = Command::new(exe)
                .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
            assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
            let reports: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("qemu-threads: "))
                .collect();
            assert_eq!(reports.len(), 1, "one report, not {reports:?}");
            assert!(
                reports[0].contains("futex") && reports[0].contains("os error 38"),
                "{}",
                reports[0]
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
