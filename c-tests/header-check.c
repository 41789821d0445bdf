/*
 * The generated header must compile on its own, cleanly, as strict C99
 * (built with -std=c99 -pedantic -Wall -Wextra -Werror), and declare the
 * 2018 series' API with its exact signatures.
 */
#include "qemu-threads.h"

#include <stddef.h>

/* Assigning each function to a pointer of the seed's exact type fails to
 * compile if a signature drifts. */
static Threads *(*const create)(unsigned int, const char *,
                                ThreadRequest *(*)(void),
                                void (*)(ThreadRequest *),
                                void (*)(ThreadRequest *),
                                void (*)(ThreadRequest *)) = threads_create;
static void (*const destroy)(Threads *) = threads_destroy;
static ThreadRequest *(*const prepare)(Threads *) =
    threads_submit_request_prepare;
static void (*const commit)(Threads *, ThreadRequest *) =
    threads_submit_request_commit;
static void (*const wait_done)(Threads *) = threads_wait_done;

int main(void)
{
    return !(create && destroy && prepare && commit && wait_done);
}
