/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Load: 200 concurrent clients x 50 calls, valid and invalid, over 32 reset
 * domains, against the real daemon. Every call answered as its kind
 * expects, the daemon still healthy and its memory flat, and a clean exit
 * (the sanitizer build turns any leak into a failed exit). With
 * PCRESET_LOAD_VALGRIND=1 the daemon runs under valgrind memcheck, which
 * must report no error and no definite leak.
 */

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"

#define PORTS 32

static long rss_kb(GPid pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid), *text = NULL;
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        const char *p = strstr(text, "VmRSS:");
        g_assert_nonnull(p);
        return strtol(p + 6, NULL, 10);
}

/* Under valgrind the daemon is valgrind's child process image: same pid. */
static char *valgrind_wrapper(Harness *h) {
        g_autofree char *log = g_build_filename(harness_dir(h), "valgrind.log", NULL);
        char *path = g_build_filename(harness_dir(h), "pcresetd-valgrind", NULL);
        g_autofree char *script = g_strdup_printf(
                "#!/bin/sh\nexec valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite "
                "--error-exitcode=99 --log-file=%s %s \"$@\"\n", log, g_getenv("PCRESETD_BIN"));
        g_assert_true(g_file_set_contents(path, script, -1, NULL));
        g_assert_cmpint(chmod(path, 0755), ==, 0);
        return path;
}

static void test_load(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(Harness) h = harness_new(&error);
        g_assert_no_error(error);
        gboolean valgrind = g_strcmp0(g_getenv("PCRESET_LOAD_VALGRIND"), "1") == 0;
        int clients = 200, calls = 50;

        g_autoptr(GString) desc = g_string_new(NULL);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(argv, g_strdup(g_getenv("LOADGEN_BIN")));
        g_ptr_array_add(argv, g_strdup_printf("%d", clients));
        g_ptr_array_add(argv, g_strdup_printf("%d", calls));
        for (int i = 0; i < PORTS; i++) {
                /* 16 slots x 2 functions of root ports: 32 domains */
                g_string_append_printf(desc, "00:%02x.%d bridge=root-port secondary=%02x driver=pcieport\n"
                                             "%02x:00.0 vendor=8086 device=1521 class=020000 methods=\"flr pm\"\n",
                                       i % 16 + 1, i / 16, i + 1, i + 1);
                g_ptr_array_add(argv, g_strdup_printf("0000:%02x:00.0", i + 1));
        }
        g_ptr_array_add(argv, NULL);
        g_assert_true(harness_build_tree(h, desc->str, &error));

        g_autofree char *conf = g_build_filename(harness_dir(h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Limits]\nMaxQueuedPerUser=100000\n", -1, NULL));
        g_autofree char *wrapper = valgrind ? valgrind_wrapper(h) : NULL;
        g_autofree char *real_bin = g_strdup(g_getenv("PCRESETD_BIN"));
        if (wrapper)
                g_setenv("PCRESETD_BIN", wrapper, TRUE);
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(h, args, &error), ==, 0);
        g_setenv("PCRESETD_BIN", real_bin, TRUE);
        GPid pid = harness_daemon_pid(h);

        /* warm up: caches, pci.ids, the first connections */
        const char *warm[] = { g_getenv("LOADGEN_BIN"), "20", "10", "0000:01:00.0", "0000:02:00.0", NULL };
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, NULL, warm), ==, 0);
        long before = rss_kb(pid);

        g_autofree char *out = NULL;
        gint64 t0 = g_get_monotonic_time();
        /* the 30 s bound is for one client, not for this: bounded below the
         * test's own timeout (meson.build) instead */
        harness_set_run_timeout(h, (valgrind ? 1100 : 550) * 1000);
        int r = harness_run_logged(h, NULL, &out, NULL, (const char *const *) argv->pdata);
        harness_set_run_timeout(h, 0);
        gint64 ms = (g_get_monotonic_time() - t0) / 1000;
        g_test_message("the load took %" G_GINT64_FORMAT " ms", ms);
        g_assert_cmpint(r, ==, 0);
        g_assert_nonnull(strstr(out, "0 wrong answers, 0 unanswered"));

        /* under ASan the quarantine keeps freed memory: RSS says nothing there */
#ifdef __SANITIZE_ADDRESS__
        const bool measure_rss = false;
#else
        const bool measure_rss = !valgrind;
#endif
        if (measure_rss) {
                long after = rss_kb(pid);
                g_test_message("daemon RSS: %ld kB before, %ld kB after %d calls", before, after, clients * calls);
                printf("# load: daemon RSS %ld kB -> %ld kB over %d calls in %" G_GINT64_FORMAT " ms\n", before, after,
                       clients * calls, ms);
                g_assert_cmpint(after, <=, before + before / 4 + 1024);
        }
        /* still healthy */
        const char *ping[] = { "busctl", "call", "org.freedesktop.pcreset1", "/org/freedesktop/pcreset1",
                               "org.freedesktop.pcreset1.Manager", "GetResetInfo", "su", "0000:01:00.0", "2", NULL };
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, NULL, ping), ==, 0);
        /* clean exit: under ASan a leak, under valgrind any error, fails it */
        int status = harness_stop_daemon(h);
        if (valgrind) {
                g_autofree char *vlog = NULL;
                g_autofree char *vpath = g_build_filename(harness_dir(h), "valgrind.log", NULL);
                g_file_get_contents(vpath, &vlog, NULL, NULL);
                g_test_message("valgrind: %s", vlog ?: "(no log)");
        }
        g_assert_cmpint(status, ==, 0);
}

int main(int argc, char *argv[]) {
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/load/200x50", test_load);
        return g_test_run();
}
