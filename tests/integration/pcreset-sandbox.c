/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcreset-sandbox: runs a command next to a real pcresetd on a fake host, in
 * the same sealed world the integration tests use (private mount namespace,
 * real /sys read-only, private system bus, the real polkitd, test users).
 * The README quick start uses it; so can anyone who wants to try the daemon
 * without touching their machine's devices.
 *
 *   pcreset-sandbox --topology FILE [--rules FILE] -- COMMAND [ARG...]
 *
 * COMMAND runs as root with DBUS_SYSTEM_BUS_ADDRESS pointing at the private
 * bus, PCRESET_FAKE_ROOT at the fake host and PCRESETD_LOG at the daemon's
 * log. The exit code is COMMAND's.
 */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

int main(int argc, char *argv[]) {
        g_autofree char *topology = NULL, *rules = NULL;
        g_auto(GStrv) command = NULL;
        GOptionEntry entries[] = {
                { "topology", 't', 0, G_OPTION_ARG_FILENAME, &topology, "Fake host description", "FILE" },
                { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &rules, "polkit rules (JavaScript)", "FILE" },
                { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &command, NULL, "-- COMMAND [ARG...]" },
                {}
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("-- COMMAND [ARG...]");
        g_autoptr(GError) error = NULL;
        g_autofree char *desc = NULL, *js = NULL;

        g_option_context_add_main_entries(ctx, entries, NULL);
        g_option_context_set_summary(ctx, "Run COMMAND next to pcresetd on a fake PCI host, sealed from this machine.");
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "pcreset-sandbox: %s\n", error->message);
                return 2;
        }
        if (!topology || !command || !command[0]) {
                fprintf(stderr, "pcreset-sandbox: need --topology FILE and a command after --\n");
                return 2;
        }
        if (!g_file_get_contents(topology, &desc, NULL, &error) ||
            (rules && !g_file_get_contents(rules, &js, NULL, &error))) {
                fprintf(stderr, "pcreset-sandbox: %s\n", error->message);
                return 2;
        }

        harness_enter_namespace();
        g_autoptr(Harness) h = harness_new(&error);
        if (!h || !harness_build_tree(h, desc, &error) || harness_start_daemon(h, NULL, &error) < 0) {
                fprintf(stderr, "pcreset-sandbox: %s\n", error ? error->message : "cannot set up");
                return 1;
        }
        if (js)
                harness_set_rules(h, js);

        g_setenv("PCRESET_FAKE_ROOT", harness_fake_root(h), TRUE);
        g_setenv("PCRESETD_LOG", harness_daemon_log(h), TRUE);
        /* copy output as it comes: the command talks to a person */
        int fd = -1;
        GPid pid = harness_spawn(h, NULL, (const char *const *) command, &fd);
        char buf[4096];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                if (fwrite(buf, 1, (size_t) n, stdout) != (size_t) n || fflush(stdout) != 0)
                        break;
        close(fd);
        int r = harness_wait(pid);
        harness_stop_daemon(h);
        return r < 0 ? 1 : r;
}
