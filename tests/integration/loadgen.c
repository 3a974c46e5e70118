/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loadgen CLIENTS CALLS ADDRESS...: CLIENTS threads, each with its own bus
 * connection, make CALLS calls each, a fixed mix of valid and invalid
 * requests over the given addresses. Every call must be answered with the
 * answer its kind expects; prints the counts and exits 0 only then.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "pcreset1.h"

static int n_calls;
static char **addrs;
static int n_addrs;
static atomic_int ok, expected_errors, wrong, unanswered;

/* Which answers each kind of call may get. */
static const struct {
        const char *method, *sig;
        const char *allowed[3];   /* NULL-terminated error names; "" = success */
} kinds[] = {
        { "ResetDevice", "su", { "", SD_BUS_ERROR_LIMITS_EXCEEDED, NULL } },
        { "GetResetInfo", "su", { "", NULL } },
        { "ResetDevice", "su", { SD_BUS_ERROR_INVALID_ARGS, NULL } },     /* bad address */
        { "ResetDevice", "su", { SD_BUS_ERROR_INVALID_ARGS, NULL } },     /* bad mask */
        { "GetResetInfo", "su", { PCRESET1_ERROR_NO_SUCH_DEVICE, NULL } },
        { "ListDevices", "", { "", NULL } },
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static void *client(void *arg) {
        int id = (int) (intptr_t) arg;
        sd_bus *bus = NULL;

        if (sd_bus_open_system(&bus) < 0) {
                atomic_fetch_add(&unanswered, n_calls);
                return NULL;
        }
        /* a daemon under valgrind is slow: an answer late is still an answer */
        (void) sd_bus_set_method_call_timeout(bus, 300ULL * 1000000ULL);
        for (int i = 0; i < n_calls; i++) {
                unsigned k = (unsigned) (id * 7 + i) % N_KINDS;
                const char *addr = addrs[(id + i) % n_addrs];
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int r;

                if (k == 5)
                        r = sd_bus_call_method(bus, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                               kinds[k].method, &error, &reply, "");
                else
                        r = sd_bus_call_method(bus, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                               kinds[k].method, &error, &reply, kinds[k].sig,
                                               k == 2 ? "not-an-address" : k == 4 ? "0000:ff:1f.7" : addr,
                                               (uint32_t) (k == 3 ? 0 : PCRESET_SCOPE_FLR));
                const char *got = r >= 0 ? "" : (error.name ?: "");
                bool match = false;
                for (int a = 0; kinds[k].allowed[a]; a++)
                        match |= strcmp(kinds[k].allowed[a], got) == 0;
                if (r < 0 && (sd_bus_error_has_name(&error, SD_BUS_ERROR_NO_REPLY) ||
                              sd_bus_error_has_name(&error, SD_BUS_ERROR_TIMEOUT) || !error.name))
                        atomic_fetch_add(&unanswered, 1);
                else if (!match) {
                        atomic_fetch_add(&wrong, 1);
                        fprintf(stderr, "loadgen: %s on %s: unexpected %s: %s\n", kinds[k].method, addr,
                                got[0] ? got : "success", error.message ?: "");
                } else if (r >= 0)
                        atomic_fetch_add(&ok, 1);
                else
                        atomic_fetch_add(&expected_errors, 1);
                sd_bus_error_free(&error);
                sd_bus_message_unref(reply);
        }
        sd_bus_flush_close_unref(bus);
        return NULL;
}

int main(int argc, char *argv[]) {
        if (argc < 4) {
                fprintf(stderr, "usage: loadgen CLIENTS CALLS ADDRESS...\n");
                return 2;
        }
        int n_clients = atoi(argv[1]);
        n_calls = atoi(argv[2]);
        addrs = argv + 3;
        n_addrs = argc - 3;
        pthread_t *t = calloc((size_t) n_clients, sizeof(pthread_t));
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        for (int i = 0; i < n_clients; i++)
                if (pthread_create(&t[i], &attr, client, (void *) (intptr_t) i) != 0) {
                        fprintf(stderr, "loadgen: cannot start client %d\n", i);
                        return 2;
                }
        for (int i = 0; i < n_clients; i++)
                pthread_join(t[i], NULL);
        free(t);
        printf("loadgen: %d clients x %d calls: %d ok, %d expected errors, %d wrong answers, %d unanswered\n",
               n_clients, n_calls, ok, expected_errors, wrong, unanswered);
        return (wrong || unanswered || ok + expected_errors != n_clients * n_calls) ? 1 : 0;
}
