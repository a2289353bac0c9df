/*
 * hrid/error.h - the error context every libhrid call fills on failure.
 *
 * Functions return a status (HRID_OK is 0); the human message lives in a
 * struct hrid_err that the caller passes, as SQLite keeps a message per
 * connection and curl writes into an error buffer.  The context is plain
 * data with a fixed-size message, so filling it never allocates and two
 * threads with two contexts never share anything.
 */
#ifndef HRID_ERROR_H
#define HRID_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses shared by every libhrid module.  Modules with finer reasons
 * (the identity code's, for one) report them in hrid_err.reason. */
enum hrid_status {
    HRID_OK = 0,
    HRID_EINVAL,        /* the input is malformed or out of range */
    HRID_ERANGE,        /* a counter or size does not fit the format */
    HRID_ENOMEM,        /* an allocation failed */
    HRID_EVERIFY        /* a signature, proof or check did not verify */
};

/* The message is capped at 256 bytes: the longest message libhrid writes
 * (a character error that quotes a 4-byte UTF-8 character and names the
 * segment) is under 120 bytes, so the cap only truncates callers' text. */
#define HRID_ERR_MSG_MAX 256

struct hrid_err {
    int status;                  /* an enum hrid_status, HRID_OK when clear */
    int reason;                  /* module-specific reason, 0 when none */
    int pos;                     /* 1-based position in the input, 0 if none */
    char msg[HRID_ERR_MSG_MAX];  /* lower case, no trailing period */
};

/* Clears an error context.  Safe on NULL. */
void hrid_err_clear(struct hrid_err *err);

/* Fills err (if not NULL) with status, reason, position and a printf-style
 * message, and returns status so that callers can write
 * "return hrid_err_set(err, HRID_EINVAL, ...)". */
int hrid_err_set(struct hrid_err *err, int status, int reason, int pos,
                 const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The name of a status, for logs: "einval", "erange", ... */
const char *hrid_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
