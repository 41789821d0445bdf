/*
 * ThreadRequest layout (the 2018 series' ABI) and embedding a request in a
 * caller's struct at a non-zero offset.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "common.h"

#include <stdalign.h>

#include "seed-layout.h"

static void test_request_layout(void)
{
    g_assert_cmpuint(sizeof(ThreadRequest), ==, sizeof(SeedRequest));
    g_assert_cmpuint(sizeof(ThreadRequest), ==, 2 * sizeof(void *));
    g_assert_cmpuint(alignof(ThreadRequest), ==, alignof(void *));
    g_assert_cmpuint(offsetof(ThreadRequest, node), ==, 0);
    g_assert_cmpuint(offsetof(ThreadRequest, node.sqe_next), ==, 0);
    g_assert_cmpuint(sizeof(ThreadRequestEntry), ==, sizeof(void *));
    g_assert_cmpuint(offsetof(ThreadRequest, thread_index), ==,
                     sizeof(void *));
    g_assert_cmpuint(sizeof(((ThreadRequest *)0)->thread_index), ==,
                     sizeof(unsigned int));
}

static void test_other_layouts(void)
{
    ThreadsOptions o = threads_options_default();

    /* Additive extensions: plain C structs of fixed-size fields. */
    g_assert_cmpuint(sizeof(ThreadsStats), ==, 6 * sizeof(uint64_t));
    g_assert_cmpuint(offsetof(ThreadsStats, submitter_sleeps), ==, 40);
    g_assert_cmpuint(sizeof(ThreadsOptions), ==, 5 * sizeof(unsigned int));
    g_assert_cmpuint(o.ring_size, ==, THREADS_DEFAULT_RING_SIZE);
    g_assert_cmpuint(THREADS_DEFAULT_RING_SIZE, ==, 4);
    g_assert_cmpuint(THREADS_MAX_RING_SIZE, ==, 64);
    g_assert_cmpuint(THREADS_MAX_THREADS, ==, 256);
}

/* ---- a request embedded at a non-zero offset --------------------------- */

#define HEAD_MAGIC 0x1122334455667788ull
#define TAIL_MAGIC 0xa5a5a5a5u

typedef struct EmbeddedReq {
    uint64_t head;          /* fields before the ThreadRequest ... */
    char tag[3];
    ThreadRequest tr;       /* ... so that it is not at offset 0 */
    uint32_t tail;
    uint64_t in;
    uint64_t out;
    unsigned handled;
    unsigned done;
} EmbeddedReq;

_Static_assert(offsetof(EmbeddedReq, tr) != 0, "embedded at non-zero offset");

#define EMBED_THREADS 3
#define EMBED_ROUNDS 1000

static EmbeddedReq *embed_reqs[EMBED_THREADS * THREADS_DEFAULT_RING_SIZE];
static unsigned embed_inits, embed_uninits, embed_dones;

static void check_magic(const EmbeddedReq *r)
{
    g_assert_cmphex(r->head, ==, HEAD_MAGIC);
    g_assert_cmpmem(r->tag, 3, "tag", 3);
    g_assert_cmphex(r->tail, ==, TAIL_MAGIC);
}

static ThreadRequest *embed_init(void)
{
    EmbeddedReq *r = g_new0(EmbeddedReq, 1);

    g_assert_cmpuint(embed_inits, <, G_N_ELEMENTS(embed_reqs));
    embed_reqs[embed_inits++] = r;
    r->head = HEAD_MAGIC;
    memcpy(r->tag, "tag", 3);
    r->tail = TAIL_MAGIC;
    return &r->tr;
}

static void embed_uninit(ThreadRequest *tr)
{
    EmbeddedReq *r = container_of(tr, EmbeddedReq, tr);
    gboolean ours = FALSE;

    for (unsigned i = 0; i < embed_inits; i++) {
        ours |= embed_reqs[i] == r;
    }
    g_assert_true(ours);
    check_magic(r);
    embed_uninits++;
    g_free(r);
}

static void embed_handler(ThreadRequest *tr)
{
    EmbeddedReq *r = container_of(tr, EmbeddedReq, tr);

    g_assert_true((char *)r + offsetof(EmbeddedReq, tr) == (char *)tr);
    check_magic(r);
    g_assert_cmpuint(tr->thread_index, <, EMBED_THREADS);
    r->out = r->in * 3 + 1;
    r->handled++;
}

static void embed_done(ThreadRequest *tr)
{
    EmbeddedReq *r = container_of(tr, EmbeddedReq, tr);

    check_magic(r);
    g_assert_cmpuint(r->out, ==, r->in * 3 + 1);
    g_assert_cmpuint(r->handled, ==, r->done + 1);
    r->done++;
    embed_dones++;
}

static void test_embedded_request(void)
{
    Threads *t = threads_create(EMBED_THREADS, "embed", embed_init,
                                embed_uninit, embed_handler, embed_done);

    g_assert_nonnull(t);
    g_assert_cmpuint(embed_inits, ==, G_N_ELEMENTS(embed_reqs));
    for (unsigned i = 0; i < EMBED_ROUNDS; i++) {
        ThreadRequest *tr = threads_submit_request_prepare_wait(t);
        EmbeddedReq *r;

        g_assert_nonnull(tr);
        r = container_of(tr, EmbeddedReq, tr);
        check_magic(r);
        r->in = i;
        threads_submit_request_commit(t, tr);
    }
    threads_wait_done(t);
    g_assert_cmpuint(embed_dones, ==, EMBED_ROUNDS);
    threads_destroy(t);
    g_assert_cmpuint(embed_uninits, ==, embed_inits);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/layout/thread-request", test_request_layout);
    g_test_add_func("/layout/options-and-stats", test_other_layouts);
    g_test_add_func("/layout/embedded-container-of", test_embedded_request);
    return g_test_run();
}
