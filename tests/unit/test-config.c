/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetd.conf: defaults, every setting, and errors that name the line. */

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"

static char *write_conf(const char *text) {
        char *path = NULL;
        int fd = g_file_open_tmp("pcresetd-conf-XXXXXX", &path, NULL);
        g_assert_cmpint(fd, >=, 0);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        close(fd);
        return path;
}

static void test_defaults(void) {
        Config c;
        int line;
        char *msg;
        config_init(&c);
        g_assert_cmpint(config_load(&c, "/nonexistent/pcresetd.conf", false, &line, &msg), ==, 0);
        g_assert_cmpint(config_load(&c, "/nonexistent/pcresetd.conf", true, &line, &msg), ==, -ENOENT);
        g_assert_true(config_is_stub_driver(&c, "vfio-pci"));
        g_assert_true(config_is_stub_driver(&c, "pci-stub"));
        g_assert_true(config_is_stub_driver(&c, "mlx5_vfio_pci"));
        g_assert_false(config_is_stub_driver(&c, "e1000e"));
        g_assert_false(config_is_stub_driver(&c, "vfio"));
        g_assert_false(config_is_stub_driver(&c, NULL));
        g_assert_cmpuint(c.max_queued_per_user, ==, 32);
        g_assert_cmpuint(c.max_parallel, ==, 64);
        g_assert_false(c.require_same_link);
        g_assert_true(c.require_reset_on_handover);
        config_done(&c);
}

static void test_settings(void) {
        g_autofree char *p = write_conf("# comment\n[Ownership]\nStubDrivers=vfio-pci  my-stub\nRequireResetOnHandover=no\n\n"
                                        "[Limits]\nMaxQueuedPerUser=3\nMaxParallelResets=5 ; inline comment\n"
                                        "[Reset]\nRequireSameLink=yes\n");
        Config c;
        int line;
        char *msg = NULL;
        config_init(&c);
        g_assert_cmpint(config_load(&c, p, true, &line, &msg), ==, 0);
        g_assert_null(msg);
        g_assert_true(config_is_stub_driver(&c, "my-stub"));
        g_assert_false(config_is_stub_driver(&c, "pci-stub"));   /* replaced, not added */
        g_assert_true(config_is_stub_driver(&c, "nvgrace_gpu_vfio_pci"));
        g_assert_cmpuint(c.max_queued_per_user, ==, 3);
        g_assert_cmpuint(c.max_parallel, ==, 5);
        g_assert_true(c.require_same_link);
        g_assert_false(c.require_reset_on_handover);
        config_done(&c);
        g_unlink(p);
}

static void test_errors(void) {
        static const struct {
                const char *text;
                int line;
                const char *needle;
        } cases[] = {
                { "[Limits]\nMaxQueuedPerUser=0\n", 2, "MaxQueuedPerUser=0" },
                { "[Limits]\n\nMaxParallelResets=-1\n", 3, "MaxParallelResets" },
                { "[Limits]\nMaxQueuedPerUser=12abc\n", 2, "MaxQueuedPerUser" },
                { "[Ownership]\nStubDriver=x\n", 2, "unknown setting StubDriver" },
                { "[Ownership]\nRequireResetOnHandover=maybe\n", 2, "RequireResetOnHandover=maybe is not a boolean" },
                { "[Owner]\nStubDrivers=x\n", 2, "[Owner]" },
                { "[Limits\nMaxQueuedPerUser=1\n", 1, "syntax" },
                { "[Limits]\njunk line\n", 2, "syntax" },
                { "[Limits]\nMaxQueuedPerUser=1\n[Limits]\nFoo=2\nBar=3\n", 4, "Foo" },
                { "[Reset]\nRequireSameLink=perhaps\n", 2, "RequireSameLink=perhaps is not a boolean" },
                { "[Limits]\nRequireSameLink=yes\n", 2, "unknown setting RequireSameLink= in section [Limits]" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *p = write_conf(cases[i].text);
                Config c;
                int line = 0;
                char *msg = NULL;
                config_init(&c);
                g_assert_cmpint(config_load(&c, p, true, &line, &msg), ==, -EINVAL);
                g_test_message("case %zu: line %d: %s", i, line, msg);
                g_assert_cmpint(line, ==, cases[i].line);
                g_assert_nonnull(msg);
                g_assert_nonnull(strstr(msg, cases[i].needle));
                free(msg);
                config_done(&c);
                g_unlink(p);
        }
}

/* inih's line buffer is 200 bytes: a longer line must be an error, not a
 * commented-out setting coming back in the next buffer (found by fuzzing). */
static void test_long_lines(void) {
        g_autofree char *pad = g_strnfill(197, 'x');
        g_autofree char *text = g_strdup_printf("[Limits]\n# %sMaxQueuedPerUser=7\n", pad);
        g_autofree char *p = write_conf(text);
        Config c;
        int line = 0;
        char *msg = NULL;
        config_init(&c);
        g_assert_cmpint(config_load(&c, p, true, &line, &msg), ==, -EINVAL);
        g_assert_cmpint(line, ==, 2);
        g_assert_cmpstr(msg, ==, "line is longer than 198 bytes");
        g_assert_cmpuint(c.max_queued_per_user, ==, 32);
        free(msg);
        config_done(&c);
        g_unlink(p);

        /* a NUL byte in a short-looking line hides the rest of it */
        static const char nul[] = "[Limits]\n# x\0MaxQueuedPerUser=7\n";
        g_autofree char *p2 = NULL;
        int fd = g_file_open_tmp("pcresetd-conf-XXXXXX", &p2, NULL);
        g_assert_cmpint(write(fd, nul, sizeof nul - 1), ==, (ssize_t) sizeof nul - 1);
        close(fd);
        config_init(&c);
        msg = NULL;
        g_assert_cmpint(config_load(&c, p2, true, &line, &msg), ==, -EINVAL);
        g_assert_cmpint(line, ==, 2);
        g_assert_cmpstr(msg, ==, "line contains a NUL byte");
        g_assert_cmpuint(c.max_queued_per_user, ==, 32);
        free(msg);
        config_done(&c);
        g_unlink(p2);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config/defaults", test_defaults);
        g_test_add_func("/config/settings", test_settings);
        g_test_add_func("/config/errors", test_errors);
        g_test_add_func("/config/long-lines", test_long_lines);
        return g_test_run();
}
