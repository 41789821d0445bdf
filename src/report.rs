//! How the library speaks to a C caller that has no error channel: one line
//! on stderr, prefixed with the library's name.

/// Reports a refused call (the caller gets NULL or nothing happens).
#[cfg_attr(loom, allow(dead_code))] // only the C ABI, not built under loom, uses it
pub(crate) fn error(msg: &str) {
    eprintln!("qemu-threads: {msg}");
}

/// Reports a broken contract or internal invariant and aborts: continuing
/// would lose or corrupt requests, which is worse for a migration than
/// stopping.
pub(crate) fn fatal(msg: &str) -> ! {
    eprintln!("qemu-threads: {msg}");
    std::process::abort()
}
