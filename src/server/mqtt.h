/*
 * server/mqtt.h - hridd's MQTT telemetry subscriber (docs/telemetry.md
 * "MQTT").
 *
 * With --mqtt HOST:PORT, hridd subscribes to hrid/v1/telemetry/+ at QoS 1
 * in a persistent session (a fixed client id, clean session off), so the
 * broker keeps a unit's messages while hridd is down and delivers them on
 * its return.  Each message is handed to core_telemetry_ingest_device on
 * libmosquitto's network thread and acknowledged once that returned: see
 * mqtt.c for why that makes the acknowledgement follow the durable write.
 */
#ifndef SERVER_MQTT_H
#define SERVER_MQTT_H

#include <stddef.h>

#include "core/core.h"

/* The client id of hridd's session at the broker: fixed, so that the
 * session (its subscription and the messages queued for it) outlives a
 * restart.  Two hridd on one broker would share it and displace each
 * other. */
#define MQTT_CLIENT_ID "hridd-telemetry"
/* The subscription; a message's topic is hrid/v1/telemetry/<CODE>. */
#define MQTT_TOPIC_PREFIX "hrid/v1/telemetry/"
#define MQTT_TOPIC MQTT_TOPIC_PREFIX "+"

struct mqtt_subscriber;

/*
 * Starts the subscriber on core (borrowed: it must outlive the subscriber)
 * for the broker at host:port (host copied).  It connects in the
 * background and reconnects whenever the connection drops; it says on
 * stderr when it has subscribed ("hridd: mqtt: subscribed to ...") and
 * gives one line per dropped message with the reason.  Returns 0 with
 * *out set, or -1 with a message in errbuf (and *out NULL).
 */
int mqtt_subscriber_start(struct core *core, const char *host, unsigned port,
                          struct mqtt_subscriber **out, char *errbuf,
                          size_t errlen);

/*
 * Disconnects (the message being processed, if any, is finished first),
 * prints the counts of messages accepted and dropped by reason on stderr
 * and frees the subscriber.  NULL is a no-op.
 */
void mqtt_subscriber_stop(struct mqtt_subscriber *s);

#endif
