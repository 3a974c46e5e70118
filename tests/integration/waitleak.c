/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * waitleak N_SCAN ADDR_SCAN N_ASK ADDR_ASK [HOLD]: on ONE bus connection, sends
 * N_SCAN ResetDevice(ADDR_SCAN, 2) (a stub-bound device: each waits for a
 * /proc scan) and right after N_ASK ResetDevice(ADDR_ASK, 2) (a driverless
 * device: straight to polkit), waits for every answer, then asks once more
 * ResetDevice(ADDR_SCAN, 2) on the same connection, with nothing else
 * outstanding, and prints that answer ("probe NAME: MESSAGE"); with HOLD,
 * keeps the connection open HOLD more seconds. Red-team
 * helper (/daemon/attack/scan-waiter-leak*), private test bus only.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "pcreset1.h"

static unsigned long sent, answered, limits_scan, limits_polkit, denied, other;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        answered++;
        if (!e)
                other++;
        else if (0)
                ;
        else if (strstr(e->message ?: "", "wait for a scan"))
                limits_scan++;
        else if (strstr(e->message ?: "", "authorizations"))
                limits_polkit++;
        else if (strcmp(e->name, SD_BUS_ERROR_ACCESS_DENIED) == 0 ||
                 strcmp(e->name, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) == 0)
                denied++;
        else {
                if (!other)
                        fprintf(stderr, "waitleak: %s: %s\n", e->name, e->message);
                other++;
        }
        return 0;
}

static void send_n(sd_bus *bus, unsigned n, const char *addr) {
        for (unsigned i = 0; i < n; i++)
                if (sd_bus_call_method_async(bus, NULL, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH,
                                             PCRESET1_MANAGER_INTERFACE, "ResetDevice", on_reply, NULL, "su", addr,
                                             (uint32_t) 2) >= 0)
                        sent++;
}

int main(int argc, char *argv[]) {
        sd_event *e = NULL;
        sd_bus *bus = NULL;

        if (argc != 5 && argc != 6)
                return 2;
        if (sd_event_default(&e) < 0 || sd_bus_open_system(&bus) < 0 || sd_bus_attach_event(bus, e, 0) < 0)
                return 2;
        send_n(bus, (unsigned) atoi(argv[1]), argv[2]);
        send_n(bus, (unsigned) atoi(argv[3]), argv[4]);
        (void) sd_bus_flush(bus);
        for (unsigned i = 0; answered < sent && i < 600; i++)
                if (sd_event_run(e, 100000) < 0)
                        break;
        printf("sent %lu answered %lu scan-limit %lu polkit-limit %lu denied %lu other %lu\n", sent, answered,
               limits_scan, limits_polkit, denied, other);
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                   "ResetDevice", &err, &reply, "su", argv[2], (uint32_t) 2);
        printf("probe %s: %s\n", r >= 0 ? "ok" : err.name, r >= 0 ? "" : err.message);
        fflush(stdout);
        sd_bus_error_free(&err);
        /* HOLD: keep the connection (and what the daemon keeps for it) */
        if (argc == 6)
                sleep((unsigned) atoi(argv[5]));
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(e);
        return answered == sent ? 0 : 1;
}
