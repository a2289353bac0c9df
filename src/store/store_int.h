/*
 * store/store_int.h - what every backend shares with store.c, and nothing
 * else may include.
 *
 * A backend's store and connection structs start with these, so that the
 * wrappers in store.c can reach the operations table from any handle
 * without knowing the backend (as SQLite's sqlite3_file starts with its
 * pMethods pointer).
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <pthread.h>

#include "store/store.h"

/*
 * Each thread's read connection (store/readers.c): made on first use by
 * the backend's open, found through a pthread key, kept in a list so that
 * store_readers_close frees the ones of threads still running, and freed
 * by the backend's free when its thread exits.
 */
struct store_readers {
    pthread_key_t key;
    pthread_mutex_t mu;             /* guards list */
    struct store_conn *list;
    struct store_conn *(*open)(struct store *s, struct hrid_err *err);
    void (*free)(struct store_conn *c);
    bool ready;
};

struct store {
    const struct store_ops *ops;
    struct store_readers readers;
};

struct store_conn {
    struct store *store;
    struct store_conn *next;        /* in store.readers.list */
};

/* Sets up s->readers; -1 when the key or the lock cannot be made. */
int store_readers_init(struct store *s,
                       struct store_conn *(*open)(struct store *,
                                                  struct hrid_err *),
                       void (*free_conn)(struct store_conn *));

/* The calling thread's read connection, or the one a writer thread set
 * (store/writer.h); NULL with err set when none can be opened. */
struct store_conn *store_readers_get(struct store *s, struct hrid_err *err);

/* Frees every read connection; no thread's exit frees one after this. */
void store_readers_close(struct store *s);

#endif
