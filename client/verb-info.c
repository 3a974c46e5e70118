/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl info: what a reset of ADDR would do (GetResetInfoEx). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus.h"
#include "util.h"
#include "details.h"
#include "output.h"

typedef struct AffectedDevice {
        const char *address, *state, *reason;   /* point into the reply */
} AffectedDevice;

static int read_affected_info(sd_bus_message *reply, AffectedDevice **ret, size_t *ret_n) {
        _cleanup_free_ AffectedDevice *a = NULL;
        size_t n = 0, allocated = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (;;) {
                AffectedDevice d;

                r = sd_bus_message_read(reply, "(sss)", &d.address, &d.state, &d.reason);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n == allocated) {
                        size_t want = allocated ? allocated * 2 : 8;
                        AffectedDevice *b = reallocarray(a, want, sizeof *b);
                        if (!b)
                                return -ENOMEM;
                        a = b;
                        allocated = want;
                }
                a[n++] = d;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = a;
        a = NULL;
        *ret_n = n;
        return 0;
}

static bool any_busy(const AffectedDevice *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(a[i].state, "busy"))
                        return true;
        return false;
}

static void print_info_text(const Context *c, const char *address, uint32_t planned,
                            const AffectedDevice *a, size_t n, const ResetDetails *d) {
        char scope[128];

        printf("Device:    %s\n", address);
        printf("Scope:     %s (0x%02" PRIx32 ")\n", pcreset_scope_format(c->scope, scope, sizeof scope), c->scope);
        printf("Method:    %s (0x%02" PRIx32 ")\n", scope_bit_label(planned), planned);
        fputs("Mechanism: ", stdout);
        print_mechanism(d);
        putchar('\n');
        if (d->domain)
                printf("Queue:     reset domain %s\n", d->domain);
        for (size_t i = 0; i < n; i++) {
                printf("%s %s  ", i == 0 ? "Affected: " : "          ", a[i].address);
                print_state(c->colors, a[i].state, 5);
                fputs("  ", stdout);
                print_text(stdout, a[i].reason);
                putchar('\n');
        }

        if (!any_busy(a, n)) {
                puts("A reset would be allowed (subject to polkit).");
                return;
        }
        fputs("A reset would be refused:", stdout);
        for (size_t i = 0, k = 0; i < n; i++)
                if (streq(a[i].state, "busy")) {
                        printf("%s %s is busy (", k++ ? ";" : "", a[i].address);
                        print_text(stdout, a[i].reason);
                        putchar(')');
                }
        puts(".");
}

static void print_info_json(const char *address, uint32_t planned, const AffectedDevice *a, size_t n,
                            const ResetDetails *details) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *affected = json_object_new_array();

        json_add_string(o, "address", address);
        json_add_int(o, "planned", planned);
        json_add_string(o, "planned_name", pcreset_scope_bit_name(planned));
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_new_object();

                json_add_string(d, "address", a[i].address);
                json_add_string(d, "state", a[i].state);
                json_add_string(d, "reason", a[i].reason);
                json_object_array_add(affected, d);
        }
        json_object_object_add(o, "affected", affected);
        json_object_object_add(o, "allowed", json_object_new_boolean(!any_busy(a, n)));
        details_json(o, details);
        print_json(o);
}

int verb_info(Context *c, const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ AffectedDevice *affected = NULL;
        ResetDetails details = {};
        size_t n = 0;
        uint32_t planned;
        int r;

        r = call_manager(c, "GetResetInfoEx", NULL, &reply, &error, "su", address, c->scope);
        if (r < 0)
                return report_bus_error(c, &error, r);
        r = sd_bus_message_read(reply, "u", &planned);
        if (r >= 0)
                r = read_affected_info(reply, &affected, &n);
        if (r >= 0)
                r = read_details(reply, &details);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                                    "Cannot understand the reset plan sent by pcresetd", PCRESETCTL_EXIT_FAILURE);

        if (c->json)
                print_info_json(c->address, planned, affected, n, &details);
        else
                print_info_text(c, c->address, planned, affected, n, &details);
        return PCRESETCTL_EXIT_OK;
}
