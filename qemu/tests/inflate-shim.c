/*
 * LD_PRELOAD shim for QEMU's destination, so that qemu/tests/dest-stream
 * can steer zlib without a test hook in QEMU: it delays inflate() for one
 * chosen compressed page (holding one decompression lane back), fails one
 * chosen inflate() call, or makes every inflateInit() fail.
 *
 *   QT_SLOW_INFLATE_HEX  hex of the first bytes of the compressed page to
 *                        delay (what inflate() finds at next_in)
 *   QT_SLOW_INFLATE_MS   how long to sleep before inflating it (default 1000)
 *   QT_SLOW_INFLATE_LOG  file that gets one line per delayed call, so the
 *                        test can prove the delay really happened
 *   QT_FAIL_INFLATE_INIT if set, inflateInit() returns Z_MEM_ERROR
 *   QT_FAIL_INFLATE_CALL N: the Nth inflate() call (counting from 1, over
 *                        all threads) returns Z_DATA_ERROR without
 *                        inflating, as a corrupted page on a live socket
 *
 * The sleep comes before the real inflate(), which writes straight into
 * guest memory: the page keeps its old content until the delay is over.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

typedef int (*inflate_fn)(z_streamp, int);
typedef int (*inflate_init_fn)(z_streamp, const char *, int);

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Does the input at next_in start with the bytes QT_SLOW_INFLATE_HEX names? */
static int wanted(const z_streamp strm)
{
    const char *hex = getenv("QT_SLOW_INFLATE_HEX");
    size_t n, i;

    if (!hex || !*hex || strlen(hex) % 2) {
        return 0;
    }
    n = strlen(hex) / 2;
    if (strm->avail_in < n || !strm->next_in) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0 || strm->next_in[i] != (unsigned)(hi << 4 | lo)) {
            return 0;
        }
    }
    return 1;
}

int inflate(z_streamp strm, int flush)
{
    static inflate_fn real;
    /* Only the count matters, not what other memory it orders. */
    static unsigned long calls;
    const char *fail_at;

    if (!real) {
        real = (inflate_fn)dlsym(RTLD_NEXT, "inflate");
        if (!real) {
            abort();
        }
    }
    fail_at = getenv("QT_FAIL_INFLATE_CALL");
    if (fail_at && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) ==
        strtoul(fail_at, NULL, 10)) {
        return Z_DATA_ERROR;
    }
    if (wanted(strm)) {
        const char *ms_s = getenv("QT_SLOW_INFLATE_MS");
        const char *log = getenv("QT_SLOW_INFLATE_LOG");
        long ms = ms_s ? atol(ms_s) : 1000;
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
        if (log) {
            FILE *f = fopen(log, "a");

            if (f) {
                fprintf(f, "delayed %ld ms, %u bytes in\n", ms, strm->avail_in);
                fclose(f);
            }
        }
    }
    return real(strm, flush);
}

/* inflateInit() is a macro for this. */
int inflateInit_(z_streamp strm, const char *version, int stream_size)
{
    static inflate_init_fn real;

    if (getenv("QT_FAIL_INFLATE_INIT")) {
        return Z_MEM_ERROR;
    }
    if (!real) {
        real = (inflate_init_fn)dlsym(RTLD_NEXT, "inflateInit_");
        if (!real) {
            abort();
        }
    }
    return real(strm, version, stream_size);
}
