/*
 * store/writer.c - group commit, shared by the backends (store/writer.h).
 */
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store/writer.h"

/* One store_write call, on its caller's stack until done is set; or one
 * store_write_async call, allocated here and freed by the writer. */
struct store_job {
    store_write_fn fn;
    void *arg;
    struct hrid_err *err;
    int result;
    struct store_job *next;     /* under the writer's mu */
    store_done_fn notify;       /* store_write_async's; NULL for a waiter */
    void *notify_arg;
    /*
     * 0 until the job's transaction is over, then 1: the writer's last
     * touch of the job.  Each caller sleeps on its own word, so that a
     * commit wakes only the callers it carried.  A futex rather than a
     * condition variable: a woken caller then need not take the
     * writer's mutex again, which every caller of a batch woke to find
     * held (a fifth of a request thread's time under a load of events),
     * and the writer can wake it after letting go of the job, which a
     * condition on the caller's stack would not allow.
     */
    atomic_uint done;
};

static void job_wait(atomic_uint *done)
{
    while (atomic_load_explicit(done, memory_order_acquire) == 0)
        syscall(SYS_futex, done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

/* The caller may return as soon as done is 1: the wake only names the
 * address, and a wake of a word reused since is a spurious one, which
 * every futex waiter allows for. */
static void job_wake(atomic_uint *done)
{
    atomic_store_explicit(done, 1, memory_order_release);
    syscall(SYS_futex, done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Tells a job's caller that its transaction is over: the writer's last
 * touch of the job. */
static void job_end(struct store_job *j)
{
    store_done_fn notify = j->notify;
    void *arg = j->notify_arg;
    int result = j->result;

    if (notify == NULL) {
        job_wake(&j->done);
        return;
    }
    free(j);
    notify(arg, result);
}

static void fail_job(struct store_job *j, const char *what, const char *msg)
{
    j->result = hrid_err_set(j->err, STORE_EIO, 0, 0, "%s: %s", what, msg);
}

/*
 * Runs jobs[0..n) in as few transactions as possible: normally one.  The
 * first job of a transaction runs without a savepoint, since rolling back
 * the transaction undoes it alone; the rest of the batch then goes on in
 * a new one.  A savepoint makes SQLite copy every page a job changes to a
 * journal of its own first, which for a lone large job (a bulk
 * registration, a recall) doubled what it wrote.
 */
static void run_batch(struct store_writer *w, struct store_job **jobs,
                      size_t n, store_precommit_fn precommit,
                      void *precommit_arg)
{
    const struct store_writer_ops *ops = w->ops;
    struct store_conn *c = w->conn;
    char msg[HRID_ERR_MSG_MAX];
    size_t i = 0, first, k;
    bool lost, over;

    while (i < n) {
        first = i;
        if (ops->step(c, STORE_TX_BEGIN, msg, sizeof msg) != 0) {
            for (; i < n; i++)
                fail_job(jobs[i], "cannot begin a write transaction", msg);
            return;
        }
        lost = over = false;
        for (; i < n && !lost && !over; i++) {
            struct store_job *j = jobs[i];
            bool sp = i > first;

            if (sp && ops->step(c, STORE_TX_SAVEPOINT, msg, sizeof msg) != 0) {
                fail_job(j, "cannot begin a savepoint", msg);
                lost = ops->lost(c, msg, sizeof msg);
                continue;
            }
            j->result = j->fn(c, j->arg, j->err);
            if (ops->finish != NULL) {
                struct hrid_err fe;
                int f;

                hrid_err_clear(&fe);
                f = ops->finish(c, &fe);
                if (f != STORE_OK && j->result == STORE_OK) {
                    *j->err = fe;
                    j->result = f;
                }
            }
            if (ops->lost(c, msg, sizeof msg))
                lost = true;
            else if (j->result != STORE_OK && !sp)
                over = true;        /* rolled back below, alone */
            else if (j->result != STORE_OK)
                lost = ops->step(c, STORE_TX_ROLLBACK_TO, msg,
                                 sizeof msg) != 0 ||
                       ops->step(c, STORE_TX_RELEASE, msg, sizeof msg) != 0;
            else if (sp)
                lost = ops->step(c, STORE_TX_RELEASE, msg, sizeof msg) != 0;
        }
        if (!lost && !over && precommit != NULL) {
            struct hrid_err pe;

            hrid_err_clear(&pe);
            if (precommit(c, precommit_arg, &pe) != STORE_OK) {
                snprintf(msg, sizeof msg, "%s", pe.msg);
                lost = true;
            }
        }
        if (!lost && !over &&
            ops->step(c, STORE_TX_COMMIT, msg, sizeof msg) == 0)
            continue;
        /* Nothing of this transaction is kept: every job in it that had
         * succeeded is told so; the ones that failed keep their own
         * result, which they would have had anyway. */
        {
            char ignored[HRID_ERR_MSG_MAX];

            ops->step(c, STORE_TX_ROLLBACK, ignored, sizeof ignored);
        }
        for (k = first; k < i; k++)
            if (jobs[k]->result == STORE_OK)
                fail_job(jobs[k], "write transaction failed", msg);
    }
}

static void *writer_main(void *arg)
{
    struct store_writer *w = arg;
    struct store_job *batch[512];
    store_precommit_fn precommit;
    void *precommit_arg;
    size_t n, i, max = w->batch_max;

    if (max == 0 || max > sizeof batch / sizeof batch[0])
        max = sizeof batch / sizeof batch[0];
    /* A write function that asks for store_conn gets the writer's own
     * connection, so it sees the transaction's writes. */
    pthread_setspecific(w->key, w->conn);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->head == NULL) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        for (n = 0; n < max && w->head != NULL; n++) {
            batch[n] = w->head;
            w->head = w->head->next;
        }
        if (w->head == NULL)
            w->tail = NULL;
        precommit = w->precommit;
        precommit_arg = w->precommit_arg;
        pthread_mutex_unlock(&w->mu);

        run_batch(w, batch, n, precommit, precommit_arg);

        for (i = 0; i < n; i++)
            job_end(batch[i]);
        if (w->ops->after != NULL)
            w->ops->after(w->conn);
    }
    pthread_setspecific(w->key, NULL);
    return NULL;
}

int store_writer_start(struct store_writer *w,
                       const struct store_writer_ops *ops,
                       struct store_conn *conn, pthread_key_t key,
                       size_t batch_max)
{
    memset(w, 0, sizeof *w);
    w->ops = ops;
    w->conn = conn;
    w->key = key;
    w->batch_max = batch_max;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&w->work, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    w->started = true;
    return 0;
}

void store_writer_stop(struct store_writer *w)
{
    if (!w->started)
        return;
    /* The thread drains the queue before it sees stopping. */
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    w->started = false;
}

/* Queues j; false when the writer is stopping and would never run it. */
static bool enqueue(struct store_writer *w, struct store_job *j)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    if (w->tail != NULL)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_mutex_unlock(&w->mu);
    /* After unlocking, so that the writer does not wake to a held mutex:
     * the queue changed under it, so the writer either saw the job or
     * is waiting and gets the signal. */
    pthread_cond_signal(&w->work);
    return true;
}

int store_writer_run(struct store_writer *w, store_write_fn fn, void *arg,
                     struct hrid_err *err, store_done_fn done,
                     void *done_arg)
{
    struct store_job job = {.fn = fn, .arg = arg, .err = err}, *j = &job;

    if (done != NULL) {
        if ((j = calloc(1, sizeof *j)) == NULL)
            return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
        *j = job;
        j->notify = done;
        j->notify_arg = done_arg;
    } else if (pthread_equal(pthread_self(), w->thread)) {
        /* The writer would wait for itself. */
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "store_write called inside a write function");
    }
    if (!enqueue(w, j)) {
        if (j != &job)
            free(j);
        return hrid_err_set(err, STORE_EIO, 0, 0, "the store is closing");
    }
    if (done != NULL)
        return STORE_OK;
    job_wait(&job.done);
    return job.result;
}

void store_writer_set_precommit(struct store_writer *w,
                                store_precommit_fn fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    w->precommit = fn;
    w->precommit_arg = arg;
    pthread_mutex_unlock(&w->mu);
}
