//! The Rust API: a pool of owned, typed requests on top of `RawPool`.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::options::ThreadsOptions;
use crate::pool::{Callbacks, CreateError, RawPool};
use crate::request::ThreadRequest;
use crate::stats::{StatsReader, ThreadsStats};

/// A request as the typed pool allocates it: the header first, so that a
/// header pointer is also a pointer to the whole (Rust's `container_of`).
#[repr(C)]
struct Boxed<T> {
    header: ThreadRequest,
    value: T,
}

type Handler<T> = Box<dyn Fn(&mut T) + Send + Sync>;

struct Typed<T> {
    handle: Handler<T>,
    done: Handler<T>,
    _requests: PhantomData<fn(T) -> T>,
}

impl<T: Send + 'static> Typed<T> {
    /// # Safety
    ///
    /// `request` must be the header of a live `Boxed<T>` made by
    /// `RequestPool::new`, and nothing else may access it for `'a`.
    unsafe fn value<'a>(request: NonNull<ThreadRequest>) -> &'a mut T {
        // SAFETY: `header` is at offset 0 of the repr(C) `Boxed<T>` that
        // `request` was derived from (with its whole provenance, via
        // `Box::into_raw`); exclusivity is our caller's promise.
        unsafe { &mut (*request.as_ptr().cast::<Boxed<T>>()).value }
    }

    /// Like `value`, shared: several may be alive at once.
    ///
    /// # Safety
    ///
    /// `request` must be the header of a live `Boxed<T>` made by
    /// `RequestPool::new`, and nothing may write it for `'a`.
    unsafe fn value_ref<'a>(request: NonNull<ThreadRequest>) -> &'a T {
        // SAFETY: as in `value`; a shared reborrow made straight from the
        // raw pointer, never through a `&mut`, so two of them may coexist.
        unsafe { &(*request.as_ptr().cast::<Boxed<T>>()).value }
    }
}

impl<T: Send + 'static> Callbacks for Typed<T> {
    fn handle(&self, request: NonNull<ThreadRequest>) {
        // SAFETY: the pool passes only requests from our `init`, and the
        // worker has the request to itself while the handler runs.
        (self.handle)(unsafe { Self::value(request) });
    }

    fn done(&self, request: NonNull<ThreadRequest>) {
        // SAFETY: as in `handle`, on the submitter.
        (self.done)(unsafe { Self::value(request) });
    }

    fn uninit(&self, request: NonNull<ThreadRequest>) {
        // SAFETY: the pool passes each request from `init` to `uninit`
        // exactly once, when it no longer uses it; it came from
        // `Box::into_raw` of a `Boxed<T>`.
        drop(unsafe { Box::from_raw(request.as_ptr().cast::<Boxed<T>>()) });
    }
}

/// A pool of `threads` workers that run `handle` on values of type `T`
/// submitted by one submitter, which then runs `done` on them.
///
/// ```
/// use qemu_threads::{RequestPool, ThreadsOptions};
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// let sum = Arc::new(AtomicU64::new(0));
/// let s = Arc::clone(&sum);
/// let mut pool = RequestPool::new(
///     2, "square", &ThreadsOptions::default(),
///     || (0u64, 0u64),
///     |r: &mut (u64, u64)| r.1 = r.0 * r.0,
///     move |r: &mut (u64, u64)| { s.fetch_add(r.1, Ordering::Relaxed); },
/// ).unwrap();
/// for i in 1..=10 {
///     let mut r = pool.prepare_wait().unwrap();
///     r.0 = i;
///     r.commit();
/// }
/// pool.wait_done();
/// assert_eq!(sum.load(Ordering::Relaxed), 385);
/// ```
pub struct RequestPool<T: Send + 'static> {
    raw: RawPool<Typed<T>>,
}

impl<T: Send + 'static> RequestPool<T> {
    /// Creates `threads * options.ring_size` values with `init` and starts
    /// the workers.
    pub fn new(
        threads: u32,
        name: &str,
        options: &ThreadsOptions,
        mut init: impl FnMut() -> T,
        handle: impl Fn(&mut T) + Send + Sync + 'static,
        done: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> Result<Self, CreateError> {
        let callbacks = Typed {
            handle: Box::new(handle),
            done: Box::new(done),
            _requests: PhantomData,
        };
        let init = || {
            let boxed = Box::new(Boxed {
                header: ThreadRequest::new(),
                value: init(),
            });
            NonNull::new(Box::into_raw(boxed).cast::<ThreadRequest>())
        };
        // SAFETY: each pointer comes from a fresh Box that only the pool
        // (and, through it, the callbacks) uses until `uninit` frees it.
        let raw = unsafe { RawPool::new(threads, name, options, callbacks, init)? };
        Ok(RequestPool { raw })
    }

    /// A request assigned to a worker, or `None` if every worker's ring is
    /// full. Never blocks. Runs `done` on completed requests it recycles.
    pub fn prepare(&mut self) -> Option<Prepared<'_, T>> {
        let request = self.raw.prepare()?;
        Some(Prepared {
            pool: self,
            request,
            committed: false,
        })
    }

    /// Like `prepare`, but waits for room instead of returning `None`.
    pub fn prepare_wait(&mut self) -> Option<Prepared<'_, T>> {
        let request = self.raw.prepare_wait()?;
        Some(Prepared {
            pool: self,
            request,
            committed: false,
        })
    }

    /// Waits until every committed request is handled and done.
    pub fn wait_done(&mut self) {
        self.raw.wait_done();
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> ThreadsStats {
        self.raw.stats()
    }

    /// A handle that reads the pool's counters from any thread while the
    /// pool works (see `StatsReader`).
    pub fn stats_reader(&self) -> StatsReader {
        self.raw.stats_reader()
    }
}

/// A request handed out by `prepare`: fill it in, then `commit` it.
/// Dropping it without committing gives it back unused.
pub struct Prepared<'a, T: Send + 'static> {
    pool: &'a mut RequestPool<T>,
    request: NonNull<ThreadRequest>,
    committed: bool,
}

impl<T: Send + 'static> Prepared<'_, T> {
    /// Queues the request to its worker.
    pub fn commit(mut self) {
        self.committed = true;
        // SAFETY: `request` was handed out by this pool's prepare and is
        // committed once (the guard is consumed, and `drop` skips it).
        unsafe { self.pool.raw.commit(self.request) };
    }

    /// The worker this request will run on.
    pub fn thread_index(&self) -> usize {
        // SAFETY: the request is handed out to us; prepare wrote the field.
        unsafe { (*self.request.as_ptr()).thread_index as usize }
    }
}

impl<T: Send + 'static> Deref for Prepared<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a prepared request belongs to its holder until commit, and
        // `&self` rules out a `deref_mut` while this borrow lives.
        unsafe { Typed::<T>::value_ref(self.request) }
    }
}

impl<T: Send + 'static> DerefMut for Prepared<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow exclusive.
        unsafe { Typed::<T>::value(self.request) }
    }
}

impl<T: Send + 'static> Drop for Prepared<'_, T> {
    fn drop(&mut self) {
        if !self.committed {
            // SAFETY: `request` was handed out by this pool's prepare and,
            // not committed, is still reserved.
            unsafe { self.pool.raw.give_back(self.request) };
        }
    }
}
