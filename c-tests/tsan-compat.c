/*
 * Linked into the tsan test programs only.
 *
 * The nightly rustc that builds libqemu_threads_tsan.a (LLVM 15 or later)
 * instruments memory intrinsics as calls to __tsan_memcpy, __tsan_memmove
 * and __tsan_memset; GCC 12's libtsan, which gcc -fsanitize=thread links,
 * predates those entry points (it intercepts memcpy and friends instead).
 * Forwarding them to the C functions, which libtsan intercepts, gives the
 * same range checks the newer runtime does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stddef.h>
#include <string.h>

void *__tsan_memcpy(void *dest, const void *src, size_t n);
void *__tsan_memmove(void *dest, const void *src, size_t n);
void *__tsan_memset(void *dest, int c, size_t n);

void *__tsan_memcpy(void *dest, const void *src, size_t n)
{
    return memcpy(dest, src, n);
}

void *__tsan_memmove(void *dest, const void *src, size_t n)
{
    return memmove(dest, src, n);
}

void *__tsan_memset(void *dest, int c, size_t n)
{
    return memset(dest, c, n);
}
