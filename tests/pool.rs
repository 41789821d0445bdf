//! Behaviour of the Rust API (and through it, the core the C ABI uses).
#![cfg(not(loom))]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use qemu_threads::{
    Callbacks, CreateError, InvalidArgument, RawPool, RequestPool, ThreadRequest, ThreadsOptions,
};

/// `n` natively; a small fraction of it under Miri, which interprets every
/// step (the point there is undefined behaviour, not volume).
fn scaled(n: u64) -> u64 {
    if cfg!(miri) {
        (n / 500).max(4)
    } else {
        n
    }
}

fn opts(ring_size: u32) -> ThreadsOptions {
    ThreadsOptions {
        ring_size,
        ..ThreadsOptions::default()
    }
}

/// How often the callbacks of `Counting` ran.
#[derive(Default)]
struct Counts {
    handled: AtomicU64,
    done: AtomicU64,
}

/// Callbacks for `RawPool` tests: they count, and free the requests that
/// `boxed_request` makes.
struct Counting(Arc<Counts>);

impl Callbacks for Counting {
    fn handle(&self, _: NonNull<ThreadRequest>) {
        self.0.handled.fetch_add(1, Ordering::Relaxed);
    }
    fn done(&self, _: NonNull<ThreadRequest>) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }
    fn uninit(&self, r: NonNull<ThreadRequest>) {
        // SAFETY: from Box::into_raw in `boxed_request`.
        drop(unsafe { Box::from_raw(r.as_ptr()) });
    }
}

/// A `RawPool` of `threads` workers with rings of `ring`, whose positions
/// start at `start`, calling `Counting` back; and its counts.
fn counting_pool(threads: u32, ring: u32, start: usize) -> (RawPool<Counting>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let init = || NonNull::new(Box::into_raw(Box::new(ThreadRequest::new())));
    let callbacks = Counting(Arc::clone(&counts));
    // SAFETY: fresh boxes owned by the pool until `Counting` frees them.
    let pool =
        unsafe { RawPool::with_start(threads, "counting", &opts(ring), callbacks, init, start) };
    (pool.unwrap(), counts)
}

/// Every request handled once and done once, for several shapes.
#[test]
fn exactly_once_across_shapes() {
    for &(threads, ring) in &[(1, 1), (1, 4), (2, 4), (3, 2), (8, 1), (16, 64)] {
        let n = scaled(20_000);
        let seen = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
        let s = Arc::clone(&seen);
        let mut pool = RequestPool::new(
            threads,
            "exact",
            &opts(ring),
            || (0u64, 0u64),
            |r: &mut (u64, u64)| r.1 = r.0 + 1,
            move |r: &mut (u64, u64)| {
                assert_eq!(r.1, r.0 + 1, "done saw the handler's write");
                s[r.0 as usize].fetch_add(1, Ordering::Relaxed);
            },
        )
        .unwrap();
        for i in 0..n {
            let mut r = pool.prepare_wait().unwrap();
            r.0 = i;
            r.commit();
        }
        pool.wait_done();
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        let st = pool.stats();
        assert_eq!((st.submitted, st.completed), (n, n));
    }
}

/// Positions wrap at 2^62: start just below, so that even the fewest
/// requests (two per lane, under Miri) go across.
#[test]
fn positions_wrap_without_loss() {
    let (mut pool, counts) = counting_pool(2, 4, (usize::MAX >> 2) - 1);
    let n = scaled(1000);
    for _ in 0..n {
        let r = pool.prepare_wait().unwrap();
        // SAFETY: r comes from prepare.
        unsafe { pool.commit(r) };
    }
    pool.wait_done();
    drop(pool);
    assert_eq!(counts.handled.load(Ordering::Relaxed), n);
    assert_eq!(counts.done.load(Ordering::Relaxed), n);
}

/// Worker 0 stalls inside its handler; the others keep taking work, and
/// prepare skips the full lane instead of returning NULL.
#[test]
fn stalled_worker_does_not_stop_the_others() {
    let gate = Arc::new(AtomicBool::new(false));
    let g = Arc::clone(&gate);
    let mut pool = RequestPool::new(
        4,
        "stall",
        &opts(4),
        || 0usize,
        move |lane: &mut usize| {
            if *lane == 0 {
                while !g.load(Ordering::Acquire) {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        },
        |_| {},
    )
    .unwrap();
    let mut to_others = 0;
    let n = scaled(10_000);
    for _ in 0..n {
        let mut r = pool.prepare_wait().expect("other lanes have room");
        *r = r.thread_index();
        if *r != 0 {
            to_others += 1;
        }
        r.commit();
    }
    assert!(to_others >= n - 4, "only the stalled lane's ring is stuck");
    gate.store(true, Ordering::Release);
    pool.wait_done();
    assert_eq!(pool.stats().completed, n);
}

/// When every ring is full of unhandled requests, prepare says so at once
/// and prepare_wait waits for the first completion.
#[test]
fn full_pool_prepare_returns_none_and_prepare_wait_waits() {
    let gate = Arc::new(AtomicBool::new(false));
    let g = Arc::clone(&gate);
    let mut pool = RequestPool::new(
        2,
        "full",
        &opts(2),
        || (),
        move |_| {
            while !g.load(Ordering::Acquire) {
                thread::sleep(Duration::from_millis(1));
            }
        },
        |_| {},
    )
    .unwrap();
    for _ in 0..4 {
        pool.prepare().unwrap().commit();
    }
    assert!(pool.prepare().is_none());
    assert_eq!(pool.stats().prepare_full, 1);
    let g = Arc::clone(&gate);
    let opener = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        g.store(true, Ordering::Release);
    });
    pool.prepare_wait()
        .expect("a completion frees a slot")
        .commit();
    assert!(
        gate.load(Ordering::Acquire),
        "prepare_wait returned before any handler could complete"
    );
    opener.join().unwrap();
    pool.wait_done();
    let stats = pool.stats();
    assert_eq!(stats.completed, 5);
    assert_eq!(stats.prepare_full, 2, "the NULL prepare and the wait");
}

/// A prepared request that is dropped goes back unused: the one request
/// of the pool is handed out again, and no handler ever runs.
#[test]
fn a_dropped_prepared_request_goes_back_unused() {
    let handled = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&handled);
    let mut pool = RequestPool::new(
        1,
        "back",
        &opts(1),
        || (),
        move |_| {
            h.fetch_add(1, Ordering::Relaxed);
        },
        |_| {},
    )
    .unwrap();
    drop(pool.prepare().unwrap());
    let r = pool.prepare().expect("the dropped request came back");
    drop(r);
    pool.wait_done();
    drop(pool);
    assert_eq!(handled.load(Ordering::Relaxed), 0);
}

/// prepare_wait with every request handed out and nothing in flight
/// returns None at once: no completion could ever free one.
#[test]
fn prepare_wait_with_every_request_handed_out_returns_none() {
    let (mut pool, counts) = counting_pool(1, 1, 0);
    let only = pool.prepare().unwrap();
    // On another thread, so that a prepare_wait that waits for ever fails
    // the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let none = pool.prepare_wait().is_none();
        tx.send((pool, none)).unwrap();
    });
    let (mut pool, none) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("prepare_wait waited with nothing in flight");
    assert!(none, "prepare_wait handed out a request twice");
    // SAFETY: `only` comes from prepare and was not committed.
    unsafe { pool.commit(only) };
    pool.wait_done();
    assert_eq!(pool.stats().prepare_full, 1);
    drop(pool);
    assert_eq!(counts.handled.load(Ordering::Relaxed), 1);
    assert_eq!(counts.done.load(Ordering::Relaxed), 1);
}

/// Destroy with requests in flight runs handler and done for each, then
/// releases every request once.
#[test]
fn drop_finishes_in_flight_work_then_releases() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
    struct Tracked(Arc<Mutex<Vec<&'static str>>>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.lock().unwrap().push("uninit");
        }
    }
    let l3 = Arc::clone(&log);
    let mut pool = RequestPool::new(
        2,
        "inflight",
        &opts(4),
        move || Tracked(Arc::clone(&l3)),
        move |_| {
            thread::sleep(Duration::from_millis(2));
            l1.lock().unwrap().push("handle");
        },
        move |_| l2.lock().unwrap().push("done"),
    )
    .unwrap();
    for _ in 0..8 {
        pool.prepare().unwrap().commit();
    }
    drop(pool);
    let log = log.lock().unwrap();
    assert_eq!(log.iter().filter(|e| **e == "handle").count(), 8);
    assert_eq!(log.iter().filter(|e| **e == "done").count(), 8);
    let first_uninit = log.iter().position(|e| *e == "uninit").unwrap();
    assert_eq!(first_uninit, 16, "uninit only after all handle and done");
    assert_eq!(log.len(), 24);
}

/// Bad arguments are refused with a reason, and nothing is created.
#[test]
fn bad_arguments_are_refused() {
    let inits = Arc::new(AtomicUsize::new(0));
    for (threads, ring, want) in [
        (0, 4, InvalidArgument::ThreadCount(0)),
        (257, 4, InvalidArgument::ThreadCount(257)),
        (1, 0, InvalidArgument::RingSize(0)),
        (1, 3, InvalidArgument::RingSize(3)),
        (1, 128, InvalidArgument::RingSize(128)),
    ] {
        let i = Arc::clone(&inits);
        let err = RequestPool::new(
            threads,
            "bad",
            &opts(ring),
            move || {
                i.fetch_add(1, Ordering::Relaxed);
            },
            |_| {},
            |_| {},
        )
        .err()
        .expect("refused");
        match err {
            CreateError::InvalidArgument(got) => assert_eq!(got, want),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(inits.load(Ordering::Relaxed), 0);
}

/// The pool may move between threads: created on one, used on another,
/// destroyed on a third (as QEMU does). Every request is handled, `done`
/// runs on the thread that submits and waits, and the requests are
/// released on the thread that drops the pool.
#[test]
fn pool_moves_between_threads() {
    /// Records the thread that drops it (the pool's `uninit`).
    struct Req(Arc<Mutex<Vec<thread::ThreadId>>>);
    impl Drop for Req {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(thread::current().id());
        }
    }
    let released = Arc::new(Mutex::new(Vec::new()));
    let done_on = Arc::new(Mutex::new(Vec::new()));
    let handled = Arc::new(AtomicU64::new(0));
    let (r, d, h) = (
        Arc::clone(&released),
        Arc::clone(&done_on),
        Arc::clone(&handled),
    );
    let pool = RequestPool::new(
        2,
        "move",
        &opts(4),
        move || Req(Arc::clone(&r)),
        move |_| {
            h.fetch_add(1, Ordering::Relaxed);
        },
        move |_| d.lock().unwrap().push(thread::current().id()),
    )
    .unwrap();
    let n = scaled(100);
    let user = thread::spawn(move || {
        let mut pool = pool;
        for _ in 0..n {
            pool.prepare_wait().unwrap().commit();
        }
        pool.wait_done();
        (pool, thread::current().id())
    });
    let (pool, user) = user.join().unwrap();
    let dropper = thread::spawn(move || drop(pool));
    let dropper_id = dropper.thread().id();
    dropper.join().unwrap();
    assert_eq!(handled.load(Ordering::Relaxed), n);
    let done_on = done_on.lock().unwrap();
    assert_eq!(done_on.len() as u64, n);
    assert!(
        done_on.iter().all(|&t| t == user),
        "done off the user's thread"
    );
    let released = released.lock().unwrap();
    assert_eq!(released.len(), 8, "each request released once");
    assert!(
        released.iter().all(|&t| t == dropper_id),
        "released elsewhere"
    );
}

/// A `done` that panics has run once for that request: the next wait and
/// the drop go on with the others and never run it again on the same one.
#[test]
fn a_panicking_done_runs_once_per_request() {
    let n = 8usize;
    let calls = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
    let c = Arc::clone(&calls);
    let mut pool = RequestPool::new(
        1,
        "panicky",
        &opts(8),
        || 0usize,
        |_: &mut usize| {},
        move |r: &mut usize| {
            if c[*r].fetch_add(1, Ordering::Relaxed) == 0 && *r == 2 {
                panic!("done of request 2 panics");
            }
        },
    )
    .unwrap();
    for i in 0..n {
        let mut r = pool.prepare().unwrap();
        *r = i;
        r.commit();
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.wait_done()));
    std::panic::set_hook(hook);
    assert!(
        first.is_err(),
        "done of request 2 panicked through wait_done"
    );
    pool.wait_done();
    drop(pool);
    let counts: Vec<usize> = calls.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(counts, vec![1; n], "done calls per request");
}

/// Whatever `node` held when `init` returned the request, the pool clears
/// it: memory reused from an earlier pool cannot carry a tag that passes
/// the commit check.
#[test]
fn init_leaves_no_stale_tag() {
    struct Nop;
    impl Callbacks for Nop {
        fn handle(&self, _: NonNull<ThreadRequest>) {}
        fn done(&self, _: NonNull<ThreadRequest>) {}
        fn uninit(&self, _: NonNull<ThreadRequest>) {}
    }
    let mut reqs: Vec<ThreadRequest> = (0..4).map(|_| ThreadRequest::new()).collect();
    let base = reqs.as_mut_ptr();
    for r in reqs.iter_mut() {
        r.node.sqe_next = NonNull::dangling().as_ptr();
    }
    let mut next = 0;
    let init = || {
        // SAFETY: `next` < 4, inside `reqs`.
        let r = unsafe { base.add(next) };
        next += 1;
        NonNull::new(r)
    };
    // SAFETY: the requests outlive the pool and only the pool uses them.
    let pool = unsafe { RawPool::new(1, "stale", &opts(4), Nop, init) }.unwrap();
    for i in 0..4 {
        // SAFETY: reading a field of a request the pool holds but does
        // not use before prepare.
        assert!(unsafe { (*base.add(i)).node.sqe_next }.is_null());
    }
    drop(pool);
}

/// Two shared borrows of a prepared request alive at once: each `deref`
/// must reborrow shared, never through a `&mut` that would invalidate the
/// other (Miri, under stacked and tree borrows, checks this test).
#[test]
fn two_shared_borrows_of_a_prepared_request() {
    let mut pool = RequestPool::new(1, "borrows", &opts(1), || [1u64, 2], |_| {}, |_| {}).unwrap();
    let r = pool.prepare().unwrap();
    let a: &[u64; 2] = &r;
    let b: &[u64; 2] = &r;
    assert_eq!(a[0] + b[1], 3);
    assert_eq!(a[1] + b[0], 3);
}
