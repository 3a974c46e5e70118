/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>
#include <time.h>

#include "audit.h"
#include "log.h"
#include "pcreset1.h"
#include "util.h"

static const struct {
        const char *id;
        const char *verb;
        int prio;
} events[_AUDIT_MAX] = {
        [AUDIT_ACCEPTED]  = { "756ea9b0ac1a4623af17762c0db9bbfb", "accepted",  LOG_INFO },
        [AUDIT_REFUSED]   = { "a0a89b9851a24c11971af78dae92d3c5", "refused",   LOG_NOTICE },
        [AUDIT_COMPLETED] = { "9b76c9888fc6490081ab94dd74427d09", "completed", LOG_INFO },
        [AUDIT_FAILED]    = { "1d228f61a7c0406892cea7934417911d", "failed",    LOG_ERR },
        [AUDIT_CANCELLED] = { "c79f047ab97141a08a21abe45e69553e", "cancelled", LOG_NOTICE },
        [AUDIT_CLAIMED]   = { "dff01b0f0800438a84906531c46cf62c", "claimed",   LOG_INFO },
        [AUDIT_RELEASED]  = { "96f2eb60a72c457eaa6f309bd90b211d", "released",  LOG_INFO },
        [AUDIT_REPAIRED]  = { "e931c0e3356f46ea86dae8eda5ba5ee0", "repaired",  LOG_NOTICE },
};

const char *audit_message_id(AuditEvent ev) {
        return ev < _AUDIT_MAX ? events[ev].id : NULL;
}

#define ADD(...) do {                                         \
                char *_s = n + 1 < ELEMENTSOF(fields) ?       \
                        strjoin_printf(__VA_ARGS__) : NULL;   \
                if (_s)                                       \
                        fields[n++] = _s;                     \
        } while (0)

/* Refusals cost a caller nothing, so one uid may cause them by the
 * thousand: per uid, at most AUDIT_BURST refusal records per
 * AUDIT_INTERVAL, the rest counted and reported with the next one that is
 * written, as journald's own rate limiting does. A small table: only a uid
 * whose window is over makes room; while all are in their window (a user
 * with many subordinate uids, taking turns), the uids beyond the table
 * share one more budget, so the records per interval stay bounded. */
#define AUDIT_BURST        20
#define AUDIT_INTERVAL_USEC (10 * USEC_PER_SEC)
#define AUDIT_RATE_SLOTS   64

typedef struct RateSlot {
        uid_t uid;
        bool used;
        uint64_t window_start, last;
        unsigned in_window;
        unsigned long long suppressed;
} RateSlot;

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static RateSlot rate_slots[AUDIT_RATE_SLOTS];
static RateSlot rate_shared; /* the uids beyond the table */

bool audit_refusal_allowed(uid_t uid, uint64_t now, unsigned long long *ret_suppressed, bool *ret_shared) {
        RateSlot *slot = NULL, *oldest = NULL;
        bool allowed;

        pthread_mutex_lock(&rate_lock);
        for (size_t i = 0; i < AUDIT_RATE_SLOTS && !slot; i++) {
                RateSlot *x = &rate_slots[i];
                if (x->used && x->uid == uid)
                        slot = x;
                else if ((!x->used || now - x->window_start >= AUDIT_INTERVAL_USEC) &&
                         (!oldest || !x->used || (oldest->used && x->last < oldest->last)))
                        oldest = x;
        }
        if (!slot && oldest) {
                /* what it still owes the journal is reported with the shared ones */
                rate_shared.suppressed += oldest->suppressed;
                slot = oldest;
                *slot = (RateSlot) { .uid = uid, .used = true, .window_start = now };
        }
        *ret_shared = !slot;
        if (!slot)
                slot = &rate_shared;
        slot->last = now;
        if (now - slot->window_start >= AUDIT_INTERVAL_USEC) {
                slot->window_start = now;
                slot->in_window = 0;
        }
        allowed = slot->in_window < AUDIT_BURST;
        if (allowed) {
                slot->in_window++;
                *ret_suppressed = slot->suppressed;
                slot->suppressed = 0;
        } else
                slot->suppressed++;
        pthread_mutex_unlock(&rate_lock);
        return allowed;
}

/* "0000:01:00.0 16 GT/s x16 -> 2.5 GT/s x1" for each device with a link,
 * "," between; the new AER errors likewise. NULL if there are none. */
static char *health_links(const HealthReport *h, bool aer) {
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < h->n; i++) {
                const DeviceHealth *d = &h->devices[i];
                _cleanup_free_ char *b = NULL, *a = NULL, *e = NULL;
                if (aer ? d->aer != AER_NEW_ERRORS : d->link == LINK_NOT_APPLICABLE)
                        continue;
                if (aer)
                        e = (b = health_aer_format(d->aer_new)) ? strjoin_printf("%s %s", d->name, b) : NULL;
                else if ((b = health_link_format(&d->before)) && (a = health_link_format(&d->after)))
                        e = strjoin_printf("%s %s -> %s", d->name, b, a);
                if (!e || strv_extend(&l, e) < 0)
                        return NULL;
        }
        return l ? strv_join(l, ", ") : NULL;
}

void audit_log(const AuditRecord *rec) {
        char *fields[22] = {};
        size_t n = 0;
        char mbuf[128];
        unsigned long long suppressed = 0;
        bool shared = false;

        /* root's refusals are the admin's own, never dropped */
        if (rec->event == AUDIT_REFUSED && rec->caller && rec->caller->uid != 0 &&
            !audit_refusal_allowed(rec->caller->uid, now_usec(), &suppressed, &shared))
                return;

        _cleanup_free_ char *aff = rec->affected ? strv_join(rec->affected, ",") : NULL, *msg = NULL;
        const char *scope = rec->scope ? pcreset_scope_bit_name(rec->scope) : NULL;
        /* what a caller typed (an address, a message quoting it) reaches the
         * log escaped and cut: no forged lines, no megabytes per call */
        _cleanup_free_ char *device = escape_text(strempty(rec->device), 64);
        _cleanup_free_ char *detail = rec->detail ? escape_text(rec->detail, 1024) : NULL;
        _cleanup_free_ char *unit = rec->caller && rec->caller->unit ? escape_text(rec->caller->unit, 256) : NULL;

        ADD("PCRESET_EVENT=%s", events[rec->event].verb);
        ADD("PCRESET_DEVICE=%s", strempty(device));
        if (suppressed)
                ADD("PCRESET_SUPPRESSED=%llu", suppressed);
        if (rec->mask)
                ADD("PCRESET_MASK=0x%08x", rec->mask);
        if (scope)
                ADD("PCRESET_SCOPE=%s", scope);
        if (rec->method)
                ADD("PCRESET_METHOD=%s", rec->method);
        if (rec->mechanism)
                ADD("PCRESET_MECHANISM=%s", rec->mechanism);
        if (rec->bridge)
                ADD("PCRESET_BRIDGE=%s", rec->bridge);
        if (aff)
                ADD("PCRESET_AFFECTED=%s", aff);
        if (rec->result)
                ADD("PCRESET_RESULT=%s", rec->result);
        if (rec->started_usec)
                ADD("PCRESET_STARTED_REALTIME_USEC=%llu", (unsigned long long) rec->started_usec);
        if (rec->usec)
                ADD("PCRESET_DURATION_USEC=%llu", (unsigned long long) rec->usec);
        bool has_health = rec->health && rec->health->devices;
        HealthOutcome outcome = has_health ? health_outcome(rec->health) : HEALTH_NOT_APPLICABLE;
        _cleanup_free_ char *links = has_health ? health_links(rec->health, false) : NULL;
        _cleanup_free_ char *aer_new = has_health ? health_links(rec->health, true) : NULL;
        _cleanup_free_ char *sick = outcome >= HEALTH_NEW_ERRORS ? health_describe(rec->health) : NULL;
        _cleanup_free_ char *health_note = sick ? strjoin_printf("; health %s: %s", health_outcome_to_string(outcome), sick)
                                                : NULL;
        if (has_health)
                ADD("PCRESET_HEALTH=%s", health_outcome_to_string(outcome));
        if (links)
                ADD("PCRESET_LINK=%s", links);
        if (aer_new)
                ADD("PCRESET_AER_NEW=%s", aer_new);
        if (rec->caller) {
                ADD("CALLER_UID=%u", (unsigned) rec->caller->uid);
                if (rec->caller->pid > 0)
                        ADD("CALLER_PID=%d", (int) rec->caller->pid);
                if (unit)
                        ADD("CALLER_UNIT=%s", unit);
        }

        bool is_reset = rec->mask != 0;
        const char *who = "";
        _cleanup_free_ char *by = rec->caller ? strjoin_printf(" by uid %u", (unsigned) rec->caller->uid) : NULL;
        if (by)
                who = by;
        _cleanup_free_ char *dropped = suppressed
                ? strjoin_printf(" (%llu similar records of %s suppressed before this one)", suppressed,
                                 shared ? "other uids" : "this uid") : NULL;
        if (is_reset)
                msg = strjoin_printf("Reset of %s (mask %s%s%s%s%s)%s %s%s%s%s%s", strempty(device),
                                     pcreset_scope_format(rec->mask, mbuf, sizeof mbuf), scope ? ", scope " : "",
                                     scope ? scope : "", rec->mechanism ? " via " : "", strempty(rec->mechanism),
                                     who, events[rec->event].verb, detail ? ": " : "", strempty(detail),
                                     strempty(health_note), strempty(dropped));
        else
                msg = strjoin_printf("%s %s%s%s%s%s", strempty(device), events[rec->event].verb, who,
                                     detail ? ": " : "", strempty(detail), strempty(dropped));

        /* a completed reset whose devices came back worse is a warning */
        int prio = events[rec->event].prio;
        if (outcome >= HEALTH_NEW_ERRORS && prio > LOG_WARNING)
                prio = LOG_WARNING;
        log_struct_fields(prio, events[rec->event].id, msg ?: "pcresetd audit record", fields);
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}
