/*
 * demo.c - the launch-scale demo fleet (core/demo.h).
 *
 * Layer: src/core, above the core API: every record is written by a
 * core_* operation called as the party that would make it (the platform
 * operator enrols, makers file and register, the regulator approves,
 * sellers and owners transfer and deploy, and so on), so the seeder can
 * only produce histories the rules accept.  A refusal is a bug here, and
 * it stops the seeding with the core's own error and the unit it was for.
 *
 * How it runs:
 *   1. the plan (one thread): enterprises, models and parties are drawn
 *      from the seed and written in a fixed order, so that codes assigned
 *      by counters (enterprise codes, model sequences) and party ids come
 *      out the same every time;
 *   2. the fleet (o->threads threads): each thread owns whole models, so
 *      the platform's serial counters (per model and production date) are
 *      only advanced by one thread in one order; it registers its units
 *      in bulks of DEMO_CHUNK and then plays each unit's history.  Each
 *      unit draws from its own PRNG stream, so the thread count does not
 *      change the data;
 *   3. the end (one thread): a discontinued model is withdrawn and the
 *      three demo keys are issued.
 *
 * Time: unit histories are dated in the past, from production (January
 * 2025 to October 2026, or up to three weeks before today when that is
 * earlier) to the end of yesterday (UTC), so one seed gives the same
 * histories all day, and every event is later than the one before.  The
 * registry dates a grant when it records it, so work done under a grant
 * (service visits, recycling after a recycling grant) is the last part
 * of a history and is dated "now".
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/demo.h"
#include "hrid/code.h"

/* ---- limits ------------------------------------------------------------- */

/* Units per bulk registration.  The API takes up to CORE_BULK_MAX (10,000);
 * 1,000 keeps one registration's transaction to a few tens of ms, so the
 * other threads' single events queued behind it do not wait long, and the
 * request body to about a megabyte. */
#define DEMO_CHUNK 1000

/* Bounds of the options: codes and memory, not the store, set them.  An
 * enterprise code has 34^4 values per country, a model sequence 34^3 per
 * enterprise and year; two million units is 70 times the launch fleet. */
#define DEMO_ENT_MAX    2000
#define DEMO_MODEL_MAX  10000
#define DEMO_UNIT_MAX   2000000
#define DEMO_THREAD_MAX 64

/* Models one enterprise files at most (the largest makers at launch list
 * about a dozen). */
#define DEMO_MODELS_PER_ENT 12

/* Components on a unit: battery, compute, two knees and up to four more
 * (the brief's 4-8). */
#define DEMO_COMP_MAX 8
/* Sites of one owner. */
#define DEMO_SITES_MAX 4
/* Scheduled events in one unit's service life: firmware updates about
 * every quarter, yearly inspections, servicing, over two years at most. */
#define DEMO_LIFE_MAX 48

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

/* ---- PRNG: splitmix64 seeds xoshiro256** -------------------------------- */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Streams: one per unit and a few for the plan, so a unit's data does
 * not depend on which thread plays it or on how many units came first. */
enum {
    STREAM_PLAN = 1,
    STREAM_MODEL = 0x1000,
    STREAM_UNIT = 0x100000
};

static void rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t k = splitmix(&x);

    x = k ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [lo, hi]. */
static int64_t rng_int(struct rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static double rng_real(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static bool rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

/* An index drawn with the given integer weights. */
static int rng_pick(struct rng *r, const int *w, int n)
{
    int64_t sum = 0, x;

    for (int i = 0; i < n; i++)
        sum += w[i];
    x = rng_int(r, 0, sum - 1);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* An index into cum (cumulative weights, cum[n-1] the total). */
static int rng_cum(struct rng *r, const double *cum, int n)
{
    double x = rng_unit(r) * cum[n - 1];
    int lo = 0, hi = n - 1;

    while (lo < hi) {
        int mid = (lo + hi) / 2;

        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A hash of three values, for digests that must agree across units. */
static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ b;

    x = splitmix(&x) ^ c;
    return splitmix(&x);
}

/* ---- dates, times and numbers ------------------------------------------- */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

static void fmt_date(int64_t day, char out[11])
{
    int y, m, d;

    civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u,
             (unsigned)m % 100u, (unsigned)d % 100u);
}

static json_t *jtime(int64_t ms)
{
    char buf[32];

    core_time_format(ms, buf);
    return json_string(buf);
}

static json_t *jdate(int64_t ms)
{
    char buf[11];

    fmt_date(ms / DAY_MS, buf);
    return json_string(buf);
}

/*
 * v rounded to at most dec decimals, choosing among the nearest such
 * values one that jansson prints as written: it prints reals with 17
 * significant digits, so 62.3 would appear as 62.299999999999997 in every
 * record and reply.
 */
static double tidy(double v, int dec)
{
    char a[48], b[48];

    for (; dec > 0; dec--) {
        double scale = pow(10.0, dec), base = round(v * scale);

        for (int k = 0; k < 40; k++) {
            double x = (base + ((k & 1) ? (k + 1) / 2 : -(k / 2))) / scale;
            size_t n;

            snprintf(a, sizeof a, "%.17g", x);
            snprintf(b, sizeof b, "%.*f", dec, x);
            n = strlen(b);
            while (n > 0 && b[n - 1] == '0')
                b[--n] = '\0';
            if (n > 0 && b[n - 1] == '.')
                b[--n] = '\0';
            if (strcmp(a, b) == 0)
                return x;
        }
    }
    return round(v);
}

/* ---- names -------------------------------------------------------------- */

struct city {
    const char *name;
    const char *region;      /* GB/T 2260 */
    double lat, lon;
    int owners;              /* weight among owners' home cities */
    int makers;              /* weight among makers' home cities */
};

static const struct city cities[] = {
    {"Shenzhen", "440300", 22.5431, 114.0579, 12, 20},
    {"Shanghai", "310000", 31.2304, 121.4737, 12, 14},
    {"Beijing", "110000", 39.9042, 116.4074, 10, 14},
    {"Guangzhou", "440100", 23.1291, 113.2644, 7, 5},
    {"Hangzhou", "330100", 30.2741, 120.1551, 7, 10},
    {"Suzhou", "320500", 31.2990, 120.5853, 6, 7},
    {"Chengdu", "510100", 30.5728, 104.0668, 6, 4},
    {"Wuhan", "420100", 30.5928, 114.3055, 6, 4},
    {"Nanjing", "320100", 32.0603, 118.7969, 4, 3},
    {"Tianjin", "120000", 39.3434, 117.3616, 4, 2},
    {"Chongqing", "500000", 29.5630, 106.5516, 4, 2},
    {"Xi'an", "610100", 34.3416, 108.9398, 3, 2},
    {"Hefei", "340100", 31.8206, 117.2272, 4, 4},
    {"Changsha", "430100", 28.2282, 112.9388, 3, 2},
    {"Qingdao", "370200", 36.0671, 120.3826, 3, 2},
    {"Dongguan", "441900", 23.0207, 113.7518, 5, 4},
    {"Ningbo", "330200", 29.8683, 121.5440, 3, 2},
    {"Shenyang", "210100", 41.8057, 123.4315, 2, 1},
    {"Zhengzhou", "410100", 34.7466, 113.6254, 3, 1},
    {"Xiamen", "350200", 24.4798, 118.0894, 2, 1},
};
#define NCITIES ((int)(sizeof cities / sizeof cities[0]))

/* Company names: two syllables of pinyin, 24 x 24 = 576 per city. */
static const char *const syl1[] = {
    "Hua", "Xin", "Tian", "Jin", "Hong", "Rui", "Heng", "Kai",
    "Ming", "Yu", "Long", "Feng", "Sheng", "An", "Bo", "Chang",
    "Da", "Guang", "Hai", "Jia", "Lian", "Qi", "Tai", "Zhong",
};
static const char *const syl2[] = {
    "xin", "da", "tai", "yuan", "feng", "sheng", "hui", "lian",
    "tong", "cheng", "fa", "xing", "mei", "hua", "rong", "li",
    "kang", "yi", "jia", "neng", "bang", "run", "yang", "wei",
};
#define NSYL 24

/* The k-th name of a family: a permutation of the 576 pairs, so names of
 * one family and city never repeat. */
static void brand(int k, int salt, char *out, size_t n)
{
    int i = (k * 173 + salt * 31) % (NSYL * NSYL);

    /* "Huahua" reads as a nickname, not a company. */
    if (strcasecmp(syl1[i / NSYL], syl2[i % NSYL]) == 0)
        i = (i + 1) % (NSYL * NSYL);
    snprintf(out, n, "%s%s", syl1[i / NSYL], syl2[i % NSYL]);
}

static const char *const maker_suffix[] = {
    "Intelligent Robotics Co., Ltd.", "Robot Technology Co., Ltd.",
    "Humanoid Technology Co., Ltd.",
    "Embodied Intelligence Technology Co., Ltd.",
    "Intelligent Equipment Co., Ltd.",
};

struct foreign_maker {
    const char *country, *name, *public_name, *city, *currency;
};

/* Makers outside China, in the order they enrol. */
static const struct foreign_maker foreign_makers[] = {
    {"DE", "Neckar Robotik GmbH", "Neckar Robotik", "Stuttgart", "EUR"},
    {"US", "Cascade Humanoids Inc.", "Cascade Humanoids", "Seattle", "USD"},
    {"JP", "Kiso Jinko Robotics K.K.", "Kiso Robotics", "Nagoya", "JPY"},
    {"KR", "Hanbit Robotics Co., Ltd.", "Hanbit Robotics", "Seoul", "KRW"},
    {"DE", "Isar Humanoid Systems GmbH", "Isar Humanoid", "Munich", "EUR"},
    {"US", "Allegheny Robotics Corp.", "Allegheny Robotics", "Pittsburgh",
     "USD"},
    {"DE", "Elbe Motion AG", "Elbe Motion", "Hamburg", "EUR"},
    {"US", "Lone Star Automata LLC", "Lone Star Automata", "Austin", "USD"},
    {"JP", "Naniwa Humanoid Co., Ltd.", "Naniwa Humanoid", "Osaka", "JPY"},
    {"KR", "Gyeongnam Motion Inc.", "Gyeongnam Motion", "Changwon", "KRW"},
    {"DE", "Spree Kinetik GmbH", "Spree Kinetik", "Berlin", "EUR"},
    {"US", "Bayshore Dynamics Inc.", "Bayshore Dynamics", "San Jose", "USD"},
};
#define NFOREIGN ((int)(sizeof foreign_makers / sizeof foreign_makers[0]))

/* CNY per unit of a maker's currency, for list prices (2026 averages,
 * rounded). */
static double fx_rate(const char *cur)
{
    if (strcmp(cur, "EUR") == 0)
        return 7.8;
    if (strcmp(cur, "USD") == 0)
        return 7.2;
    if (strcmp(cur, "JPY") == 0)
        return 0.048;
    if (strcmp(cur, "KRW") == 0)
        return 0.0052;
    return 1.0;
}

/* What owners do, which is where their units are deployed. */
enum sector {
    SEC_FACTORY, SEC_LOGISTICS, SEC_RETAIL, SEC_CARE, SEC_EDUCATION,
    SEC_RESEARCH, SEC_PUBLIC, NSEC
};
static const char *const scenario_name[NSEC] = {
    "factory", "logistics", "retail", "care", "education", "research",
    "public",
};
static const int owner_sector_w[NSEC] = {28, 20, 14, 12, 12, 9, 5};

/* Owner names per sector: legal-name pattern (city, brand, number) and
 * the kind of site. */
static const char *const owner_kind[NSEC][4] = {
    {"Electronics Manufacturing Co., Ltd.", "Auto Parts Co., Ltd.",
     "Precision Machinery Co., Ltd.", "Home Appliance Co., Ltd."},
    {"Logistics Co., Ltd.", "Supply Chain Management Co., Ltd.",
     "Express Co., Ltd.", "Cold Chain Logistics Co., Ltd."},
    {"Supermarket Chain Co., Ltd.", "Department Store Co., Ltd.",
     "Shopping Mall Management Co., Ltd.", "Consumer Electronics Retail Co., "
     "Ltd."},
    {"Elderly Care Home", "Senior Living Center", "Rehabilitation Hospital",
     "Nursing Home"},
    {"Vocational and Technical College", "Experimental School",
     "Middle School", "University of Technology"},
    {"Institute of Intelligent Manufacturing", "Embodied AI Laboratory",
     "Robotics Research Institute", "Institute of Automation"},
    {"Metro Operation Co., Ltd.", "Science and Technology Museum",
     "Government Service Center", "Railway Station Services Co., Ltd."},
};
static const char *const site_kind[NSEC][3] = {
    {"assembly plant", "SMT workshop", "final test line"},
    {"distribution center", "sorting hub", "bonded warehouse"},
    {"flagship store", "mall atrium", "supermarket"},
    {"residential wing", "day care center", "rehabilitation ward"},
    {"main campus", "training center", "robotics lab"},
    {"laboratory", "test field", "pilot line"},
    {"station concourse", "exhibition hall", "service hall"},
};

struct supplier {
    const char *name, *prefix;
};

enum { CAT_BATTERY, CAT_COMPUTE, CAT_JOINT, CAT_HAND, CAT_LIDAR, CAT_CAMERA,
       CAT_IMU, NCAT };

static const struct supplier suppliers[NCAT][4] = {
    {{"Jiangsu Xinneng Battery Co., Ltd.", "XN"},
     {"Fujian Ningtai Energy Co., Ltd.", "NT"},
     {"Shenzhen Huachi Power Co., Ltd.", "HC"}, {NULL, NULL}},
    {{"Shanghai Xinsuan Computing Co., Ltd.", "XS"},
     {"Hangzhou Zhuoxin Computing Co., Ltd.", "ZX"},
     {"Beijing Ruixin Edge AI Co., Ltd.", "RX"}, {NULL, NULL}},
    {{"Suzhou Hengli Harmonic Drive Co., Ltd.", "HL"},
     {"Zhejiang Tuoxing Actuator Co., Ltd.", "TX"},
     {"Ningbo Kaite Motor Co., Ltd.", "KT"},
     {"Nanjing Jingyuan Servo Co., Ltd.", "JY"}},
    {{"Dongguan Lingqiao Dexterous Hand Co., Ltd.", "LQ"},
     {"Beijing Qiaoshou Robotics Co., Ltd.", "QS"}, {NULL, NULL},
     {NULL, NULL}},
    {{"Shenzhen Guanghan Lidar Co., Ltd.", "GH"},
     {"Shanghai Lingguang Photonics Co., Ltd.", "LG"}, {NULL, NULL},
     {NULL, NULL}},
    {{"Hefei Ruishi Vision Technology Co., Ltd.", "RS"},
     {"Hangzhou Haoshi Imaging Co., Ltd.", "HS"}, {NULL, NULL},
     {NULL, NULL}},
    {{"Xi'an Jingce Inertial Technology Co., Ltd.", "JC"}, {NULL, NULL},
     {NULL, NULL}, {NULL, NULL}},
};
static const int suppliers_n[NCAT] = {3, 3, 4, 2, 2, 2, 1};

struct slotdef {
    const char *slot, *kind;
    int cat;
};

/* The first four are on every model. */
static const struct slotdef slots[] = {
    {"battery.main", "BP", CAT_BATTERY},
    {"compute.main", "CU", CAT_COMPUTE},
    {"joint.knee.left", "KN", CAT_JOINT},
    {"joint.knee.right", "KN", CAT_JOINT},
    {"joint.hip.left", "HP", CAT_JOINT},
    {"joint.hip.right", "HP", CAT_JOINT},
    {"actuator.shoulder.left", "SH", CAT_JOINT},
    {"actuator.shoulder.right", "SH", CAT_JOINT},
    {"hand.left", "DH", CAT_HAND},
    {"hand.right", "DH", CAT_HAND},
    {"sensor.lidar.head", "LD", CAT_LIDAR},
    {"camera.stereo.head", "SC", CAT_CAMERA},
    {"imu.torso", "IM", CAT_IMU},
};
#define NSLOTS ((int)(sizeof slots / sizeof slots[0]))

/* Firmware components every unit reports. */
static const char *const fw_comp[] = {"main", "motion", "vision", "bms"};
#define NFW 4

/* Intelligence levels 0-5 (DESIGN §2), weighted to 2 and 3 as the
 * launch fleet is. */
static const int level_w[6] = {3, 10, 35, 34, 12, 6};

/* List prices in CNY by level, low and high. */
static const double price_lo[6] = {80e3, 100e3, 150e3, 250e3, 400e3, 500e3};
static const double price_hi[6] = {150e3, 200e3, 400e3, 650e3, 900e3, 1200e3};

static const char *const series_suffix[NSEC] = {
    "Industrial", "Cargo", "Guide", "Care", "Edu", "Research", "Service",
};

/* ---- the plan ----------------------------------------------------------- */

enum mstatus { MS_APPROVED, MS_FILED, MS_WITHDRAWN, MS_DISCONTINUED };

struct dent {
    int64_t id;
    char ent[7];             /* CC + EEEE, from enrolment */
    char country[3];
    char name[160];
    char pub[80];
    char brand[40];          /* what its model names start with */
    char factory[3][80];
    int nfactory;
    const char *currency;
    char serial_pfx[3];      /* makers with their own serials */
    bool own_serial;
    bool device_keys;
    double weight;
    int nmodels;
};

struct dmodel {
    char id[13];             /* from filing */
    int ent;
    int level;
    int year;
    int status;              /* enum mstatus */
    int sector;
    bool recall;             /* its units are under a recall campaign */
    char recall_id[24];
    char recall_defect[160];
    char name[96];
    char filing_no[32];
    double price;            /* list price, CNY */
    double height;
    double mass;
    int units;
    int64_t first;           /* global index of its first unit */
    int64_t day0, day1;      /* production window, days since 1970 */
    int fw[NFW][3];          /* firmware at day0 */
    int ncomp;
    uint8_t slot[DEMO_COMP_MAX];
    uint8_t sup[DEMO_COMP_MAX];
    char part_no[DEMO_COMP_MAX][24];
};

struct site {
    char name[128];
    int city;
    double lat, lon;
};

struct owner {
    int64_t id;
    int sector;
    int city;
    int nsites;
    struct site site[DEMO_SITES_MAX];
    char pub[96];
};

struct seller {
    int64_t id;
    bool lessor;
};

struct plan {
    struct core *c;
    uint64_t seed;
    int64_t horizon;         /* the latest time of a past event */
    int64_t prod_last;       /* the last production day */
    int year_now;
    struct core_principal admin, regulator;
    struct dent *ents;
    int nents;
    struct dmodel *models;
    int nmodels;
    int64_t nunits_total;
    struct owner *owners;
    int nowners;
    double *owner_cum;       /* cumulative weights over all owners */
    int *sec_owner[NSEC];    /* owners of each sector */
    double *sec_cum[NSEC];
    int sec_n[NSEC];
    struct seller *sellers;
    int nsellers;
    double *seller_cum;      /* distributors only */
    double *lessor_cum;      /* lessors only */
    int *distributor, *lessor;
    int ndist, nlessor;
    int64_t *service;
    int nservice;
    int64_t *recyclers;
    char (*recycler_pub)[96];
    int nrecyclers;

    /* The run. */
    atomic_bool failed;
    pthread_mutex_t mu;
    struct core_err err;
    char sample_code[30];    /* the sample unit, from the threads' picks */
    int sample_model;
    int64_t sample_owner;
};

/* Records the first failure, prefixed with what was being done. */
static void plan_fail(struct plan *p, const struct core_err *e,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void plan_fail(struct plan *p, const struct core_err *e,
                      const char *fmt, ...)
{
    char ctx[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->mu);
    if (!atomic_load(&p->failed)) {
        p->err = *e;
        snprintf(p->err.msg, sizeof p->err.msg, "demo: %.100s: %.200s", ctx,
                 e->msg);
        atomic_store(&p->failed, true);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Splits total among n weights by largest remainder (deterministic: ties
 * go to the lower index). */
static void apportion(int64_t total, const double *w, int n, int *out)
{
    double sum = 0;
    int64_t given = 0;
    double *frac = calloc((size_t)n, sizeof *frac);

    for (int i = 0; i < n; i++)
        sum += w[i];
    for (int i = 0; i < n; i++) {
        double q = sum > 0 ? (double)total * w[i] / sum : 0;

        out[i] = (int)floor(q);
        given += out[i];
        if (frac != NULL)
            frac[i] = w[i] > 0 ? q - floor(q) : -1;
    }
    while (given < total && frac != NULL) {
        int best = -1;

        for (int i = 0; i < n; i++)
            if (frac[i] >= 0 && (best < 0 || frac[i] > frac[best]))
                best = i;
        if (best < 0)
            break;
        out[best]++;
        frac[best] = -1;
        given++;
    }
    free(frac);
}

/* Passes a write's status through; on failure drops its reply and records
 * the error, naming what was being written. */
static int reply_ok(struct plan *p, int rc, struct core_reply *rep,
                    const struct core_err *e, const char *what)
{
    if (rc != CORE_OK) {
        json_decref(rep->body);
        rep->body = NULL;
        plan_fail(p, e, "%s", what);
    }
    return rc;
}

static int make_party(struct plan *p, struct arena *a, const char *kind,
                      const char *name, const char *pub, const char *cc,
                      json_t *info, int64_t *id)
{
    struct core_reply rep;
    struct core_err e;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", kind,
                             "name", name, "public_name", pub, "country", cc,
                             "info", info);
    int rc = core_party_create(p->c, &p->admin, body, NULL, a, &rep, &e);

    json_decref(body);
    if (reply_ok(p, rc, &rep, &e, name) != CORE_OK)
        return rc;
    *id = json_integer_value(json_object_get(rep.body, "id"));
    json_decref(rep.body);
    return CORE_OK;
}

/* A unified social credit code look-alike: 18 characters, 91 + region +
 * 10 characters (the real check digit is not computed: demo data). */
static json_t *party_info(struct rng *r, const struct city *ct,
                          const char *street)
{
    static const char al[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    char uscc[19], phone[32], addr[160];
    int area, hi, lo;

    snprintf(uscc, sizeof uscc, "91%s", ct->region);
    for (int i = 8; i < 18; i++)
        uscc[i] = al[rng_int(r, 0, (int64_t)sizeof al - 2)];
    uscc[18] = '\0';
    area = (int)rng_int(r, 20, 799);
    hi = (int)rng_int(r, 1000, 9999);
    lo = (int)rng_int(r, 0, 9999);
    snprintf(phone, sizeof phone, "+86 %d %04d %04d", area, hi, lo);
    snprintf(addr, sizeof addr, "No. %d %s Road, %s", (int)rng_int(r, 1, 999),
             street, ct->name);
    return json_pack("{s:s, s:s, s:s}", "address", addr, "contact", phone,
                     "registry_no", uscc);
}

/* ---- plan: enterprises and models --------------------------------------- */

static int plan_enterprises(struct plan *p, struct rng *r, struct arena *a)
{
    int city_w[NCITIES], nforeign, fi = 0, cn = 0;
    static const char pfx_al[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";

    for (int i = 0; i < NCITIES; i++)
        city_w[i] = cities[i].makers;
    /* About one in eight is foreign, as at launch (12 of 100). */
    nforeign = p->nents * 12 / 100;
    if (nforeign == 0 && p->nents >= 5)
        nforeign = 1;
    if (nforeign > NFOREIGN)
        nforeign = NFOREIGN;
    for (int i = 0; i < p->nents && !atomic_load(&p->failed); i++) {
        struct dent *e = &p->ents[i];
        struct core_reply rep;
        struct core_err err;
        json_t *body;
        int rc, nf;

        e->weight = 1.0 / pow(i + 1, 0.9);
        if (i % 8 == 4 && fi < nforeign) {
            const struct foreign_maker *f = &foreign_makers[fi++];

            snprintf(e->country, sizeof e->country, "%s", f->country);
            snprintf(e->name, sizeof e->name, "%s", f->name);
            snprintf(e->pub, sizeof e->pub, "%s", f->public_name);
            snprintf(e->brand, sizeof e->brand, "%.*s",
                     (int)strcspn(f->public_name, " "), f->public_name);
            e->currency = f->currency;
            snprintf(e->factory[0], sizeof e->factory[0], "%s plant 1",
                     f->city);
            e->nfactory = 1;
            if (rng_chance(r, 0.5)) {
                snprintf(e->factory[1], sizeof e->factory[1],
                         "Suzhou plant 1 (%s China)", f->public_name);
                e->nfactory = 2;
            }
            body = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "country",
                             e->country, "name", e->name, "public_name",
                             e->pub, "info", "address", f->city, "contact",
                             "china-office@example.com");
        } else {
            char b[32];
            const struct city *ct = &cities[rng_pick(r, city_w, NCITIES)];

            brand(cn++, 5, b, sizeof b);
            snprintf(e->country, sizeof e->country, "CN");
            snprintf(e->name, sizeof e->name, "%s %s %s", ct->name, b,
                     maker_suffix[rng_int(r, 0, 4)]);
            snprintf(e->pub, sizeof e->pub, "%s Robotics", b);
            snprintf(e->brand, sizeof e->brand, "%s", b);
            e->currency = "CNY";
            nf = (int)rng_int(r, 1, i < 20 ? 3 : 2);
            for (int k = 0; k < nf; k++) {
                const struct city *fc = k == 0 ? ct
                                               : &cities[rng_pick(r, city_w,
                                                                  NCITIES)];

                snprintf(e->factory[k], sizeof e->factory[k], "%s plant %d",
                         fc->name, k + 1);
            }
            e->nfactory = nf;
            body = json_pack("{s:s, s:s, s:s, s:o}", "country", "CN", "name",
                             e->name, "public_name", e->pub, "info",
                             party_info(r, ct, "Keji"));
        }
        e->own_serial = rng_chance(r, 0.55);
        e->serial_pfx[0] = pfx_al[rng_int(r, 0, 23)];
        e->serial_pfx[1] = pfx_al[rng_int(r, 0, 23)];
        e->serial_pfx[2] = '\0';
        e->device_keys = rng_chance(r, 0.3);
        rc = core_enterprise_enrol(p->c, &p->admin, body, NULL, a, &rep,
                                   &err);
        json_decref(body);
        if (reply_ok(p, rc, &rep, &err, e->name) != CORE_OK)
            return rc;
        e->id = json_integer_value(json_object_get(rep.body, "id"));
        snprintf(e->ent, sizeof e->ent, "%s",
                 json_string_value(json_object_get(rep.body, "enterprise")));
        json_decref(rep.body);
        arena_release(a);
    }
    return atomic_load(&p->failed) ? p->err.status : CORE_OK;
}

static int pick_sector(struct rng *r, int level)
{
    static const int w_l0[NSEC] = {30, 10, 0, 0, 10, 50, 0};
    static const int w_l4[NSEC] = {0, 5, 40, 15, 5, 5, 30};
    static const int w_l5[NSEC] = {0, 0, 5, 75, 5, 15, 0};
    static const int w_mid[NSEC] = {32, 24, 12, 9, 10, 8, 5};

    return rng_pick(r, level == 0 ? w_l0 : level == 4 ? w_l4
                                         : level == 5 ? w_l5 : w_mid, NSEC);
}

/* Fills the technical data of model m (not yet filed). */
static void model_draw(struct plan *p, struct dmodel *m, struct rng *r,
                       int idx_in_ent)
{
    const struct dent *e = &p->ents[m->ent];
    static const char series[] = "HGWTARSKMNEX";
    const char *variant;
    double height, mass;
    int extra, chosen[NSLOTS], n = 0, gen;

    m->level = rng_pick(r, level_w, 6);
    m->sector = pick_sector(r, m->level);
    m->price = tidy(rng_real(r, price_lo[m->level], price_hi[m->level]) /
                        1000.0, 0) * 1000.0;
    /* Draws are separate statements throughout: the order in which a
     * call's arguments are evaluated is unspecified, and the data must not
     * depend on the compiler. */
    gen = idx_in_ent + 1 + (int)rng_int(r, 0, 2);
    variant = rng_chance(r, 0.3) ? " Pro" : rng_chance(r, 0.2) ? " Lite" : "";
    snprintf(m->name, sizeof m->name, "%s %c%d %s%s", e->brand,
             series[(m->ent + idx_in_ent) % 12], gen,
             series_suffix[m->sector], variant);
    height = m->sector == SEC_EDUCATION ? rng_real(r, 1200, 1500)
             : m->level == 5            ? rng_real(r, 1550, 1800)
                                        : rng_real(r, 1300, 1800);
    m->height = round(height / 5) * 5;
    mass = 30 + (height - 1200) / 600 * 40 + rng_real(r, -4, 16);
    if (mass < 30)
        mass = 30;
    if (mass > 90)
        mass = 90;
    m->mass = round(mass * 2) / 2;
    for (int f = 0; f < NFW; f++) {
        m->fw[f][0] = (int)rng_int(r, f == 0 ? 1 : 0, 3);
        m->fw[f][1] = (int)rng_int(r, 0, 9);
        m->fw[f][2] = (int)rng_int(r, 0, 9);
    }
    /* Battery, compute and the knees, and up to four more. */
    extra = (int)rng_int(r, 0, 4);
    for (int i = 0; i < NSLOTS; i++)
        chosen[i] = i < 4;
    for (int k = 0; k < extra; k++) {
        int s = (int)rng_int(r, 4, NSLOTS - 1);

        while (chosen[s])
            s = s + 1 < NSLOTS ? s + 1 : 4;
        chosen[s] = 1;
    }
    for (int i = 0; i < NSLOTS; i++) {
        int cat = slots[i].cat;

        if (!chosen[i])
            continue;
        m->slot[n] = (uint8_t)i;
        /* Both knees (or hips, shoulders, hands) come from one supplier. */
        if (n > 0 && slots[m->slot[n - 1]].cat == cat &&
            strcmp(slots[m->slot[n - 1]].kind, slots[i].kind) == 0) {
            m->sup[n] = m->sup[n - 1];
            memcpy(m->part_no[n], m->part_no[n - 1], sizeof m->part_no[n]);
        } else {
            int size = (int)rng_int(r, 2, 9) * 10;
            char rev = (char)('A' + rng_int(r, 0, 3));

            m->sup[n] = (uint8_t)rng_int(r, 0, suppliers_n[cat] - 1);
            snprintf(m->part_no[n], sizeof m->part_no[n], "%s-%s%d%c",
                     suppliers[cat][m->sup[n]].prefix, slots[i].kind, size,
                     rev);
        }
        n++;
    }
    m->ncomp = n;
}

static json_t *model_params(struct rng *r, const struct dmodel *m)
{
    int dof = m->sector == SEC_RESEARCH ? (int)rng_int(r, 36, 60)
                                        : (int)rng_int(r, 20, 48);
    int battery = (int)round(m->mass * rng_real(r, 10, 22) / 8) * 8;
    /* Quarters print exactly (see tidy). */
    double speed = round(rng_real(r, 0.8, m->level >= 4 ? 2.0 : 3.5) * 4) / 4;
    double payload = round(rng_real(r, 3, 25) * 2) / 2;
    const char *ip = rng_chance(r, 0.6) ? "IP54" : "IP44";
    const char *hands = rng_chance(r, 0.6) ? "dexterous, 6 dof each"
                                           : "two-finger grippers";

    return json_pack("{s:i, s:f, s:i, s:f, s:i, s:f, s:{s:f, s:s, s:s}}",
                     "height_mm", (int)m->height, "mass_kg", m->mass,
                     "dof", dof,
                     "payload_kg", payload, "battery_wh", battery,
                     "max_speed_mps", speed, "extra", "runtime_h",
                     round(battery / (m->mass * 6.5) * 4) / 4, "ip_rating",
                     ip, "hands", hands);
}

static int model_set_status(struct plan *p, struct arena *a,
                            const struct core_principal *who,
                            const struct dmodel *m, const char *status,
                            const char *reason)
{
    struct core_reply rep;
    struct core_err e;
    json_t *body = json_pack("{s:s, s:s}", "status", status, "reason",
                             reason);
    int rc = core_model_set_status(p->c, who, m->id, body, a, &rep, &e);
    char what[64];

    json_decref(body);
    snprintf(what, sizeof what, "model '%s' %s", m->id, status);
    if (reply_ok(p, rc, &rep, &e, what) != CORE_OK)
        return rc;
    json_decref(rep.body);
    return CORE_OK;
}

static int plan_models(struct plan *p, struct rng *r, struct arena *a)
{
    double *w = calloc((size_t)p->nents, sizeof *w);
    int *per = calloc((size_t)p->nents, sizeof *per);
    double *uw = calloc((size_t)p->nmodels, sizeof *uw);
    int *units = calloc((size_t)p->nmodels, sizeof *units);
    int nfiled, nwd, ndisc, nrecall, k, rc = CORE_OK;
    int ments = p->nmodels < p->nents ? p->nmodels : p->nents;
    int64_t first = 0;

    if (w == NULL || per == NULL || uw == NULL || units == NULL) {
        struct core_err e;

        core_fail(&e, CORE_EINTERNAL, "internal", NULL, "out of memory");
        plan_fail(p, &e, "planning models");
        rc = CORE_EINTERNAL;
        goto out;
    }
    /* Every enterprise files one model (while there are models), the rest
     * go by size, at most DEMO_MODELS_PER_ENT each. */
    for (int i = 0; i < ments; i++)
        w[i] = pow(p->ents[i].weight, 0.6);
    apportion(p->nmodels - ments, w, ments, per);
    for (int i = 0, spill = 0; i < ments; i++) {
        per[i] += 1;
        if (per[i] > DEMO_MODELS_PER_ENT) {
            spill += per[i] - DEMO_MODELS_PER_ENT;
            per[i] = DEMO_MODELS_PER_ENT;
        }
        if (i == ments - 1 && spill > 0) {
            /* Past the cap everywhere: the smaller makers take the rest. */
            for (int j = ments - 1; spill > 0; j = j > 0 ? j - 1 : ments - 1)
                per[j]++, spill--;
        }
    }
    k = 0;
    for (int i = 0; i < ments; i++) {
        p->ents[i].nmodels = per[i];
        for (int j = 0; j < per[i]; j++, k++) {
            struct dmodel *m = &p->models[k];
            struct rng mr;

            rng_init(&mr, p->seed, STREAM_MODEL + (uint64_t)k);
            m->ent = i;
            m->status = MS_APPROVED;
            model_draw(p, m, &mr, j);
            /* Filing years 2024-2026, older first within a maker. */
            m->year = 2024 + (per[i] == 1 ? (int)rng_int(&mr, 0, 2)
                                          : j * 3 / per[i]);
            if (m->year > p->year_now)
                m->year = p->year_now;
        }
    }
    /* A few still filed, one withdrawn before launch, one discontinued,
     * a few under recall. */
    nfiled = p->nmodels >= 5 ? (p->nmodels * 4 + 99) / 100 : 0;
    nwd = p->nmodels >= 10 ? 1 : 0;
    ndisc = p->nmodels >= 50 ? 1 : 0;
    nrecall = p->nmodels >= 5 ? (p->nmodels + 49) / 50 : 0;
    for (int i = 0; i < nfiled + nwd + ndisc + nrecall; i++) {
        int m = (int)rng_int(r, 0, p->nmodels - 1), t;
        struct dmodel *dm = NULL;

        for (t = 0; t < p->nmodels; t++, m = (m + 1) % p->nmodels) {
            dm = &p->models[m];
            /* Keep each maker with an approved model to sell. */
            if (dm->status == MS_APPROVED && !dm->recall &&
                (i >= nfiled + nwd + ndisc || p->ents[dm->ent].nmodels > 1))
                break;
        }
        if (t == p->nmodels)
            continue;
        if (i < nfiled) {
            dm->status = MS_FILED;
            dm->year = p->year_now;
        } else if (i < nfiled + nwd) {
            dm->status = MS_WITHDRAWN;
        } else if (i < nfiled + nwd + ndisc) {
            dm->status = MS_DISCONTINUED;
            dm->year = 2024;
        } else {
            dm->recall = true;
        }
        if (dm->status != MS_APPROVED && dm->status != MS_DISCONTINUED)
            p->ents[dm->ent].nmodels--;
    }
    /* Units: by the maker's size, shared among its models. */
    for (int i = 0; i < p->nmodels; i++) {
        struct dmodel *m = &p->models[i];
        struct rng mr;

        rng_init(&mr, p->seed, STREAM_MODEL + 0x800 + (uint64_t)i);
        uw[i] = p->ents[m->ent].weight / per[m->ent] *
                (m->status == MS_FILED ? 0.15
                 : m->status == MS_WITHDRAWN ? 0
                 : rng_real(&mr, 0.5, 1.5));
    }
    apportion(p->nunits_total, uw, p->nmodels, units);
    /* Production windows and filing. */
    for (int i = 0; i < p->nmodels && rc == CORE_OK; i++) {
        struct dmodel *m = &p->models[i];
        struct dent *e = &p->ents[m->ent];
        struct core_principal maker = {ROLE_MANUFACTURER, e->id, 0, NULL};
        struct core_reply rep;
        struct core_err err;
        struct rng mr;
        int64_t first_day = days_from_civil(2025, 1, 1);
        json_t *body;
        char doc1[64], doc2[64];

        rng_init(&mr, p->seed, STREAM_MODEL + 0x400 + (uint64_t)i);
        m->units = units[i];
        m->first = first;
        first += units[i];
        if (m->status == MS_FILED) {
            m->day0 = p->prod_last - 45;
        } else if (m->status == MS_DISCONTINUED) {
            m->day0 = first_day;
            m->day1 = first_day + 270;
        } else {
            int64_t jan = days_from_civil(m->year, 1, 1);

            m->day0 = (jan > first_day ? jan : first_day) +
                      rng_int(&mr, 0, m->year == 2024 ? 60 : 150);
        }
        if (m->status != MS_DISCONTINUED || m->day1 > p->prod_last)
            m->day1 = p->prod_last;
        if (m->day0 > m->day1 - 45)
            m->day0 = m->day1 - 45;
        snprintf(m->filing_no, sizeof m->filing_no, "MIIT-HR-%d-%05d",
                 m->year, 101 + i * 7 % 100000);
        snprintf(doc1, sizeof doc1, "type test report TT-%d-%04d", m->year,
                 (int)rng_int(&mr, 1, 9999));
        snprintf(doc2, sizeof doc2, "functional safety assessment FS-%04d",
                 (int)rng_int(&mr, 1, 9999));
        body = json_pack("{s:s, s:i, s:i, s:o, s:{s:s, s:[s, s]}}", "name",
                         m->name, "level", m->level, "filing_year", m->year,
                         "params", model_params(&mr, m), "filing",
                         "filing_no", m->filing_no, "documents", doc1, doc2);
        rc = core_model_file(p->c, &maker, e->ent, body, NULL, a, &rep,
                             &err);
        json_decref(body);
        if (reply_ok(p, rc, &rep, &err, m->name) != CORE_OK)
            break;
        snprintf(m->id, sizeof m->id, "%s",
                 json_string_value(json_object_get(rep.body, "model")));
        json_decref(rep.body);
        if (m->recall) {
            static const char *const defects[] = {
                "knee actuator encoder may lose position after about 2,000 "
                "operating hours; the unit may fall",
                "battery pack cell monitoring may under-report temperature "
                "while fast charging",
                "emergency stop may respond later than 500 ms under high CPU "
                "load (firmware)",
            };

            snprintf(m->recall_id, sizeof m->recall_id, "RC-%d-%03d",
                     p->year_now, (int)(i % 900) + 11);
            snprintf(m->recall_defect, sizeof m->recall_defect, "%s",
                     defects[i % 3]);
        }
        if (m->status == MS_APPROVED || m->status == MS_DISCONTINUED)
            rc = model_set_status(p, a, &p->regulator, m, "approved",
                                  "type test and filing documents complete");
        else if (m->status == MS_WITHDRAWN)
            rc = model_set_status(p, a, &maker, m, "withdrawn",
                                  "product line cancelled before launch");
        arena_release(a);
    }
out:
    free(w);
    free(per);
    free(uw);
    free(units);
    return rc;
}

/* ---- plan: parties ------------------------------------------------------ */

static const char *const owner_short[NSEC][4] = {
    {"Electronics", "Auto Parts", "Machinery", "Appliances"},
    {"Logistics", "Supply Chain", "Express", "Cold Chain"},
    {"Supermarkets", "Department Store", "Malls", "Electronics Retail"},
    {"Care Home", "Senior Living", "Rehabilitation Hospital",
     "Nursing Home"},
    {"College", "Experimental School", "Middle School", "University"},
    {"Institute", "AI Lab", "Research Institute", "Automation Institute"},
    {"Metro", "Science Museum", "Service Center", "Station Services"},
};

/* Parties of one family (sellers, owners...) scale with the fleet: the
 * launch figures at 28,000 units, never fewer than min. */
static int scaled(int64_t units, int full, int min)
{
    double s = (double)units / CORE_DEMO_UNITS;
    int n = (int)lround(full * (s < 1 ? s : 1));

    return n < min ? min : n;
}

static int pick_city(struct rng *r)
{
    int w[NCITIES];

    for (int i = 0; i < NCITIES; i++)
        w[i] = cities[i].owners;
    return rng_pick(r, w, NCITIES);
}

static void make_site(struct rng *r, struct site *s, int city,
                      const char *pub, const char *kind, int n)
{
    const struct city *ct = &cities[city];

    s->city = city;
    s->lat = tidy(ct->lat + rng_real(r, -0.12, 0.12), 4);
    s->lon = tidy(ct->lon + rng_real(r, -0.15, 0.15), 4);
    snprintf(s->name, sizeof s->name, "%s %s %s %d", pub, ct->name, kind, n);
}

static int plan_owners(struct plan *p, struct rng *r, struct arena *a)
{
    int cnt[NSEC][NCITIES];
    int nsec[NSEC] = {0};
    double total = 0;

    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < p->nowners && !atomic_load(&p->failed); i++) {
        struct owner *o = &p->owners[i];
        int sec = i == 0 ? SEC_FACTORY : rng_pick(r, owner_sector_w, NSEC);
        int city = i == 0 ? 0 : pick_city(r);
        int k = (int)rng_int(r, 0, 3), c = cnt[sec][city]++;
        const struct city *ct = &cities[city];
        char b[32], name[200];
        double w = 1.0 / pow(i + 1, 0.75);

        brand(c, sec * 7 + city, b, sizeof b);
        o->sector = sec;
        o->city = city;
        if (sec == SEC_PUBLIC && c < 4) {
            snprintf(name, sizeof name, "%s %s", ct->name,
                     owner_kind[sec][c]);
            snprintf(o->pub, sizeof o->pub, "%s %s", ct->name,
                     owner_short[sec][c]);
        } else if (sec == SEC_EDUCATION && k == 2) {
            snprintf(name, sizeof name, "%s No. %d Middle School", ct->name,
                     c + 1);
            snprintf(o->pub, sizeof o->pub, "%s No. %d Middle School",
                     ct->name, c + 1);
        } else {
            snprintf(name, sizeof name, "%s %s %s", ct->name, b,
                     owner_kind[sec][k]);
            snprintf(o->pub, sizeof o->pub, "%s %s", b, owner_short[sec][k]);
        }
        o->nsites = i < 20 ? (int)rng_int(r, 2, DEMO_SITES_MAX)
                           : (int)rng_int(r, 1, 2);
        for (int s = 0; s < o->nsites; s++) {
            int sc = s == 0 || rng_chance(r, 0.5) ? city : pick_city(r);
            int sk = (int)rng_int(r, 0, 2);

            make_site(r, &o->site[s], sc, o->pub, site_kind[sec][sk], s + 1);
        }
        if (make_party(p, a, "owner", name, o->pub, "CN",
                       party_info(r, ct, "Chuangye"), &o->id) != CORE_OK)
            break;
        total += w;
        p->owner_cum[i] = total;
        p->sec_owner[sec][nsec[sec]] = i;
        p->sec_cum[sec][nsec[sec]] =
            (nsec[sec] ? p->sec_cum[sec][nsec[sec] - 1] : 0) + w;
        nsec[sec]++;
        arena_release(a);
    }
    memcpy(p->sec_n, nsec, sizeof nsec);
    return atomic_load(&p->failed) ? p->err.status : CORE_OK;
}

static int plan_parties(struct plan *p, struct rng *r, struct arena *a)
{
    static const char *const dist_kind[] = {
        "Robot Sales Co., Ltd.", "Intelligent Equipment Trading Co., Ltd.",
    };
    static const char *const lessor_kind[] = {
        "Robot Leasing Co., Ltd.", "Financial Leasing Co., Ltd.",
    };
    static const char *const service_kind[] = {
        "Robot Maintenance Service Co., Ltd.",
        "Mechatronics Service Co., Ltd.",
        "Intelligent Equipment Technical Service Co., Ltd.",
    };
    static const char *const recycler_kind[] = {
        "Renewable Resources Co., Ltd.", "E-Waste Recycling Co., Ltd.",
        "Green Recycling Technology Co., Ltd.",
    };
    int cnt[4][NCITIES];
    double dsum = 0, lsum = 0;
    int rc = CORE_OK;

    memset(cnt, 0, sizeof cnt);
    /* Sellers: three in four distributors, the rest lessors. */
    for (int i = 0; i < p->nsellers && rc == CORE_OK; i++) {
        bool lessor = i % 4 == 3;
        int city = pick_city(r);
        char b[32], name[200], pub[96];

        brand(cnt[0][city]++, 40 + city, b, sizeof b);
        snprintf(name, sizeof name, "%s %s %s", cities[city].name, b,
                 lessor ? lessor_kind[rng_int(r, 0, 1)]
                        : dist_kind[rng_int(r, 0, 1)]);
        snprintf(pub, sizeof pub, "%s %s", b,
                 lessor ? "Robot Leasing" : "Robot Sales");
        p->sellers[i].lessor = lessor;
        rc = make_party(p, a, "seller", name, pub, "CN",
                        party_info(r, &cities[city], "Shangmao"),
                        &p->sellers[i].id);
        if (lessor) {
            lsum += 1.0 / pow(p->nlessor + 1, 0.6);
            p->lessor_cum[p->nlessor] = lsum;
            p->lessor[p->nlessor++] = i;
        } else {
            dsum += 1.0 / pow(p->ndist + 1, 0.8);
            p->seller_cum[p->ndist] = dsum;
            p->distributor[p->ndist++] = i;
        }
        arena_release(a);
    }
    if (rc == CORE_OK)
        rc = plan_owners(p, r, a);
    for (int i = 0; i < p->nservice && rc == CORE_OK; i++) {
        int city = i < NCITIES ? i : pick_city(r);
        char b[32], name[200], pub[96];

        brand(cnt[2][city]++, 80 + city, b, sizeof b);
        snprintf(name, sizeof name, "%s %s %s", cities[city].name, b,
                 service_kind[rng_int(r, 0, 2)]);
        snprintf(pub, sizeof pub, "%s Robot Service", b);
        rc = make_party(p, a, "service", name, pub, "CN",
                        party_info(r, &cities[city], "Weixiu"),
                        &p->service[i]);
        arena_release(a);
    }
    for (int i = 0; i < p->nrecyclers && rc == CORE_OK; i++) {
        int city = pick_city(r);
        char b[32], name[200];

        brand(cnt[3][city]++, 120 + city, b, sizeof b);
        snprintf(name, sizeof name, "%s %s %s", cities[city].name, b,
                 recycler_kind[rng_int(r, 0, 2)]);
        snprintf(p->recycler_pub[i], sizeof p->recycler_pub[i],
                 "%s Recycling", b);
        rc = make_party(p, a, "recycler", name, p->recycler_pub[i], "CN",
                        party_info(r, &cities[city], "Huanbao"),
                        &p->recyclers[i]);
        arena_release(a);
    }
    return rc;
}

/* ---- the fleet ---------------------------------------------------------- */

/* A unit while its thread plays its history: what it was registered with
 * and what its record says now. */
struct unit {
    int64_t gidx;            /* global index: its PRNG stream */
    int model;
    int ordinal;             /* within its model, from 0 */
    char code[HRID_CODE_LEN + 1];
    int64_t day;             /* production date, days since 1970 */
    int64_t t_reg;
    struct rng r;
    char state[16];          /* as the last reply said */
    int64_t t;               /* at of the last event */
    int64_t cust;
    unsigned cust_role;
    int owner;               /* index of the owner holding it, or -1 */
    int64_t lessor;          /* the lessor of a leased unit, or 0 */
    bool deployed;
    int site;
    int fw[NFW][3];
    char serial[DEMO_COMP_MAX][24];
};

struct worker {
    struct plan *p;
    pthread_t th;
    int *models;             /* indexes into p->models, ascending */
    int nmodels;
    int64_t load;
    struct arena a;
    struct unit *chunk;
    int64_t units, events;
    int64_t sample_gidx;
    int sample_key;
    char sample_code[30];
    int sample_model;
    int64_t sample_owner;
};

static bool in_state(const struct unit *u, const char *s)
{
    return strcmp(u->state, s) == 0;
}

static void fmt_version(const int v[3], char out[24])
{
    snprintf(out, 24, "%d.%d.%d", v[0] % 1000, v[1] % 1000, v[2] % 1000);
}

/* Records one event as who; at 0 dates it now.  Takes body. */
static int ev(struct worker *w, struct unit *u, unsigned role, int64_t party,
              json_t *body, int64_t at)
{
    struct core_principal who = {role, party, 0, NULL};
    struct core_reply rep;
    struct core_err e;
    char type[32];
    const char *st;
    json_t *reply;
    int rc;

    snprintf(type, sizeof type, "%s",
             json_string_value(json_object_get(body, "type")));
    if (at != 0)
        json_object_set_new(body, "at", jtime(at));
    rc = core_event_add(w->p->c, &who, u->code, HRID_CODE_LEN, body, NULL,
                        &w->a, &rep, &e);
    json_decref(body);
    if (rc != CORE_OK) {
        plan_fail(w->p, &e, "unit '%s': %s by %s %lld", u->code, type,
                  core_role_name(role), (long long)party);
        return rc;
    }
    reply = core_reply_json(&rep);
    st = json_string_value(json_object_get(reply, "state"));
    snprintf(u->state, sizeof u->state, "%s", st ? st : "");
    json_decref(reply);
    if (at != 0)
        u->t = at;
    w->events++;
    return CORE_OK;
}

/* The custodian grants grantee scope until days from now. */
static int grant(struct worker *w, struct unit *u, int64_t grantee,
                 const char *scope, int days)
{
    struct core_principal who = {u->cust_role, u->cust, 0, NULL};
    struct core_reply rep;
    struct core_err e;
    json_t *body = json_pack("{s:I, s:s, s:o}", "grantee",
                             (json_int_t)grantee, "scope", scope, "until",
                             jtime(core_now_ms() + days * DAY_MS));
    int rc = core_grant_create(w->p->c, &who, u->code, HRID_CODE_LEN, body,
                               NULL, &w->a, &rep, &e);

    json_decref(body);
    if (rc != CORE_OK) {
        plan_fail(w->p, &e, "unit '%s': %s grant to %lld", u->code, scope,
                  (long long)grantee);
        return rc;
    }
    json_decref(rep.body);
    w->events++;
    return CORE_OK;
}

static int ev_transfer(struct worker *w, struct unit *u, int64_t to,
                       unsigned to_role, const char *kind, double price,
                       const char *currency, int64_t at)
{
    json_t *b = json_pack("{s:s, s:I, s:s, s:I, s:s}", "type", "transfer",
                          "to", (json_int_t)to, "kind", kind, "price",
                          (json_int_t)(round(price / 100) * 100), "currency",
                          currency);
    int rc = ev(w, u, u->cust_role, u->cust, b, at);

    if (rc == CORE_OK) {
        u->cust = to;
        u->cust_role = to_role;
    }
    return rc;
}

static int ev_deploy(struct worker *w, struct unit *u, int site, int64_t at)
{
    const struct owner *o = &w->p->owners[u->owner];
    const struct site *s = &o->site[site];
    json_t *b = json_pack("{s:s, s:{s:s, s:s, s:f, s:f}, s:s}", "type",
                          "deploy", "site", "name", s->name, "region",
                          cities[s->city].region, "lat", s->lat, "lon",
                          s->lon, "scenario", scenario_name[o->sector]);
    int rc = ev(w, u, ROLE_OWNER, u->cust, b, at);

    if (rc == CORE_OK) {
        u->deployed = true;
        u->site = site;
    }
    return rc;
}

static void digest(int model, int comp, const int v[3], char out[65])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 4; i++) {
        uint64_t h = hash3((uint64_t)model, (uint64_t)comp * 4 + (uint64_t)i,
                           (uint64_t)(v[0] * 1000000 + v[1] * 1000 + v[2]));

        for (int j = 0; j < 16; j++)
            out[i * 16 + j] = hex[(h >> (j * 4)) & 15];
    }
    out[64] = '\0';
}

static int ev_firmware(struct worker *w, struct unit *u, unsigned role,
                       int64_t party, int comp, int64_t at)
{
    char from[24], to[24], dg[65];
    int v[3] = {u->fw[comp][0], u->fw[comp][1], u->fw[comp][2]};
    json_t *b;
    int rc;

    fmt_version(v, from);
    if (comp == 0 || rng_chance(&u->r, 0.3)) {
        v[1]++;
        v[2] = 0;
    } else {
        v[2]++;
    }
    fmt_version(v, to);
    digest(u->model, comp, v, dg);
    b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "firmware_update",
                  "component", fw_comp[comp], "from_version", from,
                  "to_version", to, "package_digest", dg);
    rc = ev(w, u, role, party, b, at);
    if (rc == CORE_OK)
        memcpy(u->fw[comp], v, sizeof v);
    return rc;
}

static int ev_inspection(struct worker *w, struct unit *u, unsigned role,
                         int64_t party, const char *notes, int64_t at)
{
    double x = rng_unit(&u->r);
    const char *res = x < 0.90 ? "pass" : x < 0.97 ? "conditional" : "fail";
    int64_t when = at ? at : core_now_ms();
    json_t *b = json_pack("{s:s, s:s, s:o, s:s}", "type", "inspection",
                          "result", res, "next_due",
                          jdate(when + (res[0] == 'p' ? 365 : 90) * DAY_MS),
                          "notes", notes);

    return ev(w, u, role, party, b, at);
}

/* maintenance_start and, dur later (0: now), maintenance_end with
 * nparts parts replaced. */
static int maintain(struct worker *w, struct unit *u, unsigned role,
                    int64_t party, int64_t at, int64_t end, bool close)
{
    static const char *const reasons[] = {
        "scheduled 2,000-hour service",
        "operator reported noise from a knee joint",
        "battery capacity below 80% at the monthly check",
        "fall detection triggered twice in a week",
        "hand grip force out of tolerance",
    };
    static const char *const findings[] = {
        "joint backlash within limits after adjustment; lubricated",
        "worn reducer replaced; joint calibrated and tested",
        "battery pack replaced; charge cycles reset",
        "loose connector reseated; encoder recalibrated",
        "no fault found; firmware logs sent to the maker",
    };
    const struct dmodel *m = &w->p->models[u->model];
    struct rng *r = &u->r;
    int64_t when = end ? end : core_now_ms();
    char wo[40], lot[24];
    int reason = (int)rng_int(r, 0, 4), nparts, idx[2];
    json_t *b, *parts;
    int rc, y, mo, d;

    {
        int wy, wm, wd;

        civil_from_days((at ? at : core_now_ms()) / DAY_MS, &wy, &wm, &wd);
        snprintf(wo, sizeof wo, "WO-%02d%02d-%06d", wy % 100, wm,
                 (int)rng_int(r, 1, 999999));
    }
    b = json_pack("{s:s, s:s, s:s}", "type", "maintenance_start",
                  "work_order", wo, "reason", reasons[reason]);
    rc = ev(w, u, role, party, b, at);
    if (rc != CORE_OK || !close)
        return rc;
    /* Parts: the battery for a battery complaint, a joint for a noise, a
     * hand for a grip fault, else one or two at random (or none). */
    nparts = reason == 4 && rng_chance(r, 0.3) ? 0 : (int)rng_int(r, 0, 2);
    idx[0] = reason == 2 ? 0 : reason == 1 ? 2 + (int)rng_int(r, 0, 1)
                                           : (int)rng_int(r, 0, m->ncomp - 1);
    idx[1] = (idx[0] + 1 + (int)rng_int(r, 0, m->ncomp - 2)) % m->ncomp;
    if (reason == 1 || reason == 2)
        nparts = nparts ? nparts : 1;
    civil_from_days(when / DAY_MS, &y, &mo, &d);
    parts = json_array();
    for (int i = 0; i < nparts && i < m->ncomp; i++) {
        int k = idx[i], cat = slots[m->slot[k]].cat;
        const struct supplier *s = &suppliers[cat][m->sup[k]];
        char serial[24];

        snprintf(lot, sizeof lot, "%s%02d%02dS", s->prefix, y % 100, mo);
        snprintf(serial, sizeof serial, "%s%02dR%07X", s->prefix, y % 100,
                 (unsigned)(rng_next(r) & 0xFFFFFFF));
        json_array_append_new(
            parts, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "slot",
                             slots[m->slot[k]].slot, "old_serial",
                             u->serial[k], "part_no", m->part_no[k],
                             "supplier", s->name, "lot", lot, "serial",
                             serial));
        snprintf(u->serial[k], sizeof u->serial[k], "%s", serial);
    }
    b = json_pack("{s:s, s:s, s:s, s:o}", "type", "maintenance_end",
                  "work_order", wo, "findings",
                  nparts > 0 ? findings[reason == 2 ? 2 : 1]
                  : reason == 0 ? findings[0] : findings[3 + reason % 2],
                  "parts_replaced", parts);
    return ev(w, u, role, party, b, end);
}

static int ev_incident(struct worker *w, struct unit *u, unsigned role,
                       int64_t party, int64_t at)
{
    static const char *const kinds[] = {"fall", "collision", "data",
                                        "security", "other"};
    static const int kind_w[] = {40, 35, 8, 5, 12};
    static const char *const desc[][2] = {
        {"lost balance on a wet floor while carrying a tote and fell "
         "sideways; nobody was hurt",
         "tripped over a pallet edge during a turn; left knee cover cracked"},
        {"brushed a worker's shoulder while turning in an aisle; the worker "
         "was unhurt and the speed limit was lowered",
         "struck a shelf upright at walking speed; minor dent, shelf "
         "inspected"},
        {"camera recordings kept beyond the retention period were found on "
         "the unit; deleted and the retention setting corrected",
         "diagnostic upload included floor-plan images not covered by the "
         "data agreement"},
        {"unauthorised remote login attempt blocked; credentials rotated",
         "outdated TLS certificate on the maintenance port; replaced"},
        {"battery overheating warning while charging; charging stopped "
         "automatically",
         "unexpected stop in a corridor blocked a fire exit for 4 minutes"},
    };
    static const char *const sev[] = {"minor", "serious", "critical"};
    static const int sev_w[] = {72, 22, 6};
    struct rng *r = &u->r;
    int k = rng_pick(r, kind_w, 5);
    int sv = rng_pick(r, sev_w, 3);
    int d = (int)rng_int(r, 0, 1);
    const struct owner *o = u->owner >= 0 ? &w->p->owners[u->owner] : NULL;
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "type", "incident",
                          "severity", sev[sv], "kind", kinds[k],
                          "description", desc[k][d]);

    if (o != NULL && u->deployed)
        json_object_set_new(b, "place", json_string(o->site[u->site].name));
    return ev(w, u, role, party, b, at);
}

static int ev_scrap(struct worker *w, struct unit *u, unsigned role,
                    int64_t party, const char *reason, int64_t at)
{
    return ev(w, u, role, party,
              json_pack("{s:s, s:s}", "type", "scrap", "reason", reason), at);
}

static int ev_recycle(struct worker *w, struct unit *u, int recycler,
                      int64_t at)
{
    /* What a humanoid is made of, by share of its mass. */
    static const struct {
        const char *name;
        double share;
    } mat[] = {
        {"aluminium alloy", 0.38}, {"steel", 0.17}, {"copper", 0.06},
        {"lithium-ion battery", 0.12}, {"engineering plastics", 0.2},
    };
    const struct dmodel *m = &w->p->models[u->model];
    char att[256];
    json_t *b, *ms = json_array();
    int cert = (int)rng_int(&u->r, 1, 99999);

    snprintf(att, sizeof att, "DW-%lld-%05d: storage of unit %s purged and "
             "verified; certificate signed by %s", (long long)u->gidx, cert,
             u->code, w->p->recycler_pub[recycler]);
    /* Halves of a kilogram print exactly (see tidy). */
    for (size_t i = 0; i < sizeof mat / sizeof mat[0]; i++)
        json_array_append_new(
            ms, json_pack("{s:s, s:f}", "material", mat[i].name, "mass_kg",
                          round(m->mass * mat[i].share * 2) / 2));
    b = json_pack("{s:s, s:{s:s, s:s}, s:o}", "type", "recycle", "data_wipe",
                  "method", "NIST SP 800-88 purge (cryptographic erase)",
                  "attestation", att, "materials", ms);
    return ev(w, u, ROLE_RECYCLER, w->p->recyclers[recycler], b, at);
}

/* Draws an owner for a unit of a model meant for sector sec: mostly one
 * of that sector, weighted by size. */
static int pick_owner(const struct plan *p, struct rng *r, int sec)
{
    if (p->sec_n[sec] > 0 && rng_chance(r, 0.8))
        return p->sec_owner[sec][rng_cum(r, p->sec_cum[sec], p->sec_n[sec])];
    return rng_cum(r, p->owner_cum, p->nowners);
}

/* The next event time, lo to hi after the last; false past the horizon. */
static bool step(struct unit *u, int64_t lo, int64_t hi, int64_t horizon,
                 int64_t *t)
{
    *t = u->t + rng_int(&u->r, lo, hi) / MIN_MS * MIN_MS;
    return *t <= horizon;
}

enum life_kind { L_FW, L_INSP, L_MAINT, L_REDEPLOY, L_INCIDENT, L_SUSPEND,
                 L_REMEDY, L_RESUME };

struct item {
    int64_t t;
    int kind;
    int seq;
};

static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq - y->seq;
}

static void add_item(struct item *it, int *n, int64_t t, int kind,
                     int64_t end)
{
    if (t < end && *n < DEMO_LIFE_MAX) {
        it[*n].t = t;
        it[*n].kind = kind;
        it[*n].seq = *n;
        (*n)++;
    }
}

/* The service life after custody reached an owner (deployed or not), the
 * end of life, and the work done now under grants. */
static int life(struct worker *w, struct unit *u)
{
    struct plan *p = w->p;
    const struct dmodel *m = &p->models[u->model];
    const struct dent *e = &p->ents[m->ent];
    const struct owner *o = &p->owners[u->owner];
    struct rng *r = &u->r;
    int64_t H = p->horizon, start = u->t, end = H, scrap_t = 0, t;
    struct item it[DEMO_LIFE_MAX];
    int n = 0, scrap = 0, rc = CORE_OK, rec;
    bool dep = u->deployed;
    const struct core_principal *reg = &p->regulator;

    /* About 3% of the fleet reaches its end: some sold on to recyclers,
     * some scrapped by their owners, recycled now or awaiting it. */
    if (H - start > 60 * DAY_MS && rng_chance(r, dep ? 0.05 : 0.02)) {
        double x = rng_unit(r);

        scrap_t = start + (int64_t)((double)(H - 30 * DAY_MS - start) *
                                    rng_real(r, 0.3, 1.0));
        end = scrap_t;
        scrap = u->lessor ? 'A' : x < 0.5 ? 'A' : x < 0.75 ? 'B'
                                : x < 0.9 ? 'C' : 'D';
    }
    for (t = start + rng_int(r, 20, 120) * DAY_MS; t < end;
         t += rng_int(r, 70, 160) * DAY_MS)
        add_item(it, &n, t, L_FW, end);
    if (rng_chance(r, dep ? 0.35 : 0.2))
        for (t = start + rng_int(r, 120, 330) * DAY_MS; t < end;
             t += rng_int(r, 330, 400) * DAY_MS)
            add_item(it, &n, t, L_INSP, end);
    if (dep && rng_chance(r, 0.4))
        for (t = start + rng_int(r, 45, 240) * DAY_MS; t < end;
             t += rng_int(r, 100, 260) * DAY_MS)
            add_item(it, &n, t, L_MAINT, end);
    if (dep && o->nsites > 1 && rng_chance(r, 0.12))
        add_item(it, &n, start + rng_int(r, 20, 300) * DAY_MS, L_REDEPLOY,
                 end);
    if (rng_chance(r, dep ? 0.02 : 0.004))
        add_item(it, &n, rng_int(r, start, end), L_INCIDENT, end);
    /* Suspensions: units of recalled models, and a few others. */
    if (rng_chance(r, m->recall ? 0.3 : 0.018)) {
        int64_t s = rng_int(r, start + DAY_MS, end);

        add_item(it, &n, s, L_SUSPEND, end);
        if (rng_chance(r, 0.55)) {
            if (m->recall)
                add_item(it, &n, s + rng_int(r, 3, 20) * DAY_MS, L_REMEDY,
                         end);
            add_item(it, &n, s + rng_int(r, 21, 70) * DAY_MS, L_RESUME, end);
        }
    }
    qsort(it, (size_t)n, sizeof it[0], item_cmp);
    for (int i = 0; i < n && rc == CORE_OK; i++) {
        /* Working hours vary: up to ten hours after the planned time. */
        int64_t at = (it[i].t + rng_int(r, 0, 600) * MIN_MS) / MIN_MS * MIN_MS;

        if (at < u->t + 10 * MIN_MS)
            at = u->t + rng_int(r, 10, 180) * MIN_MS;
        if (at > end)
            break;
        switch (it[i].kind) {
        case L_FW: {
            double x = rng_unit(r);

            rc = ev_firmware(w, u, ROLE_MANUFACTURER, e->id,
                             x < 0.7 ? 0 : x < 0.85 ? 1 : 2, at);
            break;
        }
        case L_REMEDY:
            if (in_state(u, "suspended"))
                rc = ev_firmware(w, u, ROLE_MANUFACTURER, e->id, 0, at);
            break;
        case L_INSP:
            rc = ev_inspection(w, u, reg->role, reg->party_id,
                               dep ? "annual safety inspection: emergency "
                                     "stop, speed limiting, fall detection"
                                   : "market surveillance spot check",
                               at);
            break;
        case L_MAINT: {
            int64_t done = at + rng_int(r, 3, 72) * HOUR_MS;

            if (in_state(u, "in_service") && done < end)
                rc = maintain(w, u, ROLE_OWNER, u->cust, at, done, true);
            break;
        }
        case L_REDEPLOY:
            if (in_state(u, "in_service"))
                rc = ev_deploy(w, u, (u->site + 1 +
                                      (int)rng_int(r, 0, o->nsites - 2)) %
                                         o->nsites, at);
            break;
        case L_INCIDENT:
            if (dep && rng_chance(r, 0.8))
                rc = ev_incident(w, u, ROLE_OWNER, u->cust, at);
            else
                rc = ev_incident(w, u, reg->role, reg->party_id, at);
            break;
        case L_SUSPEND:
            if (in_state(u, "in_service") || in_state(u, "released")) {
                json_t *b;

                if (m->recall)
                    b = json_pack("{s:s, s:s, s:s}", "type", "suspend",
                                  "reason", m->recall_defect, "recall_id",
                                  m->recall_id);
                else
                    b = json_pack("{s:s, s:s}", "type", "suspend", "reason",
                                  rng_chance(r, 0.5)
                                      ? "deployed outside the permitted "
                                        "scenario; suspended pending review"
                                      : "incident under investigation");
                rc = ev(w, u, reg->role, reg->party_id, b, at);
            }
            break;
        case L_RESUME:
            if (in_state(u, "suspended"))
                rc = ev(w, u, reg->role, reg->party_id,
                        json_pack("{s:s, s:s}", "type", "resume", "reason",
                                  m->recall ? "remedy installed and unit "
                                              "re-inspected"
                                            : "review closed; deployment "
                                              "corrected"),
                        at);
            break;
        }
    }
    if (rc != CORE_OK)
        return rc;

    rec = (int)rng_int(r, 0, p->nrecyclers - 1);
    if (scrap != 0 && scrap != 'D') {
        int64_t t0 = scrap_t > u->t ? scrap_t : u->t + HOUR_MS;

        t0 = t0 / MIN_MS * MIN_MS;
        if (t0 > H)
            return CORE_OK;
        if (scrap == 'A') {
            if (u->lessor != 0) {
                rc = ev_transfer(w, u, u->lessor, ROLE_SELLER, "return", 0,
                                 "CNY", t0);
                if (rc != CORE_OK || !step(u, 2 * DAY_MS, 10 * DAY_MS, H, &t0))
                    return rc;
            }
            rc = ev_transfer(w, u, p->recyclers[rec], ROLE_RECYCLER, "sale",
                             m->price * rng_real(r, 0.02, 0.06), "CNY", t0);
            if (rc == CORE_OK && step(u, DAY_MS, 7 * DAY_MS, H, &t))
                rc = ev_scrap(w, u, ROLE_RECYCLER, u->cust,
                              "end-of-life unit received for dismantling", t);
            if (rc == CORE_OK && in_state(u, "scrapped") &&
                step(u, 3 * DAY_MS, 30 * DAY_MS, H, &t))
                rc = ev_recycle(w, u, rec, t);
            return rc;
        }
        rc = ev_scrap(w, u, ROLE_OWNER, u->cust,
                      rng_chance(r, 0.5)
                          ? "damaged beyond economic repair after a fall"
                          : "end of service life: battery and joints worn",
                      t0);
        if (rc != CORE_OK || scrap == 'C')
            return rc;
    }
    /* Now: work under grants. */
    if (scrap == 'B' || scrap == 'D') {
        rc = grant(w, u, p->recyclers[rec], "recycling", 90);
        if (rc == CORE_OK && scrap == 'D')
            rc = ev_scrap(w, u, ROLE_RECYCLER, p->recyclers[rec],
                          "replaced by a newer model; decommissioned", 0);
        if (rc == CORE_OK)
            rc = ev_recycle(w, u, rec, 0);
        return rc;
    }
    if (u->cust_role != ROLE_OWNER)
        return CORE_OK;
    if (in_state(u, "in_service") && rng_chance(r, 0.08)) {
        int64_t svc = p->service[o->city < p->nservice && rng_chance(r, 0.6)
                                     ? o->city
                                     : (int)rng_int(r, 0, p->nservice - 1)];

        rc = grant(w, u, svc, "service", (int)rng_int(r, 90, 365));
        if (rc == CORE_OK)
            rc = maintain(w, u, ROLE_SERVICE, svc, 0, 0, rng_chance(r, 0.7));
        if (rc == CORE_OK && rng_chance(r, 0.4))
            rc = ev_inspection(w, u, ROLE_SERVICE, svc,
                               "post-service functional test", 0);
        if (rc == CORE_OK && rng_chance(r, 0.25))
            rc = ev_firmware(w, u, ROLE_SERVICE, svc, 0, 0);
    } else if (in_state(u, "released") && rng_chance(r, 0.05)) {
        int64_t svc = p->service[rng_int(r, 0, p->nservice - 1)];

        rc = grant(w, u, svc, "service", 180);
        if (rc == CORE_OK)
            rc = ev_firmware(w, u, ROLE_SERVICE, svc, 0, 0);
    }
    return rc;
}

static int run_unit(struct worker *w, struct unit *u, const struct unit *next)
{
    struct plan *p = w->p;
    const struct dmodel *m = &p->models[u->model];
    const struct dent *e = &p->ents[m->ent];
    struct rng *r = &u->r;
    int64_t H = p->horizon, t;
    int owner, ch, rc;
    const char *kind;

    u->t = u->t_reg;
    u->cust = e->id;
    u->cust_role = ROLE_MANUFACTURER;
    u->owner = -1;
    u->lessor = 0;
    u->deployed = false;
    snprintf(u->state, sizeof u->state, "registered");

    /* A wrong registration, voided and linked to its replacement. */
    if (next != NULL && rng_chance(r, 0.001) &&
        step(u, 2 * HOUR_MS, 30 * HOUR_MS, H, &t))
        return ev(w, u, ROLE_MANUFACTURER, e->id,
                  json_pack("{s:s, s:s, s:s}", "type", "void", "replaced_by",
                            next->code, "reason",
                            "registered with the wrong production date; "
                            "re-registered"),
                  t);
    if (m->status == MS_FILED) {
        /* Waiting for approval: type-test samples and early firmware. */
        rc = CORE_OK;
        if (rng_chance(r, 0.25) && step(u, 3 * DAY_MS, 20 * DAY_MS, H, &t))
            rc = ev_inspection(w, u, p->regulator.role,
                               p->regulator.party_id,
                               "type test sample for the market-access "
                               "filing", t);
        if (rc == CORE_OK && rng_chance(r, 0.15) &&
            step(u, 2 * DAY_MS, 20 * DAY_MS, H, &t))
            rc = ev_firmware(w, u, ROLE_MANUFACTURER, e->id, 0, t);
        return rc;
    }
    if (!step(u, DAY_MS, 7 * DAY_MS, H, &t))
        return CORE_OK;
    rc = ev(w, u, ROLE_MANUFACTURER, e->id,
            json_pack("{s:s, s:s}", "type", "release", "market_filing_no",
                      m->filing_no), t);
    if (rc != CORE_OK)
        return rc;

    owner = pick_owner(p, r, m->sector);
    /* Channels: direct sales to big customers, distributors, lessors. */
    ch = rng_chance(r, 0.1) ? 0 : p->nlessor > 0 && rng_chance(r, 0.24) ? 2
                                                                       : 1;
    if (!step(u, 3 * DAY_MS, 20 * DAY_MS, H, &t))
        return CORE_OK;
    if (ch == 0) {
        rc = ev_transfer(w, u, p->owners[owner].id, ROLE_OWNER, "sale",
                         m->price * rng_real(r, 0.85, 0.95) /
                             fx_rate(e->currency), e->currency, t);
    } else {
        int s = ch == 2 ? p->lessor[rng_cum(r, p->lessor_cum, p->nlessor)]
                        : p->distributor[rng_cum(r, p->seller_cum, p->ndist)];
        int64_t seller = p->sellers[s].id;

        rc = ev_transfer(w, u, seller, ROLE_SELLER, "sale",
                         m->price * rng_real(r, 0.7, 0.8) /
                             fx_rate(e->currency), e->currency, t);
        if (rc != CORE_OK || !step(u, 5 * DAY_MS, 45 * DAY_MS, H, &t))
            return rc;
        kind = ch == 2 ? "lease" : "sale";
        rc = ev_transfer(w, u, p->owners[owner].id, ROLE_OWNER, kind,
                         m->price * (ch == 2 ? rng_real(r, 0.18, 0.3)
                                             : rng_real(r, 0.95, 1.08)),
                         "CNY", t);
        if (ch == 2)
            u->lessor = seller;
    }
    if (rc != CORE_OK)
        return rc;
    u->owner = owner;
    /* Level 4 and 5 deploy only where their model's certification
     * (certify_models) allows: its sector's scenario; units sold into
     * another sector stay released. */
    if (m->level < 4 || ((m->status == MS_APPROVED ||
                          m->status == MS_DISCONTINUED) &&
                         p->owners[owner].sector == m->sector)) {
        const struct owner *o = &p->owners[owner];

        if (!step(u, 2 * DAY_MS, 14 * DAY_MS, H, &t))
            return CORE_OK;
        rc = ev_deploy(w, u, rng_chance(r, 0.6) ? 0
                             : (int)rng_int(r, 0, o->nsites - 1), t);
        if (rc != CORE_OK)
            return rc;
    }
    return life(w, u);
}

/* Draws unit k of model mi (its registration data) into u and its
 * registration object. */
static json_t *unit_draw(struct worker *w, int mi, int k, struct unit *u)
{
    struct plan *p = w->p;
    const struct dmodel *m = &p->models[mi];
    const struct dent *e = &p->ents[m->ent];
    struct rng *r = &u->r;
    int64_t span = m->day1 - m->day0;
    char pdate[11], batch[16], ver[24];
    json_t *o, *fw, *comps;
    int y, mo, d, months;

    memset(u, 0, sizeof *u);
    u->gidx = m->first + k;
    u->model = mi;
    u->ordinal = k;
    rng_init(r, p->seed, STREAM_UNIT + (uint64_t)u->gidx);
    /* Output grows over the window: the k-th of n units is made at
     * sqrt((k + x) / n) of it. */
    u->day = m->day0 + (int64_t)floor((double)span *
                                      sqrt((k + rng_unit(r)) / m->units));
    u->t_reg = (u->day + rng_int(r, 1, 4)) * DAY_MS;
    u->t_reg += rng_int(r, 60, 600) * MIN_MS;
    if (u->t_reg > p->horizon)
        u->t_reg = p->horizon;
    civil_from_days(u->day, &y, &mo, &d);
    fmt_date(u->day, pdate);
    snprintf(batch, sizeof batch, "L%02d%02d%c", y % 100, mo,
             (char)('A' + (d - 1) / 10));
    months = (int)((u->day - m->day0) / 30);
    memcpy(u->fw, m->fw, sizeof u->fw);
    u->fw[0][1] += months / 3;
    u->fw[1][2] += months / 2;
    u->fw[2][2] += months / 4;
    fw = json_object();
    for (int f = 0; f < NFW; f++) {
        fmt_version(u->fw[f], ver);
        json_object_set_new(fw, fw_comp[f], json_string(ver));
    }
    comps = json_array();
    for (int i = 0; i < m->ncomp; i++) {
        int cat = slots[m->slot[i]].cat;
        const struct supplier *s = &suppliers[cat][m->sup[i]];
        int lm = mo > 1 ? mo - 1 : 12, ly = mo > 1 ? y : y - 1;
        char lot[24];

        snprintf(lot, sizeof lot, "%s%02d%02d%c", s->prefix, ly % 100, lm,
                 (char)('A' + rng_int(r, 0, 3)));
        snprintf(u->serial[i], sizeof u->serial[i], "%s%02d%08X", s->prefix,
                 ly % 100, (unsigned)hash3(u->gidx, (uint64_t)i, 7));
        json_array_append_new(
            comps, json_pack("{s:s, s:s, s:s, s:s, s:s}", "slot",
                             slots[m->slot[i]].slot, "part_no", m->part_no[i],
                             "supplier", s->name, "lot", lot, "serial",
                             u->serial[i]));
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "model", m->id,
                  "batch", batch, "production_date", pdate, "factory",
                  e->factory[rng_int(r, 0, e->nfactory - 1)], "firmware", fw,
                  "components", comps, "at", jtime(u->t_reg));
    if (e->own_serial) {
        char serial[24];

        snprintf(serial, sizeof serial, "%s%02d%02d%02d%08d", e->serial_pfx,
                 y % 100, mo, d, (k + 1) % 100000000);
        json_object_set_new(o, "serial", json_string(serial));
    }
    if (e->device_keys) {
        unsigned char seed[32], pk[32], sk[64];
        char b64[sodium_base64_ENCODED_LEN(32,
                                           sodium_base64_VARIANT_ORIGINAL)];

        for (int i = 0; i < 4; i++) {
            uint64_t v = rng_next(r);

            memcpy(seed + 8 * i, &v, 8);
        }
        crypto_sign_seed_keypair(pk, sk, seed);
        sodium_memzero(sk, sizeof sk);
        sodium_bin2base64(b64, sizeof b64, pk, sizeof pk,
                          sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(o, "device_key", json_string(b64));
    }
    return o;
}

/* Registers units k0 .. k0+n-1 of model mi in one bulk. */
static int register_chunk(struct worker *w, int mi, int k0, int n)
{
    struct plan *p = w->p;
    const struct dmodel *m = &p->models[mi];
    struct core_principal maker = {ROLE_MANUFACTURER, p->ents[m->ent].id, 0,
                                   NULL};
    struct core_reply rep;
    struct core_err e;
    json_t *list = json_array(), *body, *codes, *reply;
    int rc;

    for (int j = 0; j < n; j++)
        json_array_append_new(list, unit_draw(w, mi, k0 + j, &w->chunk[j]));
    body = json_pack("{s:o}", "units", list);
    rc = core_units_register(p->c, &maker, body, NULL, &w->a, &rep, &e);
    json_decref(body);
    if (rc != CORE_OK) {
        plan_fail(p, &e, "registering units %d-%d of model '%s'", k0,
                  k0 + n - 1, m->id);
        arena_release(&w->a);
        return rc;
    }
    reply = core_reply_json(&rep);
    codes = json_object_get(reply, "units");
    for (int j = 0; j < n; j++)
        snprintf(w->chunk[j].code, sizeof w->chunk[j].code, "%s",
                 json_string_value(json_object_get(
                     json_array_get(codes, (size_t)j), "code")));
    json_decref(reply);
    arena_release(&w->a);
    w->units += n;
    w->events += n;
    return CORE_OK;
}

/* The sample unit: in service with an owner, by the largest maker if it
 * has one. */
static void consider_sample(struct worker *w, const struct unit *u, bool tel)
{
    /* A unit of the first maker with health reports, if any. */
    int key = (w->p->models[u->model].ent == 0 ? 0 : 1) + (tel ? 0 : 2);

    if (!in_state(u, "in_service") || u->cust_role != ROLE_OWNER)
        return;
    if (key < w->sample_key ||
        (key == w->sample_key && u->gidx < w->sample_gidx)) {
        w->sample_key = key;
        w->sample_gidx = u->gidx;
        memcpy(w->sample_code, u->code, sizeof w->sample_code);
        w->sample_model = u->model;
        w->sample_owner = u->cust;
    }
}

/* ---- health reports ----------------------------------------------------- */

/* One in DEMO_TEL_EVERY units deployed by an owner reports its health:
 * every DEMO_TEL_STEP over the last DEMO_TEL_DAYS before the horizon, from
 * its site, in a fence the owner drew around the site.  Among them, one in
 * DEMO_TEL_WORN has a joint wearing fast (the wear rule's alert opens),
 * one in DEMO_TEL_QUIET stopped reporting four days before the horizon
 * (the silence rule's alert opens), and one in DEMO_TEL_ROAM left its
 * fence for its last reports (a violation is open). */
#define DEMO_TEL_EVERY  100
#define DEMO_TEL_DAYS   14
#define DEMO_TEL_STEP   (4 * HOUR_MS)
#define DEMO_TEL_JOINTS 24
#define DEMO_TEL_WORN   5
#define DEMO_TEL_QUIET  7
#define DEMO_TEL_ROAM   6

static double q(double v, double scale)
{
    return round(v * scale) / scale;
}

static int report_health(struct worker *w, struct unit *u, bool *tel)
{
    struct plan *p = w->p;
    struct core_principal who = {ROLE_OWNER, u->cust, 0, NULL};
    const struct site *s;
    struct core_reply rep;
    struct core_err e;
    struct rng r;
    double w0[DEMO_TEL_JOINTS], rate[DEMO_TEL_JOINTS], soh, fade, hours;
    uint64_t h = hash3((uint64_t)u->gidx, 0, 91);
    bool worn, quiet, roam;
    int64_t t0, t1;
    json_t *body, *reports;
    int64_t zone;
    int n, rc;

    *tel = false;
    if (!in_state(u, "in_service") || !u->deployed || u->owner < 0 ||
        u->cust_role != ROLE_OWNER || h % DEMO_TEL_EVERY != 0)
        return CORE_OK;
    s = &p->owners[u->owner].site[u->site];
    h /= DEMO_TEL_EVERY;
    worn = h % DEMO_TEL_WORN == 0;
    quiet = h % DEMO_TEL_QUIET == 1;
    roam = h % DEMO_TEL_ROAM == 2;
    t1 = quiet ? p->horizon - 4 * DAY_MS : p->horizon;
    t0 = p->horizon - DEMO_TEL_DAYS * DAY_MS;
    if (t0 < u->t)
        t0 = u->t;
    if (t1 - t0 < 6 * DEMO_TEL_STEP)   /* deployed too lately to tell */
        return CORE_OK;
    rng_init(&r, p->seed ^ 0x7e1e, (uint64_t)u->gidx);

    /* The fence: a square of about 2 km around the site. */
    body = json_pack("{s:s, s:{s:s, s:[[[f,f],[f,f],[f,f],[f,f],[f,f]]]}}",
                     "name", s->name, "polygon", "type", "Polygon",
                     "coordinates", s->lon - 0.01, s->lat - 0.01,
                     s->lon + 0.01, s->lat - 0.01, s->lon + 0.01,
                     s->lat + 0.01, s->lon - 0.01, s->lat + 0.01,
                     s->lon - 0.01, s->lat - 0.01);
    rc = core_zone_create(p->c, &who, body, NULL, &w->a, &rep, &e);
    json_decref(body);
    if (rc != CORE_OK) {
        plan_fail(p, &e, "unit '%s': zone", u->code);
        return rc;
    }
    zone = json_integer_value(json_object_get(rep.body, "id"));
    json_decref(rep.body);
    body = json_pack("{s:[I]}", "zone_ids", (json_int_t)zone);
    rc = core_fence_set(p->c, &who, u->code, HRID_CODE_LEN, body, NULL,
                        &w->a, &rep, &e);
    json_decref(body);
    if (rc != CORE_OK) {
        plan_fail(p, &e, "unit '%s': fence", u->code);
        return rc;
    }
    json_decref(rep.body);

    for (int j = 0; j < DEMO_TEL_JOINTS; j++) {
        w0[j] = rng_real(&r, 0.05, 0.35);
        rate[j] = rng_real(&r, 0.0005, 0.003);
    }
    if (worn) {
        w0[7] = 0.62;
        rate[7] = 0.012;
    }
    soh = rng_real(&r, 0.86, 0.98);
    fade = rng_real(&r, 0.0002, 0.0008);
    hours = rng_real(&r, 800, 4000);
    reports = json_array();
    n = (int)((t1 - t0) / DEMO_TEL_STEP);
    for (int k = 0; k <= n; k++) {
        int64_t t = t0 + k * DEMO_TEL_STEP;
        double days = (double)(t - (p->horizon - DEMO_TEL_DAYS * DAY_MS)) /
                      DAY_MS;
        bool out = roam && k > n - 3;
        json_t *joints = json_array();

        for (int j = 0; j < DEMO_TEL_JOINTS; j++) {
            double v = w0[j] + rate[j] * days + rng_real(&r, -0.002, 0.002);

            json_array_append_new(joints, json_pack(
                "{s:i, s:f, s:f}", "id", j, "wear",
                q(v < 0 ? 0 : v > 1 ? 1 : v, 1e4), "temp",
                q(rng_real(&r, 34, 48), 10)));
        }
        json_array_append_new(reports, json_pack(
            "{s:s, s:o, s:o, s:{s:f, s:i, s:f}, s:f, s:f, s:{s:f, s:f}}",
            "unit", u->code, "t", jtime(t), "joints", joints, "battery",
            "soh", q(soh - fade * days, 1e4), "cycles",
            (int)(400 + days * 3), "temp", q(rng_real(&r, 26, 38), 10),
            "precision_mm", q(0.2 + 0.004 * days + rng_real(&r, 0, 0.02),
                              1e3),
            "hours", q(hours + days * 16, 1e2), "location", "lat",
            q(s->lat + (out ? 0.05 : rng_real(&r, -0.004, 0.004)), 1e6),
            "lon", q(s->lon + rng_real(&r, -0.004, 0.004), 1e6)));
    }
    rc = core_telemetry_ingest(p->c, &who, reports, &w->a, &rep, &e);
    json_decref(reports);
    if (rc != CORE_OK) {
        plan_fail(p, &e, "unit '%s': health reports", u->code);
        return rc;
    }
    json_decref(rep.body);
    *tel = true;
    return CORE_OK;
}

/* Each maker watches its fleet: a joint worn past 0.7, and two days
 * without a report from a unit in service. */
static int alert_rules(struct plan *p, struct arena *a)
{
    int rc = CORE_OK;

    for (int i = 0; i < p->nents && rc == CORE_OK; i++) {
        struct core_principal mk = {ROLE_MANUFACTURER, p->ents[i].id, 0,
                                    NULL};
        struct core_reply rep;
        struct core_err e;
        json_t *body;

        body = json_pack("{s:s, s:s, s:s, s:f}", "enterprise", p->ents[i].ent,
                         "metric", "joint.*.wear", "op", ">", "threshold",
                         0.7);
        rc = core_alert_rule_create(p->c, &mk, body, NULL, a, &rep, &e);
        json_decref(body);
        if (reply_ok(p, rc, &rep, &e, "alert rule") != CORE_OK)
            return p->err.status;
        json_decref(rep.body);
        body = json_pack("{s:s, s:i}", "enterprise", p->ents[i].ent,
                         "no_data_minutes", 2 * 24 * 60);
        rc = core_alert_rule_create(p->c, &mk, body, NULL, a, &rep, &e);
        json_decref(body);
        if (reply_ok(p, rc, &rep, &e, "silence rule") != CORE_OK)
            return p->err.status;
        json_decref(rep.body);
        arena_release(a);
    }
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct plan *p = w->p;

    for (int i = 0; i < w->nmodels && !atomic_load(&p->failed); i++) {
        int mi = w->models[i];
        const struct dmodel *m = &p->models[mi];

        for (int k0 = 0; k0 < m->units && !atomic_load(&p->failed);
             k0 += DEMO_CHUNK) {
            int n = m->units - k0 < DEMO_CHUNK ? m->units - k0 : DEMO_CHUNK;

            if (register_chunk(w, mi, k0, n) != CORE_OK)
                break;
            for (int j = 0; j < n && !atomic_load(&p->failed); j++) {
                struct unit *u = &w->chunk[j];

                bool tel = false;

                if (run_unit(w, u, j + 1 < n ? &w->chunk[j + 1] : NULL) ==
                        CORE_OK &&
                    report_health(w, u, &tel) == CORE_OK)
                    consider_sample(w, u, tel);
                arena_release(&w->a);
            }
        }
    }
    arena_release(&w->a);
    return NULL;
}

/* ---- the whole ---------------------------------------------------------- */

void core_demo_opts_init(struct core_demo_opts *o)
{
    o->enterprises = CORE_DEMO_ENTERPRISES;
    o->models = CORE_DEMO_MODELS;
    o->units = CORE_DEMO_UNITS;
    o->seed = CORE_DEMO_SEED;
    o->threads = CORE_DEMO_THREADS;
}

/* The id of the first party of kind, or 0. */
static int find_party(struct plan *p, struct arena *a, const char *kind,
                      int64_t *id, struct core_err *err)
{
    struct core_page page = {1, NULL};
    json_t *out;
    int rc = core_party_list(p->c, &p->admin, kind, &page, a, &out, err);

    *id = 0;
    if (rc != CORE_OK)
        return rc;
    *id = json_integer_value(json_object_get(
        json_array_get(json_object_get(out, "items"), 0), "id"));
    json_decref(out);
    return CORE_OK;
}

static int make_key(struct plan *p, struct arena *a, int64_t party,
                    const char *role, const char *label, char out[64])
{
    struct core_reply rep;
    struct core_err e;
    json_t *body = json_pack("{s:I, s:s, s:s}", "party", (json_int_t)party,
                             "role", role, "label", label);
    int rc = core_key_create(p->c, &p->admin, body, a, &rep, &e);

    json_decref(body);
    if (reply_ok(p, rc, &rep, &e, label) != CORE_OK)
        return rc;
    snprintf(out, 64, "%s",
             json_string_value(json_object_get(rep.body, "key")));
    json_decref(rep.body);
    return CORE_OK;
}

static void plan_free(struct plan *p)
{
    free(p->ents);
    free(p->models);
    free(p->owners);
    free(p->owner_cum);
    for (int s = 0; s < NSEC; s++) {
        free(p->sec_owner[s]);
        free(p->sec_cum[s]);
    }
    free(p->sellers);
    free(p->seller_cum);
    free(p->lessor_cum);
    free(p->distributor);
    free(p->lessor);
    free(p->service);
    free(p->recyclers);
    free(p->recycler_pub);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static int plan_alloc(struct plan *p)
{
    bool ok;

    p->ents = calloc((size_t)p->nents, sizeof *p->ents);
    p->models = calloc((size_t)p->nmodels, sizeof *p->models);
    p->owners = calloc((size_t)p->nowners, sizeof *p->owners);
    p->owner_cum = calloc((size_t)p->nowners, sizeof *p->owner_cum);
    ok = p->ents && p->models && p->owners && p->owner_cum;
    for (int s = 0; s < NSEC; s++) {
        p->sec_owner[s] = calloc((size_t)p->nowners, sizeof *p->sec_owner[s]);
        p->sec_cum[s] = calloc((size_t)p->nowners, sizeof *p->sec_cum[s]);
        ok = ok && p->sec_owner[s] && p->sec_cum[s];
    }
    p->sellers = calloc((size_t)p->nsellers, sizeof *p->sellers);
    p->seller_cum = calloc((size_t)p->nsellers, sizeof *p->seller_cum);
    p->lessor_cum = calloc((size_t)p->nsellers, sizeof *p->lessor_cum);
    p->distributor = calloc((size_t)p->nsellers, sizeof *p->distributor);
    p->lessor = calloc((size_t)p->nsellers, sizeof *p->lessor);
    p->service = calloc((size_t)p->nservice, sizeof *p->service);
    p->recyclers = calloc((size_t)p->nrecyclers, sizeof *p->recyclers);
    p->recycler_pub = calloc((size_t)p->nrecyclers, sizeof *p->recycler_pub);
    return ok && p->sellers && p->seller_cum && p->lessor_cum &&
           p->distributor && p->lessor && p->service && p->recyclers &&
           p->recycler_pub;
}

/* Gives each thread whole models, the largest first to the least loaded,
 * so the threads finish close together. */
static int assign_models(struct plan *p, struct worker *ws, int nt)
{
    int *order = malloc((size_t)p->nmodels * sizeof *order);

    if (order == NULL)
        return -1;
    for (int i = 0; i < p->nmodels; i++)
        order[i] = i;
    for (int i = 1; i < p->nmodels; i++) {
        int v = order[i], j = i;

        while (j > 0 && p->models[order[j - 1]].units < p->models[v].units) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (int i = 0; i < p->nmodels; i++) {
        int best = 0;

        if (p->models[order[i]].units == 0)
            continue;
        for (int t = 1; t < nt; t++)
            if (ws[t].load < ws[best].load)
                best = t;
        ws[best].models[ws[best].nmodels++] = order[i];
        ws[best].load += p->models[order[i]].units;
    }
    free(order);
    /* Each thread takes its models in index order. */
    for (int t = 0; t < nt; t++)
        for (int i = 1; i < ws[t].nmodels; i++)
            for (int j = i; j > 0 && ws[t].models[j - 1] > ws[t].models[j];
                 j--) {
                int v = ws[t].models[j];

                ws[t].models[j] = ws[t].models[j - 1];
                ws[t].models[j - 1] = v;
            }
    return 0;
}

static int run_fleet(struct plan *p, int nt, struct core_demo_result *res)
{
    struct worker *ws = calloc((size_t)nt, sizeof *ws);
    struct core_err e;
    int started = 0, best = -1;

    for (int t = 0; ws != NULL && t < nt; t++) {
        ws[t].p = p;
        ws[t].models = calloc((size_t)p->nmodels, sizeof *ws[t].models);
        ws[t].chunk = calloc(DEMO_CHUNK, sizeof *ws[t].chunk);
        ws[t].sample_key = 4;
        arena_init(&ws[t].a);
        if (ws[t].models == NULL || ws[t].chunk == NULL)
            goto oom;
    }
    if (ws == NULL || assign_models(p, ws, nt) != 0)
        goto oom;
    for (int t = 0; t < nt; t++) {
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
            core_fail(&e, CORE_EINTERNAL, "internal", NULL,
                      "cannot start a thread");
            plan_fail(p, &e, "seeding units");
            break;
        }
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(ws[t].th, NULL);
    for (int t = 0; t < nt; t++) {
        res->units += ws[t].units;
        res->events += ws[t].events;
        if (ws[t].sample_key < 4 &&
            (best < 0 || ws[t].sample_key < ws[best].sample_key ||
             (ws[t].sample_key == ws[best].sample_key &&
              ws[t].sample_gidx < ws[best].sample_gidx)))
            best = t;
    }
    if (best >= 0) {
        memcpy(p->sample_code, ws[best].sample_code, sizeof p->sample_code);
        p->sample_model = ws[best].sample_model;
        p->sample_owner = ws[best].sample_owner;
    }
    for (int t = 0; t < nt; t++) {
        free(ws[t].models);
        free(ws[t].chunk);
    }
    free(ws);
    return atomic_load(&p->failed) ? p->err.status : CORE_OK;
oom:
    for (int t = 0; ws != NULL && t < nt; t++) {
        free(ws[t].models);
        free(ws[t].chunk);
    }
    free(ws);
    core_fail(&e, CORE_EINTERNAL, "internal", NULL, "out of memory");
    plan_fail(p, &e, "seeding units");
    return CORE_EINTERNAL;
}

static int check_opts(const struct core_demo_opts *o, struct core_err *err)
{
    if (o->enterprises < 1 || o->enterprises > DEMO_ENT_MAX)
        return core_fail(err, CORE_EINVALID, "invalid_field", "enterprises",
                         "enterprises: %d is not in 1-%d", o->enterprises,
                         DEMO_ENT_MAX);
    if (o->models < 1 || o->models > DEMO_MODEL_MAX)
        return core_fail(err, CORE_EINVALID, "invalid_field", "models",
                         "models: %d is not in 1-%d", o->models,
                         DEMO_MODEL_MAX);
    if (o->units < 0 || o->units > DEMO_UNIT_MAX)
        return core_fail(err, CORE_EINVALID, "invalid_field", "units",
                         "units: %d is not in 0-%d", o->units, DEMO_UNIT_MAX);
    if (o->threads < 1 || o->threads > DEMO_THREAD_MAX)
        return core_fail(err, CORE_EINVALID, "invalid_field", "threads",
                         "threads: %d is not in 1-%d", o->threads,
                         DEMO_THREAD_MAX);
    return CORE_OK;
}

/* A national test centre certifies every model of level 4 and 5 on the
 * market (approved, or discontinued only after the fleet is seeded) for
 * its sector's scenario, with limits, before any unit deploys. */
static int certify_models(struct plan *p, struct arena *a)
{
    struct core_principal cp = {ROLE_CERTIFIER, 0, 0, NULL};
    struct core_reply rep;
    struct core_err e;
    int rc;

    rc = make_party(p, a, "certifier",
                    "National Robot Safety Test Centre (Shanghai) Co., Ltd.",
                    "NRSTC", "CN",
                    json_pack("{s:s, s:s}", "address",
                              "1 Test Road, Pudong, Shanghai", "contact",
                              "cert@example.gov.cn"),
                    &cp.party_id);
    for (int i = 0; i < p->nmodels && rc == CORE_OK; i++) {
        const struct dmodel *m = &p->models[i];
        json_t *body;

        if (m->level < 4 ||
            (m->status != MS_APPROVED && m->status != MS_DISCONTINUED))
            continue;
        body = json_pack(
            "{s:s, s:s, s:s, s:[s], s:s, s:{s:f, s:s}, s:s, s:s}", "model",
            m->id, "scheme", "GB/T 45000 humanoid service robots",
            "tier", m->level == 5 ? "A" : "B", "scenarios",
            scenario_name[m->sector], "conditions",
            m->level == 5 ? "remote supervision; geofenced sites only"
                          : "trained staff on site",
            "limits", "max_speed_mps", m->level == 5 ? 1.5 : 1.0,
            "supervision", m->level == 5 ? "remote" : "on_site",
            "valid_from", "2020-01-01T00:00:00Z", "valid_until",
            "2031-01-01T00:00:00Z");
        rc = core_cert_create(p->c, &cp, body, NULL, a, &rep, &e);
        json_decref(body);
        if (reply_ok(p, rc, &rep, &e, "certification") == CORE_OK)
            json_decref(rep.body);
    }
    return rc;
}

/* The recalled models' makers open their campaigns once the fleet exists,
 * and remedy about two thirds of the units, so completion varies. */
static int open_recalls(struct plan *p, struct arena *a,
                        struct core_demo_result *res)
{
    int rc = CORE_OK;

    for (int i = 0; i < p->nmodels && rc == CORE_OK; i++) {
        const struct dmodel *m = &p->models[i];
        struct core_principal mk = {ROLE_MANUFACTURER, p->ents[m->ent].id, 0,
                                    NULL};
        struct core_page page = {CORE_PAGE_MAX, NULL};
        struct core_reply rep;
        struct core_err e;
        json_t *body, *units = NULL, *u;
        int64_t id;
        size_t k;

        if (!m->recall)
            continue;
        body = json_pack("{s:s, s:s, s:s, s:{s:[s]}}", "defect",
                         m->recall_defect, "hazard",
                         "fall or pinch injury near people", "remedy",
                         "replace the affected part and update firmware",
                         "target", "models", m->id);
        rc = core_recall_create(p->c, &mk, body, NULL, a, &rep, &e);
        json_decref(body);
        if (reply_ok(p, rc, &rep, &e, "recall") != CORE_OK)
            break;
        id = json_integer_value(json_object_get(rep.body, "id"));
        /* Each affected unit got a notice event. */
        res->events += json_integer_value(json_object_get(
            json_object_get(rep.body, "units"), "affected"));
        json_decref(rep.body);
        rc = core_recall_units(p->c, &mk, id, "notified", &page, a, &units,
                               &e);
        if (rc != CORE_OK) {
            plan_fail(p, &e, "recall units");
            break;
        }
        json_array_foreach(json_object_get(units, "items"), k, u) {
            const char *code = json_string_value(json_object_get(u, "code"));

            if (hash3((uint64_t)i, k, 77) % 3 == 0)
                continue;
            body = json_pack("{s:s, s:I, s:s, s:s}", "type", "recall_remedy",
                             "recall", (json_int_t)id, "action",
                             "part replaced, firmware updated", "work_order",
                             "RC-WO");
            rc = core_event_add(p->c, &mk, code, strlen(code), body, NULL, a,
                                &rep, &e);
            json_decref(body);
            /* A unit suspended or scrapped meanwhile keeps its notice. */
            if (rc == CORE_ECONFLICT) {
                rc = CORE_OK;
                continue;
            }
            if (reply_ok(p, rc, &rep, &e, "recall remedy") != CORE_OK)
                break;
            json_decref(rep.body);
            res->events++;
        }
        json_decref(units);
        arena_release(a);
    }
    return rc;
}

int core_demo_seed(struct core *c, const struct core_demo_opts *o,
                   struct core_demo_result *res, struct core_err *err)
{
    struct core_demo_opts dflt;
    struct plan *p = NULL;
    struct arena a;
    struct rng r;
    int64_t now = core_now_ms(), today = now / DAY_MS, maker, owner, id;
    int rc, y, mo, d;

    memset(res, 0, sizeof *res);
    arena_init(&a);
    if (o == NULL) {
        core_demo_opts_init(&dflt);
        o = &dflt;
    }
    if ((rc = check_opts(o, err)) != CORE_OK)
        return rc;
    /* Production runs from January 2025 (the window of the launch fleet)
     * and ends three weeks before today at the latest, so that even the
     * newest units have had time to be released and sold. */
    if (today - 21 < days_from_civil(2025, 1, 1) + 90)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "demo: the clock says %lld days since 1970, before "
                         "April 2025: the demo fleet's histories need that "
                         "past", (long long)today);
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    atomic_init(&p->failed, false);
    p->c = c;
    p->seed = o->seed;
    /* Past events end a minute before today (UTC) began, so a seed gives
     * the same histories all day. */
    p->horizon = today * DAY_MS - MIN_MS;
    p->prod_last = days_from_civil(2026, 10, 31);
    if (p->prod_last > today - 21)
        p->prod_last = today - 21;
    civil_from_days(today, &y, &mo, &d);
    p->year_now = y;
    p->nents = o->enterprises;
    p->nmodels = o->models;
    p->nunits_total = o->units;
    p->nsellers = scaled(o->units, 40, 4);
    p->nowners = scaled(o->units, 600, 20);
    p->nservice = scaled(o->units, 60, 4);
    p->nrecyclers = scaled(o->units, 10, 2);
    p->admin.role = ROLE_ADMIN;
    p->regulator.role = ROLE_REGULATOR;

    /* A fresh registry only: the demo's codes and histories would mix
     * with real ones otherwise. */
    rc = find_party(p, &a, "platform", &p->admin.party_id, err);
    if (rc == CORE_OK)
        rc = find_party(p, &a, "manufacturer", &id, err);
    if (rc == CORE_OK && id != 0)
        rc = core_fail(err, CORE_ECONFLICT, "not_empty", NULL,
                       "demo: the registry already has enterprises; demo "
                       "data goes only into a fresh database");
    arena_release(&a);
    if (rc != CORE_OK)
        goto out;
    if (!plan_alloc(p)) {
        rc = core_fail(err, CORE_EINTERNAL, "internal", NULL,
                       "out of memory");
        goto out;
    }

    rng_init(&r, p->seed, STREAM_PLAN);
    rc = make_party(p, &a, "regulator",
                    "National Humanoid Robot Registry Supervision Office",
                    "HR Registry Supervision", "CN",
                    json_pack("{s:s, s:s}", "address", "Beijing",
                              "contact", "registry-office@example.gov.cn"),
                    &p->regulator.party_id);
    if (rc == CORE_OK)
        rc = plan_enterprises(p, &r, &a);
    if (rc == CORE_OK)
        rc = plan_models(p, &r, &a);
    if (rc == CORE_OK)
        rc = plan_parties(p, &r, &a);
    if (rc == CORE_OK)
        rc = certify_models(p, &a);
    if (rc == CORE_OK)
        rc = alert_rules(p, &a);
    arena_release(&a);
    if (rc == CORE_OK)
        rc = run_fleet(p, o->threads, res);
    if (rc == CORE_OK)
        rc = open_recalls(p, &a, res);
    /* The discontinued model goes off the market once its units are out. */
    for (int i = 0; i < p->nmodels && rc == CORE_OK; i++) {
        struct dmodel *m = &p->models[i];
        struct core_principal mk = {ROLE_MANUFACTURER, p->ents[m->ent].id, 0,
                                    NULL};

        if (m->status == MS_DISCONTINUED)
            rc = model_set_status(p, &a, &mk, m, "withdrawn",
                                  "discontinued: succeeded by a newer model");
        arena_release(&a);
    }
    if (rc != CORE_OK)
        goto fail;
    maker = p->sample_code[0] ? p->ents[p->models[p->sample_model].ent].id
                              : p->ents[0].id;
    owner = p->sample_code[0] ? p->sample_owner : p->owners[0].id;
    rc = make_key(p, &a, p->regulator.party_id, "regulator",
                  "demo regulator", res->regulator_key);
    if (rc == CORE_OK)
        rc = make_key(p, &a, maker, "manufacturer", "demo manufacturer",
                      res->maker_key);
    if (rc == CORE_OK)
        rc = make_key(p, &a, owner, "owner", "demo owner", res->owner_key);
    arena_release(&a);
    if (rc != CORE_OK)
        goto fail;
    memcpy(res->sample_code, p->sample_code, sizeof res->sample_code);
    goto out;
fail:
    *err = p->err;
    rc = p->err.status;
out:
    arena_release(&a);
    if (p != NULL)
        plan_free(p);
    return rc;
}
