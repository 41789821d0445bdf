//! The concurrency primitives the pool is built from, switched to loom's
//! model-checked versions under `--cfg loom` so that the same code is checked.

#[cfg(loom)]
pub(crate) use loom::{
    hint::spin_loop,
    sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
    sync::{Arc, Condvar, Mutex},
    thread,
};

#[cfg(not(loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
    sync::Arc,
    thread,
};

/// The futex word of `event.rs`: the kernel needs a plain `u32` address.
#[cfg(all(not(loom), target_os = "linux"))]
pub(crate) use std::sync::atomic::AtomicU32 as AtomicU32Like;

#[cfg(all(not(loom), not(target_os = "linux")))]
pub(crate) use std::sync::{Condvar, Mutex};

/// Gives the CPU away. Under loom this is the point where the model may
/// switch threads, which keeps spin loops finite in the checker.
#[inline]
pub(crate) fn yield_now() {
    thread::yield_now();
}
