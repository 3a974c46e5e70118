/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The big host: 4,121 functions. Start-up must take at most one lspci -mm
 * (libpci's full scan of the same tree, measured in the same run), and a
 * ListDevices call, which plans every function and reads each one's live
 * facts (driver, reset_method, ...), at most a quarter of one.
 */

#include <math.h>

#include "cases.h"
#include "client.h"
#include "host.h"
#include "options.h"
#include "pcreset1.h"
#include "report.h"
#include "stats.h"

typedef struct Watch {
        GMutex lock;
        GCond cond;
        gboolean ready, stop;
        volatile double seen_ms;
        char *error;
} Watch;

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        const char *name, *old_owner, *new_owner;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && *new_owner && w->seen_ms == 0)
                w->seen_ms = now_ms();
        return 0;
}

static gpointer watch_thread(gpointer p) {
        Watch *w = p;
        sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL,
                                     "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                                     "member='NameOwnerChanged',arg0='" PCRESET1_BUS_NAME "'",
                                     on_name_owner_changed, w);
        g_mutex_lock(&w->lock);
        if (r < 0)
                w->error = g_strdup_printf("watching the bus name: %s", g_strerror(-r));
        w->ready = TRUE;
        g_cond_signal(&w->cond);
        g_mutex_unlock(&w->lock);
        double deadline = now_ms() + HARNESS_TIMEOUT_MS + 2000;
        while (r >= 0 && w->seen_ms == 0 && !g_atomic_int_get(&w->stop) && now_ms() < deadline) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, 50000);
        }
        sd_bus_flush_close_unref(bus);
        return NULL;
}

/* Starts the daemon; returns the time from just before the spawn to the
 * NameOwnerChanged that gives it the name, or NAN. */
static double start_timed(Host *x, GError **error) {
        Watch w = {};
        g_mutex_init(&w.lock);
        g_cond_init(&w.cond);
        GThread *t = g_thread_new("watch", watch_thread, &w);
        g_mutex_lock(&w.lock);
        while (!w.ready)
                g_cond_wait(&w.cond, &w.lock);
        g_mutex_unlock(&w.lock);
        double ms = NAN;
        if (w.error)
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", w.error);
        else {
                double t0 = now_ms();
                if (host_start(x, NULL, error) >= 0) {
                        double deadline = now_ms() + 2000;
                        while (w.seen_ms == 0 && now_ms() < deadline)
                                g_usleep(1000);
                        if (w.seen_ms > 0)
                                ms = w.seen_ms - t0;
                        else
                                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no NameOwnerChanged seen");
                }
        }
        g_atomic_int_set(&w.stop, 1);
        g_thread_join(t);
        g_free(w.error);
        g_mutex_clear(&w.lock);
        g_cond_clear(&w.cond);
        return ms;
}

#define BIG_BUS_DEV "0000:03:00.1" /* a VF on the first 256-function bus */

void host_big(void) {
        const char *C = "big host";
        unsigned starts = options.smoke ? 1 : 3, lspcis = options.smoke ? 2 : 5, reps = options.smoke ? 1 : 5;
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;

        say("bringing up the big host (4,121 functions; building the tree takes a few seconds)");
        g_autoptr(Host) x = host_new("big.topo", NULL, NULL, NULL, &error);
        if (!x)
                FAIL(C, "%s", error->message);
        g_autofree char *sysfs = g_strdup_printf("sysfs.path=%s/sys/bus/pci", harness_fake_root(x->h));
        const char *lspci[] = { "lspci", "-A", "linux-sysfs", "-O", sysfs, "-mm", NULL };
        g_autofree double *ls = g_new(double, lspcis);
        g_autofree double *st = g_new(double, starts);
        g_autofree char *lsout = NULL;

        if (isnan(run_timed(lspci, &lsout, &error))) /* warms the caches for both */
                FAIL(C, "lspci: %s", error->message);
        unsigned lines = 0;
        for (const char *p = lsout; *p; p++)
                lines += *p == '\n';
        if (lines != 4121)
                FAIL(C, "lspci lists %u functions, expected 4121", lines);

        for (unsigned i = 0; i < MAX(starts, lspcis); i++) {
                if (i < lspcis && isnan(ls[i] = run_timed(lspci, NULL, &error)))
                        FAIL(C, "lspci: %s", error->message);
                if (i < starts) {
                        if (harness_daemon_pid(x->h) > 0)
                                (void) harness_stop_daemon(x->h);
                        if (isnan(st[i] = start_timed(x, &error)))
                                FAIL(C, "starting the daemon: %s", error->message);
                }
        }
        double lsm = median_of(ls, lspcis), stm = median_of(st, starts);
        say("%s: startup %.1f ms, lspci -mm %.1f ms", C, stm, lsm);
        pid_t pid = harness_daemon_pid(x->h);
        Mem m0, m1;
        if (!read_mem(pid, &m0))
                FAIL(C, "cannot read /proc/%d/status", (int) pid);

        sd_bus *bus = open_bus(&error);
        if (!bus)
                FAIL(C, "%s", error->message);
        g_autofree double *lt = g_new(double, reps);
        g_autofree double *gt = g_new(double, reps);
        g_autofree double *ft = g_new(double, reps);
        unsigned n_list = 0, n_aff = 0, n_aff1 = 0, busy = 0;
        gboolean ok = TRUE;
        for (unsigned i = 0; ok && i < reps; i++)
                ok = call_list(bus, &lt[i], &n_list, &err) >= 0 &&
                     call_info(bus, BIG_BUS_DEV, PCRESET_SCOPE_BUS, &gt[i], &n_aff, &busy, &err) >= 0 &&
                     call_info(bus, BIG_BUS_DEV, PCRESET_SCOPE_FLR, &ft[i], &n_aff1, NULL, &err) >= 0;
        sd_bus_flush_close_unref(bus);
        if (!ok)
                FAIL(C, "%s", err);
        if (n_list != 4121 || n_aff != 256 || n_aff1 != 1)
                FAIL(C, "ListDevices listed %u (expected 4121), GetResetInfo BUS %u affected (expected 256)",
                     n_list, n_aff);
        if (!read_mem(pid, &m1))
                FAIL(C, "cannot read /proc/%d/status", (int) pid);

        g_autofree char *snote = g_strdup_printf("exec to NameOwnerChanged, median of %u; lspci -mm median of %u",
                                                 starts, lspcis);
        add_row(C, "startup to name acquired", "ms", stm, lsm, "≤ 1 × lspci", stm <= lsm, snote);
        double ltm = median_of(lt, reps);
        g_autofree char *lnote = g_strdup_printf("a root caller, median of %u; lspci -mm as above", reps);
        add_row(C, "ListDevices, 4,121 functions", "ms", ltm, lsm, "≤ 0.25 × lspci", ltm <= 0.25 * lsm, lnote);
        add_row(C, "GetResetInfo BUS, 256-function bus (info)", "ms", median_of(gt, reps), lsm, "-", -1,
                "256 affected devices listed");
        add_row(C, "GetResetInfo FLR, one VF (info)", "ms", median_of(ft, reps), lsm, "-", -1, NULL);
        g_autofree char *r0 = g_strdup_printf("after startup; anon %.2f MB, file %.2f MB", m0.anon_mb, m0.file_mb);
        g_autofree char *r1 = g_strdup_printf("after the calls; anon %.2f MB, file %.2f MB", m1.anon_mb, m1.file_mb);
        add_row(C, "RSS after startup (info)", "MB", m0.rss_mb, NAN, "-", -1, r0);
        add_row(C, "RSS after the calls (info)", "MB", m1.rss_mb, NAN, "-", -1, r1);
        add_row(C, "peak RSS (VmHWM)", "MB", m1.hwm_mb, NAN, "≤ 16 MB", m1.hwm_mb <= 16, "the highest VmRSS so far");
}
