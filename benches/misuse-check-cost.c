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
