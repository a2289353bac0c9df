/*
 * server/mqtt.c - the MQTT telemetry subscriber (mqtt.h, docs/telemetry.md
 * "MQTT"), over libmosquitto.
 *
 * One libmosquitto client in a persistent session, run by its own network
 * thread (mosquitto_loop_start).  The message callback runs on that thread
 * and ingests the message before it returns.  For a QoS 1 message
 * libmosquitto queues the PUBACK just before it calls the callback, and in
 * threaded mode the network thread writes queued packets only after the
 * callback returned; so the broker sees the acknowledgement only once the
 * reports are durable (core_telemetry_ingest_device commits first).  If
 * hridd dies in between, the broker still holds the message and sends it
 * again; a report already stored is then counted as a duplicate and
 * stored once, as over HTTP (same unit, same time).
 *
 * Messages that cannot be right (unsigned, wrongly signed, unknown units,
 * units without a device key or not on the market, malformed or invalid
 * reports) are acknowledged and dropped: sending them again would not
 * change the answer.  Each drop is one line on stderr with the reason and
 * is counted; the counts are printed at shutdown.  When the store fails
 * instead, the message must not be acknowledged: the callback shuts the
 * socket down before the queued PUBACK can be written, libmosquitto
 * reconnects after its delay, and the broker delivers the message again.
 *
 * Processing one message at a time on one thread is the price of that
 * guarantee; units batch their reports (up to CORE_TELEMETRY_BATCH_MAX a
 * message) to keep the rate of messages, and of transactions, low.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mosquitto.h>

#include "server/http.h"
#include "server/mqtt.h"

/* Seconds between keepalive pings: libmosquitto's usual value. */
#define MQTT_KEEPALIVE 60
/* Reconnection: after 1 s, doubling up to 30 s while the broker stays
 * away, so a restarted broker is found again within half a minute. */
#define MQTT_RECONNECT_MIN 1u
#define MQTT_RECONNECT_MAX 30u
/* A message is at most as large as an HTTP batch body, the other way in
 * for the same reports. */
#define MQTT_PAYLOAD_MAX HTTP_BODY_MAX

/* Why messages were dropped, for the counts printed at shutdown. */
enum drop_reason {
    DROP_UNSIGNED,
    DROP_SIGNATURE,
    DROP_UNKNOWN_UNIT,
    DROP_NO_DEVICE_KEY,
    DROP_NOT_LIVE,
    DROP_INVALID,
    DROP_N
};

static const char *const drop_names[DROP_N] = {
    "unsigned", "bad signature", "unknown unit", "no device key",
    "unit not live", "invalid",
};

struct mqtt_subscriber {
    struct core *core;
    struct mosquitto *mosq;
    char *host;
    unsigned port;
    bool lib_ready, loop_started;
    /* Touched only by the network thread, read after it stopped. */
    int64_t messages, reports, duplicates, retried;
    int64_t dropped[DROP_N];
};

static enum drop_reason drop_reason_of(const struct core_err *err)
{
    const char *code = err->code != NULL ? err->code : "";

    if (strcmp(code, "unsigned") == 0)
        return DROP_UNSIGNED;
    if (strcmp(code, "bad_signature") == 0)
        return DROP_SIGNATURE;
    if (strcmp(code, "not_found") == 0 || strcmp(code, "invalid_code") == 0)
        return DROP_UNKNOWN_UNIT;
    if (strcmp(code, "no_device_key") == 0)
        return DROP_NO_DEVICE_KEY;
    if (strcmp(code, "unit_not_live") == 0)
        return DROP_NOT_LIVE;
    return DROP_INVALID;
}

static void drop(struct mqtt_subscriber *s, enum drop_reason why,
                 const char *topic, const char *msg)
{
    s->dropped[why]++;
    fprintf(stderr, "hridd: mqtt: dropped a message on '%.80s' (%s): %s\n",
            topic, drop_names[why], msg);
}

static void on_message(struct mosquitto *mosq, void *arg,
                       const struct mosquitto_message *m)
{
    struct mqtt_subscriber *s = arg;
    const size_t plen = sizeof MQTT_TOPIC_PREFIX - 1;
    struct core_reply reply;
    struct core_err err;
    struct arena a;
    const char *code;
    int rc;

    s->messages++;
    if (m->topic == NULL || strncmp(m->topic, MQTT_TOPIC_PREFIX, plen) != 0) {
        drop(s, DROP_UNKNOWN_UNIT, m->topic ? m->topic : "",
             "not a telemetry topic");
        return;
    }
    code = m->topic + plen;
    if (m->payloadlen < 0 || (size_t)m->payloadlen > MQTT_PAYLOAD_MAX) {
        drop(s, DROP_INVALID, m->topic, "message over 8 MiB");
        return;
    }
    memset(&err, 0, sizeof err);
    arena_init(&a);
    rc = core_telemetry_ingest_device(s->core, code, strlen(code),
                                      m->payload ? m->payload : "",
                                      (size_t)m->payloadlen, &a, &reply,
                                      &err);
    if (rc == CORE_OK) {
        s->reports += json_integer_value(json_object_get(reply.body,
                                                         "accepted"));
        s->duplicates += json_integer_value(json_object_get(reply.body,
                                                            "duplicates"));
        json_decref(reply.body);
    } else if (rc == CORE_EINTERNAL) {
        int fd = mosquitto_socket(mosq);

        /* Not stored: no PUBACK may leave.  Closing the connection under
         * libmosquitto makes it reconnect, and the broker resend. */
        s->retried++;
        fprintf(stderr, "hridd: mqtt: message on '%.80s' not stored, to be "
                "delivered again: %s\n", m->topic, err.msg);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
    } else {
        drop(s, drop_reason_of(&err), m->topic, err.msg);
    }
    arena_release(&a);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    struct mqtt_subscriber *s = arg;
    int src;

    if (rc != 0) {
        fprintf(stderr, "hridd: mqtt: %s:%u refused the connection: %s\n",
                s->host, s->port, mosquitto_connack_string(rc));
        return;
    }
    /* The session keeps the subscription; asking again is harmless and
     * covers a broker that lost its sessions. */
    src = mosquitto_subscribe(mosq, NULL, MQTT_TOPIC, 1);
    if (src != MOSQ_ERR_SUCCESS)
        fprintf(stderr, "hridd: mqtt: cannot subscribe to %s: %s\n",
                MQTT_TOPIC, mosquitto_strerror(src));
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid,
                         int qos_count, const int *granted)
{
    struct mqtt_subscriber *s = arg;

    (void)mosq;
    (void)mid;
    if (qos_count < 1 || granted[0] > 2)
        fprintf(stderr, "hridd: mqtt: %s:%u refused the subscription to "
                "%s\n", s->host, s->port, MQTT_TOPIC);
    else
        fprintf(stderr, "hridd: mqtt: subscribed to %s on %s:%u (QoS %d)\n",
                MQTT_TOPIC, s->host, s->port, granted[0]);
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
    struct mqtt_subscriber *s = arg;

    (void)mosq;
    if (rc != 0)
        fprintf(stderr, "hridd: mqtt: connection to %s:%u lost; "
                "reconnecting\n", s->host, s->port);
}

int mqtt_subscriber_start(struct core *core, const char *host, unsigned port,
                          struct mqtt_subscriber **out, char *errbuf,
                          size_t errlen)
{
    struct mqtt_subscriber *s;
    int rc;

    *out = NULL;
    if ((s = calloc(1, sizeof *s)) == NULL ||
        (s->host = strdup(host)) == NULL) {
        free(s);
        snprintf(errbuf, errlen, "mqtt: out of memory");
        return -1;
    }
    s->core = core;
    s->port = port;
    if ((rc = mosquitto_lib_init()) != MOSQ_ERR_SUCCESS) {
        snprintf(errbuf, errlen, "mqtt: %s", mosquitto_strerror(rc));
        goto fail;
    }
    s->lib_ready = true;
    s->mosq = mosquitto_new(MQTT_CLIENT_ID, false, s);
    if (s->mosq == NULL) {
        snprintf(errbuf, errlen, "mqtt: cannot make a client");
        goto fail;
    }
    mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(s->mosq, on_connect);
    mosquitto_subscribe_callback_set(s->mosq, on_subscribe);
    mosquitto_disconnect_callback_set(s->mosq, on_disconnect);
    mosquitto_message_callback_set(s->mosq, on_message);
    mosquitto_reconnect_delay_set(s->mosq, MQTT_RECONNECT_MIN,
                                  MQTT_RECONNECT_MAX, true);
    /* A broker that is not there yet is no reason not to start: the
     * network thread keeps trying. */
    rc = mosquitto_connect_async(s->mosq, s->host, (int)port, MQTT_KEEPALIVE);
    if (rc != MOSQ_ERR_SUCCESS)
        fprintf(stderr, "hridd: mqtt: cannot reach %s:%u yet (%s); "
                "retrying\n", s->host, port,
                rc == MOSQ_ERR_ERRNO ? "connection failed"
                                     : mosquitto_strerror(rc));
    if ((rc = mosquitto_loop_start(s->mosq)) != MOSQ_ERR_SUCCESS) {
        snprintf(errbuf, errlen, "mqtt: cannot start the client thread: %s",
                 mosquitto_strerror(rc));
        goto fail;
    }
    s->loop_started = true;
    *out = s;
    return 0;
fail:
    if (s->mosq != NULL)
        mosquitto_destroy(s->mosq);
    if (s->lib_ready)
        mosquitto_lib_cleanup();
    free(s->host);
    free(s);
    return -1;
}

void mqtt_subscriber_stop(struct mqtt_subscriber *s)
{
    if (s == NULL)
        return;
    /* A clean DISCONNECT keeps the session (clean session is off): what
     * arrives from now on waits at the broker for the next start. */
    mosquitto_disconnect(s->mosq);
    if (s->loop_started)
        mosquitto_loop_stop(s->mosq, false);
    fprintf(stderr, "hridd: mqtt: %lld messages, %lld reports accepted, "
            "%lld duplicates, %lld to be delivered again; dropped: ",
            (long long)s->messages, (long long)s->reports,
            (long long)s->duplicates, (long long)s->retried);
    for (int i = 0; i < DROP_N; i++)
        fprintf(stderr, "%s%s %lld", i > 0 ? ", " : "", drop_names[i],
                (long long)s->dropped[i]);
    fputc('\n', stderr);
    mosquitto_destroy(s->mosq);
    mosquitto_lib_cleanup();
    free(s->host);
    free(s);
}
