/*
 * LD_PRELOAD shim for QEMU's destination, so that qemu/tests/dest-stream
 * can steer page decompression without a test hook in QEMU: it delays the
 * decompression of one chosen compressed page (holding one decompression
 * lane back), fails one chosen call, or makes every set-up fail.  It
 * wraps zlib (inflate(), inflateInit()) and libdeflate
 * (libdeflate_zlib_decompress(), libdeflate_alloc_decompressor()), so
 * that it steers a QEMU built with either (patches/0009-*); "inflate"
 * below means either library's call.
 *
 *   QT_SLOW_INFLATE_HEX  hex of the first bytes of the compressed page to
 *                        delay (what inflate() finds at next_in)
 *   QT_SLOW_INFLATE_MS   how long to sleep before inflating it (default 1000)
 *   QT_SLOW_INFLATE_LOG  file that gets one line per delayed call, so the
 *                        test can prove the delay really happened
 *   QT_FAIL_INFLATE_INIT if set, inflateInit() returns Z_MEM_ERROR and
 *                        libdeflate_alloc_decompressor() NULL
 *   QT_SLOW_DEFLATE_US   (source) sleep this many microseconds before
 *                        each page is compressed
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
#include <libdeflate.h>
#include <zlib.h>

typedef int (*inflate_fn)(z_streamp, int);
typedef int (*inflate_init_fn)(z_streamp, const char *, int);
typedef enum libdeflate_result (*ld_decompress_fn)(
    struct libdeflate_decompressor *, const void *, size_t, void *, size_t,
    size_t *);
typedef struct libdeflate_decompressor *(*ld_alloc_fn)(void);

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

static void *real_symbol(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (!f) {
        abort();
    }
    return f;
}

/* Does the input @in start with the bytes QT_SLOW_INFLATE_HEX names? */
static int wanted(const unsigned char *in, size_t avail)
{
    const char *hex = getenv("QT_SLOW_INFLATE_HEX");
    size_t n, i;

    if (!hex || !*hex || strlen(hex) % 2) {
        return 0;
    }
    n = strlen(hex) / 2;
    if (avail < n || !in) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0 || in[i] != (unsigned)(hi << 4 | lo)) {
            return 0;
        }
    }
    return 1;
}

/* Is this the call QT_FAIL_INFLATE_CALL names (counting both libraries)? */
static int fail_this_call(void)
{
    /* Only the count matters, not what other memory it orders. */
    static unsigned long calls;
    const char *fail_at = getenv("QT_FAIL_INFLATE_CALL");

    return fail_at && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) ==
           strtoul(fail_at, NULL, 10);
}

static void maybe_delay(const unsigned char *in, size_t avail)
{
    const char *ms_s = getenv("QT_SLOW_INFLATE_MS");
    const char *log = getenv("QT_SLOW_INFLATE_LOG");
    long ms = ms_s ? atol(ms_s) : 1000;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    FILE *f;

    if (!wanted(in, avail)) {
        return;
    }
    nanosleep(&ts, NULL);
    if (log) {
        f = fopen(log, "a");
        if (f) {
            fprintf(f, "delayed %ld ms, %zu bytes in\n", ms, avail);
            fclose(f);
        }
    }
}

int inflate(z_streamp strm, int flush)
{
    static inflate_fn real;

    if (!real) {
        real = (inflate_fn)real_symbol("inflate");
    }
    if (fail_this_call()) {
        return Z_DATA_ERROR;
    }
    maybe_delay(strm->next_in, strm->avail_in);
    return real(strm, flush);
}

enum libdeflate_result
libdeflate_zlib_decompress(struct libdeflate_decompressor *d, const void *in,
                           size_t in_nbytes, void *out, size_t out_avail,
                           size_t *actual_out)
{
    static ld_decompress_fn real;

    if (!real) {
        real = (ld_decompress_fn)real_symbol("libdeflate_zlib_decompress");
    }
    if (fail_this_call()) {
        return LIBDEFLATE_BAD_DATA;
    }
    maybe_delay(in, in_nbytes);
    return real(d, in, in_nbytes, out, out_avail, actual_out);
}

struct libdeflate_decompressor *libdeflate_alloc_decompressor(void)
{
    static ld_alloc_fn real;

    if (getenv("QT_FAIL_INFLATE_INIT")) {
        return NULL;
    }
    if (!real) {
        real = (ld_alloc_fn)real_symbol("libdeflate_alloc_decompressor");
    }
    return real();
}

/* inflateInit() is a macro for this. */
int inflateInit_(z_streamp strm, const char *version, int stream_size)
{
    static inflate_init_fn real;

    if (getenv("QT_FAIL_INFLATE_INIT")) {
        return Z_MEM_ERROR;
    }
    if (!real) {
        real = (inflate_init_fn)real_symbol("inflateInit_");
    }
    return real(strm, version, stream_size);
}

/*
 * The source side: QT_SLOW_DEFLATE_US=N sleeps N microseconds before each
 * page is compressed, so that compression falls behind the migration
 * thread and sections end with pages still queued, as on a loaded host.
 */
static void deflate_delay(void)
{
    const char *us = getenv("QT_SLOW_DEFLATE_US");

    if (us) {
        struct timespec ts = { 0, atol(us) * 1000L };

        nanosleep(&ts, NULL);
    }
}

typedef int (*deflate_fn)(z_streamp, int);
typedef size_t (*ld_compress_fn)(struct libdeflate_compressor *, const void *,
                                 size_t, void *, size_t);

int deflate(z_streamp strm, int flush)
{
    static deflate_fn real;

    if (!real) {
        real = (deflate_fn)real_symbol("deflate");
    }
    if (flush == Z_FINISH) {
        deflate_delay();
    }
    return real(strm, flush);
}

size_t libdeflate_zlib_compress(struct libdeflate_compressor *c,
                                const void *in, size_t in_nbytes, void *out,
                                size_t out_avail)
{
    static ld_compress_fn real;

    if (!real) {
        real = (ld_compress_fn)real_symbol("libdeflate_zlib_compress");
    }
    deflate_delay();
    return real(c, in, in_nbytes, out, out_avail);
}
