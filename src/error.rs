//! The error channel of `threads_create_with_options`: a caller-owned
//! struct that a failed create fills in, so that QEMU can pass the reason
//! on through `Error **errp` or `error_report()` instead of a bare
//! "failed". Nothing to free, nothing thread-local.

use std::os::raw::{c_char, c_int};

use crate::pool::CreateError;

/// Bytes of `ThreadsError.message`, its terminating NUL included.
pub const THREADS_ERROR_MESSAGE_SIZE: usize = 256;

/// What kind of failure a `ThreadsError` reports.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadsErrorCode {
    /// The call succeeded.
    Ok = 0,
    /// A NULL callback, or a thread count or option out of range.
    InvalidArgument = 1,
    /// `thread_request_init` returned NULL.
    InitFailed = 2,
    /// The operating system refused to start a worker thread; `os_error`
    /// holds its errno.
    SpawnFailed = 3,
}

/// Why `threads_create_with_options` returned NULL, written where its
/// `error` argument points.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ThreadsError {
    /// The kind of failure; `THREADS_ERROR_CODE_OK` after a success.
    pub code: ThreadsErrorCode,
    /// The errno the operating system gave for `SPAWN_FAILED`, else 0.
    pub os_error: c_int,
    /// The reason, for a person: one line, NUL-terminated, cut to fit
    /// (empty after a success). It does not start with the library's name.
    pub message: [c_char; THREADS_ERROR_MESSAGE_SIZE],
}

// Only the C ABI, which is not built under loom, makes errors.
#[cfg_attr(loom, allow(dead_code))]
impl ThreadsError {
    /// A success.
    pub(crate) fn ok() -> Self {
        ThreadsError {
            code: ThreadsErrorCode::Ok,
            os_error: 0,
            message: [0; THREADS_ERROR_MESSAGE_SIZE],
        }
    }

    /// `code` with `message`, cut on a character boundary so that the
    /// NUL always fits.
    pub(crate) fn new(code: ThreadsErrorCode, os_error: c_int, message: &str) -> Self {
        let mut e = ThreadsError {
            code,
            os_error,
            ..ThreadsError::ok()
        };
        let mut len = message.len().min(THREADS_ERROR_MESSAGE_SIZE - 1);
        while !message.is_char_boundary(len) {
            len -= 1;
        }
        for (dst, &src) in e.message.iter_mut().zip(&message.as_bytes()[..len]) {
            *dst = src as c_char;
        }
        e
    }
}

impl From<&CreateError> for ThreadsErrorCode {
    fn from(e: &CreateError) -> Self {
        match e {
            CreateError::InvalidArgument(_) => ThreadsErrorCode::InvalidArgument,
            CreateError::InitFailed { .. } => ThreadsErrorCode::InitFailed,
            CreateError::Spawn { .. } => ThreadsErrorCode::SpawnFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_on_a_char_boundary_and_terminated() {
        let long = "é".repeat(THREADS_ERROR_MESSAGE_SIZE);
        let e = ThreadsError::new(ThreadsErrorCode::InitFailed, 0, &long);
        assert_eq!(e.message[THREADS_ERROR_MESSAGE_SIZE - 1], 0);
        let bytes: Vec<u8> = e
            .message
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let m = String::from_utf8(bytes).expect("cut on a character boundary");
        assert!(m.len() < THREADS_ERROR_MESSAGE_SIZE);
        assert!(m.chars().all(|c| c == 'é'));
        assert_eq!(m.len(), (THREADS_ERROR_MESSAGE_SIZE - 1) / 2 * 2);
    }
}
