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
 *
 * This file is the command line, the case table and main(). The parts:
 * stats.h (time and statistics), report.h (the rows, the table, the JSON),
 * host.h (a fake host and its daemon), client.h (the calls and their
 * baselines), cases.h (the cases, one case-*.c per host).
 */

#include <stdio.h>

#include "cases.h"
#include "harness.h"
#include "options.h"
#include "report.h"
#include "stats.h"

/* The cases by host, in the order they run: a host is brought up when one
 * of its cases is wanted, and runs those of them that are. */
static const struct {
        const char *cases[5]; /* the --case names, NULL-terminated */
        void (*run)(void);
} hosts[] = {
        { { "root", "unprivileged", "slow", "idle" }, host_sample },
        { { "parallel", "onedomain" }, host_parallel },
        { { "big" }, host_big },
        { { "procscan" }, host_procscan },
        { { "polkitflood", "fdflood" }, host_hostile },
        { { "scheduler" }, host_scheduler },
};

Options options;

gboolean want(const char *name) {
        if (!options.only_cases || !options.only_cases[0])
                return TRUE;
        return g_strv_contains((const char *const *) options.only_cases, name);
}

static gboolean want_any(const char *const *names) {
        for (; *names; names++)
                if (want(*names))
                        return TRUE;
        return FALSE;
}

/* "Only these: root unprivileged ...", for --help. */
static char *case_help(void) {
        GString *s = g_string_new("Only these:");
        for (size_t i = 0; i < G_N_ELEMENTS(hosts); i++)
                for (const char *const *n = hosts[i].cases; *n; n++)
                        g_string_append_printf(s, " %s", *n);
        return g_string_free(s, FALSE);
}

/* The harness reports through g_test_message(), which g_print()s "# ..."
 * lines: to stderr with our progress, so stdout is the table alone. */
static void print_to_stderr(const char *text) {
        fputs(text, stderr);
}

int main(int argc, char *argv[]) {
        g_autofree char *cases = case_help();
        GOptionEntry entries[] = {
                { "topologies", 0, 0, G_OPTION_ARG_FILENAME, &options.topodir,
                  "Fake host descriptions (bench/gen-topologies)", "DIR" },
                { "direct", 0, 0, G_OPTION_ARG_FILENAME, &options.direct_bin, "The direct-reset baseline program",
                  "BIN" },
                { "json", 0, 0, G_OPTION_ARG_FILENAME, &options.json_path, "Write the rows here", "FILE" },
                { "smoke", 0, 0, G_OPTION_ARG_NONE, &options.smoke,
                  "A short run of every case (no timing verdicts matter)", NULL },
                { "case", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.only_cases, cases, "NAME" },
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
        for (size_t i = 0; i < G_N_ELEMENTS(hosts); i++)
                if (want_any(hosts[i].cases))
                        hosts[i].run();

        double secs = (now_ms() - t0) / 1000, load1 = loadavg();
        print_report(stdout, options.smoke, secs, load0, load1);
        if (!write_json(options.json_path, options.smoke, secs, load0, load1))
                failures++;
        return failures ? 1 : 0;
}
