/*
 * Per-page cost and ratio of the page compressors the series can use, on
 * the non-zero 4 KiB pages of the files named on the command line:
 *
 *   - zlib, called as QEMU 7.2 calls it (deflateReset() + deflate(Z_FINISH)
 *     per page), levels 1 and 6;
 *   - libdeflate (libdeflate_zlib_compress()), levels 1 and 6;
 *   - ISA-L's igzip, one isal_deflate_stateless() call per page writing a
 *     zlib stream (gzip_flag = IGZIP_ZLIB), levels 0 to 3, level 1 with
 *     the smallest and the default level buffer.
 *
 * Every page every compressor wrote is inflated again with zlib's
 * inflate(), as a QEMU 7.2 destination would, and compared: a page that
 * does not come back, or whose stream exceeds compressBound(4096), is
 * counted and makes the program fail.  Also prints what each compressor
 * state costs in memory, and the decompression cost of zlib against
 * libdeflate.  Random (incompressible) pages are added with -r N.
 *
 *   gcc -O2 -Wall -Wextra -o page-codecs page-codecs.c -lisal -ldeflate -lz
 *   ./page-codecs [-r N] FILE...
 */
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define PAGE 4096
#define MAX_PAGES 65536
#define OUT_ROOM (2 * PAGE)

enum { ZLIB, LIBDEFLATE, ISAL };

struct codec {
    const char *name;
    int lib, level;
    size_t level_buf_size;
    /* filled in */
    z_stream zs;
    struct libdeflate_compressor *ld;
    struct isal_zstream is;
    unsigned char *level_buf;
    size_t mem;
};

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "page-codecs: %s\n", what);
    exit(1);
}

static int is_zero(const unsigned char *p)
{
    for (size_t i = 0; i < PAGE; i++) {
        if (p[i]) {
            return 0;
        }
    }
    return 1;
}

static size_t load_pages(unsigned char *pages, char **files, int nfiles)
{
    size_t n = 0;

    for (int i = 0; i < nfiles && n < MAX_PAGES; i++) {
        FILE *f = fopen(files[i], "rb");

        if (!f) {
            continue;
        }
        while (n < MAX_PAGES && fread(pages + n * PAGE, 1, PAGE, f) == PAGE) {
            if (!is_zero(pages + n * PAGE)) {
                n++;
            }
        }
        fclose(f);
    }
    return n;
}

/*
 * zlib's allocation for a deflate stream at the default windowBits and
 * memLevel: the deflate_state (about 5.8 KiB) plus window, prev, head and
 * pending buffers, as its own comment in zconf.h computes.
 */
static size_t zlib_deflate_mem(void)
{
    return (1 << (15 + 2)) + (1 << (8 + 9)) + 6 * 1024;
}

static void codec_init(struct codec *c)
{
    switch (c->lib) {
    case ZLIB:
        if (deflateInit(&c->zs, c->level) != Z_OK) {
            die("deflateInit");
        }
        c->mem = zlib_deflate_mem();
        break;
    case LIBDEFLATE:
        c->ld = libdeflate_alloc_compressor(c->level);
        if (!c->ld) {
            die("libdeflate_alloc_compressor");
        }
        c->mem = 0;     /* measured by the caller with mallinfo, see main() */
        break;
    case ISAL:
        c->level_buf = c->level_buf_size ? malloc(c->level_buf_size) : NULL;
        c->mem = sizeof(struct isal_zstream) + c->level_buf_size;
        break;
    }
}

static size_t compress_page(struct codec *c, const unsigned char *src,
                            unsigned char *dst)
{
    switch (c->lib) {
    case ZLIB:
        deflateReset(&c->zs);
        c->zs.next_in = (unsigned char *)src;
        c->zs.avail_in = PAGE;
        c->zs.next_out = dst;
        c->zs.avail_out = OUT_ROOM;
        if (deflate(&c->zs, Z_FINISH) != Z_STREAM_END) {
            die("deflate");
        }
        return OUT_ROOM - c->zs.avail_out;
    case LIBDEFLATE:
        return libdeflate_zlib_compress(c->ld, src, PAGE, dst, OUT_ROOM);
    case ISAL:
        isal_deflate_stateless_init(&c->is);
        c->is.level = c->level;
        c->is.level_buf = c->level_buf;
        c->is.level_buf_size = c->level_buf_size;
        c->is.gzip_flag = IGZIP_ZLIB;
        c->is.next_in = (unsigned char *)src;
        c->is.avail_in = PAGE;
        c->is.end_of_stream = 1;
        c->is.flush = NO_FLUSH;
        c->is.next_out = dst;
        c->is.avail_out = OUT_ROOM;
        if (isal_deflate_stateless(&c->is) != COMP_OK) {
            die("isal_deflate_stateless");
        }
        return c->is.total_out;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct codec codecs[] = {
        { .name = "zlib-1", .lib = ZLIB, .level = 1, .level_buf_size = 0 },
        { .name = "zlib-6", .lib = ZLIB, .level = 6, .level_buf_size = 0 },
        { .name = "libdeflate-1", .lib = LIBDEFLATE, .level = 1, .level_buf_size = 0 },
        { .name = "libdeflate-6", .lib = LIBDEFLATE, .level = 6, .level_buf_size = 0 },
        { .name = "isal-0", .lib = ISAL, .level = 0, .level_buf_size = 0 },
        { .name = "isal-1-min", .lib = ISAL, .level = 1, .level_buf_size = ISAL_DEF_LVL1_MIN },
        { .name = "isal-1-small", .lib = ISAL, .level = 1, .level_buf_size = ISAL_DEF_LVL1_SMALL },
        { .name = "isal-1", .lib = ISAL, .level = 1, .level_buf_size = ISAL_DEF_LVL1_DEFAULT },
        { .name = "isal-2", .lib = ISAL, .level = 2, .level_buf_size = ISAL_DEF_LVL2_DEFAULT },
        { .name = "isal-3", .lib = ISAL, .level = 3, .level_buf_size = ISAL_DEF_LVL3_DEFAULT },
    };
    size_t ncodecs = sizeof(codecs) / sizeof(codecs[0]);
    unsigned char *pages = malloc((size_t)MAX_PAGES * PAGE);
    unsigned char *zout = malloc((size_t)MAX_PAGES * OUT_ROOM);
    size_t *zlen = malloc(MAX_PAGES * sizeof(*zlen));
    unsigned char back[PAGE];
    z_stream inf = { 0 };
    struct libdeflate_decompressor *ldd = libdeflate_alloc_decompressor();
    size_t n, nrandom = 0, bad = 0;
    int first = 1;
    double t_zlib_dec = 0, t_ld_dec = 0;

    if (argc > 2 && !strcmp(argv[1], "-r")) {
        nrandom = strtoul(argv[2], NULL, 0);
        first = 3;
    }
    if (!pages || !zout || !zlen || !ldd || inflateInit(&inf) != Z_OK) {
        die("out of memory");
    }
    n = load_pages(pages, argv + first, argc - first);
    srandom(1);
    for (size_t i = 0; i < nrandom && n < MAX_PAGES; i++, n++) {
        for (size_t j = 0; j < PAGE; j++) {
            pages[n * PAGE + j] = random();
        }
    }
    if (n == 0) {
        die("no non-zero page in the files given");
    }
    printf("%zu non-zero pages (%zu random); compressBound(4096) = %lu\n",
           n, nrandom, compressBound(PAGE));
    printf("%-13s %9s %7s %9s %8s %6s\n", "codec", "us/page", "ratio",
           "MiB/s in", "state", "bad");
    for (size_t k = 0; k < ncodecs; k++) {
        struct codec *c = &codecs[k];
        size_t bytes = 0, cbad = 0;
        double t0, t;

        codec_init(c);
        /* Warm up, then time the same pages. */
        for (size_t i = 0; i < n && i < 256; i++) {
            compress_page(c, pages + i * PAGE, zout);
        }
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            zlen[i] = compress_page(c, pages + i * PAGE, zout + i * OUT_ROOM);
            bytes += zlen[i];
        }
        t = now() - t0;
        /* What a QEMU 7.2 destination does with each page. */
        for (size_t i = 0; i < n; i++) {
            double d0 = now();

            inflateReset(&inf);
            inf.next_in = zout + i * OUT_ROOM;
            inf.avail_in = zlen[i];
            inf.next_out = back;
            inf.avail_out = PAGE;
            if (zlen[i] == 0 || zlen[i] > compressBound(PAGE) ||
                inflate(&inf, Z_NO_FLUSH) != Z_STREAM_END ||
                inf.total_out != PAGE || memcmp(back, pages + i * PAGE, PAGE)) {
                cbad++;
            }
            if (k == 0) {
                size_t got;

                t_zlib_dec += now() - d0;
                d0 = now();
                if (libdeflate_zlib_decompress(ldd, zout + i * OUT_ROOM,
                                               zlen[i], back, PAGE, &got)
                    != LIBDEFLATE_SUCCESS || got != PAGE) {
                    cbad++;
                }
                t_ld_dec += now() - d0;
            }
        }
        bad += cbad;
        printf("%-13s %9.2f %7.3f %9.1f ", c->name, t / n * 1e6,
               (double)n * PAGE / bytes, n * PAGE / t / 1048576.0);
        if (c->lib == LIBDEFLATE) {
            printf("%8s %6zu\n", "-", cbad);
        } else {
            printf("%7.1fK %6zu\n", c->mem / 1024.0, cbad);
        }
    }
    printf("decompress zlib-1 pages: zlib %.2f us/page, libdeflate %.2f us/page\n",
           t_zlib_dec / n * 1e6, t_ld_dec / n * 1e6);
    printf("pages zlib's inflate() did not give back: %zu\n", bad);
    return bad != 0;
}
