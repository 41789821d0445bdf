/*
 * Pool lifetime: destroy with requests in flight (handled and done once,
 * then uninit once, in that order), destroy waiting for a stalled handler,
 * a stalled worker not stopping submission to the others, many pools at
 * once, and many create/destroy cycles without a thread left behind (the
 * asan and valgrind suites check for leaks).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "common.h"

#include <limits.h>
#include <signal.h>

/* ---- an event log ------------------------------------------------------ */

enum { EV_HANDLED, EV_DONE, EV_UNINIT };

typedef struct Event {
    int kind;
    unsigned id;
} Event;

/* pthread, not GMutex: see Gate in common.h. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static Event *log_events;
static unsigned log_len, log_cap;

static void log_reset(unsigned cap)
{
    g_free(log_events);
    log_events = g_new0(Event, cap);
    log_len = 0;
    log_cap = cap;
}

static void log_event(int kind, unsigned id)
{
    pthread_mutex_lock(&log_lock);
    g_assert_cmpuint(log_len, <, log_cap);
    log_events[log_len++] = (Event) { kind, id };
    pthread_mutex_unlock(&log_lock);
}

/* Position of the event in the log; asserts it happened exactly once. */
static unsigned log_find_once(int kind, unsigned id)
{
    unsigned found = log_len, n = 0;

    for (unsigned i = 0; i < log_len; i++) {
        if (log_events[i].kind == kind && log_events[i].id == id) {
            found = i;
            n++;
        }
    }
    if (n != 1) {
        g_error("request %u: event %d logged %u times", id, kind, n);
    }
    return found;
}

static gboolean log_has(int kind, unsigned id)
{
    for (unsigned i = 0; i < log_len; i++) {
        if (log_events[i].kind == kind && log_events[i].id == id) {
            return TRUE;
        }
    }
    return FALSE;
}

static unsigned handler_delay_us;

static void logging_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    if (handler_delay_us) {
        g_usleep(handler_delay_us * (1 + r->id % 3));
    }
    test_req_handler_leave(r);
    log_event(EV_HANDLED, r->id);
}

static void logging_done(ThreadRequest *tr)
{
    log_event(EV_DONE, test_req_done(tr)->id);
}

static void logging_uninit(ThreadRequest *tr)
{
    log_event(EV_UNINIT, test_req(tr)->id);
    test_req_uninit(tr);
}

/* ---- destroy with requests in flight ----------------------------------- */

typedef struct InFlightCase {
    unsigned threads;
    unsigned ring;
    unsigned delay_us;      /* handler time: 1-3 times this */
    unsigned reserved;      /* prepared and never committed */
    gboolean sleepy;
} InFlightCase;

static void test_destroy_in_flight(gconstpointer data)
{
    const InFlightCase *c = data;
    ThreadsOptions o = c->sleepy ? test_sleepy_options(c->ring)
                                 : threads_options_default();
    unsigned total = c->threads * c->ring;
    unsigned committed = total - c->reserved;
    gboolean *was_committed = g_new0(gboolean, total);
    unsigned before = test_thread_baseline();
    unsigned first_uninit = G_MAXUINT, last_done = 0;
    Threads *t;

    o.ring_size = c->ring;
    handler_delay_us = c->delay_us;
    log_reset(3 * total);
    test_reg_reset(total, -1);
    t = threads_create_with_options(c->threads, "inflight", test_req_init,
                                    logging_uninit, logging_handler,
                                    logging_done, &o, NULL);
    g_assert_nonnull(t);
    /* Fill every ring, some requests only prepared; nothing completes
     * before destroy but by chance. */
    for (unsigned i = 0; i < total; i++) {
        TestReq *r = test_req_prepare(t, FALSE);

        g_assert_nonnull(r);
        if (i < committed) {
            was_committed[r->id] = TRUE;
            test_req_commit(t, r);
        }
    }
    threads_destroy(t);
    g_assert_cmpuint(test_settled_thread_count(before), ==, before);

    test_reg_check_all_uninit();
    g_assert_cmpuint(log_len, ==, 2 * committed + total);
    for (unsigned id = 0; id < total; id++) {
        unsigned u = log_find_once(EV_UNINIT, id);

        first_uninit = MIN(first_uninit, u);
        if (was_committed[id]) {
            unsigned h = log_find_once(EV_HANDLED, id);
            unsigned d = log_find_once(EV_DONE, id);

            g_assert_cmpuint(h, <, d);
            g_assert_cmpuint(d, <, u);
            last_done = MAX(last_done, d);
        } else {
            /* Released without handler or done. */
            g_assert_false(log_has(EV_HANDLED, id));
            g_assert_false(log_has(EV_DONE, id));
        }
    }
    /* Every done callback ran before the first uninit. */
    g_assert_cmpuint(last_done, <, first_uninit);
    g_free(was_committed);
}

/* ---- stalled handlers -------------------------------------------------- */

static Gate gate;

static gpointer open_gate_later(gpointer data)
{
    g_usleep(GPOINTER_TO_UINT(data) * 1000);
    gate_open(&gate);
    return NULL;
}

static void gated_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    gate_pass(&gate);
    test_req_handler_leave(r);
    log_event(EV_HANDLED, r->id);
}

/* destroy waits for handlers that are still running. */
static void test_destroy_waits_for_stalled(void)
{
    const unsigned threads = 2, total = 2 * 4;
    GThread *opener;
    gint64 start;
    Threads *t;

    gate_init(&gate, FALSE);
    log_reset(3 * total);
    test_reg_reset(total, -1);
    t = threads_create(threads, "stalled", test_req_init, logging_uninit,
                       gated_handler, logging_done);
    g_assert_nonnull(t);
    for (unsigned i = 0; i < total; i++) {
        test_req_commit(t, test_req_prepare(t, FALSE));
    }
    gate_wait_for(&gate, threads);
    start = g_get_monotonic_time();
    opener = g_thread_new("opener", open_gate_later, GUINT_TO_POINTER(100));
    threads_destroy(t);
    g_assert_true(gate_is_open(&gate));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 90 * 1000);
    g_thread_join(opener);
    test_reg_check_all_uninit();
    for (unsigned id = 0; id < total; id++) {
        g_assert_cmpuint(log_find_once(EV_DONE, id), <,
                         log_find_once(EV_UNINIT, id));
    }
    gate_destroy(&gate);
}

/*
 * With worker 0's handler blocked, prepare skips its full ring and keeps
 * the other workers busy: many more than ring_size requests are submitted
 * and completed by workers 1-3 while worker 0 is stalled.
 */
static gint lane_handled[4];
static unsigned lane_done[4];

static void stall0_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    g_atomic_int_inc(&lane_handled[tr->thread_index]);
    if (tr->thread_index == 0) {
        gate_pass(&gate);
    }
    test_req_handler_leave(r);
}

static void stall0_done(ThreadRequest *tr)
{
    TestReq *r = test_req_done(tr);

    lane_done[r->handled_on]++;
}

static void test_stalled_worker(gconstpointer data)
{
    gboolean wait = GPOINTER_TO_INT(data);
    const unsigned threads = 4, ring = THREADS_DEFAULT_RING_SIZE;
    unsigned n = test_scaled(20000, 200);
    unsigned others = 0;
    uint64_t nulls = 0;
    ThreadsStats st;
    Threads *t;

    memset(lane_handled, 0, sizeof(lane_handled));
    memset(lane_done, 0, sizeof(lane_done));
    gate_init(&gate, FALSE);
    test_reg_reset(threads * ring, -1);
    t = threads_create(threads, "stall", test_req_init, test_req_uninit,
                       stall0_handler, stall0_done);
    g_assert_nonnull(t);
    for (unsigned i = 0; i < n; i++) {
        TestReq *r;

        if (wait) {
            r = test_req_prepare(t, TRUE);
            g_assert_nonnull(r);
        } else {
            r = test_req_prepare_retry(t, &nulls);
        }
        r->handled_on = r->tr.thread_index;
        test_req_commit(t, r);
    }
    /* Worker 0 is still stuck in its first handler. */
    gate_wait_for(&gate, 1);
    g_assert_cmpint(g_atomic_int_get(&lane_handled[0]), ==, 1);
    g_assert_cmpuint(lane_done[0], ==, 0);
    for (unsigned i = 1; i < threads; i++) {
        others += lane_done[i];
    }
    /* All but what may still be in flight: worker 0's ring, and at most a
     * ring's worth on each of the others. */
    g_assert_cmpuint(others, >=, n - threads * ring);
    g_assert_cmpuint(others, >, 10 * ring);
    threads_get_stats(t, &st);
    g_assert_cmpuint(st.submitted, ==, n);

    gate_open(&gate);
    threads_wait_done(t);
    /* Worker 0 got exactly one ring's worth: prepare skipped it after. */
    g_assert_cmpuint(lane_done[0], ==, ring);
    g_assert_cmpint(g_atomic_int_get(&lane_handled[0]), ==, ring);
    others = 0;
    for (unsigned i = 1; i < threads; i++) {
        others += lane_done[i];
    }
    g_assert_cmpuint(others + lane_done[0], ==, n);
    threads_destroy(t);
    test_reg_check_all_uninit();
    gate_destroy(&gate);
}

/* ---- several pools at once --------------------------------------------- */

#define NR_POOLS 8

static void pool_check_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);
    char name[16];
    char *prefix = g_strdup_printf("p%" PRIu64 "/", r->value);

    /* The request went to a worker of the pool it was committed to. */
    test_thread_name(name);
    g_assert_true(g_str_has_prefix(name, prefix));
    g_free(prefix);
    test_req_handler_leave(r);
}

static unsigned pool_dones[NR_POOLS];

static void pool_done(ThreadRequest *tr)
{
    TestReq *r = test_req_done(tr);

    pool_dones[r->value]++;
}

static void test_many_pools(void)
{
    unsigned n = test_scaled(20000, 200) / NR_POOLS * NR_POOLS;
    Threads *pools[NR_POOLS];

    memset(pool_dones, 0, sizeof(pool_dones));
    test_reg_reset(NR_POOLS * 2 * 4, -1);
    for (unsigned p = 0; p < NR_POOLS; p++) {
        char name[8];

        snprintf(name, sizeof(name), "p%u", p);
        pools[p] = threads_create(2, name, test_req_init, test_req_uninit,
                                  pool_check_handler, pool_done);
        g_assert_nonnull(pools[p]);
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned p = (i * 7) % NR_POOLS;
        TestReq *r = test_req_prepare(pools[p], TRUE);

        r->value = p;
        test_req_commit(pools[p], r);
    }
    for (unsigned p = 0; p < NR_POOLS; p++) {
        threads_wait_done(pools[p]);
    }
    for (unsigned p = 0; p < NR_POOLS; p++) {
        g_assert_cmpuint(pool_dones[p], ==, n / NR_POOLS);
        threads_destroy(pools[p]);
    }
    test_reg_check_all_uninit();
}

/* ---- create/destroy cycles --------------------------------------------- */

static unsigned cycle_dones;

static void cycle_done(ThreadRequest *tr)
{
    test_req_done(tr);
    cycle_dones++;
}

static void cycle_handler(ThreadRequest *tr)
{
    test_req_handler_leave(test_req_handler_enter(tr));
}

static void test_create_destroy_cycles(void)
{
    unsigned cycles = test_scaled(2000, 40);
    unsigned before = test_thread_baseline();

    for (unsigned i = 0; i < cycles; i++) {
        unsigned threads = 1 + i % 4;
        ThreadsOptions o = i % 5 == 0 ? test_sleepy_options(1u << (i % 3))
                                      : threads_options_default();
        unsigned total = threads * o.ring_size;
        unsigned commits = i % 3 == 0 ? 0 : i % 11;
        Threads *t;

        test_reg_reset(total, -1);
        cycle_dones = 0;
        t = threads_create_with_options(threads, "cycle", test_req_init,
                                        test_req_uninit, cycle_handler,
                                        cycle_done, &o, NULL);
        g_assert_nonnull(t);
        for (unsigned j = 0; j < commits; j++) {
            test_req_commit(t, test_req_prepare(t, TRUE));
        }
        if (i % 2) {
            threads_wait_done(t);
            g_assert_cmpuint(cycle_dones, ==, commits);
        }
        threads_destroy(t);
        g_assert_cmpuint(cycle_dones, ==, commits);
        test_reg_check_all_uninit();
        if (i % 100 == 99) {
            g_assert_cmpuint(test_settled_thread_count(before), ==, before);
        }
    }
    g_assert_cmpuint(test_settled_thread_count(before), ==, before);
}

/* ---- the largest spin budget ------------------------------------------ */

/*
 * An idle worker polls worker_spin times, then worker_yield times, then
 * sleeps; any unsigned int is a valid budget. With worker_spin = UINT_MAX
 * the worker must still go to sleep after its 2^32 polls (about 70 s of one
 * core here, so this runs only with QEMU_THREADS_TEST_SLOW=1, and never
 * under a tool). Runs in a child, because a library that cannot count that
 * far aborts.
 */
static void test_huge_spin_budget(void)
{
    if (!g_getenv("QEMU_THREADS_TEST_SLOW") || test_under_any_tool()) {
        g_test_skip("takes minutes of CPU: set QEMU_THREADS_TEST_SLOW=1");
        return;
    }
    if (g_test_subprocess()) {
        ThreadsOptions o = threads_options_default();
        gint64 deadline = g_get_monotonic_time() + 900 * G_TIME_SPAN_SECOND;
        ThreadsStats st;
        Threads *t;

        o.worker_spin = UINT_MAX;
        o.worker_yield = 1;
        test_reg_reset(4, -1);
        t = threads_create_with_options(1, "huge", test_req_init,
                                        test_req_uninit, cycle_handler,
                                        cycle_done, &o, NULL);
        g_assert_nonnull(t);
        do {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(100 * 1000);
            threads_get_stats(t, &st);
        } while (st.worker_sleeps == 0);
        /* Asleep: a commit must wake it. */
        cycle_dones = 0;
        test_req_commit(t, test_req_prepare(t, FALSE));
        threads_wait_done(t);
        g_assert_cmpuint(cycle_dones, ==, 1);
        threads_destroy(t);
        test_reg_check_all_uninit();
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

/* ---- workers start like QEMU threads --------------------------------- */

/* What a thread sees of itself: its signal mask, twice, and its stack. */
typedef struct ThreadView {
    sigset_t mask;                  /* from pthread_sigmask() */
    unsigned long long proc_sigblk; /* SigBlk in /proc: the kernel's view */
    size_t stack_size;
} ThreadView;

static ThreadView worker_view, qemu_view;

/* SigBlk of the calling thread, as the kernel reports it in /proc. */
static unsigned long long proc_sigblk(void)
{
    char *status = NULL, *line;
    unsigned long long v = 0;

    g_assert_true(g_file_get_contents("/proc/thread-self/status", &status,
                                      NULL, NULL));
    line = strstr(status, "\nSigBlk:");
    g_assert_nonnull(line);
    v = g_ascii_strtoull(line + strlen("\nSigBlk:"), NULL, 16);
    g_free(status);
    return v;
}

static void view_self(ThreadView *v)
{
    pthread_attr_t attr;

    g_assert_cmpint(pthread_sigmask(SIG_BLOCK, NULL, &v->mask), ==, 0);
    v->proc_sigblk = proc_sigblk();
    g_assert_cmpint(pthread_getattr_np(pthread_self(), &attr), ==, 0);
    g_assert_cmpint(pthread_attr_getstacksize(&attr, &v->stack_size), ==, 0);
    pthread_attr_destroy(&attr);
}

static void view_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    view_self(&worker_view);
    test_req_handler_leave(r);
}

static void view_done(ThreadRequest *tr)
{
    test_req_done(tr);
}

static void *qemu_view_thread(void *arg)
{
    view_self(arg);
    return NULL;
}

/*
 * Starts a thread exactly as QEMU 7.2's qemu_thread_create()
 * (util/qemu-thread-posix.c) does, and records what it sees: the reference
 * the workers are compared with.
 */
static void view_qemu_thread(ThreadView *v)
{
    sigset_t set, oldset;
    pthread_t th;

    sigfillset(&set);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGILL);
    g_assert_cmpint(pthread_sigmask(SIG_SETMASK, &set, &oldset), ==, 0);
    g_assert_cmpint(pthread_create(&th, NULL, qemu_view_thread, v), ==, 0);
    g_assert_cmpint(pthread_sigmask(SIG_SETMASK, &oldset, NULL), ==, 0);
    g_assert_cmpint(pthread_join(th, NULL), ==, 0);
}

/* Signals that no thread can block, or that glibc keeps for itself. */
static gboolean unblockable(int sig)
{
    return sig == SIGKILL || sig == SIGSTOP || (sig >= 32 && sig < SIGRTMIN);
}

/* The signals QEMU leaves open in its threads: blocking them while they
 * are raised by a fault is undefined behaviour. */
static gboolean open_in_qemu_threads(int sig)
{
    return sig == SIGSEGV || sig == SIGFPE || sig == SIGILL;
}

/* Asserts that the calling thread's mask is exactly `want`. */
static void assert_own_mask_is(const sigset_t *want)
{
    sigset_t now;

    g_assert_cmpint(pthread_sigmask(SIG_BLOCK, NULL, &now), ==, 0);
    for (int sig = 1; sig <= SIGRTMAX; sig++) {
        if (sigismember(&now, sig) != sigismember(want, sig)) {
            g_error("the caller's mask changed at signal %d", sig);
        }
    }
}

/*
 * Workers get exactly the mask qemu_thread_create() gives QEMU's threads,
 * whatever the caller's own mask: every signal blocked but SIGSEGV, SIGFPE
 * and SIGILL. The caller blocks SIGSEGV and SIGUSR2 and leaves the rest
 * open (QEMU's main thread lets SIGTERM, SIGINT, SIGHUP, SIGCHLD and
 * SIG_IPI through), so a worker that inherited or added to the caller's
 * mask is told apart; the caller's mask is the same afterwards. The stack
 * is the library's choice, not RUST_MIN_STACK's.
 */
static void test_workers_like_qemu_threads(void)
{
    if (g_test_subprocess()) {
        sigset_t caller;
        Threads *t;

        g_assert_cmpint(setenv("RUST_MIN_STACK", "65536", 1), ==, 0);
        sigemptyset(&caller);
        sigaddset(&caller, SIGSEGV);
        sigaddset(&caller, SIGUSR2);
        g_assert_cmpint(pthread_sigmask(SIG_SETMASK, &caller, NULL), ==, 0);
        test_reg_reset(THREADS_DEFAULT_RING_SIZE, -1);
        t = threads_create(1, "sigmask", test_req_init, test_req_uninit,
                           view_handler, view_done);
        g_assert_nonnull(t);
        assert_own_mask_is(&caller);
        test_req_commit(t, test_req_prepare(t, FALSE));
        threads_wait_done(t);
        threads_destroy(t);
        test_reg_check_all_uninit();
        /* After the pool: glibc may give a new thread the cached stack of
         * one that ended, which would hide the worker's own stack size. */
        view_qemu_thread(&qemu_view);
        assert_own_mask_is(&caller);

        for (int sig = 1; sig <= SIGRTMAX; sig++) {
            int in_worker = sigismember(&worker_view.mask, sig);

            if (in_worker != sigismember(&qemu_view.mask, sig)) {
                g_error("signal %d is %s in a worker, not in a thread from "
                        "qemu_thread_create()", sig,
                        in_worker ? "blocked" : "open");
            }
            if (!unblockable(sig) && in_worker == open_in_qemu_threads(sig)) {
                g_error("signal %d is %s in a worker", sig,
                        in_worker ? "blocked" : "open");
            }
        }
        /* The kernel's view, every signal at once (under valgrind, which
         * keeps a signal of its own open, in both threads alike). */
        g_assert_cmphex(worker_view.proc_sigblk, ==, qemu_view.proc_sigblk);
        g_assert_cmpuint(worker_view.stack_size, >=, THREADS_WORKER_STACK_SIZE);
        g_assert_cmpuint(worker_view.stack_size, <, 2 * THREADS_WORKER_STACK_SIZE);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

int main(int argc, char **argv)
{
    static const InFlightCase in_flight[] = {
        { 1, 4, 2000, 0, FALSE },
        { 3, 4, 2000, 2, FALSE },
        { 4, 1, 1000, 0, FALSE },
        { 2, 64, 100, 5, FALSE },
        { 3, 4, 2000, 1, TRUE },
        { 4, 2, 0, 0, TRUE },
    };

    g_test_init(&argc, &argv, NULL);
    for (unsigned i = 0; i < G_N_ELEMENTS(in_flight); i++) {
        const InFlightCase *c = &in_flight[i];
        char *path = g_strdup_printf("/lifecycle/destroy-in-flight/%ux%u%s%s",
                                     c->threads, c->ring,
                                     c->reserved ? "-reserved" : "",
                                     c->sleepy ? "-sleepy" : "");

        g_test_add_data_func(path, c, test_destroy_in_flight);
        g_free(path);
    }
    g_test_add_func("/lifecycle/destroy-waits-for-stalled-handler",
                    test_destroy_waits_for_stalled);
    g_test_add_data_func("/lifecycle/stalled-worker/prepare",
                         GINT_TO_POINTER(FALSE), test_stalled_worker);
    g_test_add_data_func("/lifecycle/stalled-worker/prepare-wait",
                         GINT_TO_POINTER(TRUE), test_stalled_worker);
    g_test_add_func("/lifecycle/many-pools", test_many_pools);
    g_test_add_func("/lifecycle/create-destroy-cycles",
                    test_create_destroy_cycles);
    g_test_add_func("/lifecycle/huge-spin-budget", test_huge_spin_budget);
    /*
     * Last: its child process makes GLib start a thread of its own (under
     * valgrind, which lacks pidfd_open), which would throw the thread counts
     * of the tests after it.
     */
    g_test_add_func("/lifecycle/worker-start/like-qemu-threads",
                    test_workers_like_qemu_threads);
    return g_test_run();
}
