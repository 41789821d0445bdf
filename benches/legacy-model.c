/*
 * legacy-model: QEMU 7.2's compression-thread model, re-created in plain C
 * with pthreads so that the benchmark can run it side by side with
 * qemu-threads on the same workloads.
 *
 * Mirrors migration/ram.c of QEMU v7.2.0 (checked against the 7.2.0 tree
 * that qemu/build-qemu unpacks):
 *   - struct CompressParam (per-thread `mutex` and `cond`, `done` and `quit`
 *     flags; the trigger is `param->block != NULL`, here `param->page`)
 *   - comp_done_lock / comp_done_cond (here fields of LegacyModel instead
 *     of file-scope statics, so the benchmark can make several models)
 *   - do_data_compress()                 -> legacy_worker()
 *   - compress_threads_save_setup()      -> legacy_model_create()
 *   - compress_threads_save_cleanup()    -> legacy_model_destroy()
 *   - compress_page_with_multi_thread()  -> legacy_model_submit()
 *   - flush_compressed_data()            -> legacy_model_flush()
 *   - set_compress_params()              -> set_compress_params()
 * and the work hooks stand for do_compress_ram_page() (ops->handle) and for
 * qemu_put_qemu_file(rs->f, param->file) followed by
 * update_compress_thread_counts() (ops->done).
 *
 * QEMU 8.1 replaced the `block != NULL` trigger with a `bool trigger` and
 * moved the result flush under param->mutex; the locking and the
 * cond signal/wait pattern, which is what the benchmark measures, are the
 * same. QemuMutex/QemuCond are plain pthread mutexes/conds without
 * CONFIG_DEBUG_MUTEX, as used here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "legacy-model.h"

typedef struct CompressParam {
    bool done;
    bool quit;
    void *state;            /* QEMU: file + stream + originbuf */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    const uint8_t *page;    /* QEMU: block + offset; non-NULL = trigger */
    LegacyModel *model;     /* QEMU: the file-scope statics */
} CompressParam;

struct LegacyModel {
    unsigned thread_count;
    const LegacyOps *ops;
    CompressParam *comp_param;
    pthread_t *compress_threads;
    /*
     * comp_done_cond is used to wake up the migration thread when
     * one of the compression threads has finished the compression.
     * comp_done_lock is used to co-work with comp_done_cond.
     */
    pthread_mutex_t comp_done_lock;
    pthread_cond_t comp_done_cond;
};

/* do_data_compress() */
static void *legacy_worker(void *opaque)
{
    CompressParam *param = opaque;
    LegacyModel *m = param->model;
    const uint8_t *page;

    pthread_mutex_lock(&param->mutex);
    while (!param->quit) {
        if (param->page) {
            page = param->page;
            param->page = NULL;
            pthread_mutex_unlock(&param->mutex);

            m->ops->handle(param->state, page);

            pthread_mutex_lock(&m->comp_done_lock);
            param->done = true;
            pthread_cond_signal(&m->comp_done_cond);
            pthread_mutex_unlock(&m->comp_done_lock);

            pthread_mutex_lock(&param->mutex);
        } else {
            pthread_cond_wait(&param->cond, &param->mutex);
        }
    }
    pthread_mutex_unlock(&param->mutex);

    return NULL;
}

/* compress_threads_save_cleanup() */
void legacy_model_destroy(LegacyModel *m)
{
    unsigned i;

    if (!m) {
        return;
    }
    for (i = 0; i < m->thread_count; i++) {
        /* QEMU uses comp_param[i].file as the "initialised" indicator */
        if (!m->comp_param[i].state) {
            break;
        }
        pthread_mutex_lock(&m->comp_param[i].mutex);
        m->comp_param[i].quit = true;
        pthread_cond_signal(&m->comp_param[i].cond);
        pthread_mutex_unlock(&m->comp_param[i].mutex);

        pthread_join(m->compress_threads[i], NULL);
        pthread_mutex_destroy(&m->comp_param[i].mutex);
        pthread_cond_destroy(&m->comp_param[i].cond);
        m->ops->thread_uninit(m->comp_param[i].state);
        m->comp_param[i].state = NULL;
    }
    pthread_mutex_destroy(&m->comp_done_lock);
    pthread_cond_destroy(&m->comp_done_cond);
    free(m->compress_threads);
    free(m->comp_param);
    free(m);
}

/* compress_threads_save_setup() */
LegacyModel *legacy_model_create(unsigned threads_nr, const LegacyOps *ops)
{
    LegacyModel *m = calloc(1, sizeof(*m));
    unsigned i;

    if (!m) {
        return NULL;
    }
    m->thread_count = threads_nr;
    m->ops = ops;
    m->compress_threads = calloc(threads_nr, sizeof(pthread_t));
    m->comp_param = calloc(threads_nr, sizeof(CompressParam));
    pthread_cond_init(&m->comp_done_cond, NULL);
    pthread_mutex_init(&m->comp_done_lock, NULL);
    if (!m->compress_threads || !m->comp_param) {
        m->thread_count = 0;
        legacy_model_destroy(m);
        return NULL;
    }
    for (i = 0; i < threads_nr; i++) {
        CompressParam *param = &m->comp_param[i];
        void *state = ops->thread_init();

        if (!state) {
            goto exit;
        }
        param->model = m;
        param->state = state;
        param->done = true;
        param->quit = false;
        pthread_mutex_init(&param->mutex, NULL);
        pthread_cond_init(&param->cond, NULL);
        if (pthread_create(&m->compress_threads[i], NULL, legacy_worker,
                           param) != 0) {
            pthread_mutex_destroy(&param->mutex);
            pthread_cond_destroy(&param->cond);
            ops->thread_uninit(state);
            param->state = NULL;    /* cleanup stops here, as at !file */
            goto exit;
        }
    }
    return m;

exit:
    fprintf(stderr, "legacy-model: could not set up compression thread %u\n", i);
    legacy_model_destroy(m);
    return NULL;
}

/* flush_compressed_data() */
void legacy_model_flush(LegacyModel *m)
{
    unsigned idx;

    pthread_mutex_lock(&m->comp_done_lock);
    for (idx = 0; idx < m->thread_count; idx++) {
        while (!m->comp_param[idx].done) {
            pthread_cond_wait(&m->comp_done_cond, &m->comp_done_lock);
        }
    }
    pthread_mutex_unlock(&m->comp_done_lock);

    for (idx = 0; idx < m->thread_count; idx++) {
        pthread_mutex_lock(&m->comp_param[idx].mutex);
        if (!m->comp_param[idx].quit) {
            /* qemu_put_qemu_file() + update_compress_thread_counts() */
            m->ops->done(m->comp_param[idx].state);
        }
        pthread_mutex_unlock(&m->comp_param[idx].mutex);
    }
}

/* set_compress_params() */
static inline void set_compress_params(CompressParam *param,
                                       const uint8_t *page)
{
    param->page = page;
}

/* compress_page_with_multi_thread() */
int legacy_model_submit(LegacyModel *m, const uint8_t *page, bool wait)
{
    unsigned idx;
    int pages = -1;

    pthread_mutex_lock(&m->comp_done_lock);
retry:
    for (idx = 0; idx < m->thread_count; idx++) {
        if (m->comp_param[idx].done) {
            m->comp_param[idx].done = false;
            /* bytes_xmit = qemu_put_qemu_file(rs->f, ...file);
             * update_compress_thread_counts() comes after the signal in
             * QEMU; both are the submitter's bookkeeping, done here. */
            m->ops->done(m->comp_param[idx].state);
            pthread_mutex_lock(&m->comp_param[idx].mutex);
            set_compress_params(&m->comp_param[idx], page);
            pthread_cond_signal(&m->comp_param[idx].cond);
            pthread_mutex_unlock(&m->comp_param[idx].mutex);
            pages = 1;
            break;
        }
    }

    /*
     * wait for the free thread if the user specifies 'compress-wait-thread',
     * otherwise we will post the page out in the main thread as normal page.
     */
    if (pages < 0 && wait) {
        pthread_cond_wait(&m->comp_done_cond, &m->comp_done_lock);
        goto retry;
    }
    pthread_mutex_unlock(&m->comp_done_lock);

    return pages;
}
