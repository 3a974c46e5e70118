/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The parallel host: 32 reset domains at once; 32 resets in one domain. The
 * FUSE log says when each reset write ran; overlaps inside a domain and the
 * order of arrival are correctness checks, not timings.
 */

#include <math.h>
#include <stdio.h>

#include "cases.h"
#include "client.h"
#include "host.h"
#include "options.h"
#include "pcreset1.h"
#include "report.h"
#include "stats.h"

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

void host_parallel(void) {
        const char *C = "parallel host";
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func(g_free);

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
