/*
 * tel_scan.c - a telemetry batch read straight from its bytes, without a
 * JSON tree.
 *
 * A batch of 1,000 reports is 1.8 MB of JSON and about 250,000 JSON
 * values; building jansson's tree of them and freeing it took most of
 * hridd's time on ingest (docs/PERFORMANCE.md "Telemetry").  The reports
 * have one fixed shape (docs/telemetry.md), so this scanner reads that
 * shape directly into struct tel_parsed.
 *
 * It only ever accepts: anything it does not expect — an unknown or
 * repeated member, a null, an escape or a non-ASCII byte in a string, a
 * value out of its schema's range, a report tsdb_report_check refuses, a
 * body of another shape — makes it decline, and the caller parses the body
 * with jansson and the schema tables (telemetry.c), which accept what they
 * accept and name the field of any error.  So what it accepts it reads as
 * that path would, and the ranges it checks are the schema tables' own.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

struct scan {
    const char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
                             *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool eat(struct scan *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* A string of printable ASCII without escapes, 1 to cap - 1 bytes. */
static bool scan_str(struct scan *s, char *buf, size_t cap)
{
    const char *start;
    size_t n;

    if (!eat(s, '"'))
        return false;
    for (start = s->p; s->p < s->end && *s->p != '"'; s->p++)
        if (*s->p < 0x20 || *s->p > 0x7e || *s->p == '\\')
            return false;
    n = (size_t)(s->p - start);
    if (s->p == s->end || n == 0 || n >= cap)
        return false;
    memcpy(buf, start, n);
    buf[n] = '\0';
    s->p++;
    return true;
}

/* A JSON number as jansson reads it: an integer token (no fraction, no
 * exponent) is a 64-bit integer, any other a double from strtod. */
static bool scan_num(struct scan *s, double *v, bool *integer)
{
    char buf[48];
    const char *start;
    size_t n;

    skip_ws(s);
    start = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return false;
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    *integer = true;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return false;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        *integer = false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return false;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        *integer = false;
    }
    n = (size_t)(s->p - start);
    /* Integers of up to 15 digits convert to double exactly, as
     * json_number_value does them; longer ones are left to jansson. */
    if (n >= sizeof buf || (*integer && n > 15))
        return false;
    memcpy(buf, start, n);
    buf[n] = '\0';
    errno = 0;
    *v = *integer ? (double)strtoll(buf, NULL, 10) : strtod(buf, NULL);
    return errno == 0 && isfinite(*v);
}

/* The schema's range of a member, as schema_check applies it. */
static bool in_range(const struct schema_field *fields, const char *name,
                     double v, bool integer)
{
    const struct schema_field *f = fields;

    while (f->name != NULL && strcmp(f->name, name) != 0)
        f++;
    if (f->name == NULL || (f->type == S_INT && !integer))
        return false;
    return v >= f->lo && v <= f->hi;
}

static bool scan_field_num(struct scan *s, const struct schema_field *fields,
                           const char *name, double *v)
{
    bool integer;

    return scan_num(s, v, &integer) && in_range(fields, name, *v, integer);
}

/* A member's length limit (strings, arrays), from the schema. */
static size_t field_max(const char *name)
{
    const struct schema_field *f = tel_report_fields;

    while (f->name != NULL && strcmp(f->name, name) != 0)
        f++;
    return f->name != NULL ? f->max : 0;
}

/* Bits of the members seen, to refuse one twice. */
enum {
    M_UNIT = 1 << 0, M_T = 1 << 1, M_FW = 1 << 2, M_JOINTS = 1 << 3,
    M_BATTERY = 1 << 4, M_PRECISION = 1 << 5, M_HOURS = 1 << 6,
    M_LOCATION = 1 << 7,
    M_A = 1 << 8, M_B = 1 << 9, M_C = 1 << 10
};

static bool first(unsigned *seen, unsigned bit)
{
    if (*seen & bit)
        return false;
    *seen |= bit;
    return true;
}

struct joint {
    double wear, temp;
    bool has_wear, has_temp;
    int id;
};

struct report {
    char unit[80], t[80], firmware[TSDB_FIRMWARE_MAX + 1];
    struct joint joints[TSDB_JOINTS];
    size_t nj;
    double soh, cycles, btemp, precision, hours, lat, lon;
    unsigned seen, battery;
};

static bool scan_joint(struct scan *s, struct joint *j)
{
    unsigned seen = 0;
    char key[8];
    double id;

    memset(j, 0, sizeof *j);
    if (!eat(s, '{'))
        return false;
    do {
        if (!scan_str(s, key, sizeof key) || !eat(s, ':'))
            return false;
        if (strcmp(key, "id") == 0 && first(&seen, M_A)) {
            if (!scan_field_num(s, tel_joint_fields, "id", &id))
                return false;
            j->id = (int)id;
        } else if (strcmp(key, "wear") == 0 && first(&seen, M_B)) {
            if (!scan_field_num(s, tel_joint_fields, "wear", &j->wear))
                return false;
            j->has_wear = true;
        } else if (strcmp(key, "temp") == 0 && first(&seen, M_C)) {
            if (!scan_field_num(s, tel_joint_fields, "temp", &j->temp))
                return false;
            j->has_temp = true;
        } else {
            return false;
        }
    } while (eat(s, ','));
    return eat(s, '}') && (seen & M_A);
}

static bool scan_joints(struct scan *s, struct report *r)
{
    if (!eat(s, '['))
        return false;
    if (eat(s, ']'))
        return true;
    do {
        if (r->nj >= field_max("joints") ||
            !scan_joint(s, &r->joints[r->nj++]))
            return false;
    } while (eat(s, ','));
    return eat(s, ']');
}

static bool scan_battery(struct scan *s, struct report *r)
{
    char key[8];

    if (!eat(s, '{'))
        return false;
    if (eat(s, '}'))
        return true;
    do {
        if (!scan_str(s, key, sizeof key) || !eat(s, ':'))
            return false;
        if (strcmp(key, "soh") == 0 && first(&r->battery, M_A)) {
            if (!scan_field_num(s, tel_battery_fields, "soh", &r->soh))
                return false;
        } else if (strcmp(key, "cycles") == 0 && first(&r->battery, M_B)) {
            if (!scan_field_num(s, tel_battery_fields, "cycles", &r->cycles))
                return false;
        } else if (strcmp(key, "temp") == 0 && first(&r->battery, M_C)) {
            if (!scan_field_num(s, tel_battery_fields, "temp", &r->btemp))
                return false;
        } else {
            return false;
        }
    } while (eat(s, ','));
    return eat(s, '}');
}

static bool scan_location(struct scan *s, struct report *r)
{
    unsigned seen = 0;
    char key[8];

    if (!eat(s, '{'))
        return false;
    do {
        if (!scan_str(s, key, sizeof key) || !eat(s, ':'))
            return false;
        if (strcmp(key, "lat") == 0 && first(&seen, M_A)) {
            if (!scan_field_num(s, tel_location_fields, "lat", &r->lat))
                return false;
        } else if (strcmp(key, "lon") == 0 && first(&seen, M_B)) {
            if (!scan_field_num(s, tel_location_fields, "lon", &r->lon))
                return false;
        } else {
            return false;
        }
    } while (eat(s, ','));
    return eat(s, '}') && seen == (M_A | M_B);
}

static bool scan_member(struct scan *s, struct report *r, const char *key)
{
    if (strcmp(key, "unit") == 0 && first(&r->seen, M_UNIT))
        return scan_str(s, r->unit, field_max("unit") + 1);
    if (strcmp(key, "t") == 0 && first(&r->seen, M_T))
        return scan_str(s, r->t, sizeof r->t);
    if (strcmp(key, "firmware") == 0 && first(&r->seen, M_FW))
        return scan_str(s, r->firmware, field_max("firmware") + 1);
    if (strcmp(key, "joints") == 0 && first(&r->seen, M_JOINTS))
        return scan_joints(s, r);
    if (strcmp(key, "battery") == 0 && first(&r->seen, M_BATTERY))
        return scan_battery(s, r);
    if (strcmp(key, "precision_mm") == 0 && first(&r->seen, M_PRECISION))
        return scan_field_num(s, tel_report_fields, "precision_mm",
                              &r->precision);
    if (strcmp(key, "hours") == 0 && first(&r->seen, M_HOURS))
        return scan_field_num(s, tel_report_fields, "hours", &r->hours);
    if (strcmp(key, "location") == 0 && first(&r->seen, M_LOCATION))
        return scan_location(s, r);
    return false;
}

static void add(struct tsdb_report *r, unsigned metric, double v)
{
    r->values[r->n].metric = metric;
    r->values[r->n].v = v;
    r->n++;
}

/* One report object into out, its values in the order telemetry.c's
 * parse_report adds them, whatever the order of the members. */
static bool scan_report(struct scan *s, struct tel_parsed *out)
{
    struct report r;
    struct core_err cerr;
    struct hrid_err he;
    char key[16];

    memset(&r, 0, sizeof r);
    if (!eat(s, '{'))
        return false;
    do {
        if (!scan_str(s, key, sizeof key) || !eat(s, ':') ||
            !scan_member(s, &r, key))
            return false;
    } while (eat(s, ','));
    if (!eat(s, '}') || (r.seen & (M_UNIT | M_T)) != (M_UNIT | M_T))
        return false;
    memset(&cerr, 0, sizeof cerr);
    memset(&out->r, 0, sizeof out->r);
    if (core_code_arg(r.unit, strlen(r.unit), out->code, &cerr) != CORE_OK ||
        core_time_parse(r.t, &out->r.t) != 0)
        return false;
    memcpy(out->r.firmware, r.firmware, sizeof out->r.firmware);
    for (size_t i = 0; i < r.nj; i++) {
        if (r.joints[i].has_wear)
            add(&out->r, TSDB_METRIC_JOINT_WEAR(r.joints[i].id),
                r.joints[i].wear);
        if (r.joints[i].has_temp)
            add(&out->r, TSDB_METRIC_JOINT_TEMP(r.joints[i].id),
                r.joints[i].temp);
    }
    if (r.battery & M_A)
        add(&out->r, TSDB_METRIC_BATTERY_SOH, r.soh);
    if (r.battery & M_B)
        add(&out->r, TSDB_METRIC_BATTERY_CYCLES, r.cycles);
    if (r.battery & M_C)
        add(&out->r, TSDB_METRIC_BATTERY_TEMP, r.btemp);
    if (r.seen & M_PRECISION)
        add(&out->r, TSDB_METRIC_PRECISION_MM, r.precision);
    if (r.seen & M_HOURS)
        add(&out->r, TSDB_METRIC_HOURS, r.hours);
    if (r.seen & M_LOCATION) {
        add(&out->r, TSDB_METRIC_LAT, r.lat);
        add(&out->r, TSDB_METRIC_LON, r.lon);
    }
    hrid_err_clear(&he);
    return tsdb_report_check(&out->r, &he) == HRID_OK;
}

/* The next slot of the batch, growing it; NULL past the batch limit. */
static struct tel_parsed *slot(struct tel_parsed **v, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t want = *cap ? *cap * 2 : 64;
        struct tel_parsed *p;

        if (*n >= CORE_TELEMETRY_BATCH_MAX)
            return NULL;
        if (want > CORE_TELEMETRY_BATCH_MAX)
            want = CORE_TELEMETRY_BATCH_MAX;
        p = realloc(*v, want * sizeof *p);
        if (p == NULL)
            return NULL;
        *v = p;
        *cap = want;
    }
    return &(*v)[(*n)++];
}

/* Reports separated by ',' up to ']'; the '[' is read. */
static bool scan_array(struct scan *s, struct tel_parsed **v, size_t *n,
                       size_t *cap)
{
    do {
        struct tel_parsed *p = slot(v, n, cap);

        if (p == NULL || !scan_report(s, p))
            return false;
    } while (eat(s, ','));
    return eat(s, ']');
}

/* The body: [reports], {"reports": [reports]}, one report, or JSON Lines
 * (one report a line, blank lines skipped, as route_telemetry.c reads
 * them). */
static bool scan_body(struct scan *s, bool lines, struct tel_parsed **v,
                      size_t *n, size_t *cap)
{
    if (lines) {
        const char *end = s->end;

        while (s->p < end) {
            const char *nl = memchr(s->p, '\n', (size_t)(end - s->p));
            const char *le = nl != NULL ? nl : end;
            const char *q = s->p;
            struct tel_parsed *p;

            while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (q < le) {
                struct scan line = {s->p, le};

                if ((p = slot(v, n, cap)) == NULL ||
                    !scan_report(&line, p))
                    return false;
                skip_ws(&line);
                if (line.p != le)
                    return false;
            }
            s->p = nl != NULL ? nl + 1 : end;
        }
        return *n > 0;
    }
    if (eat(s, '[')) {
        if (!scan_array(s, v, n, cap))
            return false;
    } else {
        struct scan peek = *s;
        char key[16];

        if (eat(&peek, '{') && scan_str(&peek, key, sizeof key) &&
            strcmp(key, "reports") == 0) {
            if (!eat(&peek, ':') || !eat(&peek, '[') ||
                !scan_array(&peek, v, n, cap) || !eat(&peek, '}'))
                return false;
            *s = peek;
        } else {
            struct tel_parsed *p = slot(v, n, cap);

            if (p == NULL || !scan_report(s, p))
                return false;
        }
    }
    skip_ws(s);
    return s->p == s->end;
}

size_t tel_scan(const char *body, size_t len, bool lines,
                struct tel_parsed **out)
{
    struct scan s = {body, body + len};
    struct tel_parsed *v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (body == NULL || len == 0 || !scan_body(&s, lines, &v, &n, &cap)) {
        free(v);
        return 0;
    }
    *out = v;
    return n;
}
