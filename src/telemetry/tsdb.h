/*
 * telemetry/tsdb.h - the health telemetry storage engine (DESIGN §4).
 *
 * Layer: src/telemetry, byte level and in memory: no SQL, no HTTP.  The
 * store keeps the bytes this module makes; the server turns reports into
 * the typed values it checks.  docs/telemetry.md specifies the report, the
 * metric names and the byte formats so that another implementation can
 * read what this one writes.
 *
 * What it holds:
 *
 *   - metrics: a one-byte id per health value (joint.<id>.wear,
 *     battery.soh, ...), with its unit, range and declared decimal
 *     precision;
 *   - raw chunks: the samples (t, v) of one metric of one unit within one
 *     two-hour window, at most TSDB_CHUNK_SAMPLES, encoded as quantised
 *     integers (the value times 10^digits) and timestamps, each series
 *     with the best of three fixed predictors and Rice-coded residuals,
 *     closed by a CRC-32C;
 *   - hourly rollups (count, min, max, sum) and rollup chunks of one
 *     metric within one seven-day window;
 *   - series queries over [from, to) with a step, from raw samples or
 *     rollups; least-squares trends, threshold crossings, percentiles and
 *     robust outliers; a deterministic synthetic fleet for tests and
 *     benchmarks.
 *
 * Conventions.  Times are int64_t milliseconds since 1970-01-01T00:00:00Z
 * (UTC), within [0, TSDB_TIME_MAX].  Functions that can fail return
 * HRID_OK (0) or an hrid_status, and fill the struct hrid_err the caller
 * passes (it may be NULL); err->reason then holds an enum tsdb_reason.
 * Nothing here allocates memory: callers pass every buffer, and the
 * limits below say how large.  Nothing keeps global mutable state, so
 * every function is reentrant and any two threads may use the module at
 * once on different structs.
 *
 * Values.  A metric declares a number of decimal digits d: a value is
 * stored as the integer q = v * 10^d, and read back as q / 10^d, the
 * double nearest to that decimal (what strtod gives for its text).  A
 * value that is not such a double (0.30000000000000004 for a metric of 4
 * digits) is refused with TSDB_R_PRECISION, never rounded silently, so
 * what went in comes out bit for bit; the one exception is -0.0, which
 * comes back as 0.0 (they compare equal).  NaN and infinities are
 * refused (TSDB_R_NOT_FINITE), as are values outside the metric's range
 * (TSDB_R_RANGE).
 */
#ifndef TELEMETRY_TSDB_H
#define TELEMETRY_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hrid/error.h"

/* Finer reasons, in hrid_err.reason, for the statuses functions return. */
enum tsdb_reason {
    TSDB_R_NONE = 0,
    TSDB_R_METRIC,          /* unknown metric id or malformed name */
    TSDB_R_NOT_FINITE,      /* a value is NaN or infinite */
    TSDB_R_RANGE,           /* a value is outside its metric's range */
    TSDB_R_PRECISION,       /* a value has more digits than declared */
    TSDB_R_TIME,            /* a time is outside [0, TSDB_TIME_MAX] */
    TSDB_R_ORDER,           /* a time is not after the previous one */
    TSDB_R_DUPLICATE,       /* a time equals the previous one */
    TSDB_R_WINDOW,          /* a time falls outside the chunk's window */
    TSDB_R_FULL,            /* a chunk or output array has no room */
    TSDB_R_TRUNCATED,       /* chunk bytes end before their contents */
    TSDB_R_CORRUPT,         /* chunk bytes are malformed or fail the CRC */
    TSDB_R_OVERFLOW,        /* a sum or count does not fit its type */
    TSDB_R_DEGENERATE,      /* a fit or statistic has too few points */
    TSDB_R_REPORT           /* a report breaks a rule of the report format */
};

/* Returned by tsdb_fit_crossing when the fitted line never reaches the
 * threshold in the given direction.  Not an error: err is left clear. */
#define TSDB_NEVER 100

/* The latest time accepted: 9999-12-31T23:59:59.999Z, the end of RFC
 * 3339's range, so that every stored time prints as a valid timestamp. */
#define TSDB_TIME_MAX INT64_C(253402300799999)

#define TSDB_MINUTE_MS INT64_C(60000)
#define TSDB_HOUR_MS   INT64_C(3600000)
#define TSDB_DAY_MS    INT64_C(86400000)

/* ---------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------ */

/* Joint ids run 0..63: a humanoid has 20 to 60 joints (DESIGN §4), and 64
 * of them fit the one-byte metric id below with room for more kinds. */
#define TSDB_JOINTS 64

/*
 * Metric ids.  One byte: 0-63 are joint.<id>.wear, 64-127
 * joint.<id>.temp, then the unit-wide metrics.  Ids are stored in chunks,
 * so an id is never reused for another meaning; new metrics take ids
 * from TSDB_METRIC_COUNT up.
 */
#define TSDB_METRIC_JOINT_WEAR(j) ((unsigned)(j))
#define TSDB_METRIC_JOINT_TEMP(j) (TSDB_JOINTS + (unsigned)(j))
enum tsdb_metric_id {
    TSDB_METRIC_BATTERY_SOH = 2 * TSDB_JOINTS,  /* 128 */
    TSDB_METRIC_BATTERY_CYCLES,
    TSDB_METRIC_BATTERY_TEMP,
    TSDB_METRIC_PRECISION_MM,
    TSDB_METRIC_HOURS,
    TSDB_METRIC_LAT,
    TSDB_METRIC_LON,
    TSDB_METRIC_COUNT                           /* 135 */
};

/* "joint.63.wear" and its NUL, with room to spare. */
#define TSDB_METRIC_NAME_MAX 24

/* What a metric means and what values it accepts. */
struct tsdb_metric_info {
    const char *kind;    /* "joint.wear", "battery.soh", ...: the name
                            without a joint id, for grouping */
    const char *unit;    /* "ratio", "degC", "count", "mm", "h", "deg" */
    int digits;          /* decimal digits kept: values are multiples of
                            10^-digits */
    double min, max;     /* accepted range, both ends included */
};

/*
 * Returns the description of metric id, or NULL when id is not a metric.
 * The returned struct is static and constant.
 */
const struct tsdb_metric_info *tsdb_metric_info(unsigned id);

/*
 * Parses a metric name of len bytes (no NUL needed), in its one canonical
 * spelling: "joint.<id>.wear" or "joint.<id>.temp" with <id> in 0..63
 * written without leading zeros, "battery.soh", "battery.cycles",
 * "battery.temp", "precision_mm", "hours", "lat", "lon".  Stores the id in
 * *id.  Returns HRID_OK, or HRID_EINVAL (TSDB_R_METRIC) with a message
 * such as "metric 'joint.64.wear': joint id 64 is out of range 0..63";
 * *id is then TSDB_METRIC_COUNT.
 */
int tsdb_metric_parse(const char *name, size_t len, unsigned *id,
                      struct hrid_err *err);

/*
 * Writes the canonical name of metric id, NUL-terminated, to buf of cap
 * bytes (TSDB_METRIC_NAME_MAX always suffices).  Returns HRID_OK,
 * HRID_EINVAL (TSDB_R_METRIC) for an unknown id, or HRID_ERANGE
 * (TSDB_R_FULL) when cap is too small; buf is then "" if cap > 0.
 */
int tsdb_metric_format(unsigned id, char *buf, size_t cap,
                       struct hrid_err *err);

/* The joint of a joint metric (0..63), or -1 for a unit-wide metric. */
int tsdb_metric_joint(unsigned id);

/*
 * Checks value v for metric id and stores its quantised integer
 * v * 10^digits in *q.  Refuses (HRID_EINVAL) an unknown metric
 * (TSDB_R_METRIC), NaN or an infinity (TSDB_R_NOT_FINITE), a value out of
 * the metric's range (TSDB_R_RANGE) and a value that is not the double
 * nearest to a decimal of the metric's digits (TSDB_R_PRECISION), with a
 * message naming the metric and the value.  *q is 0 on failure.
 */
int tsdb_value_check(unsigned id, double v, int64_t *q, struct hrid_err *err);

/*
 * The value v rounded to metric id's precision (the nearest multiple of
 * 10^-digits, halves away from zero), for an ingest that chooses to round
 * and flag rather than refuse.  Returns v unchanged when v is not finite
 * or id is unknown.
 */
double tsdb_value_round(unsigned id, double v);

/* The double nearest to q / 10^digits, for digits 0..TSDB_DIGITS_MAX. */
double tsdb_dequantize(int64_t q, int digits);

/*
 * The integer q with tsdb_dequantize(q, digits) == v, if there is one with
 * |q| <= 2^53; stores it in *q and returns true.  Otherwise (v not finite,
 * too large, or not at that precision) returns false and *q is 0.
 */
bool tsdb_quantize(double v, int digits, int64_t *q);

/* The most digits a chunk may declare: 10^15 is exact as a double, and a
 * quantised value must stay within 2^53 (so 9 before the point at 6). */
#define TSDB_DIGITS_MAX 15

/* ---------------------------------------------------------------------
 * Reports
 * ------------------------------------------------------------------ */

/* One measured value of a report. */
struct tsdb_value {
    unsigned metric;
    double v;
};

/* A report holds each metric at most once. */
#define TSDB_REPORT_VALUES TSDB_METRIC_COUNT
/* Firmware version text: at most 32 characters of [0-9A-Za-z._+-]. */
#define TSDB_FIRMWARE_MAX 32

/*
 * One health report of one unit, as the server decodes it from the JSON
 * of docs/telemetry.md (the unit's code is the server's business).  The
 * values are flat: the JSON's joints[], battery{}, location{} members map
 * one to one to metric ids.  A field of the report that is not one of
 * these has no place here, which is how the format refuses unknown (and
 * so personal) data.
 */
struct tsdb_report {
    int64_t t;                                 /* measurement time, ms */
    char firmware[TSDB_FIRMWARE_MAX + 1];      /* "" when not reported */
    size_t n;                                  /* values used */
    struct tsdb_value values[TSDB_REPORT_VALUES];
};

/*
 * Checks a report against docs/telemetry.md: t within [0,
 * TSDB_TIME_MAX]; at least one value; every value valid for its metric
 * (tsdb_value_check); no metric twice; lat and lon both or neither; the
 * firmware version empty or of allowed characters.  Returns HRID_OK or
 * HRID_EINVAL naming the first offending value (TSDB_R_REPORT for the
 * report's own rules, else the value's reason).
 */
int tsdb_report_check(const struct tsdb_report *r, struct hrid_err *err);

/* ---------------------------------------------------------------------
 * Raw chunks
 * ------------------------------------------------------------------ */

/* One raw sample. */
struct tsdb_sample {
    int64_t t;
    double v;
};

/*
 * A chunk holds at most 120 samples of one two-hour window, aligned on
 * multiples of two hours since the epoch: two hours of one-minute reports
 * (the fleet's cadence), small enough that a query reads at most two
 * hours too many at each end, large enough that the chunk's fixed cost
 * (about 24 bytes) is a fifth of a byte per value, and a whole number of
 * hours, so that a closed chunk's hourly rollups are final.  A unit that
 * reports faster fills a chunk before its window ends and starts another
 * in the same window.  docs/telemetry.md has the figures.
 */
#define TSDB_CHUNK_SAMPLES 120
#define TSDB_CHUNK_WINDOW_MS (2 * TSDB_HOUR_MS)

/*
 * The largest encoded chunk: 3 header bytes, the sample count (1 byte),
 * two series headers (31 bytes each at most: three 10-byte varints and a
 * mode byte), two series of 119 residuals of at most 90 bits each (a
 * 20-bit escape, a 6-bit length and 64 bits) and the 4-byte CRC.
 */
#define TSDB_SERIES_HEADER_MAX 31
#define TSDB_RESIDUAL_BITS_MAX 90
#define TSDB_CHUNK_BYTES_MAX \
    (4 + 2 * TSDB_SERIES_HEADER_MAX \
     + (2 * (TSDB_CHUNK_SAMPLES - 1) * TSDB_RESIDUAL_BITS_MAX + 7) / 8 + 4)

/* The first ms of the chunk window that holds t (t >= 0). */
int64_t tsdb_chunk_window(int64_t t);

/* Raw samples are kept 90 days by default, then only their hourly
 * rollups, for the unit's life (the telemetry issue's default). */
#define TSDB_RAW_RETENTION_MS (90 * TSDB_DAY_MS)

/*
 * Whether a raw chunk whose first sample is at first may be dropped at
 * time now, keeping raw samples for retention_ms (TSDB_RAW_RETENTION_MS
 * unless configured; a negative one counts as 0): when its whole window
 * ended retention_ms or more before now.  Chunks go whole, so raw data
 * always begins on a window boundary, a whole hour, and a query's hours
 * before it come from rollups.  Fold a chunk into its rollups before
 * dropping it.
 */
bool tsdb_raw_expired(int64_t first, int64_t now, int64_t retention_ms);

/* What a chunk's header says: filled by the decoders. */
struct tsdb_chunk_info {
    unsigned metric;
    int digits;
    size_t n;                 /* samples (raw) or buckets (rollup) */
    int64_t first, last;      /* first and last sample time or bucket start */
};

/*
 * An open chunk being built.  The encoder keeps the samples (as
 * quantised integers) and chooses the encoding when it serialises, so it
 * is about 2 KiB; embed it or allocate it as suits.
 */
struct tsdb_encoder {
    unsigned metric;
    int digits;
    size_t n;
    int64_t t[TSDB_CHUNK_SAMPLES];
    int64_t q[TSDB_CHUNK_SAMPLES];
};

/*
 * Sets up an empty encoder for metric id in a struct the caller owns.
 * Returns HRID_OK, or HRID_EINVAL (TSDB_R_METRIC) for an unknown id.
 */
int tsdb_encoder_init(struct tsdb_encoder *e, unsigned metric,
                      struct hrid_err *err);

/*
 * Sets up an encoder holding the samples of an encoded chunk, so that an
 * open chunk kept as bytes can take more samples.  Fails as
 * tsdb_chunk_decode does; the encoder is then empty for metric 0.
 */
int tsdb_encoder_init_from(struct tsdb_encoder *e, const void *bytes,
                           size_t len, struct hrid_err *err);

/*
 * Appends the sample (t, v).  Refuses, leaving the encoder unchanged:
 * a time outside [0, TSDB_TIME_MAX] (HRID_EINVAL, TSDB_R_TIME); a time
 * equal to the last one (HRID_EINVAL, TSDB_R_DUPLICATE) or before it
 * (TSDB_R_ORDER); a time in another window than the first sample's
 * (TSDB_R_WINDOW: start a new chunk); a value tsdb_value_check refuses;
 * a full chunk (HRID_ERANGE, TSDB_R_FULL: start a new chunk).
 */
int tsdb_encoder_append(struct tsdb_encoder *e, int64_t t, double v,
                        struct hrid_err *err);

/*
 * Serialises the samples appended so far (at least one) into out, of cap
 * bytes (TSDB_CHUNK_BYTES_MAX always suffices), and stores the length in
 * *len.  The encoder is left as it was, so an open chunk can be saved and
 * still take samples.  Returns HRID_OK, HRID_EINVAL (TSDB_R_DEGENERATE)
 * when there is no sample, or HRID_ERANGE (TSDB_R_FULL) when cap is too
 * small; *len is then 0.
 */
int tsdb_encoder_finish(const struct tsdb_encoder *e, void *out, size_t cap,
                        size_t *len, struct hrid_err *err);

/*
 * Decodes a whole chunk into out (room for max samples;
 * TSDB_CHUNK_SAMPLES always suffices), stores the count in *n and, when
 * info is not NULL, the header in *info.  Every byte is checked: the
 * CRC, the header, every field's bounds, and that the times are
 * increasing, valid and within one window.  Returns HRID_OK; HRID_EINVAL
 * with TSDB_R_TRUNCATED or TSDB_R_CORRUPT when the bytes are not a valid
 * chunk; HRID_ERANGE (TSDB_R_FULL) when max is too small.  Never reads
 * outside [bytes, bytes + len).  On failure *n is 0 and out is
 * unspecified.
 */
int tsdb_chunk_decode(const void *bytes, size_t len, struct tsdb_sample *out,
                      size_t max, size_t *n, struct tsdb_chunk_info *info,
                      struct hrid_err *err);

/*
 * An iterator over a chunk's samples.  tsdb_decoder_init checks and
 * decodes the whole chunk (as tsdb_chunk_decode), so every error is
 * reported there and iterating cannot fail.  The bytes are not kept.
 */
struct tsdb_decoder {
    struct tsdb_chunk_info info;
    size_t pos;
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES];
};

int tsdb_decoder_init(struct tsdb_decoder *d, const void *bytes, size_t len,
                      struct hrid_err *err);

/* Stores the next sample in *s and returns true, or returns false after
 * the last one (and always after a failed init). */
bool tsdb_decoder_next(struct tsdb_decoder *d, struct tsdb_sample *s);

/* ---------------------------------------------------------------------
 * Hourly rollups
 * ------------------------------------------------------------------ */

/*
 * The samples of one metric of one unit in one hour.  sum is the exact
 * sum of the quantised values, as the double nearest to it (so avg =
 * sum / count); hours without samples have no bucket.
 */
struct tsdb_rollup {
    int64_t start;       /* first ms of the hour, a multiple of TSDB_HOUR_MS */
    uint32_t count;      /* samples, >= 1 */
    double min, max, sum;
};

/*
 * A rollup chunk holds the buckets of one seven-day window aligned on
 * multiples of seven days since the epoch (Thursdays 00:00 UTC): 168
 * buckets, a 30-day query reads five or six chunks, and the chunk's fixed
 * cost (about 34 bytes) is a fifth of a byte per bucket.
 */
#define TSDB_ROLLUP_BUCKETS 168
#define TSDB_ROLLUP_WINDOW_MS (TSDB_ROLLUP_BUCKETS * TSDB_HOUR_MS)

/* As TSDB_CHUNK_BYTES_MAX: header, a 2-byte count, five series headers
 * and five series of residuals, the CRC. */
#define TSDB_ROLLUP_BYTES_MAX \
    (5 + 5 * TSDB_SERIES_HEADER_MAX \
     + (5 * (TSDB_ROLLUP_BUCKETS - 1) * TSDB_RESIDUAL_BITS_MAX + 7) / 8 + 4)

/* The first ms of the rollup window that holds t (t >= 0). */
int64_t tsdb_rollup_window(int64_t t);

/*
 * Folds the samples s[0..ns), in increasing time order and all at
 * precision digits, into the buckets b[0..*n), which are in increasing
 * start order and have room for max: a sample adds to its hour's bucket,
 * which is inserted in order when missing.  Folding the same samples
 * twice counts them twice: fold each raw chunk once, when it closes.
 * Returns HRID_OK; HRID_EINVAL for a value not at precision digits
 * (TSDB_R_PRECISION) or samples out of order (TSDB_R_ORDER); HRID_ERANGE
 * when a bucket is needed and there is no room (TSDB_R_FULL) or a sum or
 * count would overflow (TSDB_R_OVERFLOW).  On failure the buckets may
 * hold some of the samples: fold into a copy when that matters.
 */
int tsdb_rollup_add(struct tsdb_rollup *b, size_t max, size_t *n,
                    const struct tsdb_sample *s, size_t ns, int digits,
                    struct hrid_err *err);

/*
 * Merges bucket src into dst, of the same hour and precision digits: the
 * count and sum add, min and max widen.  Returns HRID_OK, HRID_EINVAL when
 * the hours differ (TSDB_R_WINDOW) or a bound or sum is not at precision
 * (TSDB_R_PRECISION), or HRID_ERANGE (TSDB_R_OVERFLOW); dst is then
 * unchanged.
 */
int tsdb_rollup_merge(struct tsdb_rollup *dst, const struct tsdb_rollup *src,
                      int digits, struct hrid_err *err);

/*
 * Merges two bucket lists a[0..na) and b[0..nb), each in increasing start
 * order, into out (room for max; must not overlap a or b): buckets of the
 * same hour merge.  Stores the count in *n.  Fails as tsdb_rollup_merge,
 * or with HRID_ERANGE (TSDB_R_FULL) when out is too small; *n is then 0.
 */
int tsdb_rollup_merge_lists(const struct tsdb_rollup *a, size_t na,
                            const struct tsdb_rollup *b, size_t nb,
                            struct tsdb_rollup *out, size_t max, size_t *n,
                            int digits, struct hrid_err *err);

/*
 * Encodes the n buckets b[0..n) (1..TSDB_ROLLUP_BUCKETS, increasing starts
 * on whole hours, all in one rollup window) of metric id into out of cap
 * bytes (TSDB_ROLLUP_BYTES_MAX always suffices); the length goes to *len.
 * Refuses (HRID_EINVAL) an unknown metric, buckets out of order or
 * window, a count of 0, min > max, bounds or sum not at the metric's
 * precision or a sum outside [min * count, max * count]; HRID_ERANGE
 * when cap is too small.  *len is 0 on failure.
 */
int tsdb_rollup_encode(unsigned metric, const struct tsdb_rollup *b, size_t n,
                       void *out, size_t cap, size_t *len,
                       struct hrid_err *err);

/*
 * Decodes a rollup chunk into out (room for max; TSDB_ROLLUP_BUCKETS
 * always suffices), as tsdb_chunk_decode does for raw chunks: every byte
 * checked, the same statuses, never a read outside the bytes.
 */
int tsdb_rollup_decode(const void *bytes, size_t len, struct tsdb_rollup *out,
                       size_t max, size_t *n, struct tsdb_chunk_info *info,
                       struct hrid_err *err);

/* ---------------------------------------------------------------------
 * Series queries
 * ------------------------------------------------------------------ */

/* One output point.  For step 0, a raw sample: count 1 and min, max and
 * avg all the value. */
struct tsdb_point {
    int64_t t;           /* the sample time, or the bucket's first ms */
    uint32_t count;      /* samples in the bucket */
    double min, max, avg;
};

/*
 * A query over one metric of one unit.  raw holds decoded samples and
 * rollups decoded buckets, each in increasing time order (chunks decoded
 * one after the other), either may be empty.
 */
struct tsdb_query {
    int64_t from, to;            /* [from, to), ms */
    int64_t step;                /* 0: raw samples; else the bucket width */
    int digits;                  /* the metric's precision */
    const struct tsdb_sample *raw;
    size_t nraw;
    const struct tsdb_rollup *rollups;
    size_t nrollups;
};

/*
 * Produces the query's points in out (room for max) and their count in
 * *n.  Buckets are aligned on multiples of step since the epoch and
 * labelled by their start; empty buckets give no point.
 *
 *   - step 0: the raw samples with from <= t < to;
 *   - step a multiple of an hour: the range is taken in whole hours, the
 *     hours that begin in [from, to); an hour with a rollup bucket is
 *     taken from it, an hour without one from its raw samples (raw
 *     samples of an hour that has a bucket are ignored: the bucket was
 *     made from them).  So the answer is the same, bit for bit, from raw
 *     samples, from rollups or from both;
 *   - any other step: raw samples only, min, max and avg per bucket.
 *
 * Averages are taken over the exact sum of the quantised values.  Returns
 * HRID_OK; HRID_EINVAL for from > to, a negative step or digits out of
 * 0..TSDB_DIGITS_MAX; HRID_ERANGE (TSDB_R_FULL) when out is too small
 * (*n is then the points written) or TSDB_R_OVERFLOW when a bucket's sum
 * does not fit.
 */
int tsdb_query_run(const struct tsdb_query *q, struct tsdb_point *out,
                   size_t max, size_t *n, struct hrid_err *err);

/* ---------------------------------------------------------------------
 * Trends and fleet statistics
 * ------------------------------------------------------------------ */

/* A least-squares line v = value_at_ref + slope * (t - t_ref) / 1 day. */
struct tsdb_fit {
    size_t n;
    int64_t t_ref;          /* the mean time of the points, ms */
    double value_at_ref;    /* the fitted value at t_ref (the mean value) */
    double slope;           /* units per day */
    double r2;              /* coefficient of determination, 0..1; 1 when
                               every value is equal */
    double resid_sd;        /* residual standard deviation, n - 2 d.o.f.
                               (0 when n == 2) */
};

/*
 * Fits a straight line by ordinary least squares to the n points p (times
 * need not be ordered; use the window's points).  Times are centred on
 * their mean before any product is formed, so ms times near 2^41 lose no
 * precision.  Returns HRID_OK, or HRID_EINVAL (TSDB_R_DEGENERATE) when
 * there are fewer than two points or all times are equal, or
 * (TSDB_R_NOT_FINITE) when a value is not finite.
 */
int tsdb_fit_line(const struct tsdb_sample *p, size_t n, struct tsdb_fit *fit,
                  struct hrid_err *err);

/* The value of the fitted line at time t. */
double tsdb_fit_value(const struct tsdb_fit *fit, int64_t t);

/*
 * The time at which the fitted line reaches threshold going up (rising)
 * or down (!rising), in *when: in the past when it already has.  Returns
 * HRID_OK; TSDB_NEVER when the line is flat or heads the other way, or
 * would reach it only after TSDB_TIME_MAX or before time 0 (*when is then
 * -1); HRID_EINVAL (TSDB_R_NOT_FINITE) for a threshold that is not finite.
 */
int tsdb_fit_crossing(const struct tsdb_fit *fit, double threshold,
                      bool rising, int64_t *when, struct hrid_err *err);

/*
 * Computes the np percentiles p[0..np) (each in [0, 100]) of v[0..n) into
 * out[0..np), by linear interpolation between the closest ranks (R's and
 * numpy's default, "type 7").  Sorts v in place.  Returns HRID_OK, or
 * HRID_EINVAL when n is 0 (TSDB_R_DEGENERATE), a value is not finite
 * (TSDB_R_NOT_FINITE) or a p is out of range (TSDB_R_RANGE).
 */
int tsdb_percentiles(double *v, size_t n, const double *p, size_t np,
                     double *out, struct hrid_err *err);

/* Iglewicz and Hoaglin's cut for the modified z-score: |z| > 3.5. */
#define TSDB_OUTLIER_Z 3.5

/*
 * The robust (modified) z-score of each of v[0..n) in z[0..n):
 * 0.6745 * (v - median) / MAD, the MAD being the median absolute deviation
 * from the median (Iglewicz and Hoaglin, 1993).  When more than half the
 * values are equal the MAD is 0, and the mean absolute deviation times
 * 1.2533 stands in for it (both estimate the standard deviation of normal
 * data); when that is 0 too every value equals the median and every z is
 * 0.  A value is an outlier when |z| > cut (TSDB_OUTLIER_Z is the usual
 * one); outlier (may be NULL) gets a flag per value, and *count (may be
 * NULL) the number flagged.  scratch has room for n doubles; v is not
 * modified.  Returns HRID_OK, or HRID_EINVAL when n is 0 or a value is not
 * finite.
 */
int tsdb_outliers(const double *v, size_t n, double cut, double *scratch,
                  double *z, bool *outlier, size_t *count,
                  struct hrid_err *err);

/* ---------------------------------------------------------------------
 * Synthetic fleet
 * ------------------------------------------------------------------ */

/*
 * A deterministic fleet of robots for tests and benchmarks: any report of
 * any robot is a pure function of (seed, robot, minute), so a benchmark
 * can generate a month of one robot, or a minute of a million, in any
 * order.  Each robot has TSDB_FLEET_JOINTS joints whose wear drifts
 * upwards by a rate of its own (a few in a thousand much faster), with
 * sensor noise at the reported precision; joint and battery temperatures
 * follow the robot's duty cycle with noise; battery state of health fades
 * with its cycles; motion precision jitters around a value that grows
 * with wear; operating hours count the minutes it works; a third of the
 * robots report a location near their site.  Reports come every minute
 * at the robot's own phase, with timer jitter of up to jitter_ms either
 * way, and one in two hundred is lost.
 */
#define TSDB_FLEET_JOINTS 40

struct tsdb_fleet {
    uint64_t seed;
    int64_t start;           /* time of minute 0, ms */
    int jitter_ms;           /* 0..29999 */
};

/* The fleet defaults: seed 1, minute 0 at 2026-01-01T00:00:00Z, jitter
 * 10 ms. */
void tsdb_fleet_init(struct tsdb_fleet *f);

/*
 * Fills *r with robot's report for the given minute (minutes since
 * f->start), and returns true; returns false when that report is lost
 * (r is then untouched).  Every value passes tsdb_value_check.
 */
bool tsdb_fleet_report(const struct tsdb_fleet *f, uint32_t robot,
                       uint32_t minute, struct tsdb_report *r);

/* The wear rate per day of a robot's joint, as the generator draws it:
 * what a fit over its reports should find. */
double tsdb_fleet_wear_rate(const struct tsdb_fleet *f, uint32_t robot,
                            unsigned joint);

#endif
