/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The audit trail: one structured journal record per accepted, refused,
 * completed, failed or cancelled reset, and per claim/release. Each kind has
 * its own MESSAGE_ID so an admin can `journalctl MESSAGE_ID=...`; fields are
 * PCRESET_* (device, mask, method, affected, result) and CALLER_* (uid, pid,
 * unit). A completed reset's health (health.h) adds PCRESET_HEALTH=,
 * PCRESET_LINK= (each link before -> after), PCRESET_AER_NEW= and, when it
 * is degraded or shows new errors, warning priority.
 *
 * Caller-controlled text (the address as typed, messages quoting it, the
 * unit) is escaped and cut (escape_text). Refusals of one non-root uid are
 * rate limited (20 per 10 s), the number dropped reported with the next
 * record written (PCRESET_SUPPRESSED=); 64 uids are tracked, those beyond
 * share one more such budget. Thread-safe.
 */

#include <stdint.h>
#include <sys/types.h>

#include "health.h"

#include <stdbool.h>

typedef enum AuditEvent {
        AUDIT_ACCEPTED,
        AUDIT_REFUSED,
        AUDIT_COMPLETED,
        AUDIT_FAILED,
        AUDIT_CANCELLED,
        AUDIT_CLAIMED,
        AUDIT_RELEASED,
        AUDIT_REPAIRED,
        _AUDIT_MAX,
} AuditEvent;

typedef struct AuditCaller {
        uid_t uid;
        pid_t pid;
        const char *unit;    /* may be NULL */
        const char *sender;  /* unique bus name */
} AuditCaller;

typedef struct AuditRecord {
        AuditEvent event;
        const AuditCaller *caller;   /* NULL for the daemon's own actions */
        const char *device;
        uint32_t mask;               /* requested; 0 = not a reset */
        uint32_t scope;              /* planned/performed bit, 0 if none */
        const char *method;          /* kernel method, NULL if none */
        const char *mechanism;       /* reset_mechanism_to_string(), NULL if none */
        const char *bridge;          /* the bridge a link reset goes through, NULL if none */
        char *const *affected;       /* NULL-terminated, may be NULL */
        const char *result;          /* "ok", an error name, ... */
        const char *detail;          /* the human message of a refusal/failure */
        uint64_t started_usec;       /* CLOCK_REALTIME at the reset's start, 0 if none */
        uint64_t usec;               /* duration of the reset, 0 if none */
        const HealthReport *health;  /* after a reset that got that far, NULL otherwise */
} AuditRecord;

const char *audit_message_id(AuditEvent ev);
void audit_log(const AuditRecord *rec);

/* The refusal rate limit audit_log() applies, at time now (CLOCK_MONOTONIC
 * usec): true if a record of uid may be written, with *ret_suppressed the
 * records dropped before it and *ret_shared whether that count is the
 * shared one of the uids beyond the table. Exposed for its tests. */
bool audit_refusal_allowed(uid_t uid, uint64_t now, unsigned long long *ret_suppressed, bool *ret_shared);
