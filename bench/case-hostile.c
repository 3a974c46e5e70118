/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile load on the open-handle host, the daemon reading the real /proc:
 *
 *  polkitflood  bob, whom polkit refuses, floods ResetDevice; alice's
 *               authorized resets meanwhile, against hers without the flood
 *  fdflood      bob holds 100,000 fds and floods resets of a VFIO device
 *               (each needs a fresh /proc scan); root's GetResetInfo of an
 *               unrelated device meanwhile
 *
 * The floods are tests/integration/flood and fdhog (FLOOD_BIN, FDHOG_BIN),
 * run as the test user bob.
 */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cases.h"
#include "client.h"
#include "host.h"
#include "options.h"
#include "pcreset1.h"
#include "report.h"
#include "stats.h"

#define NIC "0000:04:00.0"   /* no driver, no VFIO: its verdicts need no scan */
#define VFIO_DEV "0000:01:00.0"

/* What flood printed: "ok 12", "org.freedesktop.DBus.Error.AccessDenied 3" */
static char *read_output(int fd) {
        GString *s = g_string_new(NULL);
        char buf[512];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                g_string_append_len(s, buf, n);
        close(fd);
        g_strstrip(s->str);
        for (char *p = s->str; *p; p++)
                if (*p == '\n')
                        *p = ';';
        return g_string_free(s, FALSE);
}

static GPid start_flood(Host *x, const char *seconds, const char *method, const char *addr, int *out_fd) {
        const char *argv[] = { g_getenv("FLOOD_BIN"), seconds, "8", "16", method, addr, "2", NULL };
        return harness_spawn(x->h, HARNESS_USER_BOB, argv, out_fd);
}

static void case_polkit_flood(Host *x) {
        const char *C = "polkit flood";
        unsigned n = options.smoke ? 40 : 400;
        g_autoptr(GArray) quiet = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) loaded = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;

        harness_set_rules(x->h,
                          "polkit.addRule(function(action, subject) {\n"
                          "        if (action.id == \"org.freedesktop.pcreset1.reset\")\n"
                          "                return subject.user == \"" HARNESS_USER_ALICE "\" ?\n"
                          "                        polkit.Result.YES : polkit.Result.NO;\n"
                          "        return polkit.Result.NOT_HANDLED;\n"
                          "});\n");
        Client *c = client_start(HARNESS_UID_ALICE, HARNESS_UID_ALICE, &error);
        if (!c)
                FAIL(C, "%s", error->message);
        say("%s: %u of alice's resets alone, then %u while bob floods refused ones", C, n, n);
        gboolean ok = client_resets(c, NIC, PCRESET_SCOPE_FLR, n / 10, quiet, &err);   /* warm-up */
        g_array_set_size(quiet, 0);
        ok = ok && client_resets(c, NIC, PCRESET_SCOPE_FLR, n, quiet, &err);
        int fd = -1;
        GPid p = ok ? start_flood(x, options.smoke ? "3" : "8", "ResetDevice", NIC, &fd) : 0;
        if (ok) {
                g_usleep(500 * 1000);   /* the flood fills what it can */
                ok = client_resets(c, NIC, PCRESET_SCOPE_FLR, n, loaded, &err);
                if (!ok)
                        err = g_strdup_printf("one of alice's authorized resets failed during the flood: %s", err);
        }
        int rc = p ? harness_wait(p) : 0;
        g_autofree char *out = p ? read_output(fd) : NULL;
        client_stop(c);
        harness_set_rules(x->h, NULL);
        if (!ok)
                FAIL(C, "%s", err);
        if (rc != 0 || !strstr(out, "AccessDenied"))
                FAIL(C, "the flood did not run as meant (exit %d): %s", rc, out);

        double q99 = percentile(quiet, 99), l99 = percentile(loaded, 99);
        g_autofree char *note = g_strdup_printf("baseline: the same calls without the flood; all succeeded; bob's "
                                                "answers: %s", out);
        add_row(C, "alice's authorized reset, p99", "ms", l99, q99, "≤ 2 × base", l99 <= 2 * q99, note);
        add_row(C, "alice's authorized reset, p50 (info)", "ms", percentile(loaded, 50), percentile(quiet, 50), "-", -1,
                NULL);
}

static void case_fd_flood(Host *x, sd_bus *bus) {
        const char *C = "fd flood";
        unsigned n = options.smoke ? 40 : 400;
        const char *nfds = options.smoke ? "20000" : "100000";
        g_autoptr(GArray) quiet = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) loaded = g_array_new(FALSE, FALSE, sizeof(double));
        g_autofree char *err = NULL;
        gboolean ok = TRUE;

        for (unsigned i = 0; ok && i < n; i++) {
                double ms;
                ok = call_info(bus, NIC, PCRESET_SCOPE_FLR, &ms, NULL, NULL, &err) >= 0;
                g_array_append_val(quiet, ms);
        }
        const char *hog[] = { g_getenv("FDHOG_BIN"), nfds, NULL };
        int hog_fd = -1;
        GPid hp = ok ? harness_spawn(x->h, HARNESS_USER_BOB, hog, &hog_fd) : 0;
        char ready[16] = "";
        if (ok && (read(hog_fd, ready, sizeof ready - 1) <= 0 || !g_str_has_prefix(ready, "ready")))
                err = g_strdup_printf("fdhog did not get its %s fds", nfds), ok = FALSE;

        /* one scan's cost now: bob's reset needs a fresh one (and is refused) */
        say("%s: bob holds %s fds; root's GetResetInfo of an unrelated device while bob floods resets", C, nfds);
        double scan_ms = NAN;
        if (ok) {
                double t0 = now_ms();
                const char *one[] = { "gdbus", "call", "--system", "--dest=" PCRESET1_BUS_NAME,
                                      "--object-path=" PCRESET1_OBJECT_PATH,
                                      "--method=" PCRESET1_MANAGER_INTERFACE ".ResetDevice", VFIO_DEV, "uint32 2",
                                      NULL };
                (void) harness_wait(harness_spawn(x->h, HARNESS_USER_BOB, one, NULL));
                scan_ms = now_ms() - t0;
        }
        int fd = -1;
        GPid p = ok ? start_flood(x, options.smoke ? "3" : "8", "ResetDevice", VFIO_DEV, &fd) : 0;
        if (ok)
                g_usleep(300 * 1000);
        for (unsigned i = 0; ok && i < n; i++) {
                double ms;
                ok = call_info(bus, NIC, PCRESET_SCOPE_FLR, &ms, NULL, NULL, &err) >= 0;
                g_array_append_val(loaded, ms);
                g_usleep(10 * 1000);
        }
        int rc = p ? harness_wait(p) : 0;
        g_autofree char *out = p ? read_output(fd) : NULL;
        if (hp) {
                harness_kill(hp);
                close(hog_fd);
        }
        if (!ok)
                FAIL(C, "%s", err);
        if (rc != 0)
                FAIL(C, "the flood did not run as meant (exit %d): %s", rc, out);

        double l99 = percentile(loaded, 99);
        g_autofree char *note = g_strdup_printf("baseline: the same calls before bob's fds; bob's flood: %s", out);
        add_row(C, "root's unrelated GetResetInfo, p99", "ms", l99, percentile(quiet, 99), "≤ 50 ms", l99 <= 50,
                note);
        g_autofree char *what = g_strdup_printf("one /proc scan with %s fds held (info)", nfds);
        add_row(C, what, "ms", scan_ms, NAN, "-", -1, "bob's ResetDevice of a VFIO device, refused after it");
}

void host_hostile(void) {
        g_autoptr(GError) error = NULL;
        const char *args[] = { "--proc-root", "/proc", NULL };

        if (!g_getenv("FLOOD_BIN") || !g_getenv("FDHOG_BIN")) {
                fail("hostile load", "FLOOD_BIN and FDHOG_BIN are not set (bench/run sets them)");
                return;
        }
        say("bringing up the open-handle host on the real /proc");
        /* alice resets the NIC hundreds of times a minute */
        g_autoptr(Host) x = host_new("procscan.topo", NULL, NULL, "[Limits]\nMaxResetsPerMinute=100000\n", &error);
        if (!x || host_start(x, args, &error) < 0) {
                fail("hostile load", "%s", error->message);
                return;
        }
        sd_bus *bus = open_bus(&error);
        if (!bus) {
                fail("hostile load", "%s", error->message);
                return;
        }
        if (want("polkitflood"))
                case_polkit_flood(x);
        if (want("fdflood"))
                case_fd_flood(x, bus);
        sd_bus_flush_close_unref(bus);
}
