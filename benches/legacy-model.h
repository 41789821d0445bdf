/*
 * legacy-model: a C re-creation of QEMU 7.2's compression-thread model
 * (migration/ram.c), for benches/bench-threads.c to compare against.
 * See legacy-model.c for which QEMU functions it mirrors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef LEGACY_MODEL_H
#define LEGACY_MODEL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * What the threads do, in place of QEMU's zlib stream and QEMUFile.
 * `state` is one thread's CompressParam payload (QEMU: param->stream and
 * param->file), made by thread_init on the creating thread.
 */
typedef struct LegacyOps {
    /* One worker's private state (QEMU: deflateInit + qemu_fopen_ops). */
    void *(*thread_init)(void);
    void (*thread_uninit)(void *state);
    /* On the worker (QEMU: do_compress_ram_page into param->file). */
    void (*handle)(void *state, const uint8_t *page);
    /* On the submitter, under comp_done_lock as in QEMU
     * (QEMU: qemu_put_qemu_file(rs->f, param->file) and
     * update_compress_thread_counts()). */
    void (*done)(void *state);
} LegacyOps;

typedef struct LegacyModel LegacyModel;

/* compress_threads_save_setup(). NULL if a thread cannot be started. */
LegacyModel *legacy_model_create(unsigned threads_nr, const LegacyOps *ops);

/*
 * compress_page_with_multi_thread(): hands `page` to a done thread.
 * With `wait` (compress-wait-thread=on) it waits on comp_done_cond until a
 * thread is done and returns 1; without, it returns -1 when every thread
 * is busy (QEMU then sends the page uncompressed on the migration thread).
 */
int legacy_model_submit(LegacyModel *m, const uint8_t *page, bool wait);

/* flush_compressed_data(): waits for every thread, runs their done. */
void legacy_model_flush(LegacyModel *m);

/* compress_threads_save_cleanup(). */
void legacy_model_destroy(LegacyModel *m);

#endif /* LEGACY_MODEL_H */
