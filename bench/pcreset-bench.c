/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcreset-bench: the benchmark driver behind bench/run (see
 * docs/benchmarks.md). It seals itself in the integration-test world
 * (tests/integration/harness.h: private mount namespace, private system bus,
 * the real polkitd, test users), brings up one fake host after the other,
 * starts the release pcresetd on each, and measures every case against a
 * baseline taken in the same run: the same sysfs writes done directly, the
 * bare polkit round trip, lspci, find.
 *
 *   pcreset-bench --topologies DIR --direct BIN --json FILE [--smoke] [--case NAME]...
 *
 * Needs root, /dev/fuse, and the harness' environment (PCRESETD_BIN,
 * PCRESET_FAKETREE_BIN, FAKERESET_FUSE_BIN, PCRESET_SRCDIR); bench/run sets
 * it. Prints one table and writes the same rows as JSON. Exits 1 if a case
 * could not run or a correctness check failed (an overlap or a FIFO
 * violation inside a reset domain); a missed timing target is reported, never
 * a failure.
 */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"
#include "host.h"
#include "options.h"
#include "pcreset1.h"
#include "report.h"
#include "stats.h"

Options options;

gboolean want(const char *name) {
        if (!options.only_cases || !options.only_cases[0])
                return TRUE;
        return g_strv_contains((const char *const *) options.only_cases, name);
}

/* Pairs of consecutive writes to the same file that overlap in time. */
static unsigned count_overlaps(GPtrArray *sorted, const char *name) {
        unsigned n = 0;
        const FakeResetEntry *prev = NULL;
        for (guint i = 0; i < sorted->len; i++) {
                const FakeResetEntry *e = sorted->pdata[i];
                if (name && !g_str_equal(e->name, name))
                        continue;
                if (prev && e->start_ns < prev->end_ns)
                        n++;
                prev = e;
        }
        return n;
}

/* Gaps between one write's end and the next write's start to the same
 * file (name NULL: all entries), in ms, appended to gaps; the first start
 * relative to t0_ms into *first (max over calls). */
static void collect_gaps(GPtrArray *sorted, const char *name, double t0_ms, GArray *gaps, double *first) {
        const FakeResetEntry *prev = NULL;
        for (guint i = 0; i < sorted->len; i++) {
                const FakeResetEntry *e = sorted->pdata[i];
                if (name && !g_str_equal(e->name, name))
                        continue;
                if (prev) {
                        double g = ((double) e->start_ns - (double) prev->end_ns) / 1e6;
                        g_array_append_val(gaps, g);
                } else
                        *first = MAX(*first, (double) e->start_ns / 1e6 - t0_ms);
                prev = e;
        }
}

/* Most writes in progress at one instant. */
static unsigned peak_concurrency(GPtrArray *sorted) {
        unsigned peak = 0;
        for (guint i = 0; i < sorted->len; i++) {
                const FakeResetEntry *e = sorted->pdata[i];
                unsigned k = 0;
                for (guint j = 0; j < sorted->len; j++) {
                        const FakeResetEntry *o = sorted->pdata[j];
                        if (o->start_ns <= e->start_ns && o->end_ns > e->start_ns)
                                k++;
                }
                peak = MAX(peak, k);
        }
        return peak;
}

/* ======================================================================== */
/* The 50-device sample host: call overhead (root, unprivileged), a 100 ms
 * reset, the idle footprint. */

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
        }
        client_stop(c);
        harness_set_rules(x->h, NULL);
        if (!ok)
                FAIL(C, "%s", err ? err : "polkit said no");

        double b50 = percentile(bare, 50), p50 = percentile(daemon, 50);
        double b99 = percentile(bare, 99), p99 = percentile(daemon, 99);
        g_autofree char *note = g_strdup_printf("overhead over the bare round trip %.3f ms", p50 - b50);
        add_row(C, "p50 latency", "ms", p50, b50, "≤ 1.5 × base", p50 <= 1.5 * b50, note);
        add_row(C, "p99 latency (info)", "ms", p99, b99, "-", -1, NULL);
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

static void host_sample(void) {
        const char *C = "sample host";
        g_autoptr(GError) error = NULL;
        const char *specs[] = { "slow:100", NULL }, *addrs[] = { SLOW_DEV, NULL };

        if (!want("root") && !want("unprivileged") && !want("slow") && !want("idle"))
                return;
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

/* ======================================================================== */
/* 32 reset domains at once; 32 resets in one domain. */

static void case_parallel(Host *x) {
        const char *C = "parallel domains";
        unsigned per = options.smoke ? 2 : 10, ports = 32, n = ports * per, runs = options.smoke ? 1 : 3;
        g_autoptr(GError) error = NULL;
        sd_bus *buses[32] = {};
        unsigned *conn_of = g_new(unsigned, n);
        char **addrs = g_new0(char *, n + 1);
        double *done = g_new(double, n);
        double totals[3] = {}, t0 = 0, first = 0;
        g_autoptr(GArray) gaps = g_array_new(FALSE, FALSE, sizeof(double));
        unsigned overlaps = 0, peak = 0, total_entries = 0;
        g_autofree char *err = NULL;

        /* round robin: call i goes to port i % 32, on that port's connection */
        for (unsigned i = 0; i < n; i++) {
                conn_of[i] = i % ports;
                addrs[i] = g_strdup_printf("0000:%02x:00.0", 1 + i % ports);
        }
        say("%s: %u ports × %u resets of 100 ms, all sent at once, %u run(s)", C, ports, per, runs);
        for (unsigned run = 0; run < runs; run++) {
                /* fresh connections each run: sd-bus closes a connection
                 * when the event loop it is attached to exits */
                for (unsigned p = 0; p < ports; p++) {
                        if (buses[p])
                                buses[p] = sd_bus_flush_close_unref(buses[p]);
                        if (!(buses[p] = open_bus(&error))) {
                                fail(C, "%s", error->message);
                                goto out;
                        }
                }
                g_autoptr(GPtrArray) before = fuse_entries(x);
                if (!before) {
                        fail(C, "cannot read the FUSE log");
                        goto out;
                }
                guint from = before->len;
                if (!batch_resets(buses, ports, conn_of, addrs, n, &t0, done, &err)) {
                        fail(C, "%s", err);
                        goto out;
                }
                double last = 0;
                for (unsigned i = 0; i < n; i++)
                        last = MAX(last, done[i]);
                totals[run] = last - t0;

                g_autoptr(GPtrArray) log = fuse_entries(x);
                g_autoptr(GPtrArray) mine = log ? entries_with_prefix(log, from, "p") : NULL;
                if (!mine) {
                        fail(C, "cannot read the FUSE log");
                        goto out;
                }
                total_entries += mine->len;
                for (unsigned p = 0; p < ports; p++) {
                        char name[8];
                        snprintf(name, sizeof name, "p%02u", p);
                        overlaps += count_overlaps(mine, name);
                        collect_gaps(mine, name, t0, gaps, &first);
                }
                peak = MAX(peak, peak_concurrency(mine));
        }
        if (total_entries != n * runs) {
                fail(C, "the FUSE layer saw %u resets, expected %u", total_entries, n * runs);
                goto out;
        }
        {
                double ideal = per * 100.0, total = median_of(totals, runs);
                g_autofree char *note = g_strdup_printf("median of %u run(s)", runs);
                add_row(C, "total time", "ms", total, ideal, "≤ 1.10 × ideal", total <= 1.10 * ideal, note);
                add_row(C, "overlaps inside a domain", "count", overlaps, NAN, "0", overlaps == 0, "from the FUSE log");
                add_row(C, "peak resets at once (info)", "count", peak, ports, "-", -1, "from the FUSE log");
                add_row(C, "last domain's first reset starts (info)", "ms", first, NAN, "-", -1,
                        "after the first call is sent; from the FUSE log");
                g_autofree char *gnote = g_strdup_printf("p50 %.3f ms, max %.3f ms; end of one reset write to the "
                                                         "start of the next in the same domain", percentile(gaps, 50),
                                                         percentile(gaps, 100));
                add_row(C, "handoff inside a domain, mean (info)", "ms", mean(gaps), NAN, "-", -1, gnote);
                if (overlaps)
                        failures++, g_printerr("pcreset-bench: %s: ERROR: %u overlapping resets inside a domain\n", C,
                                               overlaps);
        }
out:
        for (unsigned p = 0; p < ports; p++)
                if (buses[p])
                        sd_bus_flush_close_unref(buses[p]);
        g_strfreev(addrs);
        g_free(conn_of);
        g_free(done);
}

static void case_one_domain(Host *x) {
        const char *C = "one domain";
        unsigned n = options.smoke ? 8 : 32;
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        g_autofree unsigned *conn_of = g_new0(unsigned, n);
        g_autofree double *done = g_new(double, n);
        g_auto(GStrv) addrs = g_new0(char *, n + 1);
        double t0;

        for (unsigned i = 0; i < n; i++)
                addrs[i] = g_strdup_printf("0000:21:%02x.0", i);
        sd_bus *bus = open_bus(&error);
        if (!bus)
                FAIL(C, "%s", error->message);
        g_autoptr(GPtrArray) before = fuse_entries(x);
        say("%s: %u resets of 100 ms below one bridge, all sent at once", C, n);
        gboolean ok = before && batch_resets(&bus, 1, conn_of, addrs, n, &t0, done, &err);
        sd_bus_flush_close_unref(bus);
        if (!ok)
                FAIL(C, "%s", err ? err : "cannot read the FUSE log");

        double last = 0;
        for (unsigned i = 0; i < n; i++)
                last = MAX(last, done[i]);
        g_autoptr(GPtrArray) log = fuse_entries(x);
        g_autoptr(GPtrArray) mine = log ? entries_with_prefix(log, before->len, "d") : NULL;
        if (!mine || mine->len != n)
                FAIL(C, "the FUSE layer saw %u resets, expected %u", mine ? mine->len : 0, n);
        unsigned order = 0;
        for (unsigned i = 0; i < n; i++) {
                char name[8];
                snprintf(name, sizeof name, "d%02u", i);
                order += !g_str_equal(((FakeResetEntry *) mine->pdata[i])->name, name);
        }
        unsigned overlaps = count_overlaps(mine, NULL);
        double serial = n * 100.0, total = last - t0, first = 0;
        g_autoptr(GArray) gaps = g_array_new(FALSE, FALSE, sizeof(double));
        collect_gaps(mine, NULL, t0, gaps, &first);
        add_row(C, "total time", "ms", total, serial, "≤ 1.05 × serial", total <= 1.05 * serial, NULL);
        g_autofree char *gnote = g_strdup_printf("p50 %.3f ms, max %.3f ms; first reset starts %.3f ms after the "
                                                 "first call", percentile(gaps, 50), percentile(gaps, 100), first);
        add_row(C, "handoff between resets, mean (info)", "ms", mean(gaps), NAN, "-", -1, gnote);
        add_row(C, "out of arrival order", "count", order, NAN, "0 (FIFO)", order == 0, "from the FUSE log");
        add_row(C, "overlaps", "count", overlaps, NAN, "0", overlaps == 0, "from the FUSE log");
        if (order || overlaps)
                failures++, g_printerr("pcreset-bench: %s: ERROR: %u out of order, %u overlapping\n", C, order,
                                       overlaps);
}

static void host_parallel(void) {
        const char *C = "parallel host";
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func(g_free);

        if (!want("parallel") && !want("onedomain"))
                return;
        for (unsigned i = 0; i < 32; i++) {
                g_ptr_array_add(specs, g_strdup_printf("p%02u:100", i));
                g_ptr_array_add(addrs, g_strdup_printf("0000:%02x:00.0", 1 + i));
        }
        for (unsigned i = 0; i < 32; i++) {
                g_ptr_array_add(specs, g_strdup_printf("d%02u:100", i));
                g_ptr_array_add(addrs, g_strdup_printf("0000:21:%02x.0", i));
        }
        g_ptr_array_add(specs, NULL);
        g_ptr_array_add(addrs, NULL);
        say("bringing up the parallel host (32 + 1 reset domains, 64 FUSE reset files)");
        g_autoptr(Host) x = host_new("parallel.topo", (const char *const *) specs->pdata,
                                     (const char *const *) addrs->pdata,
                                     "[Limits]\nMaxQueuedPerUser=1000\nMaxParallelResets=64\n", &error);
        if (!x || host_start(x, NULL, &error) < 0)
                FAIL(C, "%s", error->message);
        if (want("parallel"))
                case_parallel(x);
        if (want("onedomain"))
                case_one_domain(x);
}

/* ======================================================================== */
/* 4,121 functions. */

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

static void host_big(void) {
        const char *C = "big host";
        unsigned starts = options.smoke ? 1 : 3, lspcis = options.smoke ? 2 : 5, reps = options.smoke ? 1 : 5;
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;

        if (!want("big"))
                return;
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
        add_row(C, "ListDevices, 4,121 functions (info)", "ms", median_of(lt, reps), lsm, "-", -1, NULL);
        add_row(C, "GetResetInfo BUS, 256-function bus (info)", "ms", median_of(gt, reps), lsm, "-", -1,
                "256 affected devices listed");
        add_row(C, "GetResetInfo FLR, one VF (info)", "ms", median_of(ft, reps), lsm, "-", -1, NULL);
        g_autofree char *r0 = g_strdup_printf("after startup; anon %.2f MB, file %.2f MB", m0.anon_mb, m0.file_mb);
        g_autofree char *r1 = g_strdup_printf("after the calls; anon %.2f MB, file %.2f MB", m1.anon_mb, m1.file_mb);
        add_row(C, "RSS after startup (info)", "MB", m0.rss_mb, NAN, "-", -1, r0);
        add_row(C, "RSS after the calls (info)", "MB", m1.rss_mb, NAN, "-", -1, r1);
        add_row(C, "peak RSS (VmHWM)", "MB", m1.hwm_mb, NAN, "≤ 16 MB", m1.hwm_mb <= 16, "the highest VmRSS so far");
}

/* ======================================================================== */
/* The open-handle scan: a fake /proc of 5,000 processes × 20 fds. */

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
                        char text[128], link[4096];
                        if (i == holder && fd == 7)
                                snprintf(text, sizeof text, "/dev/vfio/" HOLDER_GROUP);
                        else if (i == holder && fd == 6)
                                snprintf(text, sizeof text, "/dev/vfio/vfio");
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

/* How many times one GetResetInfo walks the fake /proc: strace counts the
 * opens of PROC/PID/fd and divides by the number of processes. */
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
        int r = attached ? call_info(bus, addr, mask, &ms, NULL, NULL, err) : -1;
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
        g_autoptr(GRegex) re = g_regex_new("/proc/[0-9]+/fd\"", 0, 0, NULL);
        g_autoptr(GMatchInfo) mi = NULL;
        unsigned opens = 0;
        g_regex_match(re, log, 0, &mi);
        while (g_match_info_matches(mi)) {
                opens++;
                g_match_info_next(mi, NULL);
        }
        return (double) opens / nproc;
}

static void host_procscan(void) {
        const char *C = "open-handle scan";
        unsigned nproc = options.smoke ? 500 : 5000, nfd = 20, reps = options.smoke ? 3 : 7;
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;

        if (!want("procscan"))
                return;
        say("bringing up the open-handle host (%u processes × %u fds)", nproc, nfd);
        g_autoptr(Host) x = host_new("procscan.topo", NULL, NULL, NULL, &error);
        if (!x)
                FAIL(C, "%s", error->message);
        g_autofree char *proc = g_build_filename(harness_fake_root(x->h), "proc", NULL);
        if (!make_fake_proc(proc, nproc, nfd, nproc / 2, &error) || host_start(x, NULL, &error) < 0)
                FAIL(C, "%s", error->message);

        const char *find[] = { "find", proc, "-lname", "/dev/vfio/*", NULL };
        g_autofree char *fout = NULL;
        g_autofree double *ft = g_new(double, reps);
        g_autofree double *gt = g_new(double, reps);
        g_autofree double *g4 = g_new(double, reps);
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
                     call_info(bus, "0000:02:00.0", PCRESET_SCOPE_BUS, &g4[i], &n4, NULL, &err) >= 0;
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

        double fm = median_of(ft, reps), gm = median_of(gt, reps), g4m = median_of(g4, reps);
        g_autofree char *note = g_strdup_printf("%u processes × %u fds; median of %u", nproc, nfd, reps);
        add_row(C, "GetResetInfo, 1 VFIO device", "ms", gm, fm, "≤ 0.5 × find", gm <= 0.5 * fm, note);
        add_row(C, "GetResetInfo BUS, 4 VFIO devices (info)", "ms", g4m, fm, "-", -1, "userspace bus reset planned");
        const char *how = strace ? "strace: opens of PROC/PID/fd ÷ processes" : "not measured: no strace here";
        add_row(C, "/proc passes, 1 device", "", p1, NAN, "1", strace ? p1 <= 1.0 : -1, how);
        add_row(C, "/proc passes, 4 devices, reset_subordinate", "", p4, NAN, "1", strace ? p4 <= 1.0 : -1, NULL);
        add_row(C, "/proc passes, 4 devices, userspace bus reset", "", p4s, NAN, "1", strace ? p4s <= 1.0 : -1,
                NULL);
}

/* ======================================================================== */

/* The harness reports through g_test_message(), which g_print()s "# ..."
 * lines: to stderr with our progress, so stdout is the table alone. */
static void print_to_stderr(const char *text) {
        fputs(text, stderr);
}

int main(int argc, char *argv[]) {
        GOptionEntry entries[] = {
                { "topologies", 0, 0, G_OPTION_ARG_FILENAME, &options.topodir,
                  "Fake host descriptions (bench/gen-topologies)", "DIR" },
                { "direct", 0, 0, G_OPTION_ARG_FILENAME, &options.direct_bin, "The direct-reset baseline program",
                  "BIN" },
                { "json", 0, 0, G_OPTION_ARG_FILENAME, &options.json_path, "Write the rows here", "FILE" },
                { "smoke", 0, 0, G_OPTION_ARG_NONE, &options.smoke,
                  "A short run of every case (no timing verdicts matter)", NULL },
                { "case", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.only_cases,
                  "Only these: root unprivileged slow idle parallel onedomain big procscan", "NAME" },
                {}
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
        g_autoptr(GError) error = NULL;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "pcreset-bench: %s\n", error->message);
                return 2;
        }
        if (!options.topodir || !options.direct_bin || !options.json_path) {
                fprintf(stderr, "pcreset-bench: need --topologies, --direct and --json\n");
                return 2;
        }
        g_set_print_handler(print_to_stderr);
        double t0 = now_ms();
        report_init(t0);
        double load0 = loadavg();

        harness_enter_namespace();
        host_sample();
        host_parallel();
        host_big();
        host_procscan();

        double secs = (now_ms() - t0) / 1000, load1 = loadavg();
        print_report(stdout, options.smoke, secs, load0, load1);
        if (!write_json(options.json_path, options.smoke, secs, load0, load1))
                failures++;
        return failures ? 1 : 0;
}
