//! loom models of the pool: every interleaving loom explores (bounded by
//! LOOM_MAX_PREEMPTIONS) must hand each request to the handler once and to
//! done once, with the submitter's writes visible to the handler and the
//! handler's to done, and must not deadlock. A lost wake-up shows up as a
//! deadlock, which loom reports.
//!
//! Run with: RUSTFLAGS="--cfg loom" cargo test --release --test loom
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use qemu_threads::{RequestPool, ThreadsOptions};

/// The request payload: plain (non-atomic) cells whose accesses loom checks
/// for happens-before, and the sequence number done saw.
struct Job {
    input: UnsafeCell<u64>,
    output: UnsafeCell<u64>,
}

fn options(ring_size: u32, spin: u32, yields: u32) -> ThreadsOptions {
    ThreadsOptions {
        ring_size,
        worker_spin: spin,
        worker_yield: yields,
        submitter_spin: spin,
        submitter_yield: yields,
    }
}

/// Submits `jobs` requests (input i+1) to a pool of `threads` workers and
/// checks what came back. `wait` picks prepare_wait over a prepare retry
/// loop; `drain` calls wait_done before dropping the pool (otherwise the
/// drop must finish the requests in flight itself).
fn run(threads: u32, opts: ThreadsOptions, jobs: u64, wait: bool, drain: bool) {
    let handled = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicUsize::new(0));
    let (h, s) = (Arc::clone(&handled), Arc::clone(&sum));
    let mut pool = RequestPool::new(
        threads,
        "loom",
        &opts,
        || Job {
            input: UnsafeCell::new(0),
            output: UnsafeCell::new(0),
        },
        move |job: &mut Job| {
            // SAFETY: the pool gives the handler the request alone; loom
            // checks that claim (and its ordering) on every access.
            let input = job.input.with(|p| unsafe { *p });
            // SAFETY: as above.
            job.output.with_mut(|p| unsafe { *p = input * 10 });
            h.fetch_add(1, Ordering::Relaxed);
        },
        move |job: &mut Job| {
            // SAFETY: done has the request alone; loom checks it.
            let out = job.output.with(|p| unsafe { *p });
            s.fetch_add(out as usize, Ordering::Relaxed);
        },
    )
    .unwrap();
    for i in 1..=jobs {
        let job = loop {
            let job = if wait {
                pool.prepare_wait()
            } else {
                pool.prepare()
            };
            match job {
                Some(job) => break job,
                None => loom::thread::yield_now(),
            }
        };
        // SAFETY: a prepared request is the submitter's; loom checks it.
        job.input.with_mut(|p| unsafe { *p = i });
        job.commit();
    }
    let expect = (jobs * (jobs + 1) / 2 * 10) as usize;
    if drain {
        pool.wait_done();
        assert_eq!(sum.load(Ordering::Relaxed), expect);
        let stats = pool.stats();
        assert_eq!(stats.submitted, jobs);
        assert_eq!(stats.completed, jobs);
    }
    drop(pool);
    assert_eq!(handled.load(Ordering::Relaxed), jobs as usize);
    assert_eq!(sum.load(Ordering::Relaxed), expect);
}

/// Sleep at once (no spin, no yield): every wait goes through the
/// need-wakeup handshake on both sides.
#[test]
fn one_worker_sleeping_handshake() {
    loom::model(|| run(1, options(1, 0, 0), 3, true, true));
}

/// A ring of 2 reused past its size, with the submitter recycling completed
/// requests inside prepare.
#[test]
fn one_worker_ring_reuse() {
    loom::model(|| run(1, options(2, 0, 0), 3, false, true));
}

/// Two workers: the submitter sleeps on completions from either lane.
/// Three threads make the state space large: bound preemptions to 2 so the
/// model finishes in CI time.
#[test]
fn two_workers_wait_done() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |b| b.min(2)));
    builder.check(|| run(2, options(1, 0, 0), 2, true, true));
}

/// Destroy with requests in flight: the drop finishes them, then quits.
#[test]
fn destroy_in_flight() {
    loom::model(|| run(1, options(2, 0, 0), 2, true, false));
}

/// With a spin and yield budget, the polling phases interleave with the
/// handshake too.
#[test]
fn with_backoff() {
    loom::model(|| run(1, options(1, 1, 1), 2, true, true));
}

/// prepare_wait with more than one request in flight: five jobs through a
/// ring of four, so the fifth waits with four in flight and the submitter
/// sleeps until half of them (two) have completed. Without this model, a
/// wake point that can never be reached survived every other one.
#[test]
fn prepare_wait_half_drained() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |b| b.min(2)));
    builder.check(|| run(1, options(4, 0, 0), 5, true, true));
}

/// A second thread reads the counters while the submitter commits and
/// waits: each counter only grows between its two reads, and no snapshot
/// shows more completed than submitted requests (the Release stores and
/// Acquire loads of the counters, and the order `read` loads them in).
#[test]
fn stats_read_from_another_thread() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |b| b.min(2)));
    builder.check(|| {
        let mut pool =
            RequestPool::new(1, "loom", &options(1, 0, 0), || (), |_| {}, |_| {}).unwrap();
        let reader = pool.stats_reader();
        let other = loom::thread::spawn(move || {
            let first = reader.read();
            let second = reader.read();
            for s in [first, second] {
                assert!(s.completed <= s.submitted, "{s:?}");
            }
            assert!(second.submitted >= first.submitted);
            assert!(second.completed >= first.completed);
        });
        pool.prepare_wait().unwrap().commit();
        pool.wait_done();
        other.join().unwrap();
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.completed), (1, 1));
    });
}

/// A handler that reads the statistics counts its own request as
/// submitted: commit raises `submitted` before it publishes the request.
#[test]
fn a_handler_sees_its_request_submitted() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |b| b.min(2)));
    builder.check(|| {
        // Set before the first commit, read by the handler after it: the
        // commit orders the two, and no thread touches it concurrently.
        let slot: std::sync::Arc<std::sync::Mutex<Option<qemu_threads::StatsReader>>> =
            Default::default();
        let in_handler = slot.clone();
        let handle = move |_: &mut ()| {
            let s = in_handler.lock().unwrap().as_ref().unwrap().read();
            assert!(s.submitted >= 1, "{s:?}");
        };
        let mut pool =
            RequestPool::new(1, "loom", &options(1, 0, 0), || (), handle, |_| {}).unwrap();
        *slot.lock().unwrap() = Some(pool.stats_reader());
        pool.prepare_wait().unwrap().commit();
        pool.wait_done();
    });
}
