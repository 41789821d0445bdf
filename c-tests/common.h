/*
 * Shared helpers of the qemu-threads C tests (QEMU tests/unit style).
 *
 * Everything here is static inline, so that a test that does not use a
 * helper does not warn about it.
 *
 * Environment, set by c-tests/meson.build:
 *   QEMU_THREADS_TEST_SCALE  divisor for the stress tests' request and
 *                            cycle counts (1 when unset), so that the same
 *                            tests run quickly under valgrind and TSan.
 *   QEMU_THREADS_TEST_UNDER  "asan", "tsan" or "valgrind" when the test runs
 *                            under that tool (tests that cannot work there
 *                            skip themselves).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QEMU_THREADS_TEST_COMMON_H
#define QEMU_THREADS_TEST_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "qemu-threads.h"

/* QEMU's container_of, with its type check (GNU C, hence __extension__). */
#define container_of(ptr, type, member) __extension__ ({                \
        const __typeof__(((type *) 0)->member) *__mptr = (ptr);        \
        (type *) ((char *) __mptr - offsetof(type, member)); })

/* The divisor of stress sizes: QEMU_THREADS_TEST_SCALE, at least 1. */
static inline unsigned long test_scale(void)
{
    const char *s = g_getenv("QEMU_THREADS_TEST_SCALE");
    unsigned long v = s ? strtoul(s, NULL, 10) : 1;

    return v ? v : 1;
}

/* n divided by the scale, but at least min. */
static inline unsigned long test_scaled(unsigned long n, unsigned long min)
{
    unsigned long v = n / test_scale();

    return v < min ? min : v;
}

/* True if the test runs under the named tool (asan, tsan, valgrind). */
static inline gboolean test_under(const char *tool)
{
    return g_strcmp0(g_getenv("QEMU_THREADS_TEST_UNDER"), tool) == 0;
}

/* True if the test runs under any sanitizer or valgrind. */
static inline gboolean test_under_any_tool(void)
{
    const char *s = g_getenv("QEMU_THREADS_TEST_UNDER");

    return s && *s;
}

/* Threads of this process, from /proc/self/task. */
static inline unsigned test_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    unsigned n = 0;

    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/*
 * Threads of this process once it has dropped to `expected` (or after 10 s).
 * A joined thread can still be listed for a moment after pthread_join()
 * returned (the kernel wakes the joiner before it reaps the thread), so
 * poll instead of reading once.
 */
static inline unsigned test_settled_thread_count(unsigned expected)
{
    unsigned n = test_thread_count();

    for (int i = 0; n != expected && i < 10000; i++) {
        g_usleep(1000);
        n = test_thread_count();
    }
    return n;
}

static inline void *test_nop_thread(void *arg)
{
    return arg;
}

/*
 * Threads of this process at rest, for comparing with later: starts and
 * joins one thread first, because ThreadSanitizer's runtime starts a
 * background thread of its own at the first pthread_create().
 */
static inline unsigned test_thread_baseline(void)
{
    static unsigned baseline;
    pthread_attr_t attr;
    pthread_t th;

    if (!baseline) {
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        g_assert_cmpint(pthread_create(&th, &attr, test_nop_thread, NULL), ==, 0);
        g_assert_cmpint(pthread_join(th, NULL), ==, 0);
        pthread_attr_destroy(&attr);
        baseline = test_thread_count();
        baseline = test_settled_thread_count(baseline);
    }
    return baseline;
}

/* The name of the calling thread. */
static inline void test_thread_name(char buf[16])
{
    int r = pthread_getname_np(pthread_self(), buf, 16);

    g_assert_cmpint(r, ==, 0);
}

/*
 * A gate that handlers wait on: closed, a handler that calls gate_pass()
 * blocks until gate_open(). It counts the threads waiting at it, so that a
 * test can wait until the workers are really stuck.
 *
 * pthread primitives, not GMutex/GCond: GLib implements those with raw
 * futexes, which ThreadSanitizer cannot see, so it would report the data
 * they protect as races.
 */
typedef struct Gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    gboolean open;
    unsigned waiting;
} Gate;

static inline void gate_init(Gate *g, gboolean open)
{
    g_assert_cmpint(pthread_mutex_init(&g->lock, NULL), ==, 0);
    g_assert_cmpint(pthread_cond_init(&g->cond, NULL), ==, 0);
    g->open = open;
    g->waiting = 0;
}

static inline void gate_destroy(Gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

static inline void gate_pass(Gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->waiting++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    g->waiting--;
    pthread_mutex_unlock(&g->lock);
}

static inline void gate_open(Gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = TRUE;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static inline gboolean gate_is_open(Gate *g)
{
    gboolean open;

    pthread_mutex_lock(&g->lock);
    open = g->open;
    pthread_mutex_unlock(&g->lock);
    return open;
}

/* Waits until n threads are blocked at the gate (at most 60 s). */
static inline void gate_wait_for(Gate *g, unsigned n)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&g->lock);
    while (g->waiting < n) {
        if (pthread_cond_timedwait(&g->cond, &g->lock, &deadline) != 0 &&
            g->waiting < n) {
            g_error("gate: %u of %u threads arrived in 60 s", g->waiting, n);
        }
    }
    pthread_mutex_unlock(&g->lock);
}

/* Zero spin and yield budgets: every wait goes to sleep at once. */
static inline ThreadsOptions test_sleepy_options(unsigned ring_size)
{
    ThreadsOptions o = threads_options_default();

    o.ring_size = ring_size;
    o.worker_spin = 0;
    o.worker_yield = 0;
    o.submitter_spin = 0;
    o.submitter_yield = 0;
    return o;
}


/* ---- a request with its life checked ------------------------------------ */

/*
 * TestReq embeds its ThreadRequest at a non-zero offset and tracks where it
 * is in its life; the helpers below assert every transition, so any test
 * that uses them also checks the ordering guarantees of the contract:
 *
 *   FREE/DONE --prepare--> PREPARED --commit--> COMMITTED --handler-->
 *   HANDLED --done--> DONE (--prepare--> PREPARED ...) --uninit--> freed
 *
 * The fields other than `state` are plain (non-atomic) data, written by
 * one side and read by the next: the pool's ordering makes that race-free.
 */
enum { REQ_FREE, REQ_PREPARED, REQ_COMMITTED, REQ_HANDLED, REQ_DONE };

#define REQ_MAGIC 0x7165726571756572ull /* "qemureq" */
#define REQ_DEAD  0xdeaddeaddeaddeadull

typedef struct TestReq {
    uint64_t magic;
    ThreadRequest tr;
    unsigned id;            /* position in init order */
    int state;
    uint64_t seq;           /* set by the submitter before commit */
    uint64_t value;         /* set by the submitter before commit */
    uint64_t result;        /* set by the handler */
    unsigned handled_on;    /* thread_index seen by the handler */
    char handler_name[16];  /* the handler's thread name */
} TestReq;

/*
 * The requests of the pool under test (callbacks have no user pointer, so
 * this is global): init appends to it, uninit counts per request.
 */
typedef struct TestRegistry {
    unsigned cap;
    unsigned inits;         /* successful init calls */
    unsigned init_calls;    /* all init calls, including a failing one */
    unsigned uninits;
    long fail_at;           /* init returns NULL on this call (0-based) */
    unsigned *uninit_count; /* per request id */
    pthread_t submitter;    /* the thread on which done must run */
} TestRegistry;

static TestRegistry test_reg G_GNUC_UNUSED;

static inline TestReq *test_req(ThreadRequest *tr)
{
    TestReq *r = container_of(tr, TestReq, tr);

    g_assert_cmphex(r->magic, ==, REQ_MAGIC);
    return r;
}

/*
 * Starts a registry for up to cap requests; init fails on call fail_at
 * (-1: never). The submitter is the calling thread.
 */
static inline void test_reg_reset(unsigned cap, long fail_at)
{
    g_free(test_reg.uninit_count);
    memset(&test_reg, 0, sizeof(test_reg));
    test_reg.cap = cap;
    test_reg.fail_at = fail_at;
    test_reg.uninit_count = g_new0(unsigned, cap);
    test_reg.submitter = pthread_self();
}

/* Asserts that every request init returned was uninit'ed exactly once. */
static inline void test_reg_check_all_uninit(void)
{
    g_assert_cmpuint(test_reg.uninits, ==, test_reg.inits);
    for (unsigned i = 0; i < test_reg.inits; i++) {
        g_assert_cmpuint(test_reg.uninit_count[i], ==, 1);
    }
}

static inline ThreadRequest *test_req_init(void)
{
    TestReq *r;

    if ((long)test_reg.init_calls++ == test_reg.fail_at) {
        return NULL;
    }
    g_assert_cmpuint(test_reg.inits, <, test_reg.cap);
    r = g_new0(TestReq, 1);
    r->magic = REQ_MAGIC;
    r->id = test_reg.inits++;
    r->state = REQ_FREE;
    return &r->tr;
}

static inline void test_req_uninit(ThreadRequest *tr)
{
    TestReq *r = test_req(tr);

    g_assert_true(pthread_equal(pthread_self(), test_reg.submitter));
    g_assert_cmpint(r->state, !=, REQ_COMMITTED);
    g_assert_cmpint(r->state, !=, REQ_HANDLED);
    g_assert_cmpuint(r->id, <, test_reg.inits);
    test_reg.uninit_count[r->id]++;
    test_reg.uninits++;
    r->magic = REQ_DEAD;
    g_free(r);
}

/* The handler's half of the checks: on a worker, after commit. */
static inline TestReq *test_req_handler_enter(ThreadRequest *tr)
{
    TestReq *r = test_req(tr);

    g_assert_false(pthread_equal(pthread_self(), test_reg.submitter));
    g_assert_cmpint(r->state, ==, REQ_COMMITTED);
    return r;
}

static inline void test_req_handler_leave(TestReq *r)
{
    r->state = REQ_HANDLED;
}

/* The done callback's half: on the submitter, after the handler. */
static inline TestReq *test_req_done(ThreadRequest *tr)
{
    TestReq *r = test_req(tr);

    g_assert_true(pthread_equal(pthread_self(), test_reg.submitter));
    g_assert_cmpint(r->state, ==, REQ_HANDLED);
    r->state = REQ_DONE;
    return r;
}

/* prepare (or prepare_wait); NULL or a request in a state it may be in. */
static inline TestReq *test_req_prepare(Threads *t, gboolean wait)
{
    ThreadRequest *tr = wait ? threads_submit_request_prepare_wait(t)
                             : threads_submit_request_prepare(t);
    TestReq *r;

    if (!tr) {
        return NULL;
    }
    r = test_req(tr);
    g_assert_true(r->state == REQ_FREE || r->state == REQ_DONE);
    r->state = REQ_PREPARED;
    return r;
}

/*
 * prepare, retried until it gives a request, calling nothing else of the
 * pool (prepare itself must reap completions to make room). Counts the
 * NULLs in *nulls. Every 16th NULL in a row also yields the CPU: on a
 * loaded 2-core host a purely spinning submitter would otherwise keep the
 * worker it waits for off the CPU for whole time slices.
 */
static inline TestReq *test_req_prepare_retry(Threads *t, uint64_t *nulls)
{
    TestReq *r;
    unsigned row = 0;
    gint64 deadline = 0;

    while (!(r = test_req_prepare(t, FALSE))) {
        (*nulls)++;
        if (++row % 16 == 0) {
            sched_yield();
        }
        if (row % 4096 == 0) {
            /* Fail instead of hanging when prepare never finds room. */
            gint64 now = g_get_monotonic_time();

            if (!deadline) {
                deadline = now + 60 * G_TIME_SPAN_SECOND;
            } else if (now > deadline) {
                g_error("prepare returned NULL for 60 s (%u times in a row)",
                        row);
            }
        }
    }
    return r;
}

static inline void test_req_commit(Threads *t, TestReq *r)
{
    g_assert_cmpint(r->state, ==, REQ_PREPARED);
    r->state = REQ_COMMITTED;
    threads_submit_request_commit(t, &r->tr);
}

#endif /* QEMU_THREADS_TEST_COMMON_H */
