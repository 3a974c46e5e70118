/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the daemon says about how a reset was (or would be) done: the
 * details dictionary of ResetDeviceEx, ResetDeviceWithFds and
 * GetResetInfoEx, and the (performed, affected, details) result of the two
 * reset calls, shared by reset and oci-hook. Reads replies and formats
 * them for text and JSON; never calls the daemon and never reports errors.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct ResetDetails {
        /* strings point into the reply; NULL when the daemon did not say */
        const char *mechanism, *method, *bridge, *domain;
        const char *health, *health_report;   /* after a reset that ran */
        uint64_t duration_usec;
        bool has_duration;
} ResetDetails;

/* The a{sv}; keys this client does not know are skipped. */
int read_details(sd_bus_message *reply, ResetDetails *ret);
/* "mechanism", "method", "bridge", and "domain", "duration_usec", "health",
 * "health_report" if given */
void details_json(json_object *o, const ResetDetails *d);
/* "reset-subordinate, bridge 0000:00:07.0" on stdout */
void print_mechanism(const ResetDetails *d);
/* "degraded: 0000:01:00.0: link 2.5 GT/s x1, was 16 GT/s x16" on stdout,
 * if the daemon said (d->health) */
void print_health(const ResetDetails *d);

/* The reply of ResetDeviceEx and ResetDeviceWithFds: "uasa{sv}". */
typedef struct ResetResult {
        uint32_t performed;
        char **affected;
        ResetDetails details;   /* points into the reply */
} ResetResult;

int read_reset_result(sd_bus_message *reply, ResetResult *ret);
void reset_result_done(ResetResult *r);
/* "performed", "performed_name", "affected", as the reset and the
 * ResetStarted/ResetCompleted signals have them */
void json_add_performed(json_object *o, uint32_t performed, char **affected);
/* json_add_performed() and details_json() */
void reset_result_json(json_object *o, const ResetResult *r);
/* "performed flr (0x01), affected: 0000:01:00.0, 0000:01:00.1" on stdout */
void print_performed(const ResetResult *r);
