/*
 * workload.c - the demo guest's only program: PID 1 of a Linux guest booted
 * from an initramfs.  It dirties memory at a set rate over a working set,
 * with content that compresses like real memory, remembers per page what it
 * last wrote (sequence number, checksum), keeps re-reading and verifying
 * pages, and reports on the serial console:
 *
 *   workload: start ws=64MiB pages=16384 rate=16MiB/s vrate=128MiB/s ...
 *   workload: ready fill=0.8s
 *   workload: page idx=123 paddr=0x5a3c000          (a few, for tests)
 *   workload: hb t=12 written=98304 verified=1048576 passes=64 corrupt=0
 *   workload: CORRUPT idx=123 paddr=0x... want seq=5 sum=... got ...
 *
 * Parameters, from the kernel command line (/proc/cmdline):
 *   workload.ws=MiB      working set (default 64)
 *   workload.rate=MiB/s  dirtying rate; 0 = as fast as it can (default 16)
 *   workload.vrate=MiB/s verification rate; 0 = as fast as it can
 *                        (default 128; the guest idles in between)
 *   workload.hb=ms       heartbeat interval (default 1000)
 *   workload.seed=N      content seed (default 1)
 *   workload.random=PCT  share of pages (taken from the binary-like share)
 *                        filled with incompressible random bytes (default 0)
 *   workload.idle=1      fill the working set, then only send heartbeats:
 *                        no dirtying, no verification (default 0)
 *
 * It never exits (PID 1 must not): on a fatal error it reports and sleeps.
 *
 * Build: gcc -static -O2 -o init workload.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / 8)
#define MAGIC 0x57304c5047504151ull /* page header magic */
#define MAX_REPORTS 32              /* CORRUPT lines printed in full */

struct meta {
    uint64_t seq;  /* 0: never written */
    uint64_t sum;  /* checksum of the page as last written */
};

static struct {
    unsigned ws_mib, rate_mib, vrate_mib, hb_ms;
    uint64_t seed;
    unsigned random_pct, idle;
} cfg = { 64, 16, 128, 1000, 1, 0, 0 };

static uint8_t *pages;
static struct meta *meta;
static uint64_t npages;
static uint64_t written, verified, passes, corrupt, reports;
static uint64_t pfn_ok; /* 1 if /proc/self/pagemap gives PFNs */

/* ---- output ------------------------------------------------------------ */

static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n = snprintf(buf, sizeof buf, "workload: ");
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2) {
        n = sizeof buf - 2;
    }
    buf[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(1, buf + off, n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        off += w;
    }
}

static void hang(const char *why)
{
    say("FATAL %s: %s; idling forever", why, strerror(errno));
    for (;;) {
        pause();
    }
}

/* ---- time -------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    if (s <= 0) {
        return;
    }
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- randomness and checksums ------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix64(*s);
}

static uint64_t checksum(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t a = 0x243f6a8885a308d3ull, b = 0x13198a2e03707344ull;
    for (unsigned i = 0; i < WORDS; i += 2) {
        a = (a ^ w[i]) * 0x100000001b3ull;
        b = (b ^ w[i + 1]) * 0xc2b2ae3d27d4eb4full;
        a = (a << 23) | (a >> 41);
    }
    return mix64(a ^ (b * 3));
}

/* ---- page content ------------------------------------------------------- */

static const char *const dict[] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
    "was", "with", "be", "by", "on", "not", "he", "this", "are", "or",
    "memory", "page", "migration", "thread", "compress", "request",
    "kernel", "device", "buffer", "return", "static", "const", "struct",
    "error", "value", "size", "offset", "block", "queue", "worker",
    "#include", "<stdio.h>", "int", "void", "char", "unsigned", "if", "else",
    "while", "0x7f", "NULL", "{", "}", "();", "=", "==", "+=", "->",
    "/usr/lib", "x86_64-linux-gnu", "LANG=C.UTF-8", "PATH=/usr/bin",
};
#define NDICT (sizeof dict / sizeof dict[0])

/* Kinds, chosen per (page, seq): ~30% zero, ~35% text, ~35% binary, of
 * which workload.random percent (default 0) are random bytes instead. */
enum { KIND_ZERO, KIND_TEXT, KIND_BINARY, KIND_RANDOM };

static int page_kind(uint64_t idx, uint64_t seq)
{
    unsigned k = mix64(cfg.seed ^ (idx << 20) ^ seq ^ 0xabcdef) % 100;
    return k < 30 ? KIND_ZERO : k < 65 ? KIND_TEXT :
           k < 100 - cfg.random_pct ? KIND_BINARY : KIND_RANDOM;
}

static void fill_text(uint8_t *p, uint64_t *rs)
{
    unsigned off = 0, col = 0;
    while (off < PAGE) {
        uint64_t r = rng_next(rs);
        const char *w = dict[r % NDICT];
        size_t len = strlen(w);
        for (size_t i = 0; i < len && off < PAGE; i++) {
            p[off++] = w[i];
        }
        col += len + 1;
        if (off < PAGE) {
            p[off++] = (col > 60 || ((r >> 32) & 15) == 0) ? '\n' : ' ';
            if (p[off - 1] == '\n') {
                col = 0;
            }
        }
    }
}

static void fill_binary(uint8_t *p, uint64_t *rs)
{
    uint64_t *w = (uint64_t *)p;
    unsigned i = 0;
    while (i < WORDS) {
        uint64_t r = rng_next(rs);
        unsigned run = 4 + (r & 31);
        switch ((r >> 8) & 7) {
        case 0: case 1: /* struct-like: small integers and flags */
            for (unsigned j = 0; j < run && i < WORDS; j++, i++) {
                w[i] = (rng_next(rs) & 0xfff) | ((uint64_t)(j & 3) << 32);
            }
            break;
        case 2: case 3: /* pointers into a kernel-like heap */
            for (unsigned j = 0; j < run && i < WORDS; j++, i++) {
                w[i] = 0xffff888000000000ull | ((r >> 16) & 0xfffff000) |
                       ((rng_next(rs) & 0x3f) << 3);
            }
            break;
        case 4: /* zero run */
            for (unsigned j = 0; j < run * 2 && i < WORDS; j++, i++) {
                w[i] = 0;
            }
            break;
        case 5: /* repeated pattern */
            for (unsigned j = 0; j < run && i < WORDS; j++, i++) {
                w[i] = r;
            }
            break;
        default: /* incompressible bytes */
            for (unsigned j = 0; j < run / 2 && i < WORDS; j++, i++) {
                w[i] = rng_next(rs);
            }
            break;
        }
    }
}

/* Write page idx with sequence seq; record what was written. */
static void write_page(uint64_t idx, uint64_t seq)
{
    uint8_t *p = pages + idx * PAGE;
    int kind = page_kind(idx, seq);
    if (kind == KIND_ZERO) {
        memset(p, 0, PAGE);
    } else {
        uint64_t rs = mix64(cfg.seed * 0x1000193 + (idx << 24) + seq);
        if (kind == KIND_TEXT) {
            fill_text(p, &rs);
        } else if (kind == KIND_RANDOM) {
            uint64_t *w = (uint64_t *)p;
            for (unsigned i = 0; i < WORDS; i++) {
                w[i] = rng_next(&rs);
            }
        } else {
            fill_binary(p, &rs);
        }
        /* A header, so a stale copy of the page is recognisable. */
        uint64_t *h = (uint64_t *)p;
        h[0] = MAGIC;
        h[1] = idx;
        h[2] = seq;
    }
    meta[idx].seq = seq;
    meta[idx].sum = checksum(p);
    written++;
}

static uint64_t paddr_of(uint64_t idx)
{
    static int fd = -2;
    uint64_t ent;
    if (fd == -2) {
        fd = open("/proc/self/pagemap", O_RDONLY);
    }
    if (fd < 0) {
        return 0;
    }
    uintptr_t va = (uintptr_t)(pages + idx * PAGE);
    if (pread(fd, &ent, 8, (va / PAGE) * 8) != 8 || !(ent >> 63)) {
        return 0;
    }
    return (ent & ((1ull << 55) - 1)) * PAGE;
}

static void verify_page(uint64_t idx)
{
    const uint8_t *p = pages + idx * PAGE;
    uint64_t sum = checksum(p);
    verified++;
    if (sum == meta[idx].sum) {
        return;
    }
    corrupt++;
    if (reports++ < MAX_REPORTS) {
        const uint64_t *h = (const uint64_t *)p;
        unsigned nz = 0;
        for (unsigned i = 0; i < WORDS; i++) {
            nz += h[i] != 0;
        }
        say("CORRUPT idx=%" PRIu64 " paddr=0x%" PRIx64 " want seq=%" PRIu64
            " sum=%016" PRIx64 " got sum=%016" PRIx64 " hdr=%s idx=%" PRIu64
            " seq=%" PRIu64 " nonzero_words=%u",
            idx, paddr_of(idx), meta[idx].seq, meta[idx].sum, sum,
            h[0] == MAGIC ? "ok" : "none", h[1], h[2], nz);
    } else if (reports == MAX_REPORTS + 1) {
        say("CORRUPT (further pages counted in heartbeats only)");
    }
    /* Rewrite it, so one bad page is counted once. */
    write_page(idx, meta[idx].seq + 1);
}

/* ---- setup ---------------------------------------------------------------- */

static void parse_cmdline(void)
{
    char buf[4096];
    int fd = open("/proc/cmdline", O_RDONLY);
    if (fd < 0) {
        say("cannot read /proc/cmdline: %s; using defaults", strerror(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = 0;
    for (char *tok = strtok(buf, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
        unsigned long long v;
        char *end;
        if (strncmp(tok, "workload.", 9)) {
            continue;
        }
        char *eq = strchr(tok, '=');
        if (!eq) {
            continue;
        }
        errno = 0;
        v = strtoull(eq + 1, &end, 0);
        if (errno || *end || end == eq + 1) {
            say("ignoring bad parameter %s", tok);
            continue;
        }
        *eq = 0;
        if (!strcmp(tok, "workload.ws") && v > 0 && v < (1u << 20)) {
            cfg.ws_mib = v;
        } else if (!strcmp(tok, "workload.rate") && v < (1u << 20)) {
            cfg.rate_mib = v;
        } else if (!strcmp(tok, "workload.vrate") && v < (1u << 20)) {
            cfg.vrate_mib = v;
        } else if (!strcmp(tok, "workload.hb") && v >= 10 && v < 3600000) {
            cfg.hb_ms = v;
        } else if (!strcmp(tok, "workload.seed")) {
            cfg.seed = v;
        } else if (!strcmp(tok, "workload.random") && v <= 35) {
            cfg.random_pct = v;
        } else if (!strcmp(tok, "workload.idle") && v <= 1) {
            cfg.idle = v;
        } else {
            say("ignoring unknown or out-of-range parameter %s=%s", tok, eq + 1);
        }
    }
}

static void setup_system(void)
{
    /* Console: the kernel opens /dev/console for us if the initramfs has
     * it; fall back to devtmpfs' node. */
    mkdir("/proc", 0555);
    mkdir("/sys", 0555);
    mkdir("/dev", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    if (fcntl(1, F_GETFD) < 0) {
        int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2) {
                close(fd);
            }
        }
    }
    /* Keep the working set where it is, so physical addresses stay valid. */
    int fd = open("/proc/sys/vm/compact_unevictable_allowed", O_WRONLY);
    if (fd >= 0) {
        (void)!write(fd, "0\n", 2);
        close(fd);
    }
    /* PID 1 gets no default signal handlers that kill it, but reap any
     * child (there are none) and ignore terminal signals anyway. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
}

/* Prints a heartbeat line when one is due at time t (start: workload start),
 * and schedules the next one; a late heartbeat does not cause a burst. */
static void heartbeat(double t, double start, double *next_hb)
{
    if (t < *next_hb) {
        return;
    }
    say("hb t=%.0f written=%" PRIu64 " verified=%" PRIu64 " passes=%" PRIu64
        " corrupt=%" PRIu64, t - start, written, verified, passes, corrupt);
    *next_hb += cfg.hb_ms / 1000.0;
    if (*next_hb < t) {
        *next_hb = t + cfg.hb_ms / 1000.0;
    }
}

int main(void)
{
    setup_system();
    parse_cmdline();

    npages = (uint64_t)cfg.ws_mib * (1024 * 1024 / PAGE);
    say("start ws=%uMiB pages=%" PRIu64 " rate=%uMiB/s vrate=%uMiB/s hb=%ums seed=%" PRIu64,
        cfg.ws_mib, npages, cfg.rate_mib, cfg.vrate_mib, cfg.hb_ms, cfg.seed);
    if (cfg.random_pct || cfg.idle) {
        say("random=%u%% idle=%u%s", cfg.random_pct, cfg.idle,
            cfg.idle ? " (fill, then heartbeats only)" : "");
    }

    meta = mmap(NULL, npages * sizeof *meta, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pages = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (meta == MAP_FAILED || pages == MAP_FAILED) {
        hang("mmap of the working set failed");
    }
    madvise(pages, npages * PAGE, MADV_NOHUGEPAGE);
    if (mlock(pages, npages * PAGE) < 0 || mlock(meta, npages * sizeof *meta) < 0) {
        say("mlock failed: %s (continuing)", strerror(errno));
    }

    double t0 = now();
    for (uint64_t i = 0; i < npages; i++) {
        write_page(i, 1);
    }
    say("ready fill=%.1fs", now() - t0);
    for (unsigned k = 0; k < 8; k++) {
        uint64_t idx = (npages / 8) * k + npages / 16;
        uint64_t pa = paddr_of(idx);
        pfn_ok |= pa != 0;
        say("page idx=%" PRIu64 " paddr=0x%" PRIx64, idx, pa);
    }

    /* Main loop: writes are paced to rate, verification to vrate; each
     * round does what is due, then sleeps until the next thing is due. */
    const double wpps = cfg.rate_mib * 256.0;  /* pages per second */
    const double vpps = cfg.vrate_mib * 256.0;
    const unsigned batch = 64;
    uint64_t rs = mix64(cfg.seed ^ 0x5eed);
    uint64_t vnext = 0, wdue_base = written, vdue_base = verified;
    double start = now(), next_hb = start + cfg.hb_ms / 1000.0;
    double rbase = start;

    while (cfg.idle) {
        double t = now();
        heartbeat(t, start, &next_hb);
        sleep_s(next_hb - t > 0 ? next_hb - t : 0.01);
    }

    for (;;) {
        double t = now();
        /* Rates are measured from rbase; if we fall far behind (e.g. the
         * VM was paused), restart the pacing instead of bursting. */
        uint64_t wdue = cfg.rate_mib ? (uint64_t)((t - rbase) * wpps) : UINT64_MAX;
        uint64_t vdue = cfg.vrate_mib ? (uint64_t)((t - rbase) * vpps) : UINT64_MAX;
        uint64_t wdone = written - wdue_base, vdone = verified - vdue_base;
        if (t - rbase > 2.0 &&
            ((cfg.rate_mib && wdue > wdone + wpps) || (cfg.vrate_mib && vdue > vdone + vpps))) {
            rbase = t;
            wdue_base = written;
            vdue_base = verified;
            continue;
        }
        int did = 0;
        if (wdone < wdue) {
            unsigned n = cfg.rate_mib && wdue - wdone < batch ? wdue - wdone : batch;
            for (unsigned i = 0; i < n; i++) {
                uint64_t idx = rng_next(&rs) % npages;
                write_page(idx, meta[idx].seq + 1);
            }
            did = 1;
        }
        if (vdone < vdue) {
            unsigned n = cfg.vrate_mib && vdue - vdone < batch ? vdue - vdone : batch;
            for (unsigned i = 0; i < n; i++) {
                verify_page(vnext);
                if (++vnext == npages) {
                    vnext = 0;
                    passes++;
                }
            }
            did = 1;
        }
        heartbeat(t, start, &next_hb);
        if (!did) {
            /* Nothing due: sleep until the next page is due (at most 10ms). */
            double nw = cfg.rate_mib ? rbase + (wdone + 1) / wpps : t + 0.01;
            double nv = cfg.vrate_mib ? rbase + (vdone + 1) / vpps : t + 0.01;
            double nt = nw < nv ? nw : nv;
            if (nt > next_hb) {
                nt = next_hb;
            }
            if (nt > t + 0.01) {
                nt = t + 0.01;
            }
            sleep_s(nt - t);
        }
    }
}
