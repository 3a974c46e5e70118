/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * pcresetctl and the Manager: connecting to the system bus, method calls
 * that wait for their reply within --timeout (showing the elapsed time on
 * stderr when asked, never while polkit's agent reads a password), and the
 * one place an error reaches the user, with the exit code its D-Bus error
 * name maps to. Replies are handed back undecoded; nothing here prints
 * results.
 */

#include <systemd/sd-bus.h>

#include "pcresetctl.h"

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
/* new_manager_call() with the arguments given as for
 * sd_bus_message_append() (types may be NULL), then call_message(). */
int call_manager(Context *c, const char *method, const char *status, sd_bus_message **ret_reply,
                 sd_bus_error *error, const char *types, ...);
