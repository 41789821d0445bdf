//! Starting a worker thread with the signal mask QEMU 7.2's
//! `qemu_thread_create()` (util/qemu-thread-posix.c) gives its threads,
//! a stack size of our own choosing, and a name.
//!
//! QEMU relies on signals reaching only the threads that expect them:
//! SIGTERM, SIGINT and SIGHUP go to the main loop, SIG_IPI (SIGUSR1) to
//! vCPU threads, SIGCHLD to whoever waits. A worker created from QEMU's
//! main thread (the destination creates its decompression pool there)
//! would otherwise inherit that thread's open mask and could take such a
//! signal. So every signal is blocked, except SIGSEGV, SIGFPE and SIGILL,
//! which QEMU leaves open on purpose: they are raised by a fault in the
//! thread itself, and a fault signal that is blocked when raised is
//! undefined behaviour (Linux kills the process without running the
//! handler QEMU or a debugger installed). The new thread inherits the
//! mask in force while it is created, so we set that mask (whatever the
//! caller's was) around the spawn and restore the caller's afterwards,
//! as QEMU does.

use std::io;

use crate::sync::thread;

/// The stack every worker gets, whatever `RUST_MIN_STACK` says: handlers
/// run zlib's deflate or inflate and QEMU's helpers, which need far less.
/// Chosen, not inherited, so that a pool's memory use does not depend on
/// the caller's environment.
pub const THREADS_WORKER_STACK_SIZE: usize = 2 << 20;

/// Starts `body` on a new thread named `name` with QEMU's worker mask.
pub(crate) fn spawn_worker(
    name: String,
    body: impl FnOnce() + Send + 'static,
) -> io::Result<thread::JoinHandle<()>> {
    let builder = thread::Builder::new()
        .name(name)
        .stack_size(THREADS_WORKER_STACK_SIZE);
    // Miri has no signals to block (and no pthread_sigmask).
    #[cfg(not(any(loom, miri)))]
    let _restore = QemuThreadMask::set()?;
    builder.spawn(body)
}

/// The signals `qemu_thread_create()` leaves open in QEMU's threads.
#[cfg(not(any(loom, miri)))]
const LEFT_OPEN: [std::os::raw::c_int; 3] = [libc::SIGSEGV, libc::SIGFPE, libc::SIGILL];

/// Gives the calling thread the mask of a thread from
/// `qemu_thread_create()` until dropped, then restores the mask it found.
#[cfg(not(any(loom, miri)))]
struct QemuThreadMask {
    old: libc::sigset_t,
}

#[cfg(not(any(loom, miri)))]
impl QemuThreadMask {
    fn set() -> io::Result<Self> {
        // SAFETY: sigset_t is plain data that sigfillset and pthread_sigmask
        // fully initialise before it is read.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `mask` is a valid sigset_t to fill.
        unsafe { libc::sigfillset(&mut mask) };
        for sig in LEFT_OPEN {
            // SAFETY: `mask` is an initialised sigset_t and `sig` a valid
            // signal number, so this cannot fail.
            unsafe { libc::sigdelset(&mut mask, sig) };
        }
        // SAFETY: both pointers are to valid sigset_t values; this changes
        // only the calling thread's mask, and Drop puts it back.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask, &mut old) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(QemuThreadMask { old })
    }
}

#[cfg(not(any(loom, miri)))]
impl Drop for QemuThreadMask {
    fn drop(&mut self) {
        // SAFETY: `old` is the mask pthread_sigmask gave us in `new`.
        // Restoring a mask that was valid cannot fail.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}
