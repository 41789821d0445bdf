/*
 * The 2018 series' request, spelled as its header spelled it (a
 * QSLIST_ENTRY, then an unsigned int), and compile-time checks that ours
 * matches it on the ABI this is compiled for: 16 bytes on a 64-bit host,
 * 8 on a 32-bit one. Included by test-layout.c, and compiled on its own
 * with -m32 by checks/check-32bit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QEMU_THREADS_SEED_LAYOUT_H
#define QEMU_THREADS_SEED_LAYOUT_H

#include <stdalign.h>
#include <stddef.h>

#include "qemu-threads.h"

typedef struct SeedRequest {
    struct {
        struct SeedRequest *sqe_next;
    } node;
    unsigned int thread_index;
} SeedRequest;

/* Code built against the 2018 header must keep working. */
_Static_assert(sizeof(ThreadRequest) == sizeof(SeedRequest),
               "ThreadRequest is the seed's size");
_Static_assert(alignof(ThreadRequest) == alignof(SeedRequest),
               "ThreadRequest has the seed's alignment");
_Static_assert(offsetof(ThreadRequest, node) == 0, "node first");
_Static_assert(offsetof(ThreadRequest, thread_index) ==
               offsetof(SeedRequest, thread_index), "then the index");
_Static_assert(sizeof(ThreadsStats) == 6 * 8, "six 64-bit counters");

#endif
