/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The client side, as sd-bus calls from the driver itself (no busctl per
 * call): each org.freedesktop.pcreset1.Manager method the cases use, timed
 * from before the call to its reply (ms, now_ms()); Peer.Ping, the floor of
 * any call through the bus; the bare polkit round trip the daemon makes for
 * an unprivileged caller, the baseline of that case; an unprivileged client
 * (a forked child as a test user, driven over pipes); and many ResetDevice
 * calls in flight at once. Connections are to the system bus, which in the
 * sealed world is the harness' private one. A failed call returns <0 or
 * FALSE with *err (if err) set to the D-Bus error.
 */

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* A system bus connection whose Hello is done. */
sd_bus *open_bus(GError **error);

/* ResetDevice, synchronously; *ms its round trip. */
int call_reset(sd_bus *bus, const char *addr, uint32_t mask, double *ms, char **err);
/* GetResetInfo; *n_affected and *busy (devices said busy) from the reply. */
int call_info(sd_bus *bus, const char *addr, uint32_t mask, double *ms, unsigned *n_affected, unsigned *busy,
              char **err);
/* ListDevices; *n the number of devices listed. */
int call_list(sd_bus *bus, double *ms, unsigned *n, char **err);
/* org.freedesktop.DBus.Peer.Ping to the daemon: answered inside sd-bus,
 * the floor of any call through the bus. */
int call_ping(sd_bus *bus, double *ms, char **err);
/* The daemon's own question to polkit, asked by root: CheckAuthorization
 * for the system-bus-name subject sender, with the details pcresetd
 * passes (key, value, ..., NULL). Returns 1 authorized, 0 not, <0 error. */
int call_polkit(sd_bus *bus, const char *sender, const char *const *details, double *ms, char **err);

/* n sequential ResetDevice calls, their round trips appended to out (if
 * given), and if spans is given their (sent, answered) in ms as pairs. */
gboolean reset_loop_spans(sd_bus *bus, const char *addr, uint32_t mask, unsigned n, GArray *out, GArray *spans,
                          char **err);
gboolean reset_loop(sd_bus *bus, const char *addr, uint32_t mask, unsigned n, GArray *out, char **err);

/* The unprivileged client: a child process with uid and gid (and only that
 * group), connected to the bus; it dies with this process. */
typedef struct Client {
        pid_t pid;
        int cmd_fd, res_fd;
        char *unique_name; /* its bus name, the subject polkit is asked about */
} Client;

Client *client_start(uid_t uid, gid_t gid, GError **error);
/* count ResetDevice calls, one after the other, made by the child; their
 * round trips appended to out. */
gboolean client_resets(Client *c, const char *addr, uint32_t mask, uint32_t count, GArray *out, char **err);
/* Ends the child and waits for it; c may be NULL. */
void client_stop(Client *c);

/* Sends call i (ResetDevice addrs[i], FLR) on buses[conn_of[i]], in index
 * order, all before reading any reply; returns when every reply is in. The
 * buses are closed afterwards (sd-bus closes them when the loop exits).
 * *t0 is when the first one was sent, done_ms[i] when reply i came. */
gboolean batch_resets(sd_bus **buses, unsigned n_buses, const unsigned *conn_of, char **addrs, unsigned n,
                      double *t0, double *done_ms, char **err);
