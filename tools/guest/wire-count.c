/*
 * LD_PRELOAD shim for a destination QEMU (scripts/bench-migration): counts
 * the bytes that really arrive on its sockets, so that the benchmark knows
 * what a migration put on the wire whatever QEMU's own counters say (QEMU
 * 7.2's query-migrate "transferred" counts multifd-zlib/zstd pages
 * uncompressed).  Not part of the guest: a host-side helper built with cc
 * into the benchmark's run folder.
 *
 * It wraps read(), readv(), recv(), recvfrom() and recvmsg() (QEMU's
 * QIOChannelSocket reads with recvmsg()) and sums their return values on
 * socket fds, in two counters:
 *
 *   other      sockets whose local AF_UNIX address is QT_WIRE_EXCLUDE (the
 *              destination's QMP socket: the benchmark's own commands)
 *   migration  every other socket (the migration stream, all multifd
 *              channels; the destination has no other socket)
 *
 * Whether an fd is a socket, and which kind, is looked up once
 * (getsockname()) and cached until close() of that fd.  At exit (a
 * destructor: QMP quit or SIGTERM make QEMU exit normally) it writes
 *
 *   migration_bytes N
 *   migration_calls N
 *   other_bytes N
 *   other_calls N
 *
 * to the file named by QT_WIRE_OUT (nothing if unset).  Counters are
 * atomic: multifd receive threads read concurrently.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD 65536

enum { UNKNOWN = 0, NOT_SOCKET, MIGRATION, OTHER };

static unsigned char kind[MAX_FD];
static uint64_t bytes[4], calls[4];

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *,
                               socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef int (*close_fn)(int);

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (!f) {
        abort();
    }
    return f;
}

static int classify(int fd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    const char *ex;

    memset(&sa, 0, sizeof(sa));
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        return NOT_SOCKET;
    }
    ex = getenv("QT_WIRE_EXCLUDE");
    if (ex && *ex && sa.sun_family == AF_UNIX &&
        len > offsetof(struct sockaddr_un, sun_path) &&
        strncmp(sa.sun_path, ex, sizeof(sa.sun_path)) == 0) {
        return OTHER;
    }
    return MIGRATION;
}

static void count(int fd, ssize_t n)
{
    int k;

    if (n <= 0 || fd < 0) {
        return;
    }
    if (fd >= MAX_FD) {
        k = classify(fd);
    } else {
        k = __atomic_load_n(&kind[fd], __ATOMIC_RELAXED);
        if (k == UNKNOWN) {
            k = classify(fd);
            __atomic_store_n(&kind[fd], (unsigned char)k, __ATOMIC_RELAXED);
        }
    }
    if (k == MIGRATION || k == OTHER) {
        __atomic_fetch_add(&bytes[k], (uint64_t)n, __ATOMIC_RELAXED);
        __atomic_fetch_add(&calls[k], 1, __ATOMIC_RELAXED);
    }
}

ssize_t read(int fd, void *buf, size_t n)
{
    static read_fn f;
    ssize_t r;

    if (!f) {
        f = (read_fn)real("read");
    }
    r = f(fd, buf, n);
    count(fd, r);
    return r;
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    static readv_fn f;
    ssize_t r;

    if (!f) {
        f = (readv_fn)real("readv");
    }
    r = f(fd, iov, cnt);
    count(fd, r);
    return r;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    static recv_fn f;
    ssize_t r;

    if (!f) {
        f = (recv_fn)real("recv");
    }
    r = f(fd, buf, n, flags);
    if (!(flags & MSG_PEEK)) {
        count(fd, r);
    }
    return r;
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
                 struct sockaddr *addr, socklen_t *alen)
{
    static recvfrom_fn f;
    ssize_t r;

    if (!f) {
        f = (recvfrom_fn)real("recvfrom");
    }
    r = f(fd, buf, n, flags, addr, alen);
    if (!(flags & MSG_PEEK)) {
        count(fd, r);
    }
    return r;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static recvmsg_fn f;
    ssize_t r;

    if (!f) {
        f = (recvmsg_fn)real("recvmsg");
    }
    r = f(fd, msg, flags);
    if (!(flags & MSG_PEEK)) {
        count(fd, r);
    }
    return r;
}

int close(int fd)
{
    static close_fn f;

    if (!f) {
        f = (close_fn)real("close");
    }
    if (fd >= 0 && fd < MAX_FD) {
        __atomic_store_n(&kind[fd], UNKNOWN, __ATOMIC_RELAXED);
    }
    return f(fd);
}

__attribute__((destructor)) static void wire_count_report(void)
{
    const char *path = getenv("QT_WIRE_OUT");
    FILE *o;

    if (!path || !*path) {
        return;
    }
    o = fopen(path, "w");
    if (!o) {
        return;
    }
    fprintf(o, "migration_bytes %llu\nmigration_calls %llu\n"
            "other_bytes %llu\nother_calls %llu\n",
            (unsigned long long)__atomic_load_n(&bytes[MIGRATION],
                                                __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&calls[MIGRATION],
                                                __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&bytes[OTHER],
                                                __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&calls[OTHER],
                                                __ATOMIC_RELAXED));
    fclose(o);
}
