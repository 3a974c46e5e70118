/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The open-handle scan: a fake /proc of 5,000 processes × 20 fds.
 */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cases.h"
#include "client.h"
#include "host.h"
#include "options.h"
#include "pcreset1.h"
#include "report.h"
#include "stats.h"

#define HOLDER_GROUP "30"

static gboolean make_fake_proc(const char *proc, unsigned nproc, unsigned nfd, unsigned holder, GError **error) {
        static const char *const noise[] = {
                "/dev/null", "/dev/pts/%u", "socket:[%u]", "pipe:[%u]", "anon_inode:[eventfd]",
                "/usr/lib/x86_64-linux-gnu/libc.so.6", "/var/log/app-%u.log", "/dev/dri/renderD128",
                "anon_inode:[eventpoll]", "/home/user/data-%u.db", "/dev/urandom", "socket:[%u]",
        };
        for (unsigned i = 0; i < nproc; i++) {
                unsigned pid = 10000 + i;
                g_autofree char *dir = g_strdup_printf("%s/%u/fd", proc, pid);
                g_autofree char *comm = g_strdup_printf("%s/%u/comm", proc, pid);
                g_autofree char *name = g_strdup_printf("%s\n", i == holder ? "qemu-system-x86" : "worker");
                if (g_mkdir_with_parents(dir, 0755) < 0 || !g_file_set_contents(comm, name, -1, error)) {
                        if (error && !*error)
                                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", dir,
                                            g_strerror(errno));
                        return FALSE;
                }
                for (unsigned fd = 0; fd < nfd; fd++) {
                        char text[4096], link[4096];
                        /* the holder's fds lead to the fake host's own nodes, as a
                         * real /proc's lead to the real ones: the daemon knows a
                         * node by its device number, not by the link's text */
                        if (i == holder && fd == 7)
                                snprintf(text, sizeof text, "%s/../dev/vfio/" HOLDER_GROUP, proc);
                        else if (i == holder && fd == 6)
                                snprintf(text, sizeof text, "%s/../dev/vfio/vfio", proc);
                        else
                                snprintf(text, sizeof text, noise[(i + fd) % G_N_ELEMENTS(noise)], 1000 + i * 31 + fd);
                        snprintf(link, sizeof link, "%s/%u", dir, fd);
                        if (symlink(text, link) < 0) {
                                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", link,
                                            g_strerror(errno));
                                return FALSE;
                        }
                }
        }
        return TRUE;
}

/* A VFIO node changes hands, as far as the daemon's watch can tell: a file
 * appears and goes in the fake host's dev/vfio. The next informational
 * call cannot trust the last scan. */
static gboolean touch_nodes(Host *x, char **err) {
        g_autofree char *p = g_build_filename(harness_fake_root(x->h), "dev/vfio/bench-touch", NULL);
        if (!g_file_set_contents(p, "", 0, NULL) || unlink(p) < 0) {
                *err = g_strdup_printf("%s: %s", p, g_strerror(errno));
                return FALSE;
        }
        return TRUE;
}

/* How many times one GetResetInfo that cannot trust the last scan walks
 * the fake /proc: strace counts the opens of PROC/PID/fd and divides by
 * the number of processes. */
static double count_passes(Host *x, sd_bus *bus, const char *addr, uint32_t mask, unsigned nproc, char **err) {
        g_autofree char *pid_s = g_strdup_printf("%d", (int) harness_daemon_pid(x->h));
        g_autofree char *out = g_build_filename(harness_dir(x->h), "strace.out", NULL);
        const char *argv[] = { "strace", "-f", "-e", "trace=openat,open", "-o", out, "-p", pid_s, NULL };
        GPid spid;
        int err_fd;
        g_autoptr(GError) error = NULL;

        if (!g_spawn_async_with_pipes(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                      NULL, NULL, &spid, NULL, NULL, &err_fd, &error)) {
                *err = g_strdup_printf("strace: %s", error->message);
                return NAN;
        }
        /* wait for "Process N attached" */
        GString *text = g_string_new(NULL);
        double deadline = now_ms() + 5000;
        while (!strstr(text->str, "attached") && now_ms() < deadline) {
                struct pollfd p = { .fd = err_fd, .events = POLLIN };
                char buf[256];
                if (poll(&p, 1, 100) > 0) {
                        ssize_t k = read(err_fd, buf, sizeof buf);
                        if (k <= 0)
                                break;
                        g_string_append_len(text, buf, k);
                }
        }
        gboolean attached = strstr(text->str, "attached") != NULL;
        g_string_free(text, TRUE);
        double ms;
        int r = attached && touch_nodes(x, err) ? call_info(bus, addr, mask, &ms, NULL, NULL, err) : -1;
        g_usleep(100 * 1000);
        (void) kill(spid, SIGINT);
        (void) waitpid(spid, NULL, 0);
        g_spawn_close_pid(spid);
        close(err_fd);
        if (!attached) {
                *err = g_strdup("strace did not attach");
                return NAN;
        }
        if (r < 0)
                return NAN;
        g_autofree char *log = NULL;
        if (!g_file_get_contents(out, &log, NULL, NULL)) {
                *err = g_strdup("no strace output");
                return NAN;
        }
        /* the whole path, or one relative to an fd of PROC ("10000/fd"):
         * a table's own fd directory, not a thread's (PID/task/TID/fd) */
        g_autoptr(GRegex) re = g_regex_new("\"(?:[^\"]*/proc/)?[0-9]+/fd\"", 0, 0, NULL);
        g_autoptr(GMatchInfo) mi = NULL;
        unsigned opens = 0;
        g_regex_match(re, log, 0, &mi);
        while (g_match_info_matches(mi)) {
                opens++;
                g_match_info_next(mi, NULL);
        }
        return (double) opens / nproc;
}

void host_procscan(void) {
        const char *C = "open-handle scan";
        unsigned nproc = options.smoke ? 500 : 5000, nfd = 20, reps = options.smoke ? 3 : 7;
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;

        say("bringing up the open-handle host (%u processes × %u fds)", nproc, nfd);
        g_autoptr(Host) x = host_new("procscan.topo", NULL, NULL, NULL, &error);
        if (!x)
                FAIL(C, "%s", error->message);
        g_autofree char *proc = g_build_filename(harness_fake_root(x->h), "proc", NULL);
        if (!make_fake_proc(proc, nproc, nfd, nproc / 2, &error) || host_start(x, NULL, &error) < 0)
                FAIL(C, "%s", error->message);

        const char *find[] = { "find", proc, "-lname", "*/dev/vfio/*", NULL };
        g_autofree char *fout = NULL;
        g_autofree double *ft = g_new(double, reps);
        g_autofree double *gt = g_new(double, reps);
        g_autofree double *g4 = g_new(double, reps);
        g_autofree double *gs = g_new(double, reps);
        if (isnan(run_timed(find, &fout, &error)))
                FAIL(C, "find: %s", error->message);
        if (!strstr(fout, "/fd/7"))
                FAIL(C, "find did not find the open VFIO group: %s", fout);

        sd_bus *bus = open_bus(&error);
        if (!bus)
                FAIL(C, "%s", error->message);
        unsigned n_aff = 0, busy = 0, n4 = 0;
        gboolean ok = call_info(bus, "0000:01:00.0", PCRESET_SCOPE_FLR, &gt[0], &n_aff, &busy, &err) >= 0;
        for (unsigned i = 0; ok && i < reps; i++) {
                ok = !isnan(ft[i] = run_timed(find, NULL, &error));
                if (!ok)
                        err = g_strdup(error->message);
                ok = ok && call_info(bus, "0000:01:00.0", PCRESET_SCOPE_FLR, &gt[i], &n_aff, &busy, &err) >= 0 &&
                     call_info(bus, "0000:02:00.0", PCRESET_SCOPE_BUS, &g4[i], &n4, NULL, &err) >= 0 &&
                     touch_nodes(x, &err) &&
                     call_info(bus, "0000:01:00.0", PCRESET_SCOPE_FLR, &gs[i], &n_aff, &busy, &err) >= 0;
        }
        if (ok && (n_aff != 1 || busy != 1 || n4 != 4)) {
                err = g_strdup_printf("GetResetInfo: %u affected, %u busy (expected 1 and 1: group " HOLDER_GROUP
                                      " is open); bus reset of 02:00.0: %u affected (expected 4)",
                                      n_aff, busy, n4);
                ok = FALSE;
        }
        double p1 = NAN, p4 = NAN, p4s = NAN;
        g_autofree char *strace = g_find_program_in_path("strace");
        if (ok && strace) {
                p1 = count_passes(x, bus, "0000:01:00.0", PCRESET_SCOPE_FLR, nproc, &err);
                p4 = count_passes(x, bus, "0000:03:00.0", PCRESET_SCOPE_BUS, nproc, &err);
                p4s = count_passes(x, bus, "0000:02:00.0", PCRESET_SCOPE_BUS, nproc, &err);
                ok = !isnan(p1) && !isnan(p4) && !isnan(p4s);
        }
        sd_bus_flush_close_unref(bus);
        if (!ok)
                FAIL(C, "%s", err);

        double fm = median_of(ft, reps), gm = median_of(gt, reps), g4m = median_of(g4, reps), gsm = median_of(gs, reps);
        g_autofree char *note = g_strdup_printf("%u processes × %u fds; median of %u; no VFIO node changed hands "
                                                "since the last scan", nproc, nfd, reps);
        add_row(C, "GetResetInfo, 1 VFIO device", "ms", gm, fm, "≤ 0.05 × find", gm <= 0.05 * fm, note);
        add_row(C, "GetResetInfo, 1 VFIO device, right after a node event", "ms", gsm, fm, "≤ 0.5 × find",
                gsm <= 0.5 * fm, "a new /proc scan");
        add_row(C, "GetResetInfo BUS, 4 VFIO devices (info)", "ms", g4m, fm, "-", -1, "userspace bus reset planned");
        const char *how = strace ? "after a node event; strace: opens of PROC/PID/fd ÷ processes"
                                 : "not measured: no strace here";
        add_row(C, "/proc passes, 1 device", "", p1, NAN, "1", strace ? p1 <= 1.0 : -1, how);
        add_row(C, "/proc passes, 4 devices, reset_subordinate", "", p4, NAN, "1", strace ? p4 <= 1.0 : -1, NULL);
        add_row(C, "/proc passes, 4 devices, userspace bus reset", "", p4s, NAN, "1", strace ? p4s <= 1.0 : -1,
                NULL);
}
