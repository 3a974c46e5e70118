/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the verbs of pcresetctl share: the context built from the command
 * line, bus calls to the Manager, error reporting and JSON helpers. Defined
 * in pcresetctl.c; the monitor and oci-hook verbs live in their own files. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "pcreset1.h"
#include "util.h"

#define PROGRAM "pcresetctl"

typedef struct Context {
        sd_bus *bus;
        bool json;
        bool ask_password;      /* interactive polkit authentication allowed */
        bool colors;
        bool progress;          /* elapsed time while a reset is pending */
        uint64_t timeout_usec;
        uint32_t scope;
        const char *scope_arg;
        const char *timeout_arg;
        /* ADDR as the daemon replies with it (canonical, lowercase, with the
         * domain) for our own output; the call passes ADDR as given, since
         * the daemon is the authority on addresses */
        char address[PCI_ADDRESS_MAX];

        /* oci-hook only */
        const char *sysfs_root;
        const char *dev_root;
        bool allow_unproven;
} Context;

/* Text other users control never reaches the terminal as control
 * sequences: control characters are printed as '?'. */
void print_text(FILE *f, const char *s);

void json_object_putp(json_object **o);
/* Pretty-printed, for the one-shot verbs. */
void print_json(json_object *o);
void json_add_string(json_object *o, const char *key, const char *value);
void json_add_int(json_object *o, const char *key, int64_t value);
json_object *json_string_array(char **l);

/* The exit code (PCRESETCTL_EXIT_*) of a D-Bus error name. */
int exit_code_from_error(const char *name);
/* The message on stderr; in JSON mode also {"error","message"} on stdout.
 * Returns exit_code. */
int report_error(const Context *c, const char *name, const char *message, int exit_code);
int report_bus_error(const Context *c, const sd_bus_error *error, int r);

/* Opens the system bus into c->bus. Returns -1 on success, else reports the
 * error and returns the exit code. */
int connect_bus(Context *c);

/* A new method call to the Manager. */
int new_manager_call(Context *c, const char *method, sd_bus_message **ret);
/* Sends m (interactive authorization as c->ask_password says) and waits
 * for the reply within c->timeout_usec, showing the elapsed time with
 * status (may be NULL). Returns 0 with *ret_reply, or a negative errno with
 * error set. */
int call_message(Context *c, sd_bus_message *m, const char *status, sd_bus_message **ret_reply,
                 sd_bus_error *error);

/* How a reset was done: the details of ResetDeviceEx, ResetDeviceWithFds
 * and GetResetInfoEx. */
typedef struct ResetDetails {
        /* strings point into the reply; NULL when the daemon did not say */
        const char *mechanism, *method, *bridge, *domain;
        uint64_t duration_usec;
        bool has_duration;
} ResetDetails;

int read_details(sd_bus_message *reply, ResetDetails *ret);
void details_json(json_object *o, const ResetDetails *d);
/* "kernel-reset-method, reset_method flr" on stdout */
void print_mechanism(const ResetDetails *d);
/* A scope bit's name, "unknown" for anything else. */
const char *scope_bit_label(uint32_t bit);

int verb_monitor(Context *c, const char *address);
int verb_oci_hook(Context *c, const char *address);
