/*
 * server/hridd.c - main() of hridd, the registry's HTTP/JSON server.
 *
 * Parses the command line, opens the store and the registry on it, starts
 * the HTTP threads and then only waits for SIGTERM or SIGINT.  The signals
 * are blocked before any thread starts, so every thread inherits the mask
 * and the main thread alone takes them with sigwait: no handler runs
 * inside a request, and shutdown is ordinary code (stop the daemon, which
 * waits for the requests in flight, then close the registry and the
 * store, exit 0).
 *
 * Start-up output on stdout is for scripts: any notice first (the path of
 * a generated admin key), and last the line "hridd listening on URL",
 * which the API tests wait for.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jsonmem.h"
#include "core/core.h"
#include "core/demo.h"
#include "ledger/checkpoint.h"
#include "server/http.h"
#include "server/mqtt.h"
#include "server/routes.h"
#include "store/store.h"

/* Worker threads beyond this are a typo: libmicrohttpd spreads connections
 * over the pool, and more threads than a few times the cores only adds
 * context switches. */
#define THREADS_MAX 1024u

/* The registry's own jurisdiction: enterprises it enrols get codes in
 * this country's space (DESIGN §2).  The reference deployment is China's
 * platform. */
#define HRIDD_COUNTRY "CN"

struct options {
    char host[256];
    unsigned port;
    unsigned threads;           /* 0 = the HTTP layer's default */
    bool quiet;
    bool demo;                  /* seed demo data into an empty database */
    const char *db;             /* store uri: a file path (SQLite) or a
                                   postgresql:// uri */
    /* Where the admin, log and platform key files are kept: "<db>." for a
     * database file (hrid.db.log-key), "<dir>/" with --keys (dir/log-key).
     * Nodes that share one PostgreSQL database share one key directory,
     * so whichever of them signs a checkpoint signs with the same key. */
    char *key_prefix;
    const char *public_url;     /* NULL: the URL served */
    const char *log_name;       /* the log's origin; NULL: kept or default */
    unsigned checkpoint_ms;     /* how often a grown log is signed */
    unsigned compact_ms;        /* how often telemetry is compacted */
    unsigned retention_days;    /* raw telemetry kept this long */
    unsigned idem_ttl_s;        /* replies kept for Idempotency-Keys */
    char mqtt_host[256];        /* --mqtt: the broker; "" when none */
    unsigned mqtt_port;
};

/* Telemetry: staged reports of closed windows become chunks every minute
 * by default; raw samples are kept 90 days (docs/telemetry.md). */
#define COMPACT_MS_DEFAULT 60000u
#define RETENTION_DAYS_DEFAULT 90u

/* A reply kept for an Idempotency-Key is forgotten after a week (a retry
 * comes within minutes; a week covers a client that was down over a
 * weekend), so that the table does not grow with every write. */
#define IDEM_TTL_DEFAULT (7u * 86400u)
#define IDEM_TTL_MAX (3650u * 86400u)

/* The log's origin when none is given at the first start. */
#define LOG_NAME_DEFAULT "hrid.local/log"

/* Checkpoints: a new one within a second of any write (ledger issue). */
#define CHECKPOINT_MS_DEFAULT 1000u
#define CHECKPOINT_MS_MAX     60000u

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hridd [options]\n"
        "\n"
        "  -d, --db PATH|URI       database file (default hrid.db), or a\n"
        "                          postgresql://... uri; a generated admin key\n"
        "                          goes to PATH.admin-key\n"
        "      --keys DIR          keep the key files in DIR (admin-key, log-key,\n"
        "                          platform-key) instead of next to the database\n"
        "                          file; needed with PostgreSQL, where every node\n"
        "                          of the registry reads the same DIR\n"
        "      --demo              seed the demo fleet into a new database and\n"
        "                          print keys to explore it\n"
        "  -l, --listen HOST:PORT  address to serve (default 127.0.0.1:8080;\n"
        "                          port 0 picks a free port; [::1]:PORT for IPv6)\n"
        "  -t, --threads N         HTTP threads, which read requests and answer\n"
        "                          reads and lifecycle events (default: 2 per\n"
        "                          CPU); other writes run on 64 more\n"
        "      --public-url URL    where the public reaches this registry, put\n"
        "                          in QR labels (default: the URL served)\n"
        "      --log-name NAME     the log's origin, named in every checkpoint\n"
        "                          (fixed by the first start; default\n"
        "                          hrid.local/log); keys are PATH.log-key and\n"
        "                          PATH.platform-key (mode 0600: back them up)\n"
        "      --checkpoint-ms MS  sign a checkpoint this often while the log\n"
        "                          grows (default 1000)\n"
        "      --compact-ms MS     compact telemetry, check silence rules and\n"
        "                          expire idempotency records this often\n"
        "                          (default 60000)\n"
        "      --idempotency-ttl S keep the replies of Idempotency-Keys S seconds\n"
        "                          (default 604800, a week); a retry after that\n"
        "                          runs as a new request\n"
        "      --raw-retention-days N  keep raw telemetry N days (default 90;\n"
        "                          hourly rollups are kept for the unit's life)\n"
        "      --mqtt HOST:PORT    take telemetry signed by units from this MQTT\n"
        "                          broker (topic hrid/v1/telemetry/CODE, QoS 1)\n"
        "  -q, --quiet             no per-request log lines\n"
        "  -h, --help              this help\n"
        "  -V, --version           print the version\n");
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* HOST:PORT, [V6ADDR]:PORT or :PORT (all interfaces of IPv4). */
static int parse_listen(const char *arg, struct options *o)
{
    const char *colon, *host = arg;
    size_t hlen;

    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        host = arg + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - arg);
    }
    if (hlen == 0) {
        host = "0.0.0.0";
        hlen = strlen(host);
    }
    if (hlen >= sizeof(o->host))
        return -1;
    memcpy(o->host, host, hlen);
    o->host[hlen] = '\0';
    return parse_uint(colon + 1, 65535, &o->port);
}

/* --mqtt HOST:PORT or [V6ADDR]:PORT: a broker, so host and port are both
 * needed. */
static int parse_mqtt(const char *arg, struct options *o)
{
    const char *host = arg, *colon;
    size_t hlen;

    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        host = arg + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        if ((colon = strrchr(arg, ':')) == NULL)
            return -1;
        hlen = (size_t)(colon - arg);
    }
    if (hlen == 0 || hlen >= sizeof o->mqtt_host)
        return -1;
    memcpy(o->mqtt_host, host, hlen);
    o->mqtt_host[hlen] = '\0';
    if (parse_uint(colon + 1, 65535, &o->mqtt_port) != 0 || o->mqtt_port == 0)
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "db",      required_argument, NULL, 'd' },
        { "demo",    no_argument,       NULL, 'D' },
        { "listen",  required_argument, NULL, 'l' },
        { "threads", required_argument, NULL, 't' },
        { "quiet",   no_argument,       NULL, 'q' },
        { "public-url", required_argument, NULL, 'P' },
        { "log-name", required_argument, NULL, 'N' },
        { "checkpoint-ms", required_argument, NULL, 'C' },
        { "compact-ms", required_argument, NULL, 'K' },
        { "raw-retention-days", required_argument, NULL, 'R' },
        { "idempotency-ttl", required_argument, NULL, 'I' },
        { "mqtt",    required_argument, NULL, 'M' },
        { "keys",    required_argument, NULL, 'k' },
        { "help",    no_argument,       NULL, 'h' },
        { "version", no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *keys = NULL;
    int c;

    memcpy(o->host, "127.0.0.1", sizeof("127.0.0.1"));
    o->key_prefix = NULL;
    o->port = 8080;
    o->threads = 0;
    o->quiet = false;
    o->demo = false;
    o->db = "hrid.db";
    o->public_url = NULL;
    o->log_name = NULL;
    o->checkpoint_ms = CHECKPOINT_MS_DEFAULT;
    o->compact_ms = COMPACT_MS_DEFAULT;
    o->retention_days = RETENTION_DAYS_DEFAULT;
    o->idem_ttl_s = IDEM_TTL_DEFAULT;
    o->mqtt_host[0] = '\0';
    o->mqtt_port = 0;
    while ((c = getopt_long(argc, argv, "d:l:t:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (optarg[0] == '\0') {
                fprintf(stderr, "hridd: --db: expected a path\n");
                return 2;
            }
            o->db = optarg;
            break;
        case 'D':
            o->demo = true;
            break;
        case 'l':
            if (parse_listen(optarg, o) != 0) {
                fprintf(stderr, "hridd: --listen '%s': expected HOST:PORT\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
            if (parse_uint(optarg, THREADS_MAX, &o->threads) != 0 ||
                o->threads == 0) {
                fprintf(stderr, "hridd: --threads '%s': expected 1-%u\n",
                        optarg, THREADS_MAX);
                return 2;
            }
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'P':
            if (strncmp(optarg, "http://", 7) != 0 &&
                strncmp(optarg, "https://", 8) != 0) {
                fprintf(stderr, "hridd: --public-url '%s': expected "
                        "http://... or https://...\n", optarg);
                return 2;
            }
            o->public_url = optarg;
            break;
        case 'N':
            o->log_name = optarg;
            break;
        case 'K':
            if (parse_uint(optarg, 3600000u, &o->compact_ms) != 0 ||
                o->compact_ms < 10) {
                fprintf(stderr, "hridd: --compact-ms '%s': expected "
                        "10-3600000\n", optarg);
                return 2;
            }
            break;
        case 'R':
            if (parse_uint(optarg, 36500u, &o->retention_days) != 0 ||
                o->retention_days == 0) {
                fprintf(stderr, "hridd: --raw-retention-days '%s': "
                        "expected 1-36500\n", optarg);
                return 2;
            }
            break;
        case 'k':
            if (optarg[0] == '\0') {
                fprintf(stderr, "hridd: --keys: expected a directory\n");
                return 2;
            }
            keys = optarg;
            break;
        case 'I':
            if (parse_uint(optarg, IDEM_TTL_MAX, &o->idem_ttl_s) != 0 ||
                o->idem_ttl_s == 0) {
                fprintf(stderr, "hridd: --idempotency-ttl '%s': expected "
                        "1-%u seconds\n", optarg, IDEM_TTL_MAX);
                return 2;
            }
            break;
        case 'M':
            if (parse_mqtt(optarg, o) != 0) {
                fprintf(stderr, "hridd: --mqtt '%s': expected HOST:PORT\n",
                        optarg);
                return 2;
            }
            break;
        case 'C':
            if (parse_uint(optarg, CHECKPOINT_MS_MAX, &o->checkpoint_ms) != 0 ||
                o->checkpoint_ms < 10) {
                fprintf(stderr, "hridd: --checkpoint-ms '%s': expected "
                        "10-%u\n", optarg, CHECKPOINT_MS_MAX);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("hridd %s\n", HRID_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hridd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (keys == NULL && store_is_server_uri(o->db)) {
        fprintf(stderr, "hridd: --db %.*s...: a database server needs "
                "--keys DIR, the directory of key files every node of the "
                "registry shares\n", 13, o->db);
        return 2;
    }
    if (keys != NULL ? asprintf(&o->key_prefix, "%s/", keys) < 0
                     : asprintf(&o->key_prefix, "%s.", o->db) < 0) {
        o->key_prefix = NULL;
        fprintf(stderr, "hridd: out of memory\n");
        return 1;
    }
    return -1;                  /* go on and serve */
}

/*
 * Opens the store and the registry on it.  Prints where a generated admin
 * key went.  Returns 0, or -1 after a message on stderr (both handles
 * then NULL).
 */
/*
 * Loads the key kept in <key_prefix><suffix>, or makes it on a first start and
 * says where it went.  Returns 0, or -1 after a message on stderr.
 */
static int load_key(const char *prefix, const char *suffix, const char *what,
                    const char *name, const char *fallback,
                    struct ledger_key *k)
{
    struct hrid_err he;
    char *path;
    bool created;
    int rc;

    if (asprintf(&path, "%s%s", prefix, suffix) < 0) {
        fprintf(stderr, "hridd: out of memory\n");
        return -1;
    }
    hrid_err_clear(&he);
    rc = ledger_key_load(path, name, fallback, k, &created, &he);
    if (rc != 0)
        fprintf(stderr, "hridd: %s\n", he.msg);
    else if (created)
        printf("%s written to %s (mode 0600): back it up\n", what,
               path);
    free(path);
    return rc;
}

static int open_registry(const struct options *o, struct store **st,
                         struct core **core, struct ledger_key *log_key)
{
    struct ledger_key platform_key;
    struct hrid_err he;
    struct core_err ce;
    struct core_config cc;
    char *key_file = NULL;
    bool generated = false;
    int rc = -1;

    *st = NULL;
    *core = NULL;
    hrid_err_clear(&he);
    if (store_open(o->db, st, &he) != STORE_OK) {
        fprintf(stderr, "hridd: cannot open database '%s': %s\n", o->db,
                he.msg);
        goto out;
    }
    if (asprintf(&key_file, "%sadmin-key", o->key_prefix) < 0) {
        key_file = NULL;
        fprintf(stderr, "hridd: out of memory\n");
        goto out;
    }
    memset(&cc, 0, sizeof(cc));
    memset(&ce, 0, sizeof(ce));
    cc.store = *st;
    cc.admin_key = getenv("HRID_ADMIN_KEY");
    if (cc.admin_key != NULL && cc.admin_key[0] == '\0')
        cc.admin_key = NULL;
    cc.admin_key_file = key_file;
    cc.country = HRIDD_COUNTRY;
    /* The log key's name is the log's origin, fixed by the first start;
     * the platform key's name appears nowhere but in its file. */
    if (load_key(o->key_prefix, "log-key", "log signing key", o->log_name,
                 LOG_NAME_DEFAULT, log_key) != 0)
        goto out;
    if (load_key(o->key_prefix, "platform-key", "platform signing key", NULL,
                 "hrid-platform", &platform_key) != 0)
        goto out;
    cc.log_key = log_key;
    cc.platform_key = &platform_key;
    cc.public_url = o->public_url;
    rc = core_new(&cc, core, &generated, &ce);
    ledger_key_wipe(&platform_key);
    if (rc != CORE_OK) {
        rc = -1;
        fprintf(stderr, "hridd: %s\n", ce.msg);
        goto out;
    }
    if (generated)
        printf("admin key written to %s (mode 0600)\n", key_file);
    rc = 0;
out:
    free(key_file);
    if (rc != 0) {
        store_close(*st);
        *st = NULL;
    }
    return rc;
}

/*
 * Writes the demo's keys and sample unit to path (mode 0600), so that a
 * later start on the same database can point at them again.
 */
static void write_demo_keys(const char *path,
                            const struct core_demo_result *res)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "hridd: --demo: cannot write %s: %s\n", path,
                strerror(errno));
        return;
    }
    fprintf(f, "regulator %s\nmanufacturer %s\nowner %s\nunit %s\n",
            res->regulator_key, res->maker_key, res->owner_key,
            res->sample_code);
    fclose(f);
}

/*
 * --demo: seeds the launch-scale demo fleet (core/demo.h) into a fresh
 * database and prints the keys to explore it with; they are also kept in
 * <db>.demo-keys (DIR/demo-keys with --keys DIR).  A database that has
 * data already is served as it is.
 * Returns 0, or -1 after a message on stderr.
 */
static int seed_demo(struct core *core, const char *prefix)
{
    struct core_demo_opts o;
    struct core_demo_result res;
    struct core_err err;
    char *keys = NULL;
    int rc;

    if (asprintf(&keys, "%sdemo-keys", prefix) < 0)
        return -1;
    core_demo_opts_init(&o);
    memset(&err, 0, sizeof(err));
    printf("demo: seeding %d enterprises, %d models and %d units with their "
           "histories (about a minute)\n", o.enterprises, o.models, o.units);
    rc = core_demo_seed(core, &o, &res, &err);
    if (rc == CORE_ECONFLICT && err.code != NULL &&
        strcmp(err.code, "not_empty") == 0) {
        printf("demo: the database has data already: serving it as it is "
               "(demo keys: %s)\n", keys);
        free(keys);
        return 0;
    }
    if (rc != CORE_OK) {
        fprintf(stderr, "hridd: --demo: %s\n", err.msg);
        free(keys);
        return -1;
    }
    write_demo_keys(keys, &res);
    printf("demo: %lld units, %lld events\n"
           "demo regulator key: %s\n"
           "demo manufacturer key: %s\n"
           "demo owner key: %s\n"
           "demo unit: %s\n"
           "demo keys kept in %s\n",
           (long long)res.units, (long long)res.events, res.regulator_key,
           res.maker_key, res.owner_key, res.sample_code, keys);
    free(keys);
    return 0;
}

/* A background thread, woken and told to stop through mu and cv. */
struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, started;
};

static void worker_init(struct worker *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static int worker_start(struct worker *w, void *(*run)(void *), void *arg)
{
    if (pthread_create(&w->thread, NULL, run, arg) != 0)
        return -1;
    w->started = true;
    return 0;
}

static void worker_stop(struct worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
}

/* The telemetry thread: every compact_ms until told to stop, it compacts
 * staged reports (core_telemetry_compact) and opens the alerts of units
 * that fell silent (core_alert_sweep). */
struct compactor {
    struct core *core;
    unsigned every_ms;
    int64_t retention_ms;
    int64_t idem_ttl_ms;
    struct worker w;
};

static void *compactor_main(void *arg)
{
    struct compactor *k = arg;
    char last[CORE_MSG_MAX] = "";

    pthread_mutex_lock(&k->w.mu);
    while (!k->w.stopping) {
        struct timespec ts;
        struct core_err err;
        int64_t moved;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += k->every_ms / 1000;
        ts.tv_nsec += (long)(k->every_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->w.cv, &k->w.mu, &ts);
        if (k->w.stopping)
            break;
        pthread_mutex_unlock(&k->w.mu);
        memset(&err, 0, sizeof err);
        if (core_telemetry_compact(k->core, core_now_ms(), k->retention_ms,
                                   &moved, &err) != CORE_OK &&
            strcmp(err.msg, last) != 0) {
            fprintf(stderr, "hridd: telemetry compaction: %s\n", err.msg);
            snprintf(last, sizeof last, "%s", err.msg);
        }
        memset(&err, 0, sizeof err);
        if (core_alert_sweep(k->core, core_now_ms(), &moved, &err) !=
                CORE_OK &&
            strcmp(err.msg, last) != 0) {
            fprintf(stderr, "hridd: silence alerts: %s\n", err.msg);
            snprintf(last, sizeof last, "%s", err.msg);
        }
        memset(&err, 0, sizeof err);
        if (core_idem_expire(k->core, core_now_ms() - k->idem_ttl_ms, &moved,
                             &err) != CORE_OK &&
            strcmp(err.msg, last) != 0) {
            fprintf(stderr, "hridd: idempotency expiry: %s\n", err.msg);
            snprintf(last, sizeof last, "%s", err.msg);
        }
        pthread_mutex_lock(&k->w.mu);
    }
    pthread_mutex_unlock(&k->w.mu);
    return NULL;
}

/* The notice thread: writes the recall notices owed after a recall
 * committed (core_recall_notify), at start (a recall interrupted by a
 * stop) and whenever a recall wakes it, a transaction at a time so that
 * other writes go on between them and a stop waits for one at most. */
struct notifier {
    struct core *core;
    bool due;
    struct worker w;
};

static void notifier_wake(void *arg)
{
    struct notifier *n = arg;

    pthread_mutex_lock(&n->w.mu);
    n->due = true;
    pthread_cond_signal(&n->w.cv);
    pthread_mutex_unlock(&n->w.mu);
}

static void *notifier_main(void *arg)
{
    struct notifier *n = arg;
    char last[CORE_MSG_MAX] = "";
    bool more = false;

    pthread_mutex_lock(&n->w.mu);
    while (!n->w.stopping) {
        struct core_err err;
        int64_t written;

        if (!n->due && !more) {
            pthread_cond_wait(&n->w.cv, &n->w.mu);
            continue;
        }
        n->due = false;
        pthread_mutex_unlock(&n->w.mu);
        memset(&err, 0, sizeof err);
        if (core_recall_notify(n->core, &written, &more, &err) != CORE_OK) {
            if (strcmp(err.msg, last) != 0)
                fprintf(stderr, "hridd: recall notices: %s\n", err.msg);
            snprintf(last, sizeof last, "%s", err.msg);
            sleep(1);           /* then once more, while it fails */
            more = true;
        }
        pthread_mutex_lock(&n->w.mu);
    }
    pthread_mutex_unlock(&n->w.mu);
    return NULL;
}

int main(int argc, char **argv)
{
    struct options o;
    struct http_config cfg;
    struct http_server *srv = NULL;
    struct mqtt_subscriber *mqtt = NULL;
    struct store *st = NULL;
    struct core *core = NULL;
    struct ledger_key log_key;
    struct ledger_signer *signer = NULL;
    struct compactor compactor;
    struct notifier notifier;
    struct hrid_err he;
    uint64_t cp_size;
    sigset_t sigs;
    char errbuf[256];
    int sig, rc = 1;

    /* Start-up lines (the admin key file, the demo, the URL) must show as
     * they happen even when stdout is a file or a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&compactor, 0, sizeof compactor);
    worker_init(&compactor.w);
    memset(&notifier, 0, sizeof notifier);
    worker_init(&notifier.w);
    notifier.due = true;        /* notices an interrupted recall still owes */
    /* glibc gives each thread that allocates its own heap (up to eight per
     * CPU); with one server thread per connection slot that kept hundreds
     * of megabytes of freed request memory.  Two heaps made the 64 write
     * workers, the writer and libmicrohttpd's threads wait on each other's
     * malloc locks: eight took lifecycle events from 3,959 to 4,435 a
     * second (medians of four runs), and resident memory after a 200,000
     * unit bulk load, GETs and events stayed where it was (120 MB against
     * 133; the peak, two bulk bodies parsed at once, 258 against 283). */
    mallopt(M_ARENA_MAX, 8);
    /* Fixed thresholds instead of glibc's sliding ones.  Once a request
     * freed its 6 MB body, glibc raised its mmap threshold to that size
     * and its trim threshold to twice it, so each thread heap that had
     * served a bulk kept up to 12 MB of freed memory that neither free nor
     * malloc_trim gives back (malloc_trim leaves a thread heap's top
     * alone): 60 MB more at rest after a bulk load from two clients.
     * Blocks of 256 KiB and more (bodies, a request arena's larger blocks)
     * now come from mmap and go back when freed; a heap's free top above
     * 1 MiB goes back too. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    /* Before any JSON value exists: request bodies parse into arenas. */
    jsonmem_init();
    rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    if (routes_check(errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "hridd: %s\n", errbuf);
        return 1;
    }

    /* Before any thread exists (the store may start its own): SIGTERM and
     * SIGINT go to sigwait below, and a peer closing its socket must not
     * kill the process. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        fprintf(stderr, "hridd: cannot block signals\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    memset(&log_key, 0, sizeof log_key);
    if (open_registry(&o, &st, &core, &log_key) != 0)
        goto out;
    /* A checkpoint exists before the first request: signed here, then
     * renewed by the signer thread as the log grows. */
    hrid_err_clear(&he);
    if (ledger_checkpoint_refresh(st, &log_key, &cp_size, &he) != STORE_OK)
        fprintf(stderr, "hridd: log checkpoint: %s\n", he.msg);
    if (ledger_signer_start(st, &log_key, (int)o.checkpoint_ms, &signer,
                            &he) != STORE_OK) {
        fprintf(stderr, "hridd: %s\n", he.msg);
        goto out;
    }
    if (o.demo && seed_demo(core, o.key_prefix) != 0)
        goto out;
    compactor.core = core;
    compactor.every_ms = o.compact_ms;
    compactor.retention_ms = (int64_t)o.retention_days * 86400000;
    compactor.idem_ttl_ms = (int64_t)o.idem_ttl_s * 1000;
    if (worker_start(&compactor.w, compactor_main, &compactor) != 0) {
        fprintf(stderr, "hridd: cannot start the telemetry compactor\n");
        goto out;
    }
    notifier.core = core;
    core_on_notices(core, notifier_wake, &notifier);
    if (worker_start(&notifier.w, notifier_main, &notifier) != 0) {
        fprintf(stderr, "hridd: cannot start the recall notice thread\n");
        goto out;
    }
    if (o.mqtt_host[0] != '\0' &&
        mqtt_subscriber_start(core, o.mqtt_host, o.mqtt_port, &mqtt, errbuf,
                              sizeof(errbuf)) != 0) {
        fprintf(stderr, "hridd: %s\n", errbuf);
        goto out;
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.host = o.host;
    cfg.port = o.port;
    cfg.threads = o.threads;
    cfg.quiet = o.quiet;
    cfg.dispatch = routes_dispatch;
    cfg.defers = routes_defers;
    cfg.app = core;
    if (http_server_start(&srv, &cfg, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "hridd: %s\n", errbuf);
        goto out;
    }
    /* Exactly this line on stdout, and the last one of the start-up:
     * scripts and the API tests read the URL from it, which is how they
     * learn a port picked with port 0. */
    if (o.public_url == NULL)
        core_set_public_url(core, http_server_url(srv));
    printf("hridd listening on %s\n", http_server_url(srv));
    fflush(stdout);

    if (sigwait(&sigs, &sig) != 0) {
        fprintf(stderr, "hridd: sigwait failed\n");
        goto out;
    }
    rc = 0;
out:
    /* In this order: no request may run once the registry is gone. */
    http_server_stop(srv);
    mqtt_subscriber_stop(mqtt);
    worker_stop(&compactor.w);
    worker_stop(&notifier.w);
    ledger_signer_stop(signer);
    core_free(core);
    store_close(st);
    ledger_key_wipe(&log_key);
    free(o.key_prefix);
    return rc;
}
