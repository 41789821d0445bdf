/*
 * Per-page cost of zlib level 1 as QEMU 7.2's compression threads use it
 * (deflateReset() + deflate(Z_FINISH) on each 4 KiB page) against
 * libdeflate level 1, and of zlib's inflate() against libdeflate's
 * decompressor, on the non-zero pages of the files named on the command
 * line.  Also checks that zlib inflates every page libdeflate compressed,
 * i.e. that a libdeflate source keeps QEMU's wire format.
 *
 *   gcc -O2 -Wall -Wextra -o deflate-per-page deflate-per-page.c -ldeflate -lz
 */
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define PAGE 4096
#define MAX_PAGES 65536

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
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

/* Reads the non-zero pages of the files into pages[]; returns how many. */
static size_t load_pages(unsigned char *pages, int argc, char **argv)
{
    size_t n = 0;

    for (int i = 1; i < argc && n < MAX_PAGES; i++) {
        FILE *f = fopen(argv[i], "rb");

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

static void die(const char *what)
{
    fprintf(stderr, "deflate-per-page: %s\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    unsigned char *pages = malloc((size_t)MAX_PAGES * PAGE);
    unsigned char *zout = malloc((size_t)MAX_PAGES * 2 * PAGE);
    size_t *zlen = malloc(MAX_PAGES * sizeof(*zlen));
    unsigned char out[2 * PAGE], back[PAGE];
    z_stream ds = { 0 }, is = { 0 };
    struct libdeflate_compressor *lc = libdeflate_alloc_compressor(1);
    struct libdeflate_decompressor *ld = libdeflate_alloc_decompressor();
    size_t n, zbytes = 0, lbytes = 0, mismatches = 0;
    double t0, t_zlib, t_ldefl, t_inflate, t_linfl;

    if (!pages || !zout || !zlen || !lc || !ld ||
        deflateInit(&ds, 1) != Z_OK || inflateInit(&is) != Z_OK) {
        die("out of memory");
    }
    n = load_pages(pages, argc, argv);
    if (n == 0) {
        die("no non-zero page in the files given");
    }

    t0 = now();
    for (size_t i = 0; i < n; i++) {
        deflateReset(&ds);
        ds.next_in = pages + i * PAGE;
        ds.avail_in = PAGE;
        ds.next_out = zout + i * 2 * PAGE;
        ds.avail_out = 2 * PAGE;
        if (deflate(&ds, Z_FINISH) != Z_STREAM_END) {
            die("deflate failed");
        }
        zlen[i] = 2 * PAGE - ds.avail_out;
        zbytes += zlen[i];
    }
    t_zlib = now() - t0;

    t0 = now();
    for (size_t i = 0; i < n; i++) {
        size_t r = libdeflate_zlib_compress(lc, pages + i * PAGE, PAGE,
                                            out, sizeof(out));
        if (!r) {
            die("libdeflate_zlib_compress failed");
        }
        lbytes += r;
    }
    t_ldefl = now() - t0;

    t0 = now();
    for (size_t i = 0; i < n; i++) {
        inflateReset(&is);
        is.next_in = zout + i * 2 * PAGE;
        is.avail_in = zlen[i];
        is.next_out = back;
        is.avail_out = PAGE;
        if (inflate(&is, Z_FINISH) != Z_STREAM_END) {
            die("inflate failed");
        }
    }
    t_inflate = now() - t0;

    t0 = now();
    for (size_t i = 0; i < n; i++) {
        size_t got;

        if (libdeflate_zlib_decompress(ld, zout + i * 2 * PAGE, zlen[i],
                                       back, PAGE, &got) != LIBDEFLATE_SUCCESS ||
            got != PAGE || memcmp(back, pages + i * PAGE, PAGE)) {
            die("libdeflate_zlib_decompress failed");
        }
    }
    t_linfl = now() - t0;

    /* The wire-format check: zlib must inflate what libdeflate made. */
    for (size_t i = 0; i < n; i++) {
        size_t r = libdeflate_zlib_compress(lc, pages + i * PAGE, PAGE,
                                            out, sizeof(out));
        inflateReset(&is);
        is.next_in = out;
        is.avail_in = r;
        is.next_out = back;
        is.avail_out = PAGE;
        if (inflate(&is, Z_FINISH) != Z_STREAM_END ||
            memcmp(back, pages + i * PAGE, PAGE)) {
            mismatches++;
        }
    }

    printf("%zu non-zero pages\n", n);
    printf("compress:   zlib-1 %.1f us/page (ratio %.2f), libdeflate-1 %.1f us/page"
           " (ratio %.2f): %.2fx faster\n",
           t_zlib / n * 1e6, (double)n * PAGE / zbytes,
           t_ldefl / n * 1e6, (double)n * PAGE / lbytes, t_zlib / t_ldefl);
    printf("decompress: zlib %.1f us/page, libdeflate %.1f us/page: %.2fx faster\n",
           t_inflate / n * 1e6, t_linfl / n * 1e6, t_inflate / t_linfl);
    printf("pages of libdeflate that zlib failed to inflate: %zu\n", mismatches);
    return mismatches != 0;
}
