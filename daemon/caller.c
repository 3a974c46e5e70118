/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "caller.h"
#include "log.h"
#include "util.h"

typedef struct Entry Entry;
struct Entry {
        Caller caller;
        Entry *next;
};

struct CallerRegistry {
        sd_bus_slot *match;
        Entry *entries;         /* most recent first */
        Entry *direct;          /* the peer of a direct connection (no sender): asked every time */
        unsigned n;
        uint64_t last_activity;
        CallerGoneFn gone;
        void *userdata;
};

static void entry_free(Entry *e) {
        free(e->caller.unit);
        free(e->caller.sender);
        free(e);
}

static int on_name_lost(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        CallerRegistry *r = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 || name[0] != ':' || new_owner[0])
                return 0;
        r->last_activity = now_usec();
        for (Entry **e = &r->entries; *e; e = &(*e)->next)
                if (streq((*e)->caller.sender, name)) {
                        Entry *dead = *e;
                        *e = dead->next;
                        entry_free(dead);
                        r->n--;
                        break;
                }
        /* even an unknown name: it may have a polkit query in flight
         * before its first credentials were cached */
        r->gone(name, r->userdata);
        return 0;
}

int caller_registry_new(sd_bus *bus, CallerGoneFn gone, void *userdata, CallerRegistry **ret) {
        CallerRegistry *r = calloc(1, sizeof *r);
        int k;

        if (!r)
                return -ENOMEM;
        *r = (CallerRegistry) { .gone = gone, .userdata = userdata, .last_activity = now_usec() };
        k = sd_bus_add_match(bus, &r->match,
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                             on_name_lost, r);
        if (k < 0) {
                free(r);
                return k;
        }
        *ret = r;
        return 0;
}

CallerRegistry *caller_registry_free(CallerRegistry *r) {
        if (!r)
                return NULL;
        while (r->entries) {
                Entry *e = r->entries;
                r->entries = e->next;
                entry_free(e);
        }
        if (r->direct)
                entry_free(r->direct);
        sd_bus_slot_unref(r->match);
        free(r);
        return NULL;
}

static int query(sd_bus_message *call, Entry *e, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL, *pcreds = NULL;
        const char *unit = NULL;
        int r;

        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &e->caller.uid);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot identify the caller: %s",
                                         strerror(-r));
        (void) sd_bus_creds_get_pid(creds, &e->caller.pid);
        if (e->caller.pid > 0 && sd_bus_creds_new_from_pid(&pcreds, e->caller.pid, SD_BUS_CREDS_UNIT) >= 0)
                (void) sd_bus_creds_get_unit(pcreds, &unit);
        if (unit && !(e->caller.unit = strdup(unit)))
                return -ENOMEM;
        return 0;
}

int caller_get(CallerRegistry *r, sd_bus_message *call, const Caller **ret, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(call);
        int k;

        r->last_activity = now_usec();
        for (Entry *e = r->entries; sender && e; e = e->next)
                if (streq(e->caller.sender, sender)) {
                        *ret = &e->caller;
                        return 0;
                }

        Entry *e = calloc(1, sizeof *e);
        if (!e || !(e->caller.sender = strdup(strempty(sender)))) {
                free(e);
                return -ENOMEM;
        }
        k = query(call, e, error);
        if (k < 0) {
                entry_free(e);
                return k;
        }
        if (!sender) {
                /* a direct connection (tests, fuzzers): nothing to key a cache on */
                if (r->direct)
                        entry_free(r->direct);
                r->direct = e;
        } else {
                e->next = r->entries;
                r->entries = e;
                r->n++;
        }
        *ret = &e->caller;
        return 0;
}

unsigned caller_registry_count(const CallerRegistry *r) {
        return r->n;
}

uint64_t caller_registry_last_activity(const CallerRegistry *r) {
        return r->last_activity;
}

AuditCaller caller_audit(const Caller *c) {
        return (AuditCaller) { .uid = c->uid, .pid = c->pid, .unit = c->unit,
                               .sender = c->sender[0] ? c->sender : NULL };
}
