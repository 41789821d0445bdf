//! How the library speaks to a C caller that has no error channel of its
//! own: one line on stderr, prefixed with the library's name.
//!
//! Writing must never fail loudly: QEMU ignores SIGPIPE, and libvirt gives
//! QEMU's stderr to a pipe that may be closed by the time we write, so a
//! write error is ignored rather than turned into a panic (as `eprintln!`
//! does) and from there into an abort.

use std::io::Write;

fn emit(msg: &str) {
    // One write for the whole line, so that lines from several threads do
    // not interleave.
    let line = format!("qemu-threads: {msg}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Reports a refused call (the caller gets NULL or nothing happens).
#[cfg_attr(loom, allow(dead_code))] // the C ABI and the futex event, not built under loom
pub(crate) fn error(msg: &str) {
    emit(msg);
}

/// Reports a broken contract or internal invariant and aborts: continuing
/// would lose or corrupt requests, which is worse for a migration than
/// stopping.
pub(crate) fn fatal(msg: &str) -> ! {
    emit(msg);
    std::process::abort()
}
