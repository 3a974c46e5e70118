/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Callers: who is at the other end of a unique bus name, asked of the bus
 * daemon once per connection (a unique name is never reused and its
 * credentials never change), kept until the name leaves the bus. Asked
 * asynchronously (GetConnectionCredentials): the loop never waits on the
 * bus daemon, which a flood of new connections slows for everyone.
 *
 * Departures are seen through ONE match on NameOwnerChanged with an empty
 * new owner (arg2=''), not through an sd_bus_track per caller: every tracked
 * name costs a match rule in dbus-daemon, which allows 512 per connection on
 * the system bus, and a failed asynchronous AddMatch is silent - a user with
 * enough connections would make later callers' departures invisible. The
 * registry's size is bounded by the bus's own connection limits, since an
 * entry lives exactly as long as its connection.
 *
 * uid and pid are the bus daemon's word (trusted); the unit is looked up
 * from the pid and only ever used for the audit trail.
 */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "audit.h"

typedef struct Caller {
        uid_t uid;
        pid_t pid;
        char *unit;     /* NULL when unknown */
        char *sender;   /* the unique bus name */
} Caller;

typedef struct CallerRegistry CallerRegistry;

/* Called on the loop thread after a known caller left the bus, with its
 * entry already gone. */
typedef void (*CallerGoneFn)(const char *sender, void *userdata);

int caller_registry_new(sd_bus *bus, CallerGoneFn gone, void *userdata, CallerRegistry **ret);
CallerRegistry *caller_registry_free(CallerRegistry *r);

/* The caller of a method call: 0 and *ret. A call from a name whose
 * credentials are not known yet is queued (at most 128 per name, the
 * system bus's own bound; more are refused with LimitsExceeded) and 1 is returned: the handler returns it
 * too, and runs again with the credentials known, or the call is answered
 * AccessDenied when the bus daemon cannot tell (unanswered when its
 * sender left). A direct connection (no sender) is asked at once. The
 * pointer stays valid until the loop next dispatches a departure: copy
 * what must live longer. */
int caller_get(CallerRegistry *r, sd_bus_message *call, const Caller **ret, sd_bus_error *error);
/* Stopping: every call still waiting for its caller's credentials is
 * answered error_name. */
void caller_registry_cancel_waiting(CallerRegistry *r, const char *error_name, const char *message);
unsigned caller_registry_count(const CallerRegistry *r);
/* CLOCK_MONOTONIC usec of the last call or departure: the idle exit's clock. */
uint64_t caller_registry_last_activity(const CallerRegistry *r);

/* The audit trail's view of a caller (pointers into c). */
AuditCaller caller_audit(const Caller *c);
