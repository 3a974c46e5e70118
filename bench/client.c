/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "client.h"
#include "pcreset1.h"
#include "stats.h"

#define DEST  PCRESET1_BUS_NAME
#define PATH  PCRESET1_OBJECT_PATH
#define IFACE PCRESET1_MANAGER_INTERFACE

#define POLKIT_DEST  "org.freedesktop.PolicyKit1"
#define POLKIT_PATH  "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"

#define CALL_TIMEOUT_USEC (60ULL * 1000000ULL)

/* ---- sd-bus client calls ------------------------------------------------ */

static char *bus_error_text(const sd_bus_error *e, int r) {
        if (sd_bus_error_is_set(e))
                return g_strdup_printf("%s: %s", e->name, e->message);
        return g_strdup(g_strerror(-r));
}

int call_reset(sd_bus *bus, const char *addr, uint32_t mask, double *ms, char **err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double t0 = now_ms();
        int r = sd_bus_call_method(bus, DEST, PATH, IFACE, "ResetDevice", &e, &reply, "su", addr, mask);
        *ms = now_ms() - t0;
        uint32_t performed = 0;
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &performed);
        if (r < 0 && err)
                *err = bus_error_text(&e, r);
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r;
}

int call_info(sd_bus *bus, const char *addr, uint32_t mask, double *ms, unsigned *n_affected, unsigned *busy,
              char **err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double t0 = now_ms();
        int r = sd_bus_call_method(bus, DEST, PATH, IFACE, "GetResetInfo", &e, &reply, "su", addr, mask);
        *ms = now_ms() - t0;
        uint32_t planned;
        unsigned n = 0, b = 0;
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &planned);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        while (r >= 0) {
                const char *name, *state, *why;
                r = sd_bus_message_read(reply, "(sss)", &name, &state, &why);
                if (r <= 0)
                        break;
                n++;
                b += g_str_equal(state, "busy");
        }
        if (r < 0 && err)
                *err = bus_error_text(&e, r);
        if (n_affected)
                *n_affected = n;
        if (busy)
                *busy = b;
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

int call_list(sd_bus *bus, double *ms, unsigned *n, char **err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double t0 = now_ms();
        int r = sd_bus_call_method(bus, DEST, PATH, IFACE, "ListDevices", &e, &reply, "");
        *ms = now_ms() - t0;
        unsigned k = 0;
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ssqqsssssuas)");
        while (r >= 0) {
                r = sd_bus_message_skip(reply, "(ssqqsssssuas)");
                if (r <= 0)
                        break;
                k++;
        }
        if (r < 0 && err)
                *err = bus_error_text(&e, r);
        *n = k;
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

int call_polkit(sd_bus *bus, const char *sender, const char *const *details, double *ms, char **err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int authorized = 0, challenge = 0;
        double t0 = now_ms();
        int r = sd_bus_message_new_method_call(bus, &m, POLKIT_DEST, POLKIT_PATH, POLKIT_IFACE, "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender,
                                          PCRESET1_ACTION_RESET);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{ss}");
        for (size_t i = 0; r >= 0 && details[i] && details[i + 1]; i += 2)
                r = sd_bus_message_append(m, "{ss}", details[i], details[i + 1]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "us", (uint32_t) 0, "");
        if (r >= 0)
                r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &e, &reply);
        *ms = now_ms() - t0;
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0 && err)
                *err = bus_error_text(&e, r);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r < 0 ? r : authorized;
}

sd_bus *open_bus(GError **error) {
        sd_bus *bus = NULL;
        const char *name;
        /* the unique name needs the Hello done: the connection is ready
         * before anything is timed */
        int r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_get_unique_name(bus, &name);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect to the private bus: %s",
                            g_strerror(-r));
                sd_bus_flush_close_unref(bus);
                return NULL;
        }
        return bus;
}

int call_ping(sd_bus *bus, double *ms, char **err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        double t0 = now_ms();
        int r = sd_bus_call_method(bus, DEST, PATH, "org.freedesktop.DBus.Peer", "Ping", &e, NULL, "");
        *ms = now_ms() - t0;
        if (r < 0 && err)
                *err = bus_error_text(&e, r);
        sd_bus_error_free(&e);
        return r;
}

gboolean reset_loop_spans(sd_bus *bus, const char *addr, uint32_t mask, unsigned n, GArray *out, GArray *spans,
                          char **err) {
        for (unsigned i = 0; i < n; i++) {
                double ms, t0 = now_ms();
                if (call_reset(bus, addr, mask, &ms, err) < 0)
                        return FALSE;
                if (out)
                        g_array_append_val(out, ms);
                if (spans) {
                        double t1 = t0 + ms;
                        g_array_append_val(spans, t0);
                        g_array_append_val(spans, t1);
                }
        }
        return TRUE;
}

gboolean reset_loop(sd_bus *bus, const char *addr, uint32_t mask, unsigned n, GArray *out, char **err) {
        return reset_loop_spans(bus, addr, mask, n, out, NULL, err);
}

/* ---- the unprivileged client: a child as pcr-alice ---------------------- */

static gboolean read_full(int fd, void *buf, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = read(fd, (char *) buf + done, n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return FALSE;
                done += (size_t) k;
        }
        return TRUE;
}

static gboolean write_full(int fd, const void *buf, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, (const char *) buf + done, n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return FALSE;
                done += (size_t) k;
        }
        return TRUE;
}

/* The child: connects as uid, says its unique name, then for each command
 * (address length, address, mask, count) runs count ResetDevice calls and
 * answers count doubles, or -1 and an error text. */
static G_GNUC_NORETURN void client_main(uid_t uid, gid_t gid, int cmd_fd, int res_fd) {
        sd_bus *bus = NULL;
        const char *name = NULL;
        gid_t groups[] = { gid };

        if (setgroups(1, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
            sd_bus_open_system(&bus) < 0 || sd_bus_get_unique_name(bus, &name) < 0)
                _exit(3);
        uint32_t len = (uint32_t) strlen(name);
        if (!write_full(res_fd, &len, sizeof len) || !write_full(res_fd, name, len))
                _exit(3);
        for (;;) {
                char addr[64];
                uint32_t alen, mask, count;
                if (!read_full(cmd_fd, &alen, sizeof alen) || alen == 0 || alen >= sizeof addr)
                        _exit(0);
                if (!read_full(cmd_fd, addr, alen) || !read_full(cmd_fd, &mask, sizeof mask) ||
                    !read_full(cmd_fd, &count, sizeof count))
                        _exit(3);
                addr[alen] = '\0';
                double *v = calloc(count ? count : 1, sizeof(double));
                int32_t status = 0;
                char *err = NULL;
                for (uint32_t i = 0; i < count; i++)
                        if (call_reset(bus, addr, mask, &v[i], &err) < 0) {
                                status = -1;
                                break;
                        }
                if (!write_full(res_fd, &status, sizeof status))
                        _exit(3);
                if (status < 0) {
                        uint32_t elen = (uint32_t) strlen(err ? err : "?");
                        (void) write_full(res_fd, &elen, sizeof elen);
                        (void) write_full(res_fd, err ? err : "?", elen);
                        _exit(4);
                }
                if (!write_full(res_fd, v, count * sizeof(double)))
                        _exit(3);
                free(v);
        }
}

Client *client_start(uid_t uid, gid_t gid, GError **error) {
        int cmd[2], res[2];
        if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "pipe: %s", g_strerror(errno));
                return NULL;
        }
        fflush(NULL);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "fork: %s", g_strerror(errno));
                return NULL;
        }
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(3);
                close(cmd[1]);
                close(res[0]);
                client_main(uid, gid, cmd[0], res[1]);
        }
        close(cmd[0]);
        close(res[1]);
        Client *c = g_new0(Client, 1);
        c->pid = pid;
        c->cmd_fd = cmd[1];
        c->res_fd = res[0];
        uint32_t len = 0;
        char name[256];
        if (!read_full(c->res_fd, &len, sizeof len) || len == 0 || len >= sizeof name ||
            !read_full(c->res_fd, name, len)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the client as uid %u could not connect",
                            (unsigned) uid);
                close(c->cmd_fd);
                close(c->res_fd);
                (void) waitpid(pid, NULL, 0);
                g_free(c);
                return NULL;
        }
        name[len] = '\0';
        c->unique_name = g_strdup(name);
        return c;
}

gboolean client_resets(Client *c, const char *addr, uint32_t mask, uint32_t count, GArray *out, char **err) {
        uint32_t alen = (uint32_t) strlen(addr);
        int32_t status;
        if (!write_full(c->cmd_fd, &alen, sizeof alen) || !write_full(c->cmd_fd, addr, alen) ||
            !write_full(c->cmd_fd, &mask, sizeof mask) || !write_full(c->cmd_fd, &count, sizeof count) ||
            !read_full(c->res_fd, &status, sizeof status)) {
                *err = g_strdup("the unprivileged client died");
                return FALSE;
        }
        if (status < 0) {
                uint32_t elen = 0;
                char buf[1024] = "";
                if (read_full(c->res_fd, &elen, sizeof elen) && elen < sizeof buf)
                        (void) read_full(c->res_fd, buf, elen);
                *err = g_strdup(buf);
                return FALSE;
        }
        double *v = g_new(double, count ? count : 1);
        gboolean ok = read_full(c->res_fd, v, count * sizeof(double));
        if (ok)
                g_array_append_vals(out, v, count);
        else
                *err = g_strdup("the unprivileged client died");
        g_free(v);
        return ok;
}

void client_stop(Client *c) {
        if (!c)
                return;
        close(c->cmd_fd);
        close(c->res_fd);
        (void) waitpid(c->pid, NULL, 0);
        g_free(c->unique_name);
        g_free(c);
}

/* ---- many calls at once ------------------------------------------------- */

typedef struct Batch {
        sd_event *event;
        unsigned pending, errors;
        double *done_ms;
        char *first_error;
} Batch;

typedef struct BatchCall {
        Batch *batch;
        unsigned index;
} BatchCall;

static int on_batch_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BatchCall *c = userdata;
        Batch *b = c->batch;
        b->done_ms[c->index] = now_ms();
        const sd_bus_error *e = sd_bus_message_get_error(m);
        if (e) {
                b->errors++;
                if (!b->first_error)
                        b->first_error = g_strdup_printf("%s: %s", e->name, e->message);
        }
        if (--b->pending == 0)
                (void) sd_event_exit(b->event, 0);
        return 0;
}

gboolean batch_resets(sd_bus **buses, unsigned n_buses, const unsigned *conn_of, char **addrs, unsigned n,
                      double *t0, double *done_ms, char **err) {
        Batch b = { .pending = n, .done_ms = done_ms };
        BatchCall *calls = g_new0(BatchCall, n);
        gboolean ok = FALSE;
        const char *step = "setting up the event loop";
        int r = sd_event_new(&b.event);

        for (unsigned i = 0; r >= 0 && i < n_buses; i++)
                r = sd_bus_attach_event(buses[i], b.event, 0);
        *t0 = now_ms();
        if (r >= 0)
                step = "queueing the calls";
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                calls[i] = (BatchCall) { &b, i };
                r = sd_bus_call_method_async(buses[conn_of[i]], NULL, DEST, PATH, IFACE, "ResetDevice", on_batch_reply,
                                             &calls[i], "su", addrs[i], (uint32_t) PCRESET_SCOPE_FLR);
        }
        if (r >= 0)
                step = "sending the calls";
        for (unsigned i = 0; r >= 0 && i < n_buses; i++)
                r = sd_bus_flush(buses[i]);
        if (r >= 0)
                step = "waiting for the replies";
        if (r >= 0)
                r = sd_event_loop(b.event);
        if (r < 0) {
                unsigned closed = 0;
                for (unsigned i = 0; i < n_buses; i++)
                        closed += sd_bus_is_open(buses[i]) <= 0;
                *err = g_strdup_printf("%s: %s (%u of %u connections closed)", step, g_strerror(-r), closed, n_buses);
        }
        else if (b.errors)
                *err = g_strdup_printf("%u of %u calls failed, first: %s", b.errors, n, b.first_error);
        else
                ok = TRUE;
        for (unsigned i = 0; i < n_buses; i++)
                (void) sd_bus_detach_event(buses[i]);
        sd_event_unref(b.event);
        g_free(b.first_error);
        g_free(calls);
        return ok;
}
