/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl claim and release: ADDR becomes, or stops being, the caller's;
 * claim --reset resets it first (ClaimDeviceWithReset). */

#include <stdio.h>
#include <unistd.h>

#include "bus.h"
#include "details.h"
#include "output.h"
#include "util.h"

/* Claim and release differ only in the method and the words printed. */
static int claim_or_release(Context *c, const char *address, bool claim) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call_manager(c, claim ? "ClaimDevice" : "ReleaseDevice", NULL, &reply, &error, "s", address);
        if (r < 0)
                return report_bus_error(c, &error, r);

        if (c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "address", c->address);
                json_object_object_add(o, claim ? "claimed" : "released", json_object_new_boolean(true));
                if (claim)
                        json_add_int(o, "uid", geteuid());
                print_json(o);
        } else if (claim)
                printf("claim %s: claimed for uid %u\n", c->address, (unsigned) geteuid());
        else
                printf("release %s: released\n", c->address);
        return PCRESETCTL_EXIT_OK;
}

/* claim --reset: ClaimDeviceWithReset, whose reply is ResetDeviceEx's. */
static int claim_with_reset(Context *c, const char *address) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(reset_result_done) ResetResult res = {};
        int r = call_reset(c, "ClaimDeviceWithReset", address, &reply, &res);

        if (r != PCRESETCTL_EXIT_OK)
                return r;
        if (c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "address", c->address);
                json_object_object_add(o, "claimed", json_object_new_boolean(true));
                json_add_int(o, "uid", geteuid());
                reset_result_json(o, &res);
                print_json(o);
        } else {
                printf("claim %s: reset (", c->address);
                print_performed(&res);
                printf("), claimed for uid %u\n", (unsigned) geteuid());
        }
        return PCRESETCTL_EXIT_OK;
}

int verb_claim(Context *c, const char *address) {
        if (c->claim_reset)
                return claim_with_reset(c, address);
        return claim_or_release(c, address, true);
}

int verb_release(Context *c, const char *address) {
        return claim_or_release(c, address, false);
}
