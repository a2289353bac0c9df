/*
 * error.c - the error context of libhrid (see hrid/error.h).
 *
 * Filling a context formats into its fixed buffer and never allocates, so
 * error paths work when memory is exhausted.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hrid/error.h"

void hrid_err_clear(struct hrid_err *err)
{
    if (err == NULL)
        return;
    err->status = HRID_OK;
    err->reason = 0;
    err->pos = 0;
    err->msg[0] = '\0';
}

int hrid_err_set(struct hrid_err *err, int status, int reason, int pos,
                 const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return status;
    err->status = status;
    err->reason = reason;
    err->pos = pos;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

const char *hrid_status_name(int status)
{
    switch (status) {
    case HRID_OK:      return "ok";
    case HRID_EINVAL:  return "einval";
    case HRID_ERANGE:  return "erange";
    case HRID_ENOMEM:  return "enomem";
    case HRID_EVERIFY: return "everify";
    }
    return "unknown";
}
