/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flood SECONDS CONNECTIONS INFLIGHT METHOD ADDRESS MASK: for SECONDS,
 * CONNECTIONS bus connections each keep INFLIGHT calls of METHOD (su:
 * ADDRESS, MASK; with NFDS, a ResetDeviceWithFds-like "suah" carrying NFDS fds of
 * /dev/null) in flight, as fast as the daemon answers. Prints one line
 * per answer kind ("ok N", "org.freedesktop.DBus.Error.AccessDenied N",
 * ...) and exits 0 once every call sent was answered. A hostile load for
 * the tests and benchmarks: bounded in time, on the private test bus only.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "pcreset1.h"

typedef struct Counter {
        char name[128];
        unsigned long n;
} Counter;

static Counter counters[16];
static unsigned long sent, answered;
static const char *method, *address;
static uint32_t mask;
static uint64_t deadline;
static unsigned nfds;   /* > 0: ResetDeviceWithFds with this many fds of /dev/null */
static int devnull = -1;

static uint64_t now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void count(const char *name) {
        for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
                if (!counters[i].name[0])
                        snprintf(counters[i].name, sizeof counters[i].name, "%s", name);
                if (strcmp(counters[i].name, name) == 0) {
                        counters[i].n++;
                        return;
                }
        }
}

static int send_one(sd_bus *bus);

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        answered++;
        count(e ? e->name : "ok");
        if (now() < deadline)
                (void) send_one(sd_bus_message_get_bus(m));
        return 0;
}

static int send_one(sd_bus *bus) {
        int r;
        if (nfds > 0) {
                sd_bus_message *m = NULL;
                r = sd_bus_message_new_method_call(bus, &m, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH,
                                                   PCRESET1_MANAGER_INTERFACE, method);
                if (r >= 0)
                        r = sd_bus_message_append(m, "su", address, mask);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "h");
                for (unsigned i = 0; r >= 0 && i < nfds; i++)
                        r = sd_bus_message_append(m, "h", devnull);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_call_async(bus, NULL, m, on_reply, NULL, 0);
                sd_bus_message_unref(m);
        } else
                r = sd_bus_call_method_async(bus, NULL, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH,
                                             PCRESET1_MANAGER_INTERFACE, method, on_reply, NULL, "su", address, mask);
        if (r >= 0)
                sent++;
        return r;
}

int main(int argc, char *argv[]) {
        sd_event *e = NULL;

        if (argc != 7 && argc != 8) {
                fprintf(stderr, "usage: flood SECONDS CONNECTIONS INFLIGHT METHOD ADDRESS MASK [NFDS]\n");
                return 2;
        }
        unsigned seconds = (unsigned) atoi(argv[1]), conns = (unsigned) atoi(argv[2]), inflight = (unsigned) atoi(argv[3]);
        method = argv[4];
        address = argv[5];
        mask = (uint32_t) strtoul(argv[6], NULL, 0);
        nfds = argc == 8 ? (unsigned) atoi(argv[7]) : 0;
        if (nfds > 0 && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                return 2;
        if (seconds < 1 || seconds > 120 || conns < 1 || conns > 256 || inflight < 1 || inflight > 64)
                return 2;
        if (sd_event_default(&e) < 0)
                return 2;
        deadline = now() + (uint64_t) seconds * 1000000u;
        sd_bus **buses = calloc(conns, sizeof *buses);
        for (unsigned i = 0; i < conns; i++) {
                if (sd_bus_open_system(&buses[i]) < 0 || sd_bus_attach_event(buses[i], e, 0) < 0) {
                        fprintf(stderr, "flood: cannot connect\n");
                        return 2;
                }
                for (unsigned k = 0; k < inflight; k++)
                        (void) send_one(buses[i]);
        }
        /* until every call was answered, or 30 s past the deadline */
        while (answered < sent && now() < deadline + 30000000u)
                if (sd_event_run(e, 100000) < 0)
                        break;
        for (size_t i = 0; i < sizeof counters / sizeof counters[0] && counters[i].name[0]; i++)
                printf("%s %lu\n", counters[i].name, counters[i].n);
        printf("sent %lu answered %lu\n", sent, answered);
        for (unsigned i = 0; i < conns; i++)
                sd_bus_flush_close_unref(buses[i]);
        free(buses);
        sd_event_unref(e);
        return answered == sent ? 0 : 1;
}
