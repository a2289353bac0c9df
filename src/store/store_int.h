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

#include "store/store.h"

struct store {
    const struct store_ops *ops;
};

struct store_conn {
    struct store *store;
};

#endif
