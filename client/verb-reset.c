/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl reset: one reset of ADDR within --scope (ResetDeviceEx). */

#include <inttypes.h>
#include <stdio.h>

#include "bus.h"
#include "util.h"
#include "details.h"
#include "output.h"

/* A function reset on a fake host takes microseconds, a bus reset seconds. */
static void print_duration(uint64_t usec) {
        if (usec < 1000)
                printf(", took %" PRIu64 " us", usec);
        else if (usec < USEC_PER_SEC)
                printf(", took %.1f ms", (double) usec / 1000.0);
        else
                printf(", took %.1f s", (double) usec / (double) USEC_PER_SEC);
}

static void print_reset_result(const Context *c, const char *address, const ResetResult *res) {
        if (c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "address", address);
                reset_result_json(o, res);
                print_json(o);
                return;
        }

        printf("reset %s: ", address);
        print_performed(res);
        fputs("\n  mechanism: ", stdout);
        print_mechanism(&res->details);
        if (res->details.has_duration)
                print_duration(res->details.duration_usec);
        if (res->details.health) {
                fputs("\n  health: ", stdout);
                print_health(&res->details);
        }
        putchar('\n');
}

int call_reset(Context *c, const char *method, const char *address, sd_bus_message **ret_reply, ResetResult *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char status[64 + PCI_ADDRESS_MAX];
        int r;

        snprintf(status, sizeof status, "Waiting for the reset of %s", c->address);
        r = call_manager(c, method, c->progress ? status : NULL, &reply, &error, "su", address, c->scope);
        if (r < 0)
                return report_bus_error(c, &error, r);
        r = read_reset_result(reply, ret);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                                    "The reset ran, but its reply from pcresetd cannot be understood",
                                    PCRESETCTL_EXIT_FAILURE);
        /* *ret points into the reply */
        *ret_reply = TAKE_PTR(reply);
        return PCRESETCTL_EXIT_OK;
}

int verb_reset(Context *c, const char *address) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(reset_result_done) ResetResult res = {};
        int r = call_reset(c, "ResetDeviceEx", address, &reply, &res);

        if (r != PCRESETCTL_EXIT_OK)
                return r;
        print_reset_result(c, c->address, &res);
        return PCRESETCTL_EXIT_OK;
}
