/* SPDX-License-Identifier: LGPL-2.1-or-later */

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
                char *_s = strjoin_printf(__VA_ARGS__);       \
                if (_s)                                       \
                        fields[n++] = _s;                     \
        } while (0)

void audit_log(const AuditRecord *rec) {
        char *fields[20] = {};
        size_t n = 0;
        char mbuf[128];
        _cleanup_free_ char *aff = rec->affected ? strv_join(rec->affected, ",") : NULL, *msg = NULL;
        const char *scope = rec->scope ? pcreset_scope_bit_name(rec->scope) : NULL;

        ADD("PCRESET_EVENT=%s", events[rec->event].verb);
        ADD("PCRESET_DEVICE=%s", strempty(rec->device));
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
        if (rec->usec)
                ADD("PCRESET_DURATION_USEC=%llu", (unsigned long long) rec->usec);
        if (rec->caller) {
                ADD("CALLER_UID=%u", (unsigned) rec->caller->uid);
                if (rec->caller->pid > 0)
                        ADD("CALLER_PID=%d", (int) rec->caller->pid);
                if (rec->caller->unit)
                        ADD("CALLER_UNIT=%s", rec->caller->unit);
        }

        bool is_reset = rec->mask != 0;
        const char *who = "";
        _cleanup_free_ char *by = rec->caller ? strjoin_printf(" by uid %u", (unsigned) rec->caller->uid) : NULL;
        if (by)
                who = by;
        if (is_reset)
                msg = strjoin_printf("Reset of %s (mask %s%s%s%s%s)%s %s%s%s", strempty(rec->device),
                                     pcreset_scope_format(rec->mask, mbuf, sizeof mbuf), scope ? ", scope " : "",
                                     scope ? scope : "", rec->mechanism ? " via " : "", strempty(rec->mechanism),
                                     who, events[rec->event].verb, rec->detail ? ": " : "", strempty(rec->detail));
        else
                msg = strjoin_printf("%s %s%s%s%s", strempty(rec->device), events[rec->event].verb, who,
                                     rec->detail ? ": " : "", strempty(rec->detail));

        log_struct_fields(events[rec->event].prio, events[rec->event].id, msg ?: "pcresetd audit record", fields);
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}
