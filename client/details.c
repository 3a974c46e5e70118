/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a reset was (or would be) done, as the daemon's replies say it. */

#include <inttypes.h>
#include <stdio.h>

#include "util.h"
#include "details.h"
#include "output.h"
#include "pcreset1.h"

static const char **details_string(ResetDetails *d, const char *key) {
        if (streq(key, "mechanism"))
                return &d->mechanism;
        if (streq(key, "method"))
                return &d->method;
        if (streq(key, "bridge"))
                return &d->bridge;
        if (streq(key, "domain"))
                return &d->domain;
        if (streq(key, "health"))
                return &d->health;
        if (streq(key, "health_report"))
                return &d->health_report;
        return NULL;
}

/* Keys this client does not know are skipped: the daemon may add more. */
static int read_details_entry(sd_bus_message *reply, ResetDetails *d) {
        const char *key, **str;
        int r;

        r = sd_bus_message_read(reply, "s", &key);
        if (r < 0)
                return r;
        if ((str = details_string(d, key)))
                return sd_bus_message_read(reply, "v", "s", str);
        if (streq(key, "duration_usec")) {
                d->has_duration = true;
                return sd_bus_message_read(reply, "v", "t", &d->duration_usec);
        }
        return sd_bus_message_skip(reply, "v");
}

int read_details(sd_bus_message *reply, ResetDetails *ret) {
        ResetDetails d = {};
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = read_details_entry(reply, &d);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
}

/* "reset-subordinate, bridge 0000:00:07.0" */
void print_mechanism(const ResetDetails *d) {
        fputs(d->mechanism ?: "unknown", stdout);
        if (!isempty(d->method))
                printf(", reset_method %s", d->method);
        if (!isempty(d->bridge))
                printf(", bridge %s", d->bridge);
}

void print_health(const ResetDetails *d) {
        if (!d->health)
                return;
        fputs(d->health, stdout);
        if (!isempty(d->health_report))
                printf(": %s", d->health_report);
}

void details_json(json_object *o, const ResetDetails *d) {
        json_add_string(o, "mechanism", d->mechanism);
        json_add_string(o, "method", d->method);
        json_add_string(o, "bridge", d->bridge);
        if (d->domain)
                json_add_string(o, "domain", d->domain);
        if (d->has_duration)
                json_add_int(o, "duration_usec", (int64_t) d->duration_usec);
        if (d->health)
                json_add_string(o, "health", d->health);
        if (d->health_report)
                json_add_string(o, "health_report", d->health_report);
}

int read_reset_result(sd_bus_message *reply, ResetResult *ret) {
        ResetResult res = {};
        int r;

        r = sd_bus_message_read(reply, "u", &res.performed);
        if (r >= 0)
                r = sd_bus_message_read_strv(reply, &res.affected);
        if (r >= 0)
                r = read_details(reply, &res.details);
        if (r < 0) {
                strv_free(res.affected);
                return r;
        }
        *ret = res;
        return 0;
}

void reset_result_done(ResetResult *r) {
        r->affected = strv_free(r->affected);
}

void json_add_performed(json_object *o, uint32_t performed, char **affected) {
        json_add_int(o, "performed", performed);
        json_add_string(o, "performed_name", pcreset_scope_bit_name(performed));
        json_object_object_add(o, "affected", json_string_array(affected));
}

void reset_result_json(json_object *o, const ResetResult *r) {
        json_add_performed(o, r->performed, r->affected);
        details_json(o, &r->details);
}

void print_performed(const ResetResult *r) {
        printf("performed %s (0x%02" PRIx32 "), affected:", scope_bit_label(r->performed), r->performed);
        for (char **i = r->affected; i && *i; i++)
                printf("%s %s", i == r->affected ? "" : ",", *i);
}
