/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The 50-device sample host: call overhead (root, unprivileged), a 100 ms
 * reset, the idle footprint.
 */

#include <math.h>
#include <string.h>

#include "cases.h"
#include "client.h"
#include "host.h"
#include "options.h"
#include "pcreset1.h"
#include "report.h"
#include "stats.h"

#define FAST_DEV "0000:10:00.0"
#define SLOW_DEV "0000:11:00.0"

static void case_call_root(Host *x, sd_bus *bus) {
        const char *C = "call overhead, root";
        unsigned n = options.smoke ? 200 : 2000, blocks = 4, warm = options.smoke ? 20 : 100;
        g_autoptr(GArray) direct = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) daemon = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(double));
        g_autofree char *err = NULL;

        say("%s: %u ResetDevice FLR calls against %u direct resets, in %u alternating blocks", C, n, n, blocks);
        if (!run_direct(x, FAST_DEV, "flr", warm, scratch, &err) ||
            !reset_loop(bus, FAST_DEV, PCRESET_SCOPE_FLR, warm, NULL, &err))
                FAIL(C, "%s", err);
        for (unsigned b = 0; b < blocks; b++)
                if (!run_direct(x, FAST_DEV, "flr", n / blocks, direct, &err) ||
                    !reset_loop(bus, FAST_DEV, PCRESET_SCOPE_FLR, n / blocks, daemon, &err))
                        FAIL(C, "%s", err);

        /* where the overhead goes: the bus alone, and the same request
         * without the worker and the reset */
        g_autoptr(GArray) ping = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) info = g_array_new(FALSE, FALSE, sizeof(double));
        for (unsigned i = 0; i < n / 4; i++) {
                double a, b;
                if (call_ping(bus, &a, &err) < 0 ||
                    call_info(bus, FAST_DEV, PCRESET_SCOPE_FLR, &b, NULL, NULL, &err) < 0)
                        FAIL(C, "%s", err);
                g_array_append_val(ping, a);
                g_array_append_val(info, b);
        }

        double d50 = percentile(direct, 50), d99 = percentile(direct, 99);
        double p50 = percentile(daemon, 50), p99 = percentile(daemon, 99);
        g_autofree char *n50 = g_strdup_printf("overhead %.3f ms", p50 - d50);
        g_autofree char *n99 = g_strdup_printf("overhead %.3f ms", p99 - d99);
        add_row(C, "p50 latency", "ms", p50, d50, "≤ base + 0.5 ms", p50 - d50 <= 0.5, n50);
        add_row(C, "p99 latency", "ms", p99, d99, "≤ base + 2 ms", p99 - d99 <= 2.0, n99);
        add_row(C, "p50 overhead (info)", "ms", p50 - d50, NAN, "-", -1, "the p50 latency row holds the verdict");
        add_row(C, "p99 overhead (info)", "ms", p99 - d99, NAN, "-", -1, "the p99 latency row holds the verdict");
        add_row(C, "p50 Peer.Ping to the daemon (info)", "ms", percentile(ping, 50), NAN, "-", -1,
                "the bus round trip alone");
        add_row(C, "p50 GetResetInfo, same device (info)", "ms", percentile(info, 50), NAN, "-", -1,
                "caller lookup, rescan, plan, ownership; no worker, no reset");
}

/* The same calls with the state dir on this machine's disk instead of a
 * tmpfs: what the fsync of the in-flight record costs there. */
static void case_call_root_disk(Host *x) {
        const char *C = "call overhead, root";
        unsigned n = options.smoke ? 100 : 500;
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = g_build_filename(harness_dir(x->h), "state-on-disk", NULL);
        g_autofree char *err = NULL;
        g_autoptr(GArray) direct = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) daemon = g_array_new(FALSE, FALSE, sizeof(double));

        (void) harness_stop_daemon(x->h);
        const char *args[] = { "--state-dir", dir, NULL };
        if (host_start(x, args, &error) < 0)
                FAIL(C, "restarting with the state dir on disk: %s", error->message);
        sd_bus *bus = open_bus(&error);
        if (!bus)
                FAIL(C, "%s", error->message);
        say("%s: %u calls with the state dir on disk", C, n);
        gboolean ok = reset_loop(bus, FAST_DEV, PCRESET_SCOPE_FLR, 20, NULL, &err) &&
                      run_direct(x, FAST_DEV, "flr", n, direct, &err) &&
                      reset_loop(bus, FAST_DEV, PCRESET_SCOPE_FLR, n, daemon, &err);
        sd_bus_flush_close_unref(bus);
        (void) harness_stop_daemon(x->h);
        if (!ok)
                FAIL(C, "%s", err);
        if (host_start(x, NULL, &error) < 0)
                FAIL(C, "restarting: %s", error->message);
        double d50 = percentile(direct, 50), p50 = percentile(daemon, 50);
        g_autofree char *note = g_strdup_printf("overhead %.3f ms; the in-flight record is fsynced on the disk",
                                                p50 - d50);
        add_row(C, "p50, state dir on disk (info)", "ms", p50, d50, "-", -1, note);
}

static void case_call_unpriv(Host *x, sd_bus *bus) {
        const char *C = "call overhead, unprivileged";
        unsigned n = options.smoke ? 100 : 2000, blocks = 4, warm = options.smoke ? 10 : 50;
        g_autoptr(GArray) bare = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) daemon = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) root = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        /* what pcresetd passes for an FLR of FAST_DEV */
        const char *details[] = { "device", FAST_DEV, "vendor", "8086", "product", "10d3", "scope", "flr",
                                  "mask", "0x00000002", "affected", FAST_DEV, NULL };

        harness_set_rules(x->h,
                          "polkit.addRule(function(action, subject) {\n"
                          "        if (action.id == \"org.freedesktop.pcreset1.reset\" &&\n"
                          "            subject.user == \"" HARNESS_USER_ALICE "\")\n"
                          "                return polkit.Result.YES;\n"
                          "        return polkit.Result.NOT_HANDLED;\n"
                          "});\n");
        Client *c = client_start(HARNESS_UID_ALICE, HARNESS_UID_ALICE, &error);
        if (!c)
                FAIL(C, "%s", error->message);
        say("%s: %u ResetDevice calls as %s (polkit rule) against %u bare CheckAuthorization", C, n,
            HARNESS_USER_ALICE, n);

        gboolean ok = client_resets(c, FAST_DEV, PCRESET_SCOPE_FLR, warm, scratch, &err);
        for (unsigned i = 0; ok && i < warm; i++) {
                double ms;
                int r = call_polkit(bus, c->unique_name, details, &ms, &err);
                if (r == 0)
                        err = g_strdup("polkit says no: the rule is not in effect"), ok = FALSE;
                else if (r < 0)
                        ok = FALSE;
        }
        for (unsigned b = 0; ok && b < blocks; b++) {
                for (unsigned i = 0; ok && i < n / blocks; i++) {
                        double ms;
                        ok = call_polkit(bus, c->unique_name, details, &ms, &err) == 1;
                        g_array_append_val(bare, ms);
                }
                ok = ok && client_resets(c, FAST_DEV, PCRESET_SCOPE_FLR, n / blocks, daemon, &err);
                /* the same reset by root (no polkit): with the bare round
                 * trip, the floor of an unprivileged call */
                ok = ok && reset_loop(bus, FAST_DEV, PCRESET_SCOPE_FLR, n / blocks, root, &err);
        }
        client_stop(c);
        harness_set_rules(x->h, NULL);
        if (!ok)
                FAIL(C, "%s", err ? err : "polkit said no");

        double b50 = percentile(bare, 50), p50 = percentile(daemon, 50);
        double b99 = percentile(bare, 99), p99 = percentile(daemon, 99);
        g_autofree char *note = g_strdup_printf("overhead over the bare round trip %.3f ms", p50 - b50);
        add_row(C, "p50 latency", "ms", p50, b50, "≤ 1.2 × base", p50 <= 1.2 * b50, note);
        add_row(C, "p99 latency (info)", "ms", p99, b99, "-", -1, NULL);
        /* An unprivileged call is a polkit round trip plus a whole root
         * call: the sum of their medians estimates its floor (the median
         * of a sum is not the sum of medians: "above" may come out
         * negative), and what it costs above it is the price of asking
         * (the first decision, the re-dispatch). */
        double floor50 = b50 + percentile(root, 50);
        g_autofree char *fnote = g_strdup_printf("bare polkit p50 + root ResetDevice p50 (%.3f ms), same blocks: "
                                                 "a sum of medians, an estimate and not a bound",
                                                 percentile(root, 50));
        add_row(C, "p50 floor: bare + root call (info)", "ms", floor50, b50, "-", -1, fnote);
        add_row(C, "p50 above the floor (info)", "ms", p50 - floor50, NAN, "-", -1, NULL);
}

/* For each span (start, end) in order, the time from its start to the
 * start of the matching FUSE write, and from that write's end to its end:
 * the i-th span goes with the i-th entry of writes (sorted by start). */
static gboolean split_spans(GArray *spans, GPtrArray *writes, GArray *before, GArray *after) {
        if (writes->len != spans->len / 2)
                return FALSE;
        for (guint i = 0; i < writes->len; i++) {
                const FakeResetEntry *e = writes->pdata[i];
                double s = g_array_index(spans, double, 2 * i), t = g_array_index(spans, double, 2 * i + 1);
                double b = (double) e->start_ns / 1e6 - s, a = t - (double) e->end_ns / 1e6;
                g_array_append_val(before, b);
                g_array_append_val(after, a);
        }
        return TRUE;
}

static void case_slow_reset(Host *x, sd_bus *bus) {
        const char *C = "simulated real reset";
        unsigned n = options.smoke ? 4 : 50;
        g_autoptr(GArray) direct = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) daemon = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) dspans = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) pspans = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) db = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) da = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) pb = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) pa = g_array_new(FALSE, FALSE, sizeof(double));
        g_autofree char *err = NULL;

        say("%s: %u FLRs whose reset write blocks 100 ms, through the daemon and directly", C, n);
        for (unsigned b = 0; b < 2; b++) {
                g_autoptr(GPtrArray) log0 = fuse_entries(x);
                if (!log0 || !run_direct_spans(x, SLOW_DEV, "flr", n / 2, direct, dspans, &err))
                        FAIL(C, "%s", err ? err : "cannot read the FUSE log");
                g_autoptr(GPtrArray) log1 = fuse_entries(x);
                if (!log1 || !reset_loop_spans(bus, SLOW_DEV, PCRESET_SCOPE_FLR, n / 2, daemon, pspans, &err))
                        FAIL(C, "%s", err ? err : "cannot read the FUSE log");
                g_autoptr(GPtrArray) log2 = fuse_entries(x);
                g_autoptr(GPtrArray) wd = entries_with_prefix(log1, log0->len, "slow");
                g_autoptr(GPtrArray) wp = log2 ? entries_with_prefix(log2, log1->len, "slow") : NULL;
                /* the arrays hold this block's spans at their end */
                g_autoptr(GArray) ds = g_array_new(FALSE, FALSE, sizeof(double));
                g_autoptr(GArray) ps = g_array_new(FALSE, FALSE, sizeof(double));
                g_array_append_vals(ds, &g_array_index(dspans, double, dspans->len - n / 2 * 2), n / 2 * 2);
                g_array_append_vals(ps, &g_array_index(pspans, double, pspans->len - n / 2 * 2), n / 2 * 2);
                if (!wp || !split_spans(ds, wd, db, da) || !split_spans(ps, wp, pb, pa))
                        FAIL(C, "the FUSE log does not have one write per reset");
        }
        double d50 = percentile(direct, 50), p50 = percentile(daemon, 50);
        add_row(C, "p50 per reset", "ms", p50, d50, "≤ 1.02 × base", p50 <= 1.02 * d50, NULL);
        add_row(C, "mean per reset (info)", "ms", mean(daemon), mean(direct), "-", -1, NULL);
        add_row(C, "p50 from the call to the reset write (info)", "ms", percentile(pb, 50), percentile(db, 50), "-",
                -1, "from the FUSE log");
        add_row(C, "p50 from the reset write to the answer (info)", "ms", percentile(pa, 50), percentile(da, 50), "-",
                -1, "from the FUSE log");
}

static void case_idle(Host *x) {
        const char *C = "idle footprint";
        double window = options.smoke ? 1.0 : 5.0;
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        double ms;
        unsigned k;

        /* a fresh daemon that has served one of each */
        (void) harness_stop_daemon(x->h);
        if (host_start(x, NULL, &error) < 0)
                FAIL(C, "%s", error->message);
        sd_bus *bus = open_bus(&error);
        if (!bus)
                FAIL(C, "%s", error->message);
        gboolean ok = call_info(bus, FAST_DEV, PCRESET_SCOPE_FUNC, &ms, NULL, NULL, &err) >= 0 &&
                      call_list(bus, &ms, &k, &err) >= 0 && call_reset(bus, FAST_DEV, PCRESET_SCOPE_FLR, &ms, &err) >= 0;
        sd_bus_flush_close_unref(bus);
        if (!ok)
                FAIL(C, "%s", err);
        if (k != 50)
                FAIL(C, "ListDevices lists %u devices, expected 50", k);
        g_usleep(500 * 1000); /* our disconnect reaches it as NameOwnerChanged */

        pid_t pid = harness_daemon_pid(x->h);
        Mem m;
        guint64 runs0, runs1;
        if (!read_mem(pid, &m) || !read_runs(pid, &runs0))
                FAIL(C, "cannot read /proc/%d", (int) pid);
        say("%s: watching pid %d idle for %.0f s", C, (int) pid, window);

        /* perf counts the syscalls (all, and the epoll waits) over the
         * window, if it can; "<not counted>" means no thread ran at all */
        g_autofree char *pid_s = g_strdup_printf("%d", (int) pid), *secs = g_strdup_printf("%.0f", window);
        g_autofree char *perf_out = NULL, *perf_err = NULL;
        const char *perf[] = { "perf", "stat", "-x", ",", "-e",
                               "raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,"
                               "syscalls:sys_enter_epoll_pwait2",
                               "-p", pid_s, "--", "sleep", secs, NULL };
        int status = -1;
        double syscalls = NAN, epolls = 0;
        double t0 = now_ms();
        if (g_spawn_sync(NULL, (char **) perf, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &perf_out, &perf_err, &status,
                         NULL) &&
            g_spawn_check_wait_status(status, NULL)) {
                g_auto(GStrv) lines = g_strsplit(perf_err, "\n", -1);
                for (char **l = lines; *l; l++) {
                        double v = g_str_has_prefix(*l, "<not counted>") ? 0 : g_ascii_strtod(*l, NULL);
                        if (!g_ascii_isdigit(**l) && !g_str_has_prefix(*l, "<not counted>"))
                                continue;
                        if (strstr(*l, ",raw_syscalls:sys_enter,"))
                                syscalls = v;
                        else if (strstr(*l, "sys_enter_epoll"))
                                epolls += v;
                }
        } else
                g_usleep((gulong) (window * 1e6));
        double secs_real = (now_ms() - t0) / 1000;
        if (!read_runs(pid, &runs1))
                FAIL(C, "cannot read /proc/%d", (int) pid);

        g_autofree char *mnote = g_strdup_printf("anon %.2f MB, file %.2f MB; peak (VmHWM) %.2f MB", m.anon_mb,
                                                 m.file_mb, m.hwm_mb);
        add_row(C, "RSS (VmRSS)", "MB", m.rss_mb, NAN, "≤ 4 MB", m.rss_mb <= 4.0, mnote);
        add_row(C, "wakeups per second (schedstat)", "/s", (double) (runs1 - runs0) / secs_real, NAN, "0",
                runs1 == runs0, "times any thread of the daemon was scheduled in");
        g_autofree char *pnote = g_strdup_printf("of which epoll waits: %.0f in %.0f s", epolls, window);
        if (!isnan(syscalls))
                add_row(C, "syscalls per second (perf)", "/s", syscalls / window, NAN, "0", syscalls == 0, pnote);
        else
                add_row(C, "syscalls per second (perf)", "/s", NAN, NAN, "0", -1, "perf not usable here");

        /* not idle by itself: other clients connecting to the bus */
        unsigned conns = 20;
        if (!read_runs(pid, &runs0))
                return;
        for (unsigned i = 0; i < conns; i++) {
                sd_bus *b = open_bus(NULL);
                if (b) {
                        (void) sd_bus_get_unique_name(b, NULL);
                        sd_bus_flush_close_unref(b);
                }
        }
        g_usleep(300 * 1000);
        if (read_runs(pid, &runs1))
                add_row(C, "wakeups per unrelated bus client (info)", "", (double) (runs1 - runs0) / conns, NAN, "-",
                        -1, "a client that connects to the system bus and leaves, never calling pcresetd");
}

void host_sample(void) {
        const char *C = "sample host";
        g_autoptr(GError) error = NULL;
        const char *specs[] = { "slow:100", NULL }, *addrs[] = { SLOW_DEV, NULL };

        say("bringing up the 50-device sample host");
        /* 2,000+ calls by one unprivileged uid: no per-minute limit */
        g_autoptr(Host) x = host_new("sample50.topo", specs, addrs, "[Limits]\nMaxResetsPerMinute=100000\n", &error);
        if (!x || host_start(x, NULL, &error) < 0)
                FAIL(C, "%s", error->message);
        sd_bus *bus = open_bus(&error);
        if (!bus)
                FAIL(C, "%s", error->message);
        if (want("root"))
                case_call_root(x, bus);
        if (want("unprivileged"))
                case_call_unpriv(x, bus);
        if (want("slow"))
                case_slow_reset(x, bus);
        sd_bus_flush_close_unref(bus);
        if (want("root"))
                case_call_root_disk(x);
        if (want("idle"))
                case_idle(x);
}
