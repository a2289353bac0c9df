/*
 * bench_mhd.c - the machine's ceiling for GET /v1/units/{code}: a bare
 * libmicrohttpd server set up as hridd's (src/server/http.c) and
 * answering every request with the same reply, of the size of a unit's
 * public view, as bench_api.py measures it with wrk beside hridd.
 *
 * The registry's GET target (100k req/s) was set against the 228k req/s
 * measured for a bare server on a quiet machine of this kind
 * (MEASURED.md); a virtual machine's speed varies by more than 2x from
 * day to day, so bench_api.py measures this server in the same minutes
 * and prints both figures.
 *
 *   bench_mhd [THREADS]      (default: two per CPU, as hridd)
 *
 * Prints "listening on http://127.0.0.1:PORT" and serves until SIGTERM.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

/* A unit's public view as hridd writes it: 470 bytes. */
static const char reply[] =
    "{\"code\":\"CN00012260012608050000000001A\","
    "\"display\":\"CN-0001-226001-2608050000000001-A\",\"view\":\"public\","
    "\"country\":{\"code\":\"CN\",\"name\":\"China\"},"
    "\"enterprise\":{\"id\":\"CN0001\",\"name\":\"Bench Robotics\"},"
    "\"model\":{\"id\":\"CN0001226001\",\"name\":\"B0\",\"level\":2,"
    "\"level_meaning\":\"supervised autonomy in fenced or structured sites\","
    "\"status\":\"approved\"},\"production_date\":\"2026-08-05\","
    "\"state\":\"registered\",\"operator\":null,\"scenario\":null,"
    "\"region\":null,\"certifications\":[],\"open_recalls\":[]}";

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls, (void)url, (void)method, (void)version, (void)data;
    /* As hridd: the response is queued once the request is complete,
     * never on the first call (MEASURED.md). */
    if (*con_cls == NULL) {
        *con_cls = conn;
        return MHD_YES;
    }
    *data_size = 0;
    resp = MHD_create_response_from_buffer(sizeof reply - 1, (void *)reply,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = argc > 1 ? (unsigned)atoi(argv[1])
                                : (unsigned)(cpus > 0 ? cpus : 1) * 2;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sin;
    struct MHD_Daemon *d;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                             MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
                         0, NULL, NULL, on_access, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                         MHD_OPTION_THREAD_POOL_SIZE, threads < 2 ? 2 : threads,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)(16 * 1024), MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench_mhd: cannot start the server\n");
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://127.0.0.1:%u\n",
           info != NULL ? info->port : 0u);
    fflush(stdout);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
