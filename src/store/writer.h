/*
 * store/writer.h - group commit, shared by the backends.
 *
 * Layer: src/store.  A backend owns one write connection and hands it to
 * a struct store_writer, whose thread runs every store_write function on
 * it: it takes every queued job (up to batch_max), runs them in one
 * transaction (each after the first inside its own savepoint), runs the
 * precommit hook, commits once and only then wakes the callers.  One commit (one fsync, and with
 * PostgreSQL one turn of the log sequencer) then covers a whole batch.
 * Jobs run one at a time in arrival order, so each sees the writes of the
 * ones before it.  If the backend abandons the transaction under a job
 * (a full disk, a broken connection), the jobs that had succeeded in it
 * learn that they failed, and the rest go on in a new transaction.
 */
#ifndef STORE_WRITER_H
#define STORE_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* The transaction steps a backend runs for the writer. */
enum store_tx {
    STORE_TX_BEGIN,         /* a write transaction (and its locks) */
    STORE_TX_SAVEPOINT,
    STORE_TX_RELEASE,
    STORE_TX_ROLLBACK_TO,   /* the savepoint, which stays open */
    STORE_TX_COMMIT,
    STORE_TX_ROLLBACK
};

struct store_writer_ops {
    /* Runs a step on conn; 0, or -1 with the reason in msg. */
    int (*step)(struct store_conn *conn, enum store_tx what, char *msg,
                size_t cap);
    /* Whether the backend gave up the open transaction (msg: why). */
    bool (*lost)(struct store_conn *conn, char *msg, size_t cap);
    /* After each job's function (may be NULL): the job's failure that the
     * backend learns only now (a write it sent without waiting). */
    int (*finish)(struct store_conn *conn, struct hrid_err *err);
    /* After a batch's callers were woken (may be NULL). */
    void (*after)(struct store_conn *conn);
};

struct store_job;

struct store_writer {
    const struct store_writer_ops *ops;
    struct store_conn *conn;
    pthread_key_t key;          /* the backend's per-thread connection key */
    size_t batch_max;

    pthread_t thread;
    pthread_mutex_t mu;         /* guards the queue, stopping, precommit */
    pthread_cond_t work;
    struct store_job *head, *tail;
    bool stopping;
    bool started;

    store_precommit_fn precommit;
    void *precommit_arg;
};

/*
 * Starts the writer thread on conn.  Inside a write function, the
 * backend's store_conn (found through key) returns conn.  Returns 0, or -1
 * when a lock or the thread cannot be made (nothing is left to stop).
 */
int store_writer_start(struct store_writer *w,
                       const struct store_writer_ops *ops,
                       struct store_conn *conn, pthread_key_t key,
                       size_t batch_max);

/* Runs the queued jobs, then stops the thread.  For a started writer. */
void store_writer_stop(struct store_writer *w);

/* Queues fn.  Without done (store_write), waits until its transaction
 * is over and returns fn's result.  With done (store_write_async),
 * returns STORE_OK once queued, and done(done_arg, result) runs on the
 * writer's thread once the transaction is over; any other result means
 * done is never called. */
int store_writer_run(struct store_writer *w, store_write_fn fn, void *arg,
                     struct hrid_err *err, store_done_fn done,
                     void *done_arg);

void store_writer_set_precommit(struct store_writer *w,
                                store_precommit_fn fn, void *arg);

#endif
