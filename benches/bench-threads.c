/*
 * bench-threads: qemu-threads against QEMU 7.2's compression-thread model
 * (benches/legacy-model.c), side by side in the same run.
 *
 * Workloads, per request (one 4 KiB page):
 *   empty   the handler does nothing: pure hand-off cost
 *   memcpy  the handler copies the page into the request's output buffer
 *   zlib    deflate level 1 into the output buffer, with a z_stream per
 *           worker thread reused with deflateReset() per page, as QEMU's
 *           qemu_compress_data() does
 *   libdeflate  libdeflate_zlib_compress() level 1, a compressor per
 *           worker thread, as patches/0009-* does (built with libdeflate)
 * The done callback adds the output length to a counter on the submitting
 * thread, as qemu_put_qemu_file() + update_compress_thread_counts() do.
 *
 * Models (one vtable each):
 *   legacy     QEMU 7.2's model, compress-wait-thread=on
 *   ours       threads_submit_request_prepare_wait + commit, wait_done
 *   ours-busy  threads_submit_request_prepare retried in a pause loop
 *   alone      no threads: the handler and done inline on the submitter
 *              (zlib only; "CPU per page of compression alone")
 *
 * Rounds are interleaved (legacy, ours, ..., legacy, ours, ...) and the
 * tables show medians. CPU time and context switches come from
 * getrusage(RUSAGE_SELF), which sums every thread of the process. This
 * prints figures only: it never fails on a figure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define _GNU_SOURCE

#include <glib.h>
#include <zlib.h>
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#include "qemu-threads.h"
#include "legacy-model.h"

#define PAGE_SIZE 4096
#define OUT_SIZE (PAGE_SIZE + 128)      /* > compressBound(4096) = 4110 */
#define NPAGES 512                      /* 2 MiB of "guest RAM" */
#define ZLIB_LEVEL 1
#define MAX_ROUNDS 64
#define MAX_VARIANTS 16

#define container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------ */
/* Workloads                                                           */

typedef enum { WL_EMPTY, WL_MEMCPY, WL_ZLIB, WL_LIBDEFLATE } Workload;

static const char *const workload_names[] = {
    "empty", "memcpy", "zlib", "libdeflate"
};

/* The workload of the model being measured; set before each create. */
static Workload g_workload;
/* Output bytes accounted by done (submitting thread only). */
static uint64_t g_bytes_out;

static uint8_t *g_pages;

/* One worker's compression state (QEMU: CompressParam.stream). */
typedef struct WorkerState {
    z_stream stream;
#ifdef HAVE_LIBDEFLATE
    struct libdeflate_compressor *ld;
#endif
    /* legacy model only: the thread's output (QEMU: CompressParam.file) */
    size_t len;
    uint8_t out[OUT_SIZE];
} WorkerState;

static WorkerState *worker_state_new(void)
{
    WorkerState *s = g_malloc0(sizeof(*s));

    if (deflateInit(&s->stream, ZLIB_LEVEL) != Z_OK) {
        g_free(s);
        return NULL;
    }
#ifdef HAVE_LIBDEFLATE
    s->ld = libdeflate_alloc_compressor(ZLIB_LEVEL);
    if (!s->ld) {
        deflateEnd(&s->stream);
        g_free(s);
        return NULL;
    }
#endif
    return s;
}

static void worker_state_free(WorkerState *s)
{
    deflateEnd(&s->stream);
#ifdef HAVE_LIBDEFLATE
    libdeflate_free_compressor(s->ld);
#endif
    g_free(s);
}

/* The handler's work: the same function for every model. */
static size_t do_work(WorkerState *s, const uint8_t *page, uint8_t *out)
{
    z_stream *stream = &s->stream;

    switch (g_workload) {
    case WL_EMPTY:
        return 0;
    case WL_MEMCPY:
        memcpy(out, page, PAGE_SIZE);
        return PAGE_SIZE;
    case WL_ZLIB:
        /* qemu_compress_data() */
        if (deflateReset(stream) != Z_OK) {
            abort();
        }
        stream->avail_in = PAGE_SIZE;
        stream->next_in = (Bytef *)page;
        stream->avail_out = OUT_SIZE;
        stream->next_out = out;
        if (deflate(stream, Z_FINISH) != Z_STREAM_END) {
            abort();
        }
        return (size_t)(stream->next_out - out);
    case WL_LIBDEFLATE:
#ifdef HAVE_LIBDEFLATE
        {
            size_t n = libdeflate_zlib_compress(s->ld, page, PAGE_SIZE, out,
                                                OUT_SIZE);
            if (!n) {
                abort();
            }
            return n;
        }
#else
        abort();
#endif
    }
    abort();
}

/* Deterministic page content: text-like runs, binary-like (struct/pointer/
 * counter) runs, zero runs and a few high-entropy runs. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void fill_page(uint8_t *p, unsigned index)
{
    static const char *const words[] = {
        "the", "of", "and", "migration", "page", "guest", "memory", "dirty",
        "thread", "qemu", "kernel", "buffer", "error", "return", "static",
        "void", "int", "struct", "if", "else", "while", "for", "NULL",
        "config", "device", "block", "ram", "offset", "size", "value",
        "user", "root", "/usr/lib", "x86_64", "INFO", "DEBUG", "0x0",
        "http://", "<div>", "</div>", "=", "{", "}", ";", "\n", "\t",
    };
    size_t nwords = sizeof(words) / sizeof(words[0]);
    size_t pos = 0;
    int kind = (int)(index % 2);   /* start with text or binary: never all zero */

    rng_state = 0x9E3779B97F4A7C15ULL * (index + 1);
    while (pos < PAGE_SIZE) {
        size_t len = 64 + rng() % 960;
        size_t end = pos + len < PAGE_SIZE ? pos + len : PAGE_SIZE;

        switch (kind) {
        case 0: /* text */
            while (pos < end) {
                const char *w = words[rng() % nwords];
                size_t wl = strlen(w);

                for (size_t i = 0; i < wl && pos < end; i++) {
                    p[pos++] = (uint8_t)w[i];
                }
                if (pos < end) {
                    p[pos++] = ' ';
                }
            }
            break;
        case 1: { /* binary: 8-byte fields */
            uint64_t base = 0x00007f3a00000000ULL | (rng() & 0xfff000);
            uint64_t counter = rng() % 1000;

            while (pos < end) {
                uint64_t v;
                switch (rng() % 4) {
                case 0: v = rng() % 256; break;                 /* small int */
                case 1: v = base + ((rng() % 4096) & ~7ULL); break; /* pointer */
                case 2: v = counter++; break;                   /* counter */
                default: v = rng() & 0xffffffff; break;         /* 32-bit */
                }
                for (int i = 0; i < 8 && pos < end; i++) {
                    p[pos++] = (uint8_t)(v >> (8 * i));
                }
            }
            break;
        }
        case 2: /* zero run */
            memset(p + pos, 0, end - pos);
            pos = end;
            break;
        default: /* high entropy, e.g. already compressed data */
            while (pos < end) {
                p[pos++] = (uint8_t)rng();
            }
            break;
        }
        /* next kind: text 35%, binary 35%, zeros 20%, random 10% */
        {
            unsigned r = (unsigned)(rng() % 100);
            kind = r < 35 ? 0 : r < 70 ? 1 : r < 90 ? 2 : 3;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Models                                                              */

typedef enum { M_LEGACY, M_OURS, M_OURS_BUSY, M_ALONE } ModelKind;

typedef struct Variant {
    char label[64];
    ModelKind kind;
    ThreadsOptions opts;        /* ours, ours-busy */
} Variant;

typedef struct ModelOps {
    void *(*create)(unsigned threads, const Variant *v);
    void (*submit)(void *m, const uint8_t *page);
    void (*flush)(void *m);
    void (*destroy)(void *m);
    /* NULL unless the model has qemu-threads stats */
    void (*stats)(void *m, ThreadsStats *st);
} ModelOps;

/* --- legacy --- */

static void *legacy_thread_init(void)
{
    return worker_state_new();
}

static void legacy_thread_uninit(void *state)
{
    worker_state_free(state);
}

static void legacy_handle(void *state, const uint8_t *page)
{
    WorkerState *s = state;

    s->len = do_work(s, page, s->out);
}

static void legacy_done(void *state)
{
    WorkerState *s = state;

    /* qemu_put_qemu_file(): take the bytes, empty the thread's buffer */
    g_bytes_out += s->len;
    s->len = 0;
}

static const LegacyOps legacy_ops = {
    .thread_init = legacy_thread_init,
    .thread_uninit = legacy_thread_uninit,
    .handle = legacy_handle,
    .done = legacy_done,
};

static void *legacy_create(unsigned threads, const Variant *v)
{
    (void)v;
    return legacy_model_create(threads, &legacy_ops);
}

static void legacy_submit(void *m, const uint8_t *page)
{
    legacy_model_submit(m, page, true);
}

static void legacy_flush(void *m)
{
    legacy_model_flush(m);
}

static void legacy_destroy(void *m)
{
    legacy_model_destroy(m);
}

static const ModelOps legacy_model_ops = {
    legacy_create, legacy_submit, legacy_flush, legacy_destroy, NULL,
};

/* --- ours (qemu-threads) --- */

typedef struct BenchReq {
    ThreadRequest tr;
    const uint8_t *page;
    size_t len;
    _Alignas(64) uint8_t out[OUT_SIZE];
} BenchReq;

typedef struct Ours {
    Threads *threads;
    bool busy;
    unsigned nr;
    WorkerState **streams;      /* one per worker, by thread_index */
} Ours;

/* The pool being created or run: the C ABI's callbacks have no context
 * pointer, and there is one pool at a time. */
static Ours *g_ours;

static ThreadRequest *ours_req_init(void)
{
    BenchReq *r = aligned_alloc(64, (sizeof(BenchReq) + 63) & ~(size_t)63);

    if (!r) {
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    return &r->tr;
}

static void ours_req_uninit(ThreadRequest *tr)
{
    free(container_of(tr, BenchReq, tr));
}

static void ours_handler(ThreadRequest *tr)
{
    BenchReq *r = container_of(tr, BenchReq, tr);

    r->len = do_work(g_ours->streams[tr->thread_index], r->page,
                     r->out);
}

static void ours_done(ThreadRequest *tr)
{
    BenchReq *r = container_of(tr, BenchReq, tr);

    g_bytes_out += r->len;
    r->len = 0;
}

static void ours_destroy(void *m)
{
    Ours *o = m;

    threads_destroy(o->threads);
    for (unsigned i = 0; i < o->nr; i++) {
        if (o->streams[i]) {
            worker_state_free(o->streams[i]);
        }
    }
    g_free(o->streams);
    g_free(o);
    g_ours = NULL;
}

static void *ours_create(unsigned threads, const Variant *v)
{
    Ours *o = g_new0(Ours, 1);

    o->busy = v->kind == M_OURS_BUSY;
    o->nr = threads;
    o->streams = g_new0(WorkerState *, threads);
    g_ours = o;
    for (unsigned i = 0; i < threads; i++) {
        o->streams[i] = worker_state_new();
        if (!o->streams[i]) {
            ours_destroy(o);
            return NULL;
        }
    }
    o->threads = threads_create_with_options(threads, "bench",
                                             ours_req_init, ours_req_uninit,
                                             ours_handler, ours_done,
                                             &v->opts, NULL);
    if (!o->threads) {
        ours_destroy(o);
        return NULL;
    }
    return o;
}

static void ours_submit(void *m, const uint8_t *page)
{
    Ours *o = m;
    ThreadRequest *tr;

    if (o->busy) {
        while (!(tr = threads_submit_request_prepare(o->threads))) {
            cpu_relax();
        }
    } else {
        tr = threads_submit_request_prepare_wait(o->threads);
    }
    container_of(tr, BenchReq, tr)->page = page;
    threads_submit_request_commit(o->threads, tr);
}

static void ours_flush(void *m)
{
    threads_wait_done(((Ours *)m)->threads);
}

static void ours_stats(void *m, ThreadsStats *st)
{
    threads_get_stats(((Ours *)m)->threads, st);
}

static const ModelOps ours_model_ops = {
    ours_create, ours_submit, ours_flush, ours_destroy, ours_stats,
};

/* --- alone: no threads --- */

typedef struct Alone {
    WorkerState *s;
} Alone;

static void *alone_create(unsigned threads, const Variant *v)
{
    Alone *a = g_new0(Alone, 1);

    (void)threads;
    (void)v;
    a->s = worker_state_new();
    if (!a->s) {
        g_free(a);
        return NULL;
    }
    return a;
}

static void alone_submit(void *m, const uint8_t *page)
{
    Alone *a = m;

    g_bytes_out += do_work(a->s, page, a->s->out);
}

static void alone_flush(void *m)
{
    (void)m;
}

static void alone_destroy(void *m)
{
    Alone *a = m;

    worker_state_free(a->s);
    g_free(a);
}

static const ModelOps alone_model_ops = {
    alone_create, alone_submit, alone_flush, alone_destroy, NULL,
};

static const ModelOps *model_ops(ModelKind k)
{
    switch (k) {
    case M_LEGACY: return &legacy_model_ops;
    case M_OURS:
    case M_OURS_BUSY: return &ours_model_ops;
    case M_ALONE: return &alone_model_ops;
    }
    abort();
}

/* ------------------------------------------------------------------ */
/* Measurement                                                         */

typedef struct Sample {
    double rps;             /* requests per second, wall */
    double cpu_ns;          /* process CPU (user+sys) per request */
    double cs;              /* context switches per request */
    double bytes_per_req;   /* output bytes accounted by done */
    bool have_stats;
    double worker_sleeps, worker_wakeups, submitter_sleeps, prepare_full;
} Sample;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_ns(struct timeval tv)
{
    return (double)tv.tv_sec * 1e9 + (double)tv.tv_usec * 1e3;
}

static bool run_once(const Variant *v, Workload wl, unsigned threads,
                     uint64_t n, Sample *out)
{
    const ModelOps *ops = model_ops(v->kind);
    struct rusage r0, r1;
    ThreadsStats s0 = { 0 }, s1 = { 0 };
    uint64_t warm = n / 10 < 1000 ? n / 10 : 1000;
    uint64_t bytes0;
    double t0, t1;
    void *m;

    g_workload = wl;
    m = ops->create(threads, v);
    if (!m) {
        fprintf(stderr, "bench-threads: cannot create model %s\n", v->label);
        return false;
    }
    for (uint64_t i = 0; i < warm; i++) {
        ops->submit(m, g_pages + (i % NPAGES) * PAGE_SIZE);
    }
    ops->flush(m);

    if (ops->stats) {
        ops->stats(m, &s0);
    }
    bytes0 = g_bytes_out;
    getrusage(RUSAGE_SELF, &r0);
    t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        ops->submit(m, g_pages + (i % NPAGES) * PAGE_SIZE);
    }
    ops->flush(m);
    t1 = now_s();
    getrusage(RUSAGE_SELF, &r1);
    if (ops->stats) {
        ops->stats(m, &s1);
    }
    out->bytes_per_req = (double)(g_bytes_out - bytes0) / (double)n;
    ops->destroy(m);

    out->rps = (double)n / (t1 - t0);
    out->cpu_ns = (tv_ns(r1.ru_utime) + tv_ns(r1.ru_stime)
                   - tv_ns(r0.ru_utime) - tv_ns(r0.ru_stime)) / (double)n;
    out->cs = (double)((r1.ru_nvcsw + r1.ru_nivcsw)
                       - (r0.ru_nvcsw + r0.ru_nivcsw)) / (double)n;
    out->have_stats = ops->stats != NULL;
    if (out->have_stats) {
        if (s1.submitted - s0.submitted != n || s1.completed - s0.completed != n) {
            fprintf(stderr, "bench-threads: %s: submitted %llu completed %llu, "
                    "expected %llu\n", v->label,
                    (unsigned long long)(s1.submitted - s0.submitted),
                    (unsigned long long)(s1.completed - s0.completed),
                    (unsigned long long)n);
            return false;
        }
        out->worker_sleeps = (double)(s1.worker_sleeps - s0.worker_sleeps) / (double)n;
        out->worker_wakeups = (double)(s1.worker_wakeups - s0.worker_wakeups) / (double)n;
        out->submitter_sleeps = (double)(s1.submitter_sleeps - s0.submitter_sleeps) / (double)n;
        out->prepare_full = (double)(s1.prepare_full - s0.prepare_full) / (double)n;
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    double tmp[MAX_ROUNDS];

    memcpy(tmp, v, n * sizeof(double));
    qsort(tmp, n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* Options */
static gint opt_rounds;
static gint opt_target_ms = 0;
static gboolean opt_quick;
static gboolean opt_sweep;
static gchar *opt_only_workload;
static gint opt_only_threads;
static gchar *opt_only_model;

typedef struct Group {
    Workload wl;
    unsigned threads;
    unsigned nvar;
    Variant var[MAX_VARIANTS];
} Group;

typedef struct Result {
    uint64_t n;
    Sample s[MAX_ROUNDS];
    double rps, best, cpu_ns, cs, spread, bytes;
    double worker_sleeps, worker_wakeups, submitter_sleeps, prepare_full;
} Result;

static uint64_t calibrate(const Variant *v, Workload wl, unsigned threads,
                          double target_s)
{
    uint64_t n = wl >= WL_ZLIB ? 2000 : 20000;
    Sample s;

    for (;;) {
        double t0 = now_s(), dt;

        if (!run_once(v, wl, threads, n, &s)) {
            exit(1);
        }
        dt = now_s() - t0;
        if (dt > 0.05 || n >= 100000000) {
            break;
        }
        n *= 4;
    }
    n = (uint64_t)(s.rps * target_s);
    return n < 1000 ? 1000 : n;
}

static void run_group(Group *g, Result *res, double target_s)
{
    fprintf(stderr, "# %s, %u thread(s): calibrating", workload_names[g->wl],
            g->threads);
    for (unsigned v = 0; v < g->nvar; v++) {
        res[v].n = calibrate(&g->var[v], g->wl, g->threads, target_s);
    }
    fprintf(stderr, ", rounds");
    for (int r = 0; r < opt_rounds; r++) {
        for (unsigned v = 0; v < g->nvar; v++) {
            if (!run_once(&g->var[v], g->wl, g->threads, res[v].n, &res[v].s[r])) {
                exit(1);
            }
        }
        fprintf(stderr, " %d", r + 1);
    }
    fprintf(stderr, "\n");
    for (unsigned v = 0; v < g->nvar; v++) {
        double a[MAX_ROUNDS];
        Result *x = &res[v];
        unsigned n = (unsigned)opt_rounds;
        double lo = 1e300, hi = 0;

#define MED(field, dst) do {                                    \
            for (unsigned i = 0; i < n; i++) a[i] = x->s[i].field;  \
            x->dst = median(a, n);                                  \
        } while (0)
        MED(rps, rps);
        MED(cpu_ns, cpu_ns);
        MED(cs, cs);
        MED(bytes_per_req, bytes);
        MED(worker_sleeps, worker_sleeps);
        MED(worker_wakeups, worker_wakeups);
        MED(submitter_sleeps, submitter_sleeps);
        MED(prepare_full, prepare_full);
#undef MED
        for (unsigned i = 0; i < n; i++) {
            lo = x->s[i].rps < lo ? x->s[i].rps : lo;
            hi = x->s[i].rps > hi ? x->s[i].rps : hi;
        }
        x->best = hi;
        x->spread = (hi - lo) / x->rps * 100;
    }
}

static void fmt_rate(char *buf, size_t len, double rps)
{
    if (rps >= 1e6) {
        snprintf(buf, len, "%.2fM", rps / 1e6);
    } else if (rps >= 1e3) {
        snprintf(buf, len, "%.1fk", rps / 1e3);
    } else {
        snprintf(buf, len, "%.0f", rps);
    }
}

static void print_loadavg(const char *when)
{
    double l[3];

    if (getloadavg(l, 3) == 3) {
        printf("Load average %s: %.2f %.2f %.2f (%ld CPUs online)\n", when,
               l[0], l[1], l[2], sysconf(_SC_NPROCESSORS_ONLN));
    }
}

static void print_tables(Group *groups, Result (*res)[MAX_VARIANTS],
                         unsigned ngroups)
{
    printf("\n| workload | threads | model | req/s | best | spread | vs legacy | "
           "CPU ns/req | cs/req | CPU vs alone | out B/req |\n"
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (unsigned gi = 0; gi < ngroups; gi++) {
        Group *g = &groups[gi];
        double legacy_rps = 0, alone_cpu = 0;

        for (unsigned v = 0; v < g->nvar; v++) {
            if (g->var[v].kind == M_LEGACY) {
                legacy_rps = res[gi][v].rps;
            }
            if (g->var[v].kind == M_ALONE) {
                alone_cpu = res[gi][v].cpu_ns;
            }
        }
        for (unsigned v = 0; v < g->nvar; v++) {
            Result *x = &res[gi][v];
            char rate[32], best[32], ratio[32] = "", vs_alone[32] = "";

            fmt_rate(rate, sizeof(rate), x->rps);
            fmt_rate(best, sizeof(best), x->best);
            if (legacy_rps > 0 && g->var[v].kind != M_LEGACY) {
                snprintf(ratio, sizeof(ratio), "%.2fx", x->rps / legacy_rps);
            }
            if (alone_cpu > 0 && g->var[v].kind != M_ALONE) {
                snprintf(vs_alone, sizeof(vs_alone), "%+.1f%%",
                         (x->cpu_ns / alone_cpu - 1) * 100);
            }
            printf("| %s | %u | %s | %s | %s | %.0f%% | %s | %.0f | %.3f | %s | %.0f |\n",
                   workload_names[g->wl],
                   g->var[v].kind == M_ALONE ? 0 : g->threads,
                   g->var[v].label, rate, best, x->spread, ratio, x->cpu_ns, x->cs,
                   vs_alone, x->bytes);
        }
    }

    printf("\nqemu-threads counters (threads_get_stats), per request, medians:\n\n"
           "| workload | threads | model | worker sleeps | worker wakeups | "
           "submitter sleeps | prepare_full |\n|---|---:|---|---:|---:|---:|---:|\n");
    for (unsigned gi = 0; gi < ngroups; gi++) {
        Group *g = &groups[gi];

        for (unsigned v = 0; v < g->nvar; v++) {
            Result *x = &res[gi][v];

            if (!x->s[0].have_stats) {
                continue;
            }
            printf("| %s | %u | %s | %.4f | %.4f | %.4f | %.4f |\n",
                   workload_names[g->wl], g->threads, g->var[v].label,
                   x->worker_sleeps, x->worker_wakeups, x->submitter_sleeps,
                   x->prepare_full);
        }
    }
}

static Variant make_variant(const char *label, ModelKind kind)
{
    Variant v;

    memset(&v, 0, sizeof(v));
    g_strlcpy(v.label, label, sizeof(v.label));
    v.kind = kind;
    v.opts = threads_options_default();
    return v;
}

static Variant make_ours(unsigned ring, unsigned spin, unsigned yield,
                         const char *what)
{
    Variant v = make_variant("", M_OURS);

    v.opts.ring_size = ring;
    v.opts.worker_spin = v.opts.submitter_spin = spin;
    v.opts.worker_yield = v.opts.submitter_yield = yield;
    snprintf(v.label, sizeof(v.label), "ours %s r%u s%u y%u", what, ring,
             spin, yield);
    return v;
}

int main(int argc, char **argv)
{
    static GOptionEntry entries[] = {
        { "quick", 'q', 0, G_OPTION_ARG_NONE, &opt_quick,
          "Short rounds (~0.05 s each) for a quick look", NULL },
        { "sweep", 's', 0, G_OPTION_ARG_NONE, &opt_sweep,
          "Compare spin/yield/sleep settings and ring sizes instead", NULL },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &opt_rounds,
          "Interleaved rounds per measurement (default 7, --quick 5)", "N" },
        { "target-ms", 't', 0, G_OPTION_ARG_INT, &opt_target_ms,
          "Wall time per round (default 500, --sweep 300, --quick 50)", "MS" },
        { "workload", 'w', 0, G_OPTION_ARG_STRING, &opt_only_workload,
          "Only this workload (empty, memcpy, zlib or libdeflate)", "NAME" },
        { "threads", 'n', 0, G_OPTION_ARG_INT, &opt_only_threads,
          "Only this worker count", "N" },
        { "model", 'm', 0, G_OPTION_ARG_STRING, &opt_only_model,
          "Only models whose label starts with PREFIX (e.g. legacy, ours, "
          "\"ours (\", alone), for profiling", "PREFIX" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- qemu-threads vs QEMU 7.2's "
                                               "compression threads");
    GError *err = NULL;
    static Group groups[32];
    static Result res[32][MAX_VARIANTS];
    unsigned ngroups = 0;
    double target_s;
    uint64_t in_bytes = 0, z_bytes = 0;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "bench-threads: %s\n", err->message);
        return 2;
    }
    g_option_context_free(ctx);
    if (!opt_rounds) {
        opt_rounds = opt_quick ? 5 : 7;
    }
    if (opt_rounds < 1 || opt_rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench-threads: --rounds must be 1 to %d\n", MAX_ROUNDS);
        return 2;
    }
    target_s = (opt_target_ms > 0 ? opt_target_ms
                : opt_quick ? 50 : opt_sweep ? 300 : 500) / 1000.0;

    g_pages = g_malloc(NPAGES * PAGE_SIZE);
    for (unsigned i = 0; i < NPAGES; i++) {
        fill_page(g_pages + i * PAGE_SIZE, i);
    }
    {   /* describe the data: how well it compresses */
        WorkerState *s = worker_state_new();
        uint8_t *out = g_malloc(OUT_SIZE);
        unsigned zero_bytes = 0;

        g_workload = WL_ZLIB;
        for (unsigned i = 0; i < NPAGES; i++) {
            z_bytes += do_work(s, g_pages + i * PAGE_SIZE, out);
            in_bytes += PAGE_SIZE;
        }
        for (unsigned i = 0; i < NPAGES * PAGE_SIZE; i++) {
            zero_bytes += g_pages[i] == 0;
        }
        printf("Pages: %u x 4 KiB, %.0f%% zero bytes, deflate level %d "
               "to %.1f%% of input.\n", NPAGES,
               100.0 * zero_bytes / (NPAGES * PAGE_SIZE), ZLIB_LEVEL,
               100.0 * (double)z_bytes / (double)in_bytes);
#ifdef HAVE_LIBDEFLATE
        g_workload = WL_LIBDEFLATE;
        z_bytes = 0;
        for (unsigned i = 0; i < NPAGES; i++) {
            z_bytes += do_work(s, g_pages + i * PAGE_SIZE, out);
        }
        printf("libdeflate level %d: to %.1f%% of input.\n", ZLIB_LEVEL,
               100.0 * (double)z_bytes / (double)in_bytes);
#endif
        g_free(out);
        worker_state_free(s);
    }

    if (!opt_sweep) {
        static const Workload wls[] = {
            WL_EMPTY, WL_MEMCPY, WL_ZLIB,
#ifdef HAVE_LIBDEFLATE
            WL_LIBDEFLATE,
#endif
        };
        static const unsigned thr[] = { 1, 2, 4 };

        for (unsigned w = 0; w < G_N_ELEMENTS(wls); w++) {
            for (unsigned t = 0; t < 3; t++) {
                Group *g = &groups[ngroups++];

                g->wl = wls[w];
                g->threads = thr[t];
                g->var[g->nvar++] = make_variant("legacy (QEMU 7.2)", M_LEGACY);
                g->var[g->nvar++] = make_variant("ours (prepare_wait)", M_OURS);
                g->var[g->nvar++] = make_variant("ours-busy (prepare+retry)",
                                                 M_OURS_BUSY);
                if (wls[w] >= WL_ZLIB) {
                    g->var[g->nvar++] = make_variant("alone (no threads)", M_ALONE);
                }
            }
        }
    } else {
        static const Workload wls[] = { WL_EMPTY, WL_ZLIB };
        static const unsigned rings[] = { 4, 16 };

        for (unsigned w = 0; w < 2; w++) {
            for (unsigned t = 1; t <= 2; t++) {
                Group *g = &groups[ngroups++];
                ThreadsOptions d = threads_options_default();

                g->wl = wls[w];
                g->threads = t;
                g->var[g->nvar++] = make_variant("legacy (QEMU 7.2)", M_LEGACY);
                for (unsigned r = 0; r < 2; r++) {
                    g->var[g->nvar++] = make_ours(rings[r], d.worker_spin,
                                                  d.worker_yield, "default");
                    g->var[g->nvar++] = make_ours(rings[r], 100000, 0, "spin");
                    g->var[g->nvar++] = make_ours(rings[r], 50, 8, "short");
                    g->var[g->nvar++] = make_ours(rings[r], 0, 10000, "yield");
                    g->var[g->nvar++] = make_ours(rings[r], 0, 0, "sleep");
                }
                if (wls[w] == WL_ZLIB) {
                    g->var[g->nvar++] = make_variant("alone (no threads)", M_ALONE);
                }
            }
        }
    }

    printf("bench-threads: %s mode, %d interleaved rounds of ~%.0f ms, "
           "medians.\n", opt_sweep ? "sweep" : "full", opt_rounds,
           target_s * 1000);
    {
        ThreadsOptions d = threads_options_default();

        printf("Library defaults: ring_size %u, worker spin/yield %u/%u, "
               "submitter spin/yield %u/%u.\n", d.ring_size, d.worker_spin,
               d.worker_yield, d.submitter_spin, d.submitter_yield);
    }
    {   /* --workload / --threads filters */
        unsigned kept = 0;

        for (unsigned gi = 0; gi < ngroups; gi++) {
            if ((opt_only_workload &&
                 strcmp(opt_only_workload, workload_names[groups[gi].wl])) ||
                (opt_only_threads && (unsigned)opt_only_threads != groups[gi].threads)) {
                continue;
            }
            if (opt_only_model) {
                unsigned nv = 0;

                for (unsigned v = 0; v < groups[gi].nvar; v++) {
                    if (g_str_has_prefix(groups[gi].var[v].label, opt_only_model)) {
                        groups[gi].var[nv++] = groups[gi].var[v];
                    }
                }
                groups[gi].nvar = nv;
                if (!nv) {
                    continue;
                }
            }
            groups[kept++] = groups[gi];
        }
        ngroups = kept;
        if (!ngroups) {
            fprintf(stderr, "bench-threads: --workload/--threads/--model select nothing\n");
            return 2;
        }
    }
    print_loadavg("before");
    fflush(stdout);
    for (unsigned gi = 0; gi < ngroups; gi++) {
        run_group(&groups[gi], res[gi], target_s);
    }
    print_loadavg("after");
    print_tables(groups, res, ngroups);
    printf("\nreq/s: median wall-clock throughput; best: the fastest round; "
           "spread: (max-min)/median\nof req/s over rounds; vs legacy: median "
           "req/s over legacy's median;\nCPU ns/req and cs/req: getrusage(RUSAGE_SELF) "
           "user+sys and nvcsw+nivcsw deltas, all threads,\nper request; "
           "CPU vs alone: CPU per page against the single-threaded loop.\n");
    if (opt_sweep) {
        printf("Sweep labels: r<ring_size> s<spin> y<yield>, the same for "
               "worker and submitter.\n");
    }
    g_free(g_pages);
    return 0;
}
