/*
 * The contract of threads.h on the normal path: every committed request is
 * handled exactly once on a worker and done exactly once on the submitter,
 * in that order, with the data in between visible; thread names; init and
 * uninit counts; when prepare may and may not return NULL; wait_done;
 * statistics.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "common.h"

/* ---- exactly once -------------------------------------------------------- */

/* Per sequence number: how often the handler and done saw it. */
static guint8 *eo_handled, *eo_dones;
static uint64_t eo_nr;

static void eo_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    g_assert_cmpuint(r->seq, <, eo_nr);
    g_assert_cmpuint(tr->thread_index, ==, r->handled_on);
    eo_handled[r->seq]++;
    r->result = r->value ^ 0x5555555555555555ull;
    test_req_handler_leave(r);
}

static void eo_done(ThreadRequest *tr)
{
    TestReq *r = test_req_done(tr);

    g_assert_cmpuint(r->seq, <, eo_nr);
    g_assert_cmpuint(eo_handled[r->seq], ==, 1);
    g_assert_cmpuint(eo_dones[r->seq], ==, 0);
    g_assert_cmpuint(r->result, ==, r->value ^ 0x5555555555555555ull);
    eo_dones[r->seq]++;
}

typedef enum EoMode {
    EO_PREPARE,             /* prepare, retried on NULL calling nothing else */
    EO_WAIT,                /* prepare_wait */
    EO_MIXED,               /* alternately 4096 of each */
} EoMode;

typedef struct EoCase {
    unsigned threads;
    EoMode mode;
    gboolean sleepy;        /* zero spin/yield budgets: always sleep */
    unsigned long requests; /* before scaling */
} EoCase;

static void test_exactly_once(gconstpointer data)
{
    const EoCase *c = data;
    ThreadsOptions o = c->sleepy ? test_sleepy_options(4)
                                 : threads_options_default();
    unsigned total = c->threads * o.ring_size;
    uint64_t nulls = 0;
    ThreadsStats st;
    Threads *t;

    eo_nr = test_scaled(c->requests, 1000);
    eo_handled = g_new0(guint8, eo_nr);
    eo_dones = g_new0(guint8, eo_nr);
    test_reg_reset(total, -1);

    t = threads_create_with_options(c->threads, "eo", test_req_init,
                                    test_req_uninit, eo_handler, eo_done, &o, NULL);
    g_assert_nonnull(t);
    g_assert_cmpuint(test_reg.inits, ==, total);

    for (uint64_t seq = 0; seq < eo_nr; seq++) {
        TestReq *r;
        gboolean wait = c->mode == EO_WAIT ||
                        (c->mode == EO_MIXED && (seq & 4096));

        if (wait) {
            r = test_req_prepare(t, TRUE);
            g_assert_nonnull(r);
        } else {
            r = test_req_prepare_retry(t, &nulls);
        }
        g_assert_cmpuint(r->tr.thread_index, <, c->threads);
        r->seq = seq;
        r->value = seq * 0x9e3779b97f4a7c15ull;
        r->handled_on = r->tr.thread_index;
        test_req_commit(t, r);
    }
    threads_wait_done(t);

    threads_get_stats(t, &st);
    g_assert_cmpuint(st.submitted, ==, eo_nr);
    g_assert_cmpuint(st.completed, ==, eo_nr);
    g_assert_cmpuint(threads_get_prepare_full(t), ==, st.prepare_full);
    /* prepare_full also counts prepare_wait calls that had to wait. */
    if (c->mode == EO_PREPARE) {
        g_assert_cmpuint(st.prepare_full, ==, nulls);
    } else {
        g_assert_cmpuint(st.prepare_full, >=, nulls);
    }
    for (uint64_t seq = 0; seq < eo_nr; seq++) {
        if (eo_handled[seq] != 1 || eo_dones[seq] != 1) {
            g_error("request %" PRIu64 ": handled %u times, done %u times",
                    seq, eo_handled[seq], eo_dones[seq]);
        }
    }
    g_assert_cmpuint(test_reg.uninits, ==, 0);
    threads_destroy(t);
    test_reg_check_all_uninit();
    g_free(eo_handled);
    g_free(eo_dones);
}

/* ---- visibility of plain data across commit and completion ------------- */

typedef struct VisReq {
    unsigned seq;
    ThreadRequest tr;
    uint64_t in[32];        /* written by the submitter */
    uint64_t out[32];       /* written by the handler */
} VisReq;

static unsigned vis_dones;

static ThreadRequest *vis_init(void)
{
    VisReq *r = g_new0(VisReq, 1);

    return &r->tr;
}

static void vis_uninit(ThreadRequest *tr)
{
    g_free(container_of(tr, VisReq, tr));
}

static void vis_handler(ThreadRequest *tr)
{
    VisReq *r = container_of(tr, VisReq, tr);

    for (unsigned i = 0; i < 32; i++) {
        g_assert_cmpuint(r->in[i], ==, (uint64_t)r->seq * 32 + i);
        r->out[i] = ~r->in[i];
    }
}

static void vis_done(ThreadRequest *tr)
{
    VisReq *r = container_of(tr, VisReq, tr);

    for (unsigned i = 0; i < 32; i++) {
        g_assert_cmpuint(r->out[i], ==, ~((uint64_t)r->seq * 32 + i));
    }
    vis_dones++;
}

static void test_visibility(void)
{
    unsigned n = test_scaled(200000, 500);
    Threads *t = threads_create(2, "vis", vis_init, vis_uninit,
                                vis_handler, vis_done);

    g_assert_nonnull(t);
    vis_dones = 0;
    for (unsigned seq = 0; seq < n; seq++) {
        ThreadRequest *tr = threads_submit_request_prepare_wait(t);
        VisReq *r = container_of(tr, VisReq, tr);

        r->seq = seq;
        for (unsigned i = 0; i < 32; i++) {
            r->in[i] = (uint64_t)seq * 32 + i;
        }
        threads_submit_request_commit(t, tr);
    }
    threads_wait_done(t);
    g_assert_cmpuint(vis_dones, ==, n);
    threads_destroy(t);
}

/* ---- threads: names, which thread runs what ---------------------------- */

static unsigned names_seen[64];
static const char *names_prefix;

static void names_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    test_thread_name(r->handler_name);
    r->handled_on = tr->thread_index;
    test_req_handler_leave(r);
}

static void names_done(ThreadRequest *tr)
{
    TestReq *r = test_req_done(tr);
    char *full = g_strdup_printf("%s/%u", names_prefix, r->handled_on);

    /* Linux keeps 15 bytes of a thread name. */
    if (strlen(full) > 15) {
        full[15] = '\0';
    }
    g_assert_cmpstr(r->handler_name, ==, full);
    g_assert_cmpuint(strlen(r->handler_name), <=, 15);
    g_assert_cmpuint(r->handled_on, <, G_N_ELEMENTS(names_seen));
    names_seen[r->handled_on]++;
    g_free(full);
}

typedef struct NameCase {
    const char *name;       /* passed to threads_create */
    const char *prefix;     /* expected before "/<index>" */
    unsigned threads;
} NameCase;

static void test_thread_names(gconstpointer data)
{
    const NameCase *c = data;
    unsigned total = c->threads * THREADS_DEFAULT_RING_SIZE;
    Threads *t;

    memset(names_seen, 0, sizeof(names_seen));
    names_prefix = c->prefix;
    test_reg_reset(total, -1);
    t = threads_create(c->threads, c->name, test_req_init, test_req_uninit,
                       names_handler, names_done);
    g_assert_nonnull(t);
    /* Nothing is full, so prepare goes round-robin over every worker. */
    for (unsigned i = 0; i < 4 * total; i++) {
        TestReq *r = test_req_prepare(t, TRUE);

        g_assert_nonnull(r);
        test_req_commit(t, r);
    }
    threads_wait_done(t);
    for (unsigned i = 0; i < c->threads; i++) {
        g_assert_cmpuint(names_seen[i], >, 0);
    }
    threads_destroy(t);
    test_reg_check_all_uninit();
}

/*
 * The submitter may be a different thread from one call to the next (QEMU
 * creates the pool in one thread and submits from another): done runs on
 * whichever thread is submitting.
 */
static Threads *hop_pool;

static gpointer hop_submitter(gpointer data)
{
    unsigned n = GPOINTER_TO_UINT(data);

    test_reg.submitter = pthread_self();
    for (unsigned i = 0; i < n; i++) {
        TestReq *r = test_req_prepare(hop_pool, TRUE);

        g_assert_nonnull(r);
        test_req_commit(hop_pool, r);
    }
    threads_wait_done(hop_pool);
    return NULL;
}

static unsigned hop_dones;

static void hop_handler(ThreadRequest *tr)
{
    test_req_handler_leave(test_req_handler_enter(tr));
}

static void hop_done(ThreadRequest *tr)
{
    test_req_done(tr);
    hop_dones++;
}

static void test_submitter_hops_threads(void)
{
    unsigned n = test_scaled(10000, 100);

    test_reg_reset(3 * THREADS_DEFAULT_RING_SIZE, -1);
    hop_dones = 0;
    hop_pool = threads_create(3, "hop", test_req_init, test_req_uninit,
                              hop_handler, hop_done);
    g_assert_nonnull(hop_pool);
    for (int i = 0; i < 3; i++) {
        GThread *th = g_thread_new("submitter", hop_submitter,
                                   GUINT_TO_POINTER(n));

        g_thread_join(th);
        g_assert_cmpuint(hop_dones, ==, (i + 1) * n);
    }
    test_reg.submitter = pthread_self();
    threads_destroy(hop_pool);
    test_reg_check_all_uninit();
}

/* ---- init and uninit --------------------------------------------------- */

static void nop_handler(ThreadRequest *tr)
{
    test_req_handler_leave(test_req_handler_enter(tr));
}

static void nop_done(ThreadRequest *tr)
{
    test_req_done(tr);
}

static void test_init_counts(gconstpointer data)
{
    unsigned ring = GPOINTER_TO_UINT(data); /* 0: threads_create */
    const unsigned threads = 3;
    unsigned total = threads * (ring ? ring : THREADS_DEFAULT_RING_SIZE);
    Threads *t;

    test_reg_reset(total, -1);
    if (ring) {
        ThreadsOptions o = threads_options_default();

        o.ring_size = ring;
        t = threads_create_with_options(threads, NULL, test_req_init,
                                        test_req_uninit, nop_handler,
                                        nop_done, &o, NULL);
    } else {
        t = threads_create(threads, NULL, test_req_init, test_req_uninit,
                           nop_handler, nop_done);
    }
    g_assert_nonnull(t);
    g_assert_cmpuint(test_reg.init_calls, ==, total);
    g_assert_cmpuint(test_reg.inits, ==, total);
    for (unsigned i = 0; i < 5 * total; i++) {
        TestReq *r = test_req_prepare(t, TRUE);

        g_assert_nonnull(r);
        test_req_commit(t, r);
    }
    threads_wait_done(t);
    /* init is called only at creation, uninit only at destruction. */
    g_assert_cmpuint(test_reg.init_calls, ==, total);
    g_assert_cmpuint(test_reg.uninits, ==, 0);
    threads_destroy(t);
    test_reg_check_all_uninit();
}

/* NULL uninit and NULL done: the pool only calls init and handler. */
typedef struct StaticReq {
    int pad;
    ThreadRequest tr;
} StaticReq;

static StaticReq static_reqs[2 * THREADS_DEFAULT_RING_SIZE];
static unsigned static_inits;
static gint static_handled;

static ThreadRequest *static_init(void)
{
    g_assert_cmpuint(static_inits, <, G_N_ELEMENTS(static_reqs));
    return &static_reqs[static_inits++].tr;
}

static void static_handler(ThreadRequest *tr)
{
    StaticReq *r = container_of(tr, StaticReq, tr);

    g_assert_true(r >= static_reqs && r < static_reqs + static_inits);
    g_atomic_int_inc(&static_handled);
}

static void test_null_uninit_and_done(void)
{
    Threads *t = threads_create(2, "static", static_init, NULL,
                                static_handler, NULL);

    g_assert_nonnull(t);
    g_assert_cmpuint(static_inits, ==, G_N_ELEMENTS(static_reqs));
    for (int i = 0; i < 1000; i++) {
        ThreadRequest *tr = threads_submit_request_prepare_wait(t);

        g_assert_nonnull(tr);
        threads_submit_request_commit(t, tr);
    }
    threads_wait_done(t);
    g_assert_cmpint(g_atomic_int_get(&static_handled), ==, 1000);
    /* Some in flight at destroy, too. */
    for (int i = 0; i < 5; i++) {
        threads_submit_request_commit(t, threads_submit_request_prepare_wait(t));
    }
    threads_destroy(t);
    g_assert_cmpint(g_atomic_int_get(&static_handled), ==, 1005);
}

/* ---- when prepare returns NULL ----------------------------------------- */

static Gate gate;

static void gated_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    gate_pass(&gate);
    test_req_handler_leave(r);
}

static unsigned gated_dones;

static void gated_done(ThreadRequest *tr)
{
    test_req_done(tr);
    gated_dones++;
}

static Threads *gated_create(unsigned threads, unsigned ring)
{
    ThreadsOptions o = threads_options_default();
    Threads *t;

    o.ring_size = ring;
    gate_init(&gate, FALSE);
    gated_dones = 0;
    test_reg_reset(threads * ring, -1);
    t = threads_create_with_options(threads, "gated", test_req_init,
                                    test_req_uninit, gated_handler,
                                    gated_done, &o, NULL);
    g_assert_nonnull(t);
    return t;
}

static void gated_destroy(Threads *t)
{
    gate_open(&gate);
    threads_destroy(t);
    test_reg_check_all_uninit();
    gate_destroy(&gate);
}

/*
 * With every handler blocked, prepare hands out exactly threads * ring
 * requests (never NULL while a ring has room), then NULL; and counts the
 * NULLs in prepare_full.
 */
static void test_prepare_until_full(gconstpointer data)
{
    unsigned ring = GPOINTER_TO_UINT(data);
    const unsigned threads = 3;
    Threads *t = gated_create(threads, ring);
    unsigned per_lane[3] = { 0 };
    ThreadsStats st;

    for (unsigned i = 0; i < threads * ring; i++) {
        TestReq *r = test_req_prepare(t, FALSE);

        g_assert_nonnull(r);
        per_lane[r->tr.thread_index]++;
        test_req_commit(t, r);
    }
    gate_wait_for(&gate, threads);
    for (unsigned i = 0; i < threads; i++) {
        g_assert_cmpuint(per_lane[i], ==, ring);
    }
    for (int i = 0; i < 3; i++) {
        g_assert_null(threads_submit_request_prepare(t));
    }
    threads_get_stats(t, &st);
    g_assert_cmpuint(st.prepare_full, ==, 3);
    g_assert_cmpuint(threads_get_prepare_full(t), ==, 3);
    g_assert_cmpuint(threads_get_prepare_full(NULL), ==, 0);
    g_assert_cmpuint(st.submitted, ==, threads * ring);
    g_assert_cmpuint(st.completed, ==, 0);
    g_assert_cmpuint(gated_dones, ==, 0);

    gate_open(&gate);
    threads_wait_done(t);
    g_assert_cmpuint(gated_dones, ==, threads * ring);
    threads_get_stats(t, &st);
    g_assert_cmpuint(st.completed, ==, threads * ring);
    g_assert_cmpuint(st.prepare_full, ==, 3);
    gated_destroy(t);
}

/*
 * Requests handed out and not committed count against their ring: with
 * nothing full prepare goes round-robin, and once all are out, prepare and
 * prepare_wait return NULL (waiting could never succeed).
 */
static void test_prepare_all_reserved(void)
{
    const unsigned threads = 3, total = threads * 4;
    Threads *t = gated_create(threads, 4);
    TestReq *reqs[12];
    ThreadsStats st;

    gate_open(&gate);
    for (unsigned i = 0; i < total; i++) {
        reqs[i] = test_req_prepare(t, FALSE);
        g_assert_nonnull(reqs[i]);
        g_assert_cmpuint(reqs[i]->tr.thread_index, ==, i % threads);
        for (unsigned j = 0; j < i; j++) {
            g_assert_true(reqs[i] != reqs[j]);
        }
    }
    g_assert_null(threads_submit_request_prepare(t));
    g_assert_null(threads_submit_request_prepare_wait(t));
    for (unsigned i = 0; i < total; i++) {
        test_req_commit(t, reqs[i]);
    }
    threads_wait_done(t);
    g_assert_cmpuint(gated_dones, ==, total);
    threads_get_stats(t, &st);
    g_assert_cmpuint(st.submitted, ==, total);
    g_assert_cmpuint(st.completed, ==, total);
    g_assert_cmpuint(st.prepare_full, ==, 2);
    gated_destroy(t);
}

/*
 * prepare skips full rings: with all three workers blocked and their rings
 * full, opening worker 1 alone lets exactly its ring_size requests be
 * handed out again (its completions reaped, their done run inside
 * prepare), although the round-robin points at worker 0.
 */
static Gate lane_gates[3];

static void lane_gated_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    gate_pass(&lane_gates[tr->thread_index]);
    test_req_handler_leave(r);
}

static void test_prepare_skips_full_rings(void)
{
    const unsigned threads = 3, ring = 4;
    TestReq *held[4];
    uint64_t nulls = 0;
    Threads *t;

    for (unsigned i = 0; i < threads; i++) {
        gate_init(&lane_gates[i], FALSE);
    }
    gated_dones = 0;
    test_reg_reset(threads * ring, -1);
    t = threads_create(threads, "skip", test_req_init, test_req_uninit,
                       lane_gated_handler, gated_done);
    g_assert_nonnull(t);
    for (unsigned i = 0; i < threads * ring; i++) {
        test_req_commit(t, test_req_prepare(t, FALSE));
    }
    for (unsigned i = 0; i < threads; i++) {
        gate_wait_for(&lane_gates[i], 1);
    }
    g_assert_null(threads_submit_request_prepare(t));

    gate_open(&lane_gates[1]);
    for (unsigned i = 0; i < ring; i++) {
        held[i] = test_req_prepare_retry(t, &nulls);
        g_assert_cmpuint(held[i]->tr.thread_index, ==, 1);
    }
    g_assert_cmpuint(gated_dones, ==, ring);
    /* Worker 1's ring is now full of requests handed out. */
    g_assert_null(threads_submit_request_prepare(t));

    for (unsigned i = 0; i < threads; i++) {
        gate_open(&lane_gates[i]);
    }
    for (unsigned i = 0; i < ring; i++) {
        test_req_commit(t, held[i]);
    }
    threads_wait_done(t);
    g_assert_cmpuint(gated_dones, ==, (threads + 1) * ring);
    threads_destroy(t);
    test_reg_check_all_uninit();
    for (unsigned i = 0; i < threads; i++) {
        gate_destroy(&lane_gates[i]);
    }
}

/* prepare_wait sleeps while every ring is full, until a handler returns. */
static gpointer open_gate_later(gpointer data)
{
    g_usleep(GPOINTER_TO_UINT(data) * 1000);
    gate_open(&gate);
    return NULL;
}

static void test_prepare_wait_blocks(void)
{
    const unsigned threads = 2, total = threads * 4;
    Threads *t = gated_create(threads, 4);
    GThread *opener;
    TestReq *r;
    gint64 start;
    ThreadsStats st;

    for (unsigned i = 0; i < total; i++) {
        test_req_commit(t, test_req_prepare(t, TRUE));
    }
    gate_wait_for(&gate, threads);
    g_assert_null(threads_submit_request_prepare(t));

    start = g_get_monotonic_time();
    opener = g_thread_new("opener", open_gate_later, GUINT_TO_POINTER(100));
    r = test_req_prepare(t, TRUE);
    g_assert_nonnull(r);
    g_assert_true(gate_is_open(&gate));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 90 * 1000);
    g_assert_cmpuint(gated_dones, >=, 1);
    g_thread_join(opener);

    test_req_commit(t, r);
    threads_wait_done(t);
    g_assert_cmpuint(gated_dones, ==, total + 1);
    threads_get_stats(t, &st);
    /* One NULL prepare and one prepare_wait that had to wait. */
    g_assert_cmpuint(st.prepare_full, ==, 2);
    /* It slept through the 100 ms rather than spinning. */
    g_assert_cmpuint(st.submitter_sleeps, >=, 1);
    g_assert_cmpuint(st.submitted, ==, total + 1);
    g_assert_cmpuint(st.completed, ==, total + 1);
    gated_destroy(t);
}

/* ---- wait_done --------------------------------------------------------- */

static unsigned slow_dones;

static void slow_handler(ThreadRequest *tr)
{
    TestReq *r = test_req_handler_enter(tr);

    g_usleep(r->seq % 3 == 0 ? 2000 : 100);
    test_req_handler_leave(r);
}

static void slow_done(ThreadRequest *tr)
{
    test_req_done(tr);
    slow_dones++;
}

static void test_wait_done_waits_for_done(gconstpointer data)
{
    gboolean sleepy = GPOINTER_TO_INT(data);
    ThreadsOptions o = sleepy ? test_sleepy_options(4)
                              : threads_options_default();
    unsigned committed = 0;
    Threads *t;

    test_reg_reset(3 * 4, -1);
    slow_dones = 0;
    t = threads_create_with_options(3, "slow", test_req_init, test_req_uninit,
                                    slow_handler, slow_done, &o, NULL);
    g_assert_nonnull(t);
    /* Nothing in flight: returns at once, twice. */
    threads_wait_done(t);
    threads_wait_done(t);
    g_assert_cmpuint(slow_dones, ==, 0);
    for (unsigned round = 1; round <= 10; round++) {
        for (unsigned i = 0; i < round; i++) {
            TestReq *r = test_req_prepare(t, TRUE);

            r->seq = committed++;
            test_req_commit(t, r);
        }
        threads_wait_done(t);
        g_assert_cmpuint(slow_dones, ==, committed);
        threads_wait_done(t);
        g_assert_cmpuint(slow_dones, ==, committed);
    }
    threads_destroy(t);
    test_reg_check_all_uninit();
}

static void test_null_pool(void)
{
    ThreadsStats st;

    threads_wait_done(NULL);
    threads_destroy(NULL);
    g_assert_null(threads_submit_request_prepare(NULL));
    g_assert_null(threads_submit_request_prepare_wait(NULL));
    memset(&st, 0xff, sizeof(st));
    threads_get_stats(NULL, &st);
    g_assert_cmpuint(st.submitted, ==, 0);
    g_assert_cmpuint(st.completed, ==, 0);
    g_assert_cmpuint(st.prepare_full, ==, 0);
    g_assert_cmpuint(st.worker_sleeps, ==, 0);
    g_assert_cmpuint(st.worker_wakeups, ==, 0);
    g_assert_cmpuint(st.submitter_sleeps, ==, 0);
    threads_get_stats(NULL, NULL);
}

/* ---- statistics -------------------------------------------------------- */

static void test_stats_null_out(void)
{
    Threads *t = gated_create(1, 1);

    threads_get_stats(t, NULL);     /* a no-op, not a crash */
    gated_destroy(t);
}

/*
 * With zero budgets every idle worker sleeps at once: once all have slept
 * (worker_sleeps == threads, and none can sleep twice without a commit),
 * one commit per worker costs exactly one wake-up each; and a wait_done
 * on a blocked handler sleeps.
 */
static void test_stats_sleeps_and_wakeups(void)
{
    const unsigned threads = 3;
    ThreadsOptions o = test_sleepy_options(4);
    gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
    GThread *opener;
    ThreadsStats st;
    Threads *t;

    gate_init(&gate, FALSE);
    gated_dones = 0;
    test_reg_reset(threads * 4, -1);
    t = threads_create_with_options(threads, "sleepy", test_req_init,
                                    test_req_uninit, gated_handler,
                                    gated_done, &o, NULL);
    g_assert_nonnull(t);
    do {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
        threads_get_stats(t, &st);
    } while (st.worker_sleeps < threads);
    g_assert_cmpuint(st.worker_sleeps, ==, threads);
    g_assert_cmpuint(st.worker_wakeups, ==, 0);

    for (unsigned i = 0; i < threads; i++) {
        test_req_commit(t, test_req_prepare(t, FALSE));
    }
    threads_get_stats(t, &st);
    g_assert_cmpuint(st.worker_wakeups, ==, threads);
    g_assert_cmpuint(st.submitted, ==, threads);

    gate_wait_for(&gate, threads);
    opener = g_thread_new("opener", open_gate_later, GUINT_TO_POINTER(100));
    threads_wait_done(t);
    g_thread_join(opener);
    threads_get_stats(t, &st);
    g_assert_cmpuint(gated_dones, ==, threads);
    g_assert_cmpuint(st.completed, ==, threads);
    g_assert_cmpuint(st.submitter_sleeps, >=, 1);
    g_assert_cmpuint(st.prepare_full, ==, 0);
    gated_destroy(t);
}

/*
 * A second thread reads the counters in a loop while the submitter
 * prepares (with and without waiting), commits and waits: what a QMP
 * handler does during a migration; the handler and done read them too.
 * No call may abort; every counter read by the second thread never goes
 * down; no snapshot has more completed than submitted
 * requests; and after the last wait_done both equal what was submitted.
 */
typedef struct StatsReader {
    Threads *t;
    gint stop;              /* set by the submitter when it is finished */
    gint started;           /* set by the reader after its first read */
    uint64_t reads;
    ThreadsStats last;
} StatsReader;

/* The pool of test_stats_from_another_thread, for its callbacks. */
static Threads *stats_pool;

/* Callbacks read the counters too: a read is not a submitter call. */
static void stats_handler(ThreadRequest *tr)
{
    ThreadsStats st;

    threads_get_stats(stats_pool, &st);
    g_assert_cmpuint(st.submitted, >=, 1);
    nop_handler(tr);
}

static void stats_done(ThreadRequest *tr)
{
    ThreadsStats st;

    threads_get_stats(stats_pool, &st);
    g_assert_cmpuint(st.completed, >=, 1);
    nop_done(tr);
}

static gpointer stats_reader_thread(gpointer data)
{
    StatsReader *rd = data;
    ThreadsStats prev = { 0 }, st;

    do {
        uint64_t full;

        threads_get_stats(rd->t, &st);
        full = threads_get_prepare_full(rd->t);
        g_assert_cmpuint(st.submitted, >=, prev.submitted);
        g_assert_cmpuint(st.completed, >=, prev.completed);
        g_assert_cmpuint(st.prepare_full, >=, prev.prepare_full);
        g_assert_cmpuint(st.worker_sleeps, >=, prev.worker_sleeps);
        g_assert_cmpuint(st.worker_wakeups, >=, prev.worker_wakeups);
        g_assert_cmpuint(st.submitter_sleeps, >=, prev.submitter_sleeps);
        g_assert_cmpuint(st.completed, <=, st.submitted);
        g_assert_cmpuint(full, >=, st.prepare_full);
        prev = st;
        rd->reads++;
        g_atomic_int_set(&rd->started, 1);
    } while (!g_atomic_int_get(&rd->stop));
    rd->last = prev;
    return NULL;
}

static void test_stats_from_another_thread(void)
{
    unsigned n = test_scaled(200000, 2000);
    StatsReader rd = { 0 };
    uint64_t nulls = 0;
    GThread *reader;
    ThreadsStats st;

    test_reg_reset(2 * THREADS_DEFAULT_RING_SIZE, -1);
    rd.t = threads_create(2, "stats", test_req_init, test_req_uninit,
                          stats_handler, stats_done);
    g_assert_nonnull(rd.t);
    stats_pool = rd.t;
    reader = g_thread_new("stats-reader", stats_reader_thread, &rd);
    while (!g_atomic_int_get(&rd.started)) {
        g_usleep(100);
    }
    for (unsigned i = 0; i < n; i++) {
        TestReq *r = i % 2 ? test_req_prepare(rd.t, TRUE)
                           : test_req_prepare_retry(rd.t, &nulls);

        test_req_commit(rd.t, r);
        if (i % 1000 == 999) {
            threads_wait_done(rd.t);
        }
    }
    threads_wait_done(rd.t);
    g_atomic_int_set(&rd.stop, 1);
    g_thread_join(reader);

    threads_get_stats(rd.t, &st);
    g_assert_cmpuint(st.submitted, ==, n);
    g_assert_cmpuint(st.completed, ==, n);
    g_assert_cmpuint(threads_get_prepare_full(rd.t), ==, st.prepare_full);
    g_assert_cmpuint(rd.last.submitted, <=, n);
    g_assert_cmpuint(rd.last.prepare_full, <=, st.prepare_full);
    g_assert_cmpuint(rd.reads, >=, 2);
    threads_destroy(rd.t);
    test_reg_check_all_uninit();
}

/* ------------------------------------------------------------------------ */

static const unsigned eo_threads[] = { 1, 2, 3, 4, 8, 16, 32, 64 };

int main(int argc, char **argv)
{
    static const NameCase names[] = {
        { "compress", "compress", 4 },
        { "a-very-long-pool-name", "a-very-long-pool-name", 12 },
        { "decompress-th", "decompress-th", 11 },   /* cut inside "/10" */
        { NULL, "threads", 3 },
    };
    static const unsigned rings[] = { 0, 1, 2, 64 };
    static EoCase eo[G_N_ELEMENTS(eo_threads) + 3];
    unsigned n = 0;

    g_test_init(&argc, &argv, NULL);

    /* 10^6 requests per thread count, alternating prepare (retried) and
     * prepare_wait every 4096 requests. */
    for (unsigned i = 0; i < G_N_ELEMENTS(eo_threads); i++) {
        char *path = g_strdup_printf("/contract/exactly-once/%u",
                                     eo_threads[i]);

        eo[n] = (EoCase) { eo_threads[i], EO_MIXED, FALSE, 1000000 };
        g_test_add_data_func(path, &eo[n++], test_exactly_once);
        g_free(path);
    }
    /* Always sleeping: every hand-over is a futex wake-up. */
    for (unsigned threads = 1; threads <= 4; threads *= 2) {
        char *path = g_strdup_printf("/contract/exactly-once/sleepy-%s/%u",
                                     threads == 2 ? "prepare" : "prepare-wait",
                                     threads);

        eo[n] = (EoCase) { threads, threads == 2 ? EO_PREPARE : EO_WAIT,
                           TRUE, 100000 };
        g_test_add_data_func(path, &eo[n++], test_exactly_once);
        g_free(path);
    }
    g_test_add_func("/contract/visibility", test_visibility);

    for (unsigned i = 0; i < G_N_ELEMENTS(names); i++) {
        char *path = g_strdup_printf("/contract/thread-names/%u", i);

        g_test_add_data_func(path, &names[i], test_thread_names);
        g_free(path);
    }
    g_test_add_func("/contract/submitter-changes-thread",
                    test_submitter_hops_threads);

    for (unsigned i = 0; i < G_N_ELEMENTS(rings); i++) {
        char *path = g_strdup_printf("/contract/init-uninit/ring-%u",
                                     rings[i] ? rings[i] : 4);

        g_test_add_data_func(path, GUINT_TO_POINTER(rings[i]),
                             test_init_counts);
        g_free(path);
    }
    g_test_add_func("/contract/init-uninit/null-uninit-and-done",
                    test_null_uninit_and_done);

    for (unsigned ring = 1; ring <= 64; ring *= 4) {
        char *path = g_strdup_printf("/contract/prepare/until-full/ring-%u",
                                     ring);

        g_test_add_data_func(path, GUINT_TO_POINTER(ring),
                             test_prepare_until_full);
        g_free(path);
    }
    g_test_add_func("/contract/prepare/skips-full-rings",
                    test_prepare_skips_full_rings);
    g_test_add_func("/contract/prepare/all-reserved",
                    test_prepare_all_reserved);
    g_test_add_func("/contract/prepare-wait/blocks-until-completion",
                    test_prepare_wait_blocks);

    g_test_add_data_func("/contract/wait-done/after-all-done",
                         GINT_TO_POINTER(FALSE), test_wait_done_waits_for_done);
    g_test_add_data_func("/contract/wait-done/after-all-done-sleepy",
                         GINT_TO_POINTER(TRUE), test_wait_done_waits_for_done);
    g_test_add_func("/contract/null-pool", test_null_pool);
    g_test_add_func("/contract/stats/null-out", test_stats_null_out);
    g_test_add_func("/contract/stats/sleeps-and-wakeups",
                    test_stats_sleeps_and_wakeups);
    g_test_add_func("/contract/stats/from-another-thread",
                    test_stats_from_another_thread);
    return g_test_run();
}
