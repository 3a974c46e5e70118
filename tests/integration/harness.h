/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The integration-test harness: a sealed world for pcresetd.
 *
 * A test program calls harness_enter_namespace() first thing in main (as
 * root). From then on it runs in a private mount namespace where the real
 * /sys (and /proc/bus, /proc/sys) is read-only and no program it starts can
 * do port I/O, under a supervisor process that kills every leftover child
 * and removes every scratch file when the program ends, even by abort.
 *
 * harness_new() then brings up, inside that namespace: overlaid /etc/passwd
 * and /etc/group with the test users, a private system bus (dbus-daemon with
 * the project's bus policy) and the real polkitd reading the project's
 * .policy and rules the test sets. Clients run as the test users through
 * setpriv.
 *
 * Binaries come from the environment: PCRESETD_BIN, PCRESETCTL_BIN,
 * PCRESET_FAKETREE_BIN, FAKERESET_FUSE_BIN, and the source tree from
 * PCRESET_SRCDIR (for polkit/org.freedesktop.pcreset1.policy and
 * dbus/org.freedesktop.pcreset1.conf).
 *
 * Functions that cannot report an error (harness_set_rules, harness_spawn)
 * abort the test program on failure; the supervisor cleans up after them.
 * Call everything from the test's main thread: the children are reaped
 * there.
 */

#include <gio/gio.h>
#include <sys/types.h>

/* Test users: each has its own group of the same id; pcr-alice is also in
 * pcr-gpu. */
#define HARNESS_USER_ALICE "pcr-alice"
#define HARNESS_USER_BOB   "pcr-bob"
#define HARNESS_USER_CAROL "pcr-carol"
#define HARNESS_GROUP_GPU  "pcr-gpu"
#define HARNESS_UID_ALICE  4101
#define HARNESS_UID_BOB    4102
#define HARNESS_UID_CAROL  4103
#define HARNESS_GID_GPU    4200

/* Bound on every wait for a process or a bus name. */
#define HARNESS_TIMEOUT_MS 10000
/* Bound on harness_run() (see harness_set_run_timeout()) and harness_wait(). */
#define HARNESS_RUN_TIMEOUT_MS 30000

typedef struct Harness Harness;

typedef enum {
        HARNESS_AUTH_ERROR     = -1,
        HARNESS_AUTH_NO        = 0,
        HARNESS_AUTH_YES       = 1,
        HARNESS_AUTH_CHALLENGE = 2, /* not authorized, but a password would do */
} HarnessAuth;

/* Seal the process: private mount namespace; /sys, /proc/bus and /proc/sys
 * read-only; CAP_SYS_RAWIO out of the bounding set; supervisor.
 * Also sets DBUS_SYSTEM_BUS_ADDRESS for good (to the private bus socket) and
 * unsets JOURNAL_STREAM and NOTIFY_SOCKET. Exits the program ("Bail out!")
 * if any step fails. Call once, before g_test_init() and before any thread
 * exists. */
void harness_enter_namespace(void);

/* A directory that lives as long as the test program (the supervisor removes
 * it), for program-wide scratch files. */
const char *harness_session_dir(void);

/* Bring the world up (~50 ms): test users, bus, polkitd with no rules
 * (only root is authorized). One Harness at a time. */
Harness *harness_new(GError **error);
/* Stop everything, undo the mounts, remove the files. NULL is fine. */
void harness_free(Harness *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Harness, harness_free)

const char *harness_dir(Harness *h);          /* this Harness' tmp dir */
const char *harness_fake_root(Harness *h);    /* exists, empty until harness_build_tree() */
const char *harness_state_dir(Harness *h);    /* persists across daemon restarts */
const char *harness_daemon_log(Harness *h);   /* appended to by every daemon start */
const char *harness_polkitd_log(Harness *h);  /* polkitd's debug output: rule load errors */
const char *harness_bus_address(Harness *h);
GDBusConnection *harness_bus(Harness *h);     /* a root connection to the bus */
GPid harness_polkitd_pid(Harness *h);
GPid harness_dbus_daemon_pid(Harness *h);

/* Replace the polkit rules (JavaScript; NULL for none, i.e. only root is
 * authorized) and return once polkitd runs them. */
void harness_set_rules(Harness *h, const char *javascript);

/* CheckAuthorization, as root, for the process pid (a unix-process subject
 * with its real uid), with details as key, value, ..., NULL (may be NULL).
 * No interaction. */
HarnessAuth harness_check_authorization(Harness *h, GPid pid, const char *action_id,
                                        const char *const *details, GError **error);

/* Run PCRESET_FAKETREE_BIN on desc_text, filling harness_fake_root(); once
 * per Harness (the builder refuses an existing ROOT/sys). */
gboolean harness_build_tree(Harness *h, const char *desc_text, GError **error);

/* Start PCRESETD_BIN on the fake root and state dir, plus extra_args (may be
 * NULL), and wait until it owns org.freedesktop.pcreset1. Returns 0, or -1
 * with the daemon log's tail in error. */
int harness_start_daemon(Harness *h, const char *const *extra_args, GError **error);
/* SIGTERM (SIGKILL after HARNESS_TIMEOUT_MS) and wait until the bus name is
 * gone. Return the exit status: the code, or 128+signal; -1 if not running. */
int harness_stop_daemon(Harness *h);
/* SIGKILL, then as harness_stop_daemon(). */
int harness_kill_daemon(Harness *h);
GPid harness_daemon_pid(Harness *h); /* 0 when not running */

/* Run argv to completion (PATH is searched) as root (user NULL) or as user
 * through setpriv --init-groups, with DBUS_SYSTEM_BUS_ADDRESS set. out and
 * err (may be NULL) get stdout and stderr. Returns the exit code, 128+signal,
 * or -1 if it could not run (reason in *err; as a user, setpriv's 127
 * instead). Killed after HARNESS_RUN_TIMEOUT_MS, or what
 * harness_set_run_timeout() says. */
int harness_run(Harness *h, const char *user, char **out, char **err,
                const char *const *argv);
/* How a test runs a client (pcresetctl, gdbus, busctl, a helper program):
 * harness_run(), then one g_test_message() with the user, the command line
 * (quoted for a shell, to replay it by hand), the exit status and both
 * outputs, whatever the outcome. Returns and hands out as harness_run(). */
int harness_run_logged(Harness *h, const char *user, char **out, char **err,
                       const char *const *argv);
/* Bound on this Harness' harness_run() and harness_run_logged() from now on:
 * timeout_ms, or HARNESS_RUN_TIMEOUT_MS again if 0. For a program that is not
 * one client (a load generator). */
void harness_set_run_timeout(Harness *h, int timeout_ms);
/* Start argv in the background, as harness_run(). Returns once the command
 * runs (as the user, if given). If out_fd is not NULL it gets the read end of
 * its stdout (the caller closes it), else stdout goes to /dev/null; stderr
 * is the test's. Reap it with harness_wait() or harness_kill(), once;
 * harness_free() kills what is left. */
GPid harness_spawn(Harness *h, const char *user, const char *const *argv, int *out_fd);
/* Wait for a harness_spawn()ed process to exit (SIGKILL after
 * HARNESS_RUN_TIMEOUT_MS); returns as harness_run(). */
int harness_wait(GPid pid);
/* SIGKILL a harness_spawn()ed process and reap it; returns as harness_run(). */
int harness_kill(GPid pid);
