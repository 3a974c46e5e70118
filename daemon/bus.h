/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The bus face: org.freedesktop.pcreset1.Manager. The vtable, decoding and
 * validating arguments, polkit's part of each method, replies and signals.
 * Every "may this reset run, and what would it do" goes to decision.h;
 * accepted resets go to request.h. Nothing else in the daemon builds a
 * reply or a signal.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "executor.h"

typedef struct Manager Manager;

/* Adds the object to m->bus. */
int bus_add_manager_object(Manager *m);

/* ResetStarted / ResetCompleted. */
void bus_emit_reset_signal(sd_bus *bus, const char *member, const char *address, uint32_t scope, char **affected,
                           const char *result);
/* ResetCompletedEx: ResetCompleted with ResetDeviceEx's details (health
 * among them, when the reset got as far as checking it). */
void bus_emit_reset_completed_ex(sd_bus *bus, const ExecRequest *e, const char *bridge, char **affected,
                                 const char *result, uint64_t usec, const HealthReport *health);
/* The reply of a completed reset (with details for the Ex methods). */
int bus_reply_reset(sd_bus_message *call, bool ex, const ExecRequest *e, const char *bridge, char **affected,
                    uint64_t usec, const HealthReport *health);
