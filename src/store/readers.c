/*
 * store/readers.c - each thread's read connection (store/store_int.h),
 * shared by the backends.
 */
#include "store/store_int.h"

/* Called by pthreads when a thread that read through the store exits.
 * A writer thread clears its key before it ends, so this only ever sees
 * connections of the list. */
static void destroy(void *p)
{
    struct store_conn *c = p, **pp;
    struct store_readers *r;

    if (c == NULL)
        return;
    r = &c->store->readers;
    pthread_mutex_lock(&r->mu);
    for (pp = &r->list; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    r->free(c);
}

int store_readers_init(struct store *s,
                       struct store_conn *(*open)(struct store *,
                                                  struct hrid_err *),
                       void (*free_conn)(struct store_conn *))
{
    struct store_readers *r = &s->readers;

    r->list = NULL;
    r->open = open;
    r->free = free_conn;
    if (pthread_key_create(&r->key, destroy) != 0)
        return -1;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_key_delete(r->key);
        return -1;
    }
    r->ready = true;
    return 0;
}

struct store_conn *store_readers_get(struct store *s, struct hrid_err *err)
{
    struct store_readers *r = &s->readers;
    struct store_conn *c = pthread_getspecific(r->key);

    if (c != NULL)
        return c;
    c = r->open(s, err);
    if (c == NULL)
        return NULL;
    if (pthread_setspecific(r->key, c) != 0) {
        r->free(c);
        hrid_err_set(err, STORE_EIO, 0, 0,
                     "cannot keep a connection for this thread");
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    c->next = r->list;
    r->list = c;
    pthread_mutex_unlock(&r->mu);
    return c;
}

void store_readers_close(struct store *s)
{
    struct store_readers *r = &s->readers;
    struct store_conn *c, *next;

    if (!r->ready)
        return;
    pthread_key_delete(r->key);
    pthread_mutex_lock(&r->mu);
    for (c = r->list; c != NULL; c = next) {
        next = c->next;
        r->free(c);
    }
    r->list = NULL;
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_destroy(&r->mu);
    r->ready = false;
}
