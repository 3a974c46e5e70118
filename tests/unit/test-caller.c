/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The caller registry against a bus daemon this test plays: two sd-bus
 * connections over a socketpair, the daemon's side with a method whose
 * handler asks caller_get(), the test's side sending calls with the
 * senders it likes and answering GetConnectionCredentials when it likes.
 * The point: a caller whose credentials are not known yet never holds up
 * the loop for another, and every waiting call ends answered (or dropped
 * when its sender left).
 */

#include <errno.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <glib.h>

#include "caller.h"

#define PATH "/test"
#define IFACE "org.example.Test"

typedef struct {
        sd_bus *daemon, *peer;
        CallerRegistry *reg;
        sd_bus_slot *vtable;
        unsigned handler_runs;
        char *gone;            /* the last name the registry saw leave */
        GPtrArray *queries;    /* GetConnectionCredentials calls not answered yet */
        GHashTable *replies;   /* cookie of a test call -> its reply */
} Fx;

static int method_whoami(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Fx *f = userdata;
        const Caller *c = NULL;

        f->handler_runs++;
        int r = caller_get(f->reg, call, &c, error);
        if (r != 0)
                return r;
        return sd_bus_reply_method_return(call, "ui", (uint32_t) c->uid, (int32_t) c->pid);
}

static const sd_bus_vtable vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("WhoAmI", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", uid, "i", pid), method_whoami,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static void on_gone(const char *sender, void *userdata) {
        Fx *f = userdata;
        g_free(f->gone);
        f->gone = g_strdup(sender);
}

/* The peer's side: a credentials query is kept to be answered later, a
 * reply to a test call is filed under its cookie. */
static int on_peer_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fx *f = userdata;
        uint64_t cookie;

        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus", "GetConnectionCredentials")) {
                g_ptr_array_add(f->queries, sd_bus_message_ref(m));
                return 1;
        }
        if (sd_bus_message_get_reply_cookie(m, &cookie) >= 0) {
                g_hash_table_insert(f->replies, GUINT_TO_POINTER((guint) cookie), sd_bus_message_ref(m));
                return 1;
        }
        return 0; /* AddMatch and the like: nothing to do */
}

static void message_unref(gpointer m) {
        sd_bus_message_unref(m);
}

static void fx_setup(Fx *f, gconstpointer data) {
        int fds[2];
        sd_id128_t id;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        g_assert_cmpint(sd_id128_randomize(&id), ==, 0);
        g_assert_cmpint(sd_bus_new(&f->daemon), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(f->daemon, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_set_anonymous(f->daemon, true), >=, 0);
        g_assert_cmpint(sd_bus_new(&f->peer), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(f->peer, fds[1], fds[1]), >=, 0);
        g_assert_cmpint(sd_bus_set_server(f->peer, true, id), >=, 0);
        g_assert_cmpint(sd_bus_set_anonymous(f->peer, true), >=, 0);
        g_assert_cmpint(sd_bus_start(f->peer), >=, 0);
        g_assert_cmpint(sd_bus_start(f->daemon), >=, 0);

        f->queries = g_ptr_array_new_with_free_func(message_unref);
        f->replies = g_hash_table_new_full(NULL, NULL, NULL, message_unref);
        g_assert_cmpint(sd_bus_add_filter(f->peer, NULL, on_peer_message, f), >=, 0);
        g_assert_cmpint(caller_registry_new(f->daemon, on_gone, f, &f->reg), ==, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(f->daemon, &f->vtable, PATH, IFACE, vtable, f), >=, 0);
}

static void fx_teardown(Fx *f, gconstpointer data) {
        sd_bus_slot_unref(f->vtable);
        caller_registry_free(f->reg);
        g_ptr_array_unref(f->queries);
        g_hash_table_unref(f->replies);
        g_free(f->gone);
        sd_bus_flush_close_unref(f->daemon);
        sd_bus_flush_close_unref(f->peer);
}

/* Both ends until neither has anything left to do. */
static void pump(Fx *f) {
        for (int idle = 0; idle < 3;) {
                int a = sd_bus_process(f->daemon, NULL), b = sd_bus_process(f->peer, NULL);
                g_assert_cmpint(a, >=, 0);
                g_assert_cmpint(b, >=, 0);
                if (a == 0 && b == 0) {
                        (void) sd_bus_wait(f->daemon, 20000);
                        (void) sd_bus_process(f->daemon, NULL);
                        (void) sd_bus_wait(f->peer, 20000);
                        idle++;
                } else
                        idle = 0;
        }
}

/* Sends WhoAmI as sender: its cookie. */
static uint64_t send_whoami(Fx *f, const char *sender) {
        sd_bus_message *m = NULL;
        uint64_t cookie;

        g_assert_cmpint(sd_bus_message_new_method_call(f->peer, &m, NULL, PATH, IFACE, "WhoAmI"), >=, 0);
        g_assert_cmpint(sd_bus_message_set_sender(m, sender), >=, 0);
        g_assert_cmpint(sd_bus_send(f->peer, m, &cookie), >=, 0);
        sd_bus_message_unref(m);
        return cookie;
}

/* The reply to cookie: "uid" on success, the error's name otherwise, NULL
 * while there is none. */
static char *reply_of(Fx *f, uint64_t cookie) {
        sd_bus_message *r = g_hash_table_lookup(f->replies, GUINT_TO_POINTER((guint) cookie));
        uint32_t uid;
        int32_t pid;

        if (!r)
                return NULL;
        if (sd_bus_message_is_method_error(r, NULL))
                return g_strdup(sd_bus_message_get_error(r)->name);
        g_assert_cmpint(sd_bus_message_rewind(r, true), >=, 0);
        g_assert_cmpint(sd_bus_message_read(r, "ui", &uid, &pid), >=, 0);
        return g_strdup_printf("%u/%d", uid, pid);
}

/* The pending query for name, taken out of the list; NULL if none. */
static sd_bus_message *take_query(Fx *f, const char *name) {
        for (guint i = 0; i < f->queries->len; i++) {
                sd_bus_message *q = f->queries->pdata[i];
                const char *asked;
                g_assert_cmpint(sd_bus_message_rewind(q, true), >=, 0);
                g_assert_cmpint(sd_bus_message_read(q, "s", &asked), >=, 0);
                if (g_str_equal(asked, name))
                        return g_ptr_array_steal_index(f->queries, i);
        }
        return NULL;
}

/* The bus daemon's answer: the a{sv} of GetConnectionCredentials. */
static void answer(Fx *f, const char *name, uint32_t uid, uint32_t pid) {
        sd_bus_message *q = take_query(f, name), *r = NULL;
        g_assert_nonnull(q);
        g_assert_cmpint(sd_bus_message_new_method_return(q, &r), >=, 0);
        g_assert_cmpint(sd_bus_message_append(r, "a{sv}", 3, "ProcessID", "u", pid, "UnixUserID", "u", uid,
                                              "LinuxSecurityLabel", "ay", 3, "ab"), >=, 0);
        g_assert_cmpint(sd_bus_send(f->peer, r, NULL), >=, 0);
        sd_bus_message_unref(r);
        sd_bus_message_unref(q);
}

static void answer_error(Fx *f, const char *name) {
        sd_bus_message *q = take_query(f, name);
        g_assert_nonnull(q);
        g_assert_cmpint(sd_bus_reply_method_errorf(q, "org.freedesktop.DBus.Error.NameHasNoOwner", "no %s", name), >=, 0);
        sd_bus_message_unref(q);
}

static void test_async(Fx *f, gconstpointer data) {
        /* carol's first call waits for her credentials; the answer runs it */
        uint64_t c1 = send_whoami(f, ":1.9");
        pump(f);
        g_assert_null(reply_of(f, c1));
        g_assert_cmpuint(f->queries->len, ==, 1);
        answer(f, ":1.9", 1009, 4242);
        pump(f);
        g_autofree char *r1 = reply_of(f, c1);
        g_assert_cmpstr(r1, ==, "1009/4242");
        g_assert_cmpuint(f->handler_runs, ==, 2);

        /* alice's credentials are slow: carol is not held up, nor asked again */
        uint64_t a1 = send_whoami(f, ":1.7");
        uint64_t c2 = send_whoami(f, ":1.9");
        pump(f);
        g_autofree char *r2 = reply_of(f, c2);
        g_assert_cmpstr(r2, ==, "1009/4242");
        g_assert_null(reply_of(f, a1));
        g_assert_cmpuint(f->queries->len, ==, 1); /* alice's one query, carol's none */

        /* alice's further calls wait with the first, one query for all */
        uint64_t more[127];
        for (unsigned i = 0; i < G_N_ELEMENTS(more); i++)
                more[i] = send_whoami(f, ":1.7");
        uint64_t over = send_whoami(f, ":1.7");
        pump(f);
        g_assert_cmpuint(f->queries->len, ==, 1);
        g_autofree char *ro = reply_of(f, over);
        g_assert_cmpstr(ro, ==, "org.freedesktop.DBus.Error.LimitsExceeded");
        answer(f, ":1.7", 4101, 77);
        pump(f);
        g_autofree char *ra = reply_of(f, a1);
        g_assert_cmpstr(ra, ==, "4101/77");
        for (unsigned i = 0; i < G_N_ELEMENTS(more); i++) {
                g_autofree char *x = reply_of(f, more[i]);
                g_assert_cmpstr(x, ==, "4101/77");
        }
        g_assert_cmpuint(caller_registry_count(f->reg), ==, 2);
}

/* the bus daemon cannot tell: every waiting call is refused, and the next
 * call asks again */
static void test_no_credentials(Fx *f, gconstpointer data) {
        uint64_t a = send_whoami(f, ":1.5"), b = send_whoami(f, ":1.5");
        pump(f);
        answer_error(f, ":1.5");
        pump(f);
        g_autofree char *ra = reply_of(f, a), *rb = reply_of(f, b);
        g_assert_cmpstr(ra, ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpstr(rb, ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpuint(caller_registry_count(f->reg), ==, 0);
        uint64_t c = send_whoami(f, ":1.5");
        pump(f);
        g_assert_cmpuint(f->queries->len, ==, 1);
        answer(f, ":1.5", 1000, 1);
        pump(f);
        g_autofree char *rc = reply_of(f, c);
        g_assert_cmpstr(rc, ==, "1000/1");
}

/* a name that leaves while its calls wait: they are dropped unanswered, a
 * late answer finds nothing, and the departure is reported */
static void test_gone_while_waiting(Fx *f, gconstpointer data) {
        uint64_t a = send_whoami(f, ":1.6");
        pump(f);
        sd_bus_message *s = NULL;
        g_assert_cmpint(sd_bus_message_new_signal(f->peer, &s, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                  "NameOwnerChanged"), >=, 0);
        g_assert_cmpint(sd_bus_message_set_sender(s, "org.freedesktop.DBus"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(s, "sss", ":1.6", ":1.6", ""), >=, 0);
        g_assert_cmpint(sd_bus_send(f->peer, s, NULL), >=, 0);
        sd_bus_message_unref(s);
        pump(f);
        g_assert_cmpstr(f->gone, ==, ":1.6");
        g_assert_cmpuint(caller_registry_count(f->reg), ==, 0);
        answer(f, ":1.6", 1000, 1);
        pump(f);
        g_assert_null(reply_of(f, a));
        g_assert_cmpuint(f->handler_runs, ==, 1);
}

/* stopping: calls still waiting for credentials are answered, not dropped */
static void test_cancel_waiting(Fx *f, gconstpointer data) {
        uint64_t known = send_whoami(f, ":1.3");
        pump(f);
        answer(f, ":1.3", 1003, 3);
        pump(f);
        uint64_t a = send_whoami(f, ":1.4"), b = send_whoami(f, ":1.4");
        pump(f);
        caller_registry_cancel_waiting(f->reg, "org.example.Error.Cancelled", "stopping");
        pump(f);
        g_autofree char *rk = reply_of(f, known), *ra = reply_of(f, a), *rb = reply_of(f, b);
        g_assert_cmpstr(rk, ==, "1003/3");
        g_assert_cmpstr(ra, ==, "org.example.Error.Cancelled");
        g_assert_cmpstr(rb, ==, "org.example.Error.Cancelled");
        g_assert_cmpuint(caller_registry_count(f->reg), ==, 1); /* the known caller stays */
        answer(f, ":1.4", 1000, 1); /* too late: nothing runs */
        pump(f);
        g_assert_cmpuint(f->handler_runs, ==, 4);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/caller/async", Fx, NULL, fx_setup, test_async, fx_teardown);
        g_test_add("/caller/no-credentials", Fx, NULL, fx_setup, test_no_credentials, fx_teardown);
        g_test_add("/caller/gone-while-waiting", Fx, NULL, fx_setup, test_gone_while_waiting, fx_teardown);
        g_test_add("/caller/cancel-waiting", Fx, NULL, fx_setup, test_cancel_waiting, fx_teardown);
        return g_test_run();
}
