/*
 * Errors: bad arguments to threads_create (NULL and one line on stderr),
 * init failing at every position and thread creation failing (everything
 * made so far released, no thread left), and misuse of commit and of the
 * one-submitter rule (abort with a message). Each case that prints or
 * aborts runs in a g_test_trap_subprocess() child.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "common.h"

#include <signal.h>
#include <sys/resource.h>

/* Runs the current test in a child and asserts that it passed. */
static void run_child_expect_pass(void)
{
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

/* ... and printed exactly `expected` (a glob) and nothing else. */
static void run_child_expect_stderr(const char *expected)
{
    run_child_expect_pass();
    g_test_trap_assert_stderr(expected);
}

/* Asserts that the captured stderr is one line. */
static void assert_one_stderr_line(void)
{
    g_test_trap_assert_stderr("*\n");
    g_test_trap_assert_stderr_unmatched("*\n?*");
}

/* Runs the current test in a child that must abort, printing `pattern`. */
static void run_child_expect_abort(const char *pattern)
{
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr(pattern);
}

static gint handled;

static void count_handler(ThreadRequest *tr)
{
    test_req_handler_leave(test_req_handler_enter(tr));
    g_atomic_int_inc(&handled);
}

static void check_done(ThreadRequest *tr)
{
    test_req_done(tr);
}

/* ---- bad arguments ----------------------------------------------------- */

typedef struct BadCase {
    const char *path;
    unsigned threads_nr;
    gboolean null_init;
    gboolean null_handler;
    unsigned ring_size;     /* 0 with use_options FALSE: threads_create */
    gboolean use_options;
    const char *message;    /* glob of the whole stderr */
} BadCase;

static const BadCase bad_cases[] = {
    { "/errors/bad-args/threads-nr-0", 0, FALSE, FALSE, 0, FALSE,
      "qemu-threads: threads_create: threads_nr is 0; it must be 1 to 256\n" },
    { "/errors/bad-args/threads-nr-max-plus-1", THREADS_MAX_THREADS + 1,
      FALSE, FALSE, 0, FALSE,
      "qemu-threads: threads_create: threads_nr is 257; it must be 1 to 256\n" },
    { "/errors/bad-args/null-init", 2, TRUE, FALSE, 0, FALSE,
      "qemu-threads: threads_create: *must not be NULL\n" },
    { "/errors/bad-args/null-handler", 2, FALSE, TRUE, 0, FALSE,
      "qemu-threads: threads_create: *must not be NULL\n" },
    { "/errors/bad-args/null-init-with-options", 2, TRUE, FALSE, 4, TRUE,
      "qemu-threads: threads_create: *must not be NULL\n" },
    { "/errors/bad-args/ring-size-0", 2, FALSE, FALSE, 0, TRUE,
      "qemu-threads: threads_create: ring_size is 0; *\n" },
    { "/errors/bad-args/ring-size-3", 2, FALSE, FALSE, 3, TRUE,
      "qemu-threads: threads_create: ring_size is 3; *\n" },
    { "/errors/bad-args/ring-size-128", 2, FALSE, FALSE, 128, TRUE,
      "qemu-threads: threads_create: ring_size is 128; *\n" },
    { "/errors/bad-args/ring-size-max-plus-1", 1, FALSE, FALSE,
      THREADS_MAX_RING_SIZE + 1, TRUE,
      "qemu-threads: threads_create: ring_size is 65; *\n" },
};

static void test_bad_args(gconstpointer data)
{
    const BadCase *c = data;

    if (g_test_subprocess()) {
        unsigned before = test_thread_baseline();
        Threads *t;

        test_reg_reset(1024, -1);
        if (c->use_options) {
            ThreadsOptions o = threads_options_default();

            o.ring_size = c->ring_size;
            t = threads_create_with_options(
                c->threads_nr, "bad", c->null_init ? NULL : test_req_init,
                test_req_uninit, c->null_handler ? NULL : count_handler,
                check_done, &o, NULL);
        } else {
            t = threads_create(
                c->threads_nr, "bad", c->null_init ? NULL : test_req_init,
                test_req_uninit, c->null_handler ? NULL : count_handler,
                check_done);
        }
        g_assert_null(t);
        /* Refused before making anything. */
        g_assert_cmpuint(test_reg.init_calls, ==, 0);
        g_assert_cmpuint(test_thread_count(), ==, before);
        return;
    }
    run_child_expect_stderr(c->message);
    assert_one_stderr_line();
}

/*
 * With an error channel, the same refusal fills in a ThreadsError (the
 * same text, without the prefix) and prints nothing.
 */
static void test_bad_args_error_channel(gconstpointer data)
{
    const BadCase *c = data;

    if (g_test_subprocess()) {
        ThreadsOptions o = threads_options_default();
        ThreadsError e;
        g_autofree char *want = NULL;
        const char *prefix = "qemu-threads: threads_create: ";
        Threads *t;

        memset(&e, 0x55, sizeof(e));
        test_reg_reset(1024, -1);
        if (c->use_options) {
            o.ring_size = c->ring_size;
        }
        t = threads_create_with_options(
            c->threads_nr, "bad", c->null_init ? NULL : test_req_init,
            test_req_uninit, c->null_handler ? NULL : count_handler,
            check_done, &o, &e);
        g_assert_null(t);
        g_assert_cmpint(e.code, ==, THREADS_ERROR_CODE_INVALID_ARGUMENT);
        g_assert_cmpint(e.os_error, ==, 0);
        g_assert_nonnull(memchr(e.message, 0, sizeof(e.message)));
        g_assert_true(g_str_has_prefix(c->message, prefix));
        want = g_strndup(c->message + strlen(prefix),
                         strlen(c->message) - strlen(prefix) - 1);
        if (!g_pattern_match_simple(want, e.message)) {
            g_error("message '%s' does not match '%s'", e.message, want);
        }
        g_assert_cmpuint(test_reg.init_calls, ==, 0);
        return;
    }
    run_child_expect_stderr("");
}

/* Success clears the error; a failing init is INIT_FAILED. */
static void test_error_channel_ok_and_init(void)
{
    ThreadsError e;
    Threads *t;

    memset(&e, 0x55, sizeof(e));
    test_reg_reset(2 * THREADS_DEFAULT_RING_SIZE, -1);
    t = threads_create_with_options(2, "ok", test_req_init, test_req_uninit,
                                    count_handler, check_done, NULL, &e);
    g_assert_nonnull(t);
    g_assert_cmpint(e.code, ==, THREADS_ERROR_CODE_OK);
    g_assert_cmpint(e.os_error, ==, 0);
    g_assert_cmpstr(e.message, ==, "");
    threads_destroy(t);
    test_reg_check_all_uninit();

    test_reg_reset(2 * THREADS_DEFAULT_RING_SIZE, 3);
    t = threads_create_with_options(2, "initfail", test_req_init,
                                    test_req_uninit, count_handler,
                                    check_done, NULL, &e);
    g_assert_null(t);
    g_assert_cmpint(e.code, ==, THREADS_ERROR_CODE_INIT_FAILED);
    g_assert_cmpstr(e.message, ==, "thread_request_init returned NULL for "
                    "request 3 of 8");
    test_reg_check_all_uninit();
}

/* The limits themselves are accepted. */
static void test_limits_accepted(void)
{
    ThreadsOptions o = threads_options_default();
    unsigned before = test_thread_baseline();
    Threads *t;

    o.ring_size = 1;
    test_reg_reset(THREADS_MAX_THREADS, -1);
    t = threads_create_with_options(THREADS_MAX_THREADS, "max",
                                    test_req_init, test_req_uninit,
                                    count_handler, check_done, &o, NULL);
    g_assert_nonnull(t);
    g_assert_cmpuint(test_thread_count(), ==, before + THREADS_MAX_THREADS);
    threads_destroy(t);
    test_reg_check_all_uninit();

    o.ring_size = THREADS_MAX_RING_SIZE;
    test_reg_reset(THREADS_MAX_RING_SIZE, -1);
    t = threads_create_with_options(1, "ring", test_req_init, test_req_uninit,
                                    count_handler, check_done, &o, NULL);
    g_assert_nonnull(t);
    g_assert_cmpuint(test_reg.inits, ==, THREADS_MAX_RING_SIZE);
    threads_destroy(t);
    test_reg_check_all_uninit();
    g_assert_cmpuint(test_settled_thread_count(before), ==, before);
}

/* ---- init failing at every position ------------------------------------ */

typedef struct InitFailCase {
    unsigned threads;
    unsigned ring;
} InitFailCase;

static void test_init_fails(gconstpointer data)
{
    const InitFailCase *c = data;
    unsigned total = c->threads * c->ring;
    GString *expected;

    if (g_test_subprocess()) {
        unsigned before = test_thread_baseline();
        ThreadsOptions o = threads_options_default();

        o.ring_size = c->ring;
        for (unsigned k = 0; k < total; k++) {
            Threads *t;

            test_reg_reset(total, k);
            t = threads_create_with_options(c->threads, "initfail",
                                            test_req_init, test_req_uninit,
                                            count_handler, check_done, &o, NULL);
            g_assert_null(t);
            /* init stopped at the failing call ... */
            g_assert_cmpuint(test_reg.init_calls, ==, k + 1);
            g_assert_cmpuint(test_reg.inits, ==, k);
            /* ... and each earlier request was uninit'ed once. */
            test_reg_check_all_uninit();
            g_assert_cmpuint(test_settled_thread_count(before), ==, before);
        }
        g_assert_cmpint(g_atomic_int_get(&handled), ==, 0);
        return;
    }
    expected = g_string_new(NULL);
    for (unsigned k = 0; k < total; k++) {
        g_string_append_printf(expected, "qemu-threads: threads_create: "
                               "thread_request_init returned NULL for "
                               "request %u of %u\n", k, total);
    }
    /* One line per failed threads_create, and nothing else. */
    run_child_expect_stderr(expected->str);
    g_string_free(expected, TRUE);
}

/* ---- thread creation failing -------------------------------------------- */

static void spawn_fail_child(void)
{
    unsigned before = test_thread_baseline();
    ThreadsError e;
    Threads *t;

    /* First through the error channel, then printing. */
    test_reg_reset(4 * THREADS_DEFAULT_RING_SIZE, -1);
    t = threads_create_with_options(4, "spawnfail", test_req_init,
                                    test_req_uninit, count_handler,
                                    check_done, NULL, &e);
    g_assert_null(t);
    g_assert_cmpint(e.code, ==, THREADS_ERROR_CODE_SPAWN_FAILED);
    g_assert_cmpint(e.os_error, !=, 0);
    g_assert_true(g_str_has_prefix(e.message, "could not start worker thread"));
    test_reg_check_all_uninit();
    g_assert_cmpuint(test_settled_thread_count(before), ==, before);

    test_reg_reset(4 * THREADS_DEFAULT_RING_SIZE, -1);
    t = threads_create(4, "spawnfail", test_req_init, test_req_uninit,
                       count_handler, check_done);
    g_assert_null(t);
    g_assert_cmpuint(test_reg.inits, ==, 4 * THREADS_DEFAULT_RING_SIZE);
    test_reg_check_all_uninit();
    /* The workers that did start were stopped and joined. */
    g_assert_cmpuint(test_settled_thread_count(before), ==, before);
}

/* VmSize of this process in bytes. */
static rlim_t vm_size(void)
{
    char *status = NULL, *line;
    unsigned long kib = 0;

    g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL,
                                      NULL));
    line = strstr(status, "\nVmSize:");
    g_assert_nonnull(line);
    g_assert_cmpint(sscanf(line, "\nVmSize: %lu kB", &kib), ==, 1);
    g_free(status);
    return (rlim_t)kib * 1024;
}

/*
 * Runs spawn_fail_child() in a child whose address space may grow by
 * `headroom` bytes only. Every worker gets a stack of
 * THREADS_WORKER_STACK_SIZE (2 MiB): 1 MiB of headroom leaves room for no
 * stack, 3 MiB for one but not for four. Sanitizer runtimes and valgrind
 * reserve address space of their own, so the limit cannot be set
 * meaningfully under them.
 */
static gboolean spawn_fail_with_headroom(rlim_t headroom)
{
    if (test_under_any_tool()) {
        g_test_skip("an RLIMIT_AS limit cannot work under a sanitizer or valgrind");
        return FALSE;
    }
    if (g_test_subprocess()) {
        struct rlimit rl;

        /* Make the registry's and the pool's allocations first. */
        test_thread_baseline();
        rl.rlim_cur = rl.rlim_max = vm_size() + headroom;
        g_assert_cmpint(setrlimit(RLIMIT_AS, &rl), ==, 0);
        spawn_fail_child();
        exit(0);
    }
    return TRUE;
}

/* The first worker cannot start: nothing to stop, everything to uninit. */
static void test_spawn_fails_first(void)
{
    if (!spawn_fail_with_headroom(1024 * 1024)) {
        return;
    }
    run_child_expect_stderr("qemu-threads: threads_create: could not start "
                            "worker thread 0: *\n");
    assert_one_stderr_line();
}

/* A later worker cannot start: the ones already started are joined. */
static void test_spawn_fails_later(void)
{
    if (!spawn_fail_with_headroom(3 * 1024 * 1024)) {
        return;
    }
    run_child_expect_stderr("qemu-threads: threads_create: could not start "
                            "worker thread *\n");
    assert_one_stderr_line();
    g_test_trap_assert_stderr_unmatched("*thread 0:*");
}

/* ---- misuse aborts ----------------------------------------------------- */

#define NOT_HANDED_OUT "*qemu-threads: threads_submit_request_commit: the " \
    "request was not handed out by threads_submit_request_prepare on this " \
    "Threads, or was already committed*"

static Threads *misuse_pool(void)
{
    Threads *t;

    test_reg_reset(64, -1);
    t = threads_create(2, "misuse", test_req_init, test_req_uninit,
                       count_handler, check_done);
    g_assert_nonnull(t);
    return t;
}

static void test_commit_foreign(void)
{
    if (g_test_subprocess()) {
        Threads *t = misuse_pool();
        ThreadRequest mine = { { NULL }, 0 };

        threads_submit_request_commit(t, &mine);
        g_assert_not_reached();
    }
    run_child_expect_abort(NOT_HANDED_OUT);
}

static void test_commit_twice(void)
{
    if (g_test_subprocess()) {
        Threads *t = misuse_pool();
        TestReq *r = test_req_prepare(t, FALSE);

        test_req_commit(t, r);
        threads_wait_done(t);
        threads_submit_request_commit(t, &r->tr);
        g_assert_not_reached();
    }
    run_child_expect_abort(NOT_HANDED_OUT);
}

static void test_commit_to_other_pool(void)
{
    if (g_test_subprocess()) {
        Threads *a = misuse_pool();
        Threads *b = threads_create(1, "other", test_req_init,
                                    test_req_uninit, count_handler, check_done);
        ThreadRequest *tr = threads_submit_request_prepare(a);

        g_assert_nonnull(b);
        g_assert_nonnull(tr);
        threads_submit_request_commit(b, tr);
        g_assert_not_reached();
    }
    run_child_expect_abort(NOT_HANDED_OUT);
}

static void test_commit_overwritten_index(void)
{
    if (g_test_subprocess()) {
        Threads *t = misuse_pool();
        ThreadRequest *tr = threads_submit_request_prepare(t);

        tr->thread_index = 1000;
        threads_submit_request_commit(t, tr);
        g_assert_not_reached();
    }
    run_child_expect_abort("*qemu-threads: threads_submit_request_commit: "
                           "the request's thread_index was overwritten*");
}

static void test_commit_null_threads(void)
{
    if (g_test_subprocess()) {
        Threads *t = misuse_pool();
        ThreadRequest *tr = threads_submit_request_prepare(t);

        threads_submit_request_commit(NULL, tr);
        g_assert_not_reached();
    }
    run_child_expect_abort("*qemu-threads: threads_submit_request_commit: "
                           "threads is NULL*");
}

static void test_commit_null_request(void)
{
    if (g_test_subprocess()) {
        Threads *t = misuse_pool();

        threads_submit_request_commit(t, NULL);
        g_assert_not_reached();
    }
    run_child_expect_abort("*qemu-threads: threads_submit_request_commit: "
                           "the request is NULL*");
}

/* -- stderr on a closed pipe ------------------------------------------- */

/*
 * QEMU ignores SIGPIPE and libvirt hands it a pipe as stderr, which may be
 * closed: a refused call must still just return NULL, not abort because
 * its message cannot be written.
 */
static void test_stderr_closed_pipe(void)
{
    if (g_test_subprocess()) {
        int fds[2];
        Threads *t;

        signal(SIGPIPE, SIG_IGN);
        g_assert_cmpint(pipe(fds), ==, 0);
        close(fds[0]);
        g_assert_cmpint(dup2(fds[1], STDERR_FILENO), ==, STDERR_FILENO);
        close(fds[1]);
        t = threads_create(0, "epipe", test_req_init, test_req_uninit,
                           count_handler, check_done);
        g_assert_null(t);
        t = threads_create(1, "epipe", NULL, test_req_uninit,
                           count_handler, check_done);
        g_assert_null(t);
        return;
    }
    run_child_expect_pass();
}

/* -- the one-submitter rule (checked in every build) ------------------- */

#define ONE_SUBMITTER "Threads used by two threads at once, or from inside " \
    "one of its own callbacks; it allows one submitter at a time"

static Threads *busy_pool;
static Gate busy_gate;
static TestReq *busy_spare;

/* done that blocks forever, so that its caller stays inside the pool. */
static void blocking_done(ThreadRequest *tr)
{
    test_req_done(tr);
    gate_pass(&busy_gate);
    g_assert_not_reached();
}

static gpointer second_submitter(gpointer data)
{
    gate_wait_for(&busy_gate, 1);
    if (GPOINTER_TO_INT(data)) {
        threads_submit_request_commit(busy_pool, &busy_spare->tr);
    } else {
        threads_submit_request_prepare(busy_pool);
    }
    g_assert_not_reached();
    return NULL;
}

/*
 * The main thread sits in threads_wait_done (in a done callback that never
 * returns) while a second thread calls prepare or commit: deterministic
 * concurrent use.
 */
static void test_two_submitters(gconstpointer data)
{
    gboolean commit = GPOINTER_TO_INT(data);

    if (g_test_subprocess()) {
        gate_init(&busy_gate, FALSE);
        test_reg_reset(2 * THREADS_DEFAULT_RING_SIZE, -1);
        busy_pool = threads_create(2, "busy", test_req_init, test_req_uninit,
                                   count_handler, blocking_done);
        g_assert_nonnull(busy_pool);
        busy_spare = test_req_prepare(busy_pool, FALSE);
        test_req_commit(busy_pool, test_req_prepare(busy_pool, FALSE));
        g_thread_unref(g_thread_new("second", second_submitter,
                                    GINT_TO_POINTER(commit)));
        threads_wait_done(busy_pool);
        g_assert_not_reached();
    }
    run_child_expect_abort(commit
        ? "*qemu-threads: threads_submit_request_commit: " ONE_SUBMITTER "*"
        : "*qemu-threads: threads_submit_request_prepare: " ONE_SUBMITTER "*");
}

static Threads *reentrant_pool;

static void reentrant_done(ThreadRequest *tr)
{
    test_req_done(tr);
    threads_submit_request_prepare(reentrant_pool);
    g_assert_not_reached();
}

/*
 * A done that calls prepare, run from wait_done or (data TRUE) from destroy,
 * which holds the submitter role until its last done has run.
 */
static void test_done_calls_prepare(gconstpointer data)
{
    gboolean in_destroy = GPOINTER_TO_INT(data);

    if (g_test_subprocess()) {
        test_reg_reset(THREADS_DEFAULT_RING_SIZE, -1);
        reentrant_pool = threads_create(1, "reentrant", test_req_init,
                                        test_req_uninit, count_handler,
                                        reentrant_done);
        g_assert_nonnull(reentrant_pool);
        test_req_commit(reentrant_pool, test_req_prepare(reentrant_pool, FALSE));
        if (in_destroy) {
            threads_destroy(reentrant_pool);
        } else {
            threads_wait_done(reentrant_pool);
        }
        g_assert_not_reached();
    }
    run_child_expect_abort("*qemu-threads: threads_submit_request_prepare: "
                           ONE_SUBMITTER "*");
}

/*
 * A handler that waits for its own pool would wait for itself: caught in
 * every build, whether the submitter is inside a call or not.
 */
static Threads *selfwait_pool;

static void selfwait_handler(ThreadRequest *tr)
{
    test_req_handler_leave(test_req_handler_enter(tr));
    threads_wait_done(selfwait_pool);
    g_assert_not_reached();
}

static void test_handler_calls_wait_done(void)
{
    if (g_test_subprocess()) {
        test_reg_reset(THREADS_DEFAULT_RING_SIZE, -1);
        selfwait_pool = threads_create(1, "selfwait", test_req_init,
                                       test_req_uninit, selfwait_handler,
                                       check_done);
        g_assert_nonnull(selfwait_pool);
        test_req_commit(selfwait_pool, test_req_prepare(selfwait_pool, FALSE));
        /* not inside any call while the handler runs */
        for (;;) {
            g_usleep(G_USEC_PER_SEC);
        }
    }
    run_child_expect_abort("*qemu-threads: threads_wait_done: called from a "
                           "thread_request_handler of the same Threads*");
}

int main(int argc, char **argv)
{
    static const InitFailCase init_fail[] = { { 1, 1 }, { 2, 4 }, { 3, 2 } };

    g_test_init(&argc, &argv, NULL);

    for (unsigned i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/errors/error-channel%s",
                                                bad_cases[i].path +
                                                strlen("/errors"));

        g_test_add_data_func(bad_cases[i].path, &bad_cases[i], test_bad_args);
        g_test_add_data_func(path, &bad_cases[i], test_bad_args_error_channel);
    }
    g_test_add_func("/errors/error-channel/ok-and-init-fails",
                    test_error_channel_ok_and_init);
    g_test_add_func("/errors/limits-accepted", test_limits_accepted);
    for (unsigned i = 0; i < G_N_ELEMENTS(init_fail); i++) {
        char *path = g_strdup_printf("/errors/init-fails/%ux%u",
                                     init_fail[i].threads, init_fail[i].ring);

        g_test_add_data_func(path, &init_fail[i], test_init_fails);
        g_free(path);
    }
    g_test_add_func("/errors/spawn-fails/first-worker", test_spawn_fails_first);
    g_test_add_func("/errors/spawn-fails/later-worker", test_spawn_fails_later);

    g_test_add_func("/errors/misuse/commit-foreign", test_commit_foreign);
    g_test_add_func("/errors/misuse/commit-twice", test_commit_twice);
    g_test_add_func("/errors/misuse/commit-to-other-pool",
                    test_commit_to_other_pool);
    g_test_add_func("/errors/misuse/commit-overwritten-index",
                    test_commit_overwritten_index);
    g_test_add_func("/errors/misuse/commit-null-threads",
                    test_commit_null_threads);
    g_test_add_func("/errors/misuse/commit-null-request",
                    test_commit_null_request);
    g_test_add_data_func("/errors/misuse/two-submitters-prepare",
                         GINT_TO_POINTER(FALSE), test_two_submitters);
    g_test_add_data_func("/errors/misuse/two-submitters-commit",
                         GINT_TO_POINTER(TRUE), test_two_submitters);
    g_test_add_data_func("/errors/misuse/done-calls-prepare",
                         GINT_TO_POINTER(FALSE), test_done_calls_prepare);
    g_test_add_data_func("/errors/misuse/done-in-destroy-calls-prepare",
                         GINT_TO_POINTER(TRUE), test_done_calls_prepare);
    g_test_add_func("/errors/misuse/handler-calls-wait-done",
                    test_handler_calls_wait_done);
    g_test_add_func("/errors/stderr-closed-pipe", test_stderr_closed_pipe);
    return g_test_run();
}
