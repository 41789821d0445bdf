//! The C ABI: the 2018 series' five functions, with their exact signatures,
//! plus additive extensions (options, statistics, a waiting prepare).
//!
//! Every export runs its body inside `boundary`, so no panic unwinds into C.
//! Arguments are checked: bad input gets a one-line message on stderr and a
//! NULL (or nothing), a broken contract (a foreign request committed,
//! concurrent submitters in a debug build) aborts with a message.

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{ThreadsError, ThreadsErrorCode};
use crate::options::ThreadsOptions;
use crate::pool::{on_worker_of, Callbacks, CreateError, RawPool};
use crate::report::{error as report_error, fatal};
use crate::request::ThreadRequest;
use crate::stats::{StatsReader, ThreadsStats};

// The callbacks' types are spelled out in the exports' signatures instead
// of through this alias, so that cbindgen prints them as C function pointers.
type RequestFn = unsafe extern "C" fn(request: *mut ThreadRequest);

/// The C caller's callbacks. The pool's guarantees (which request, on which
/// thread, exclusively) are what make calling them sound.
struct CCallbacks {
    handler: RequestFn,
    done: Option<RequestFn>,
    uninit: Option<RequestFn>,
}

impl Callbacks for CCallbacks {
    fn handle(&self, request: NonNull<ThreadRequest>) {
        // SAFETY: `handler` is the non-NULL function threads_create was
        // given; the pool passes a request from `init` that this worker
        // has to itself, as the C contract promises the handler.
        unsafe { (self.handler)(request.as_ptr()) }
    }

    fn done(&self, request: NonNull<ThreadRequest>) {
        if let Some(done) = self.done {
            // SAFETY: as in `handle`, on the submitting thread.
            unsafe { done(request.as_ptr()) }
        }
    }

    fn uninit(&self, request: NonNull<ThreadRequest>) {
        if let Some(uninit) = self.uninit {
            // SAFETY: the pool passes each request from `init` here once,
            // after its last use.
            unsafe { uninit(request.as_ptr()) }
        }
    }
}

/// A pool of worker threads. Opaque: create it with `threads_create`.
pub struct Threads {
    /// Set while a submitter call runs: two submitters at once, or a `done`
    /// callback calling back into its own pool, is caught here before it
    /// can corrupt the submitter's state or loop for ever. An uncontended
    /// swap and store cost a few nanoseconds per call (measured in
    /// docs/benchmarks-threads.md), so every build checks.
    busy: AtomicBool,
    /// The pool's `worker_tag`, kept here so that a call from one of its
    /// workers is recognised without touching the pool, which another
    /// thread may be using.
    worker_tag: *const (),
    /// The pool's counters, readable by any thread without the submitter
    /// role (`threads_get_stats` while the submitter works).
    stats: StatsReader,
    pool: UnsafeCell<RawPool<CCallbacks>>,
}

/// Runs an export's body; a panic (a bug in this library) is reported and
/// aborts instead of unwinding into C.
fn boundary<R>(export: &str, body: impl FnOnce() -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => fatal(&format!("internal error: panic in {export}")),
    }
}

/// Takes the submitter role of `threads` for `export`, or aborts with a
/// message if someone holds it or the caller is one of the pool's own
/// workers (a handler calling back into its pool would wait for itself).
fn enter(threads: &Threads, export: &str) {
    // First, so that a handler calling in is named as such even while the
    // submitter is inside a call of its own.
    if on_worker_of(threads.worker_tag) {
        fatal(&format!(
            "{export}: called from a thread_request_handler of the same Threads, \
             which would wait for itself"
        ));
    }
    // Acquire: the flag hands the submitter state from one submitting
    // thread to the next; pairs with the Release store in `leave` of the
    // previous call. Relaxed would do for detection alone.
    if threads.busy.swap(true, Ordering::Acquire) {
        fatal(&format!(
            "{export}: Threads used by two threads at once, or from inside one of \
             its own callbacks; it allows one submitter at a time"
        ));
    }
}

/// Gives up the submitter role taken by `enter`.
fn leave(threads: &Threads) {
    // Release: pairs with the Acquire swap in the next `enter`, so the
    // next submitter sees this one's writes to the pool.
    threads.busy.store(false, Ordering::Release);
}

/// Gives `body` the pool of `threads` as its one submitter.
///
/// # Safety
///
/// `threads` must be NULL or a live pointer from `threads_create*`.
unsafe fn submitter<R>(
    threads: *mut Threads,
    export: &str,
    body: impl FnOnce(&mut RawPool<CCallbacks>) -> R,
) -> Option<R> {
    // SAFETY: our caller passes NULL or a live Threads.
    let threads = unsafe { threads.as_ref() }?;
    enter(threads, export);
    // SAFETY: `enter` gave us the submitter role, so this is the only
    // reference to the pool until `leave`.
    let r = body(unsafe { &mut *threads.pool.get() });
    leave(threads);
    Some(r)
}

/// The default options; change fields from here for
/// `threads_create_with_options`.
#[no_mangle]
pub extern "C" fn threads_options_default() -> ThreadsOptions {
    ThreadsOptions::default()
}

/// Creates a pool of `threads_nr` worker threads, named `<name>/<index>`
/// (cut to 15 bytes; NULL `name` means "threads").
///
/// Calls `thread_request_init` `threads_nr * 4` times to make the pool's
/// requests, then starts the workers, each with the signal mask QEMU 7.2's
/// `qemu_thread_create()` gives its threads: every signal blocked except
/// SIGSEGV, SIGFPE and SIGILL, whatever the caller's mask (which is left as
/// it was), and a stack of `THREADS_WORKER_STACK_SIZE` bytes.
/// `thread_request_uninit` runs exactly once on every request
/// `thread_request_init` returned: at `threads_destroy`, or before this
/// returns NULL.
///
/// `thread_request_handler` runs once per committed request on a worker
/// thread, never on the submitter's; `thread_request_done` runs once per
/// committed request on the submitting thread, inside
/// `threads_submit_request_prepare` (when it recycles the request),
/// `threads_wait_done` or `threads_destroy`, after the handler returned and
/// before the request is handed out again. What the submitter wrote before
/// commit is visible to the handler; what the handler wrote is visible to
/// done. Callbacks must not call back into the same pool.
///
/// A pool is unusable in a child made by `fork()`: only the forking thread
/// exists there, none of the pool's workers, so any call on the inherited
/// pool (`threads_destroy` too, which would join workers that are not
/// there) may wait for ever or fail. A child that needs workers creates a
/// pool of its own.
///
/// Returns NULL, with a one-line message on stderr, when `threads_nr` is 0
/// or above `THREADS_MAX_THREADS`, `thread_request_init` or
/// `thread_request_handler` is NULL, `thread_request_init` returns NULL, or
/// a thread cannot be started. NULL `thread_request_uninit` or
/// `thread_request_done` means there is nothing to do.
///
/// # Safety
///
/// `name` must be NULL or a NUL-terminated string. The callbacks must be
/// safe to call as described, and `thread_request_init` must return NULL or
/// a request that nothing else uses until `thread_request_uninit`.
#[no_mangle]
pub unsafe extern "C" fn threads_create(
    threads_nr: c_uint,
    name: *const c_char,
    thread_request_init: Option<unsafe extern "C" fn() -> *mut ThreadRequest>,
    thread_request_uninit: Option<unsafe extern "C" fn(request: *mut ThreadRequest)>,
    thread_request_handler: Option<unsafe extern "C" fn(request: *mut ThreadRequest)>,
    thread_request_done: Option<unsafe extern "C" fn(request: *mut ThreadRequest)>,
) -> *mut Threads {
    // SAFETY: forwarded to our caller; NULL options mean the defaults.
    unsafe {
        threads_create_with_options(
            threads_nr,
            name,
            thread_request_init,
            thread_request_uninit,
            thread_request_handler,
            thread_request_done,
            ptr::null(),
            ptr::null_mut(),
        )
    }
}

/// `threads_create`, with `options` (NULL means `threads_options_default()`)
/// and an error channel. The pool holds `threads_nr * options->ring_size`
/// requests. Also fails when `ring_size` is not a power of two from 1 to
/// `THREADS_MAX_RING_SIZE`.
///
/// If `error` is not NULL, it receives the reason for a NULL return (and
/// `THREADS_ERROR_CODE_OK` with an empty message on success), and nothing
/// is printed: the caller reports it, e.g. through QEMU's `Error **errp`.
/// If `error` is NULL, a failure prints one line on stderr, as
/// `threads_create` does.
///
/// # Safety
///
/// As for `threads_create`; `options` must be NULL or point to a
/// `ThreadsOptions`, `error` NULL or to writable memory for a
/// `ThreadsError`.
#[no_mangle]
pub unsafe extern "C" fn threads_create_with_options(
    threads_nr: c_uint,
    name: *const c_char,
    thread_request_init: Option<unsafe extern "C" fn() -> *mut ThreadRequest>,
    thread_request_uninit: Option<unsafe extern "C" fn(request: *mut ThreadRequest)>,
    thread_request_handler: Option<unsafe extern "C" fn(request: *mut ThreadRequest)>,
    thread_request_done: Option<unsafe extern "C" fn(request: *mut ThreadRequest)>,
    options: *const ThreadsOptions,
    error: *mut ThreadsError,
) -> *mut Threads {
    boundary("threads_create", || {
        let callbacks = CreateCallbacks {
            init: thread_request_init,
            uninit: thread_request_uninit,
            handler: thread_request_handler,
            done: thread_request_done,
        };
        // SAFETY: forwarded to our caller.
        let result = unsafe { create(threads_nr, name, callbacks, options) };
        let (threads, report) = match result {
            Ok(threads) => (threads, ThreadsError::ok()),
            Err((code, os_error, message)) => {
                if error.is_null() {
                    report_error(&format!("threads_create: {message}"));
                }
                (ptr::null_mut(), ThreadsError::new(code, os_error, &message))
            }
        };
        if !error.is_null() {
            // SAFETY: our caller passes NULL or a writable ThreadsError.
            unsafe { error.write(report) };
        }
        threads
    })
}

/// The callbacks as `threads_create*` receive them, any of them NULL.
struct CreateCallbacks {
    init: Option<unsafe extern "C" fn() -> *mut ThreadRequest>,
    uninit: Option<RequestFn>,
    handler: Option<RequestFn>,
    done: Option<RequestFn>,
}

/// Why a create failed, before it is printed or put in a `ThreadsError`:
/// the kind, the errno of a failed spawn (else 0), and the message.
type CreateFailure = (ThreadsErrorCode, c_int, String);

/// The body of `threads_create_with_options`.
///
/// # Safety
///
/// As for `threads_create`.
unsafe fn create(
    threads_nr: c_uint,
    name: *const c_char,
    callbacks: CreateCallbacks,
    options: *const ThreadsOptions,
) -> Result<*mut Threads, CreateFailure> {
    let (init, handler) = match (callbacks.init, callbacks.handler) {
        (Some(init), Some(handler)) => (init, handler),
        _ => {
            return Err((
                ThreadsErrorCode::InvalidArgument,
                0,
                "thread_request_init and thread_request_handler must not be NULL".into(),
            ))
        }
    };
    // SAFETY: our caller passes NULL or a valid ThreadsOptions.
    let options = unsafe { options.as_ref() }.copied().unwrap_or_default();
    let name = if name.is_null() {
        "threads".into()
    } else {
        // SAFETY: our caller passes a NUL-terminated string.
        unsafe { CStr::from_ptr(name) }.to_string_lossy()
    };
    let callbacks = CCallbacks {
        handler,
        done: callbacks.done,
        uninit: callbacks.uninit,
    };
    // SAFETY: calling `init` is our caller's promise; what it returns is
    // exclusively the pool's until uninit (same promise).
    let init = || NonNull::new(unsafe { init() });
    // SAFETY: see `init` above.
    match unsafe { RawPool::new(threads_nr, &name, &options, callbacks, init) } {
        Ok(pool) => Ok(Box::into_raw(Box::new(Threads {
            busy: AtomicBool::new(false),
            worker_tag: pool.worker_tag(),
            stats: pool.stats_reader(),
            pool: UnsafeCell::new(pool),
        }))),
        Err(e) => {
            let os_error = match &e {
                CreateError::Spawn { error, .. } => error.raw_os_error().unwrap_or(0),
                _ => 0,
            };
            Err(((&e).into(), os_error, e.to_string()))
        }
    }
}

/// Finishes every committed request (handler and done, once each), stops
/// and joins the workers, runs `thread_request_uninit` on every request and
/// frees the pool. A request handed out by prepare and not committed is
/// released without handler or done. `threads_destroy(NULL)` does nothing.
///
/// # Safety
///
/// `threads` must be NULL or from `threads_create*` and not destroyed, and
/// no other call on it may run at the same time or after.
#[no_mangle]
pub unsafe extern "C" fn threads_destroy(threads: *mut Threads) {
    boundary("threads_destroy", || {
        if threads.is_null() {
            return;
        }
        // Take the submitter role for good, so that a destroy racing with
        // a submitter, or a done callback calling back in while destroy
        // finishes its requests, is caught instead of freeing under it.
        // SAFETY: our caller passes a live pool.
        enter(unsafe { &*threads }, "threads_destroy");
        // SAFETY: the pointer came from Box::into_raw in threads_create and
        // our caller hands it back for good. Dropping the pool finishes the
        // work in flight, joins the workers and uninits the requests.
        drop(unsafe { Box::from_raw(threads) });
    })
}

/// Hands out a free request assigned to a worker (its `thread_index`), to
/// fill in and pass to `threads_submit_request_commit`. Never blocks.
///
/// Tries the workers round-robin from the one after the last used,
/// skipping any whose ring is full, so a stalled worker does not hold up the
/// others. A request that has completed is recycled: its
/// `thread_request_done` runs first, here. Returns NULL only when every
/// worker's ring is full (no request free or completed), or `threads` is
/// NULL.
///
/// # Safety
///
/// `threads` must be NULL or a live pool, used by one submitter at a time.
#[no_mangle]
pub unsafe extern "C" fn threads_submit_request_prepare(
    threads: *mut Threads,
) -> *mut ThreadRequest {
    boundary("threads_submit_request_prepare", || {
        // SAFETY: forwarded to our caller.
        unsafe { submitter(threads, "threads_submit_request_prepare", RawPool::prepare) }
            .flatten()
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    })
}

/// Like `threads_submit_request_prepare`, but when every ring is full it
/// waits for a worker to complete a request instead of returning NULL:
/// it spins briefly, then sleeps until a completion wakes it. Returns NULL
/// only if `threads` is NULL or every request is already handed out and
/// not committed (waiting could never succeed).
///
/// # Safety
///
/// As for `threads_submit_request_prepare`.
#[no_mangle]
pub unsafe extern "C" fn threads_submit_request_prepare_wait(
    threads: *mut Threads,
) -> *mut ThreadRequest {
    boundary("threads_submit_request_prepare_wait", || {
        // SAFETY: forwarded to our caller.
        unsafe {
            submitter(
                threads,
                "threads_submit_request_prepare_wait",
                RawPool::prepare_wait,
            )
        }
        .flatten()
        .map_or(ptr::null_mut(), NonNull::as_ptr)
    })
}

/// Queues `request`, from `threads_submit_request_prepare`, to its worker.
/// Never blocks; makes a system call only if that worker sleeps.
///
/// Aborts with a message if `request` was not handed out by this pool's
/// prepare (or was committed already), or if either argument is NULL.
///
/// # Safety
///
/// `threads` must be a live pool, used by one submitter at a time;
/// `request` must point to a live `ThreadRequest`.
#[no_mangle]
pub unsafe extern "C" fn threads_submit_request_commit(
    threads: *mut Threads,
    request: *mut ThreadRequest,
) {
    boundary("threads_submit_request_commit", || {
        let request = match NonNull::new(request) {
            Some(request) => request,
            None => fatal("threads_submit_request_commit: the request is NULL"),
        };
        let commit = |pool: &mut RawPool<CCallbacks>| {
            // SAFETY: our caller passes a live ThreadRequest.
            unsafe { pool.commit(request) }
        };
        // SAFETY: our caller passes a live pool.
        let done = unsafe { submitter(threads, "threads_submit_request_commit", commit) };
        if done.is_none() {
            fatal("threads_submit_request_commit: threads is NULL");
        }
    })
}

/// Returns once every committed request has been handled and its
/// `thread_request_done` has run. While handlers are still running it spins
/// briefly, then sleeps until a completion wakes it. `threads_wait_done(NULL)`
/// does nothing.
///
/// # Safety
///
/// `threads` must be NULL or a live pool, used by one submitter at a time.
#[no_mangle]
pub unsafe extern "C" fn threads_wait_done(threads: *mut Threads) {
    boundary("threads_wait_done", || {
        // SAFETY: forwarded to our caller.
        unsafe { submitter(threads, "threads_wait_done", RawPool::wait_done) };
    })
}

/// Writes the pool's counters since creation into `*stats` (zeros if
/// `threads` is NULL; nothing if `stats` is NULL).
///
/// Not a submitter call: any thread may call it at any time, also while
/// the submitter is inside another call and from the pool's callbacks
/// (e.g. a QMP handler during a migration). Each counter only grows
/// between two calls, and `completed <= submitted` in every snapshot.
///
/// # Safety
///
/// `threads` must be NULL or a live pool whose `threads_destroy` has not
/// begun; `stats` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn threads_get_stats(threads: *mut Threads, stats: *mut ThreadsStats) {
    boundary("threads_get_stats", || {
        if stats.is_null() {
            return;
        }
        // SAFETY: our caller passes NULL or a live pool.
        let s = unsafe { threads.as_ref() }.map(|t| t.stats.read());
        // SAFETY: our caller passes a writable ThreadsStats.
        unsafe { stats.write(s.unwrap_or_default()) };
    })
}

/// `prepare_full` of `threads_get_stats()` alone (0 if `threads` is NULL):
/// a counter of the submitter's own, so it reads no worker's cache line.
/// Like `threads_get_stats`, callable from any thread at any time.
///
/// # Safety
///
/// `threads` must be NULL or a live pool whose `threads_destroy` has not
/// begun.
#[no_mangle]
pub unsafe extern "C" fn threads_get_prepare_full(threads: *mut Threads) -> u64 {
    boundary("threads_get_prepare_full", || {
        // SAFETY: our caller passes NULL or a live pool.
        unsafe { threads.as_ref() }.map_or(0, |t| t.stats.prepare_full())
    })
}
