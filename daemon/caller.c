/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "caller.h"
#include "log.h"
#include "util.h"

/* Calls one bus name may have waiting for its credentials: dbus-daemon's
 * own bound on a connection's calls awaiting replies on the system bus
 * (max_replies_per_connection, 128), so a client that sends many calls at
 * once on a fresh connection is never refused for it. */
#define CALLER_MAX_WAITING 128

typedef struct Entry Entry;
struct Entry {
        Caller caller;
        CallerRegistry *registry;
        sd_bus_slot *query;        /* the credentials asked, not answered yet */
        sd_bus_message *waiting[CALLER_MAX_WAITING]; /* calls to run again when they come */
        size_t n_waiting;
        Entry *next;
};

struct CallerRegistry {
        sd_bus *bus;
        sd_bus_slot *match;
        Entry *entries;         /* most recent first */
        Entry *direct;          /* the peer of a direct connection (no sender): asked every time */
        unsigned n;
        uint64_t last_activity;
        CallerGoneFn gone;
        void *userdata;
};

static void entry_free(Entry *e) {
        sd_bus_slot_unref(e->query);
        for (size_t i = 0; i < e->n_waiting; i++)
                sd_bus_message_unref(e->waiting[i]);
        free(e->caller.unit);
        free(e->caller.sender);
        free(e);
}

static void entry_remove(CallerRegistry *r, Entry *e) {
        for (Entry **p = &r->entries; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        r->n--;
                        break;
                }
        entry_free(e);
}

static int on_name_lost(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        CallerRegistry *r = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 || name[0] != ':' || new_owner[0])
                return 0;
        r->last_activity = now_usec();
        for (Entry *e = r->entries; e; e = e->next)
                if (streq(e->caller.sender, name)) {
                        /* calls still waiting for its credentials go unanswered: nobody is there */
                        entry_remove(r, e);
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
        *r = (CallerRegistry) { .bus = bus, .gone = gone, .userdata = userdata, .last_activity = now_usec() };
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

/* The unit, for the audit trail only: from /proc, never the bus. */
static int set_unit(Entry *e) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *pcreds = NULL;
        const char *unit = NULL;

        if (e->caller.pid > 0 && sd_bus_creds_new_from_pid(&pcreds, e->caller.pid, SD_BUS_CREDS_UNIT) >= 0)
                (void) sd_bus_creds_get_unit(pcreds, &unit);
        if (unit && !(e->caller.unit = strdup(unit)))
                return -ENOMEM;
        return 0;
}

/* A direct connection (tests, fuzzers): the socket's peer credentials, no
 * bus daemon to ask. */
static int query_direct(sd_bus_message *call, Entry *e, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &e->caller.uid);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot identify the caller: %s",
                                         strerror(-r));
        (void) sd_bus_creds_get_pid(creds, &e->caller.pid);
        return set_unit(e);
}

/* GetConnectionCredentials' a{sv}: UnixUserID is required. */
static int parse_credentials(sd_bus_message *reply, Entry *e) {
        bool have_uid = false;
        int r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;
                uint32_t v;
                if ((r = sd_bus_message_read(reply, "s", &key)) < 0)
                        break;
                if (streq(key, "UnixUserID") || streq(key, "ProcessID")) {
                        if ((r = sd_bus_message_read(reply, "v", "u", &v)) < 0)
                                break;
                        if (streq(key, "UnixUserID")) {
                                e->caller.uid = (uid_t) v;
                                have_uid = true;
                        } else
                                e->caller.pid = (pid_t) v;
                } else if ((r = sd_bus_message_skip(reply, "v")) < 0)
                        break;
                r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        return have_uid ? 0 : -ENODATA;
}

static int on_credentials(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Entry *e = userdata;
        CallerRegistry *reg = e->registry;
        const sd_bus_error *err = sd_bus_message_get_error(reply);
        /* an error is never success, whatever errno it maps to: the uid
         * would stay as it was */
        int r = err ? -(sd_bus_error_get_errno(err) ?: EIO) : parse_credentials(reply, e);

        e->query = sd_bus_slot_unref(e->query);
        if (r >= 0)
                r = set_unit(e);
        for (size_t i = 0; i < e->n_waiting; i++) {
                sd_bus_message *call = TAKE_PTR(e->waiting[i]);
                int k = r < 0 ? r : sd_bus_enqueue_for_read(reg->bus, call);
                if (k < 0) {
                        if (r >= 0)
                                log_warning_errno(k, "Cannot put a call back after its caller's credentials: %m");
                        (void) sd_bus_reply_method_errorf(call, SD_BUS_ERROR_ACCESS_DENIED,
                                                          "Cannot identify the caller: %s",
                                                          err && err->message ? err->message : strerror(-k));
                }
                sd_bus_message_unref(call);
        }
        e->n_waiting = 0;
        if (r < 0) {
                log_debug_errno(r, "No credentials for %s: %m", e->caller.sender);
                entry_remove(reg, e); /* the next call asks again */
        }
        return 0;
}

/* Queues call until the entry's credentials come: 1, or a bus error. */
static int wait_for_credentials(Entry *e, sd_bus_message *call, sd_bus_error *error) {
        if (e->n_waiting >= CALLER_MAX_WAITING)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many calls before this connection's credentials arrived; "
                                         "try again shortly");
        e->waiting[e->n_waiting++] = sd_bus_message_ref(call);
        return 1;
}

int caller_get(CallerRegistry *r, sd_bus_message *call, const Caller **ret, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(call);
        int k;

        r->last_activity = now_usec();
        for (Entry *e = r->entries; sender && e; e = e->next)
                if (streq(e->caller.sender, sender)) {
                        if (e->query)
                                return wait_for_credentials(e, call, error);
                        *ret = &e->caller;
                        return 0;
                }

        Entry *e = calloc(1, sizeof *e);
        if (!e || !(e->caller.sender = strdup(strempty(sender)))) {
                free(e);
                return -ENOMEM;
        }
        /* nobody until the bus daemon says: never root by default */
        *e = (Entry) { .caller = { .uid = (uid_t) -1, .sender = e->caller.sender }, .registry = r };
        if (!sender) {
                k = query_direct(call, e, error);
                if (k < 0) {
                        entry_free(e);
                        return k;
                }
                /* nothing to key a cache on */
                if (r->direct)
                        entry_free(r->direct);
                r->direct = e;
                *ret = &e->caller;
                return 0;
        }
        /* Asked of the bus daemon without waiting: a flood of new
         * connections slows the bus daemon, and the loop must not wait on
         * it for everyone else's calls. */
        k = sd_bus_call_method_async(r->bus, &e->query, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionCredentials", on_credentials, e, "s",
                                     sender);
        if (k < 0) {
                entry_free(e);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot identify the caller: %s",
                                         strerror(-k));
        }
        e->next = r->entries;
        r->entries = e;
        r->n++;
        return wait_for_credentials(e, call, error);
}

void caller_registry_cancel_waiting(CallerRegistry *r, const char *error_name, const char *message) {
        for (Entry *e = r->entries, *next; e; e = next) {
                next = e->next;
                if (!e->query)
                        continue;
                for (size_t i = 0; i < e->n_waiting; i++)
                        (void) sd_bus_reply_method_errorf(e->waiting[i], error_name, "%s", message);
                entry_remove(r, e);
        }
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
