/*
 * core/demo.h - the launch-scale demo fleet (DESIGN §1: 100+ makers, 200+
 * models, 28,000+ coded units).
 *
 * Layer: src/core, trusted code above the core API.  The seeder writes
 * only through the core_* operations, acting as each party in turn (the
 * platform operator, the regulator, makers, sellers, owners, service
 * providers, recyclers), so every record it leaves passed the same rules
 * as a request from outside: the state machine, custody, the order of
 * events in time.  Nothing is written around the rules.
 *
 * The fleet is deterministic for a given seed (a PRNG of its own, one
 * stream per unit, so the thread count does not change the data): the
 * same seed gives the same enterprises, models, parties and unit codes.
 * Event times are in the past, spread from January 2025 to the end of
 * the day before the call (UTC), so histories depend on the date the
 * seeder runs;
 * grants, and the service and recycling work done under them, are dated
 * at the time of seeding, because the registry dates a grant when it is
 * recorded.
 */
#ifndef CORE_DEMO_H
#define CORE_DEMO_H

#include <stdint.h>

#include "core/core.h"

/* Defaults: the launch figures of the reference deployment. */
#define CORE_DEMO_ENTERPRISES 100
#define CORE_DEMO_MODELS      200
#define CORE_DEMO_UNITS       28000
#define CORE_DEMO_SEED        1
/* Eight writers keep the store's group commit batches full enough that
 * one fsync covers several events on a small machine. */
#define CORE_DEMO_THREADS     8

struct core_demo_opts {
    int enterprises;   /* 1-2000 */
    int models;        /* 1-10000 */
    int units;         /* 0-2,000,000 */
    uint64_t seed;
    int threads;       /* 1-64 */
};

struct core_demo_result {
    char regulator_key[64];   /* API keys (core_key_create), NUL-ended */
    char maker_key[64];       /* sample_code's maker */
    char owner_key[64];       /* sample_code's owner, who runs it */
    int64_t units;            /* units registered */
    int64_t events;           /* events recorded: registrations, lifecycle
                                 events and grants */
    char sample_code[30];     /* a unit in service with an owner, of the
                                 largest maker when it has one; "" when no
                                 unit is in service (keys then go to the
                                 largest maker and owner) */
};

/* Sets o to the defaults above. */
void core_demo_opts_init(struct core_demo_opts *o);

/*
 * Seeds a fresh registry (no manufacturer enrolled yet) with a demo fleet
 * of o's size (NULL: the defaults), using o->threads writer threads.
 * Returns CORE_OK and fills res, or a core status with err saying what
 * failed: CORE_ECONFLICT "not_empty" when the registry already has
 * enterprises, CORE_EINVALID for options out of range, or the refusal of
 * the core operation that failed (which names the unit and event).  A
 * failure part way leaves what was written before it.
 */
int core_demo_seed(struct core *c, const struct core_demo_opts *o,
                   struct core_demo_result *res, struct core_err *err);

#endif
