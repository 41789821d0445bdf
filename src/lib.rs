//! A lockless request pool for QEMU's migration compression, with the C ABI
//! of the 2018 "migration/threads" series.
//!
//! One submitter hands requests round-robin to worker threads through small
//! per-worker rings; each worker runs the handler and reports completion in
//! the same ring, and the submitter runs `done` on completed requests when it
//! recycles them or waits for them. No lock is taken on the submit, handle
//! or done path; a kernel wake-up happens only when the other side really
//! sleeps. See `lane.rs` for the ring and its sleep/wake handshake, and
//! `pool.rs` for the accounting.
//!
//! From C, use `include/qemu-threads.h` (generated from `ffi.rs`); from
//! Rust, `RequestPool` (owned typed requests) or `RawPool`.

#![deny(unsafe_op_in_unsafe_fn)]

mod backoff;
mod error;
mod event;
mod lane;
mod options;
mod pool;
mod report;
mod request;
mod spawn;
mod stats;
mod sync;
mod typed;

#[cfg(not(loom))]
pub mod ffi;

pub use error::{ThreadsError, ThreadsErrorCode, THREADS_ERROR_MESSAGE_SIZE};
pub use options::{
    InvalidArgument, ThreadsOptions, THREADS_DEFAULT_RING_SIZE, THREADS_MAX_RING_SIZE,
    THREADS_MAX_THREADS,
};
pub use pool::{Callbacks, CreateError, RawPool};
pub use request::{ThreadRequest, ThreadRequestEntry};
pub use spawn::THREADS_WORKER_STACK_SIZE;
pub use stats::{StatsReader, ThreadsStats};
pub use typed::{Prepared, RequestPool};
