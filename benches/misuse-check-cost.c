/*
 * What the per-call misuse checks cost, in instructions (see
 * docs/benchmarks-threads.md): a million prepares on a pool whose requests
 * are all handed out. Build against a release libqemu_threads.a and run
 * under valgrind --tool=callgrind:
 *
 *   gcc -O2 -Iinclude benches/misuse-check-cost.c \
 *       build-bench/libqemu_threads.a $(build-aux/rust-native-libs) -o cost
 *   valgrind --tool=callgrind ./cost
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include "qemu-threads.h"
typedef struct { long v; ThreadRequest tr; } Req;
static Req reqs[4];
static int n;
static ThreadRequest *init(void) { return &reqs[n++].tr; }
static void handler(ThreadRequest *tr) { (void)tr; }
int main(void)
{
    Threads *t = threads_create(1, "cg", init, NULL, handler, NULL);
    long nulls = 0;
    for (int i = 0; i < 4; i++) {
        threads_submit_request_prepare(t);      /* all handed out */
    }
    for (long i = 0; i < 1000000; i++) {
        nulls += !threads_submit_request_prepare(t);
    }
    printf("%ld NULL prepares\n", nulls);
    threads_destroy(t);
    return 0;
}
