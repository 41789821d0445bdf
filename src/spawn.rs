//! Starting a worker thread the way QEMU's `qemu_thread_create()` starts
//! its threads: every signal blocked in the new thread, a stack size of
//! our own choosing, and a name.
//!
//! QEMU relies on signals reaching only the threads that expect them:
//! SIGTERM, SIGINT and SIGHUP go to the main loop, SIG_IPI (SIGUSR1) to
//! vCPU threads, SIGCHLD to whoever waits. A worker created from QEMU's
//! main thread (the destination creates its decompression pool there)
//! would otherwise inherit that thread's open mask and could take such a
//! signal. The new thread inherits the mask that is in force while it is
//! created, so we block everything around the spawn and restore the
//! caller's mask afterwards, as QEMU does.

use std::io;

use crate::sync::thread;

/// The stack every worker gets, whatever `RUST_MIN_STACK` says: handlers
/// run zlib's deflate or inflate and QEMU's helpers, which need far less.
/// Chosen, not inherited, so that a pool's memory use does not depend on
/// the caller's environment.
pub const THREADS_WORKER_STACK_SIZE: usize = 2 << 20;

/// Starts `body` on a new thread named `name` with all signals blocked.
pub(crate) fn spawn_worker(
    name: String,
    body: impl FnOnce() + Send + 'static,
) -> io::Result<thread::JoinHandle<()>> {
    let builder = thread::Builder::new()
        .name(name)
        .stack_size(THREADS_WORKER_STACK_SIZE);
    // Miri has no signals to block (and no pthread_sigmask).
    #[cfg(not(any(loom, miri)))]
    let _restore = SignalsBlocked::new()?;
    builder.spawn(body)
}

/// Blocks every signal in the calling thread until dropped, then restores
/// the mask it found.
#[cfg(not(any(loom, miri)))]
struct SignalsBlocked {
    old: libc::sigset_t,
}

#[cfg(not(any(loom, miri)))]
impl SignalsBlocked {
    fn new() -> io::Result<Self> {
        // SAFETY: sigset_t is plain data that sigfillset and pthread_sigmask
        // fully initialise before it is read.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `all` is a valid sigset_t to fill.
        unsafe { libc::sigfillset(&mut all) };
        // SAFETY: both pointers are to valid sigset_t values; this changes
        // only the calling thread's mask, and Drop puts it back.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(SignalsBlocked { old })
    }
}

#[cfg(not(any(loom, miri)))]
impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: `old` is the mask pthread_sigmask gave us in `new`.
        // Restoring a mask that was valid cannot fail.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}
