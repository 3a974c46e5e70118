/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit trail in a real journal: a private systemd-journald in the
 * sealed namespace, the daemon's stderr connected to it as systemd would
 * (systemd-cat, and JOURNAL_STREAM naming that stream), and journalctl
 * reading the structured records back by MESSAGE_ID.
 */

#include <json-c/json.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define COMPLETED "9b76c9888fc6490081ab94dd74427d09"
#define REFUSED "a0a89b9851a24c11971af78dae92d3c5"

static GPid start_journald(void) {
        /* journald makes its sockets and runtime journal here: ours, not the host's */
        for (const char *const *d = (const char *const[]) { "/run/systemd", "/run/log/journal", NULL }; *d; d++) {
                g_assert_cmpint(g_mkdir_with_parents(*d, 0755), ==, 0);
                g_assert_cmpint(mount("tmpfs", *d, "tmpfs", 0, "mode=0755"), ==, 0);
        }
        g_assert_cmpint(g_mkdir_with_parents("/run/systemd/journal", 0755), ==, 0);
        const char *argv[] = { "/lib/systemd/systemd-journald", NULL };
        GPid pid = 0;
        g_autoptr(GError) error = NULL;
        g_assert_true(g_spawn_async(NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &error));
        for (int i = 0; i < 100 && !g_file_test("/run/systemd/journal/stdout", G_FILE_TEST_EXISTS); i++)
                g_usleep(50 * 1000);
        g_assert_true(g_file_test("/run/systemd/journal/stdout", G_FILE_TEST_EXISTS));
        return pid;
}

static void put(gpointer o) {
        json_object_put(o);
}

/* The records with MESSAGE_ID=id, as JSON objects (journalctl -o json). */
static GPtrArray *records(Harness *h, const char *id) {
        g_autofree char *match = g_strdup_printf("MESSAGE_ID=%s", id), *out = NULL;
        const char *argv[] = { "journalctl", "-D", "/run/log/journal", "--no-pager", "-o", "json", match, NULL };
        GPtrArray *l = g_ptr_array_new_with_free_func(put);
        g_assert_cmpint(harness_run_logged(h, NULL, &out, NULL, argv), ==, 0);
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
        for (char **line = lines; *line; line++) {
                if (!**line)
                        continue;
                json_object *o = json_tokener_parse(*line);
                g_assert_nonnull(o);
                g_ptr_array_add(l, o);
        }
        return l;
}

static const char *field(json_object *o, const char *name) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, name, &v) ? json_object_get_string(v) : NULL;
}

static void test_journal(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(Harness) h = harness_new(&error);
        g_assert_no_error(error);
        GPid journald = start_journald();
        g_assert_true(harness_build_tree(h,
                "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
                "01:00.0 vendor=8086 device=10d3 class=020000 methods=\"flr pm\"\n"
                "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
                "02:00.0 vendor=8086 device=10d3 class=020000 driver=e1000e methods=\"flr pm\"\n", &error));

        /* what systemd does for a service: stderr is a journal stream, and
         * JOURNAL_STREAM says which (device:inode of that socket) */
        g_autofree char *wrapper = g_build_filename(harness_dir(h), "pcresetd-journal", NULL);
        g_autofree char *script = g_strdup_printf(
                "#!/bin/sh\nexec systemd-cat -t pcresetd sh -c "
                "'JOURNAL_STREAM=$(stat -L -c %%d:%%i /proc/self/fd/2) exec %s \"$@\"' pcresetd \"$@\"\n",
                g_getenv("PCRESETD_BIN"));
        g_assert_true(g_file_set_contents(wrapper, script, -1, NULL));
        g_assert_cmpint(chmod(wrapper, 0755), ==, 0);
        g_autofree char *real = g_strdup(g_getenv("PCRESETD_BIN"));
        g_setenv("PCRESETD_BIN", wrapper, TRUE);
        g_assert_cmpint(harness_start_daemon(h, NULL, &error), ==, 0);
        g_setenv("PCRESETD_BIN", real, TRUE);

        const char *ok[] = { "busctl", "call", "org.freedesktop.pcreset1", "/org/freedesktop/pcreset1",
                             "org.freedesktop.pcreset1.Manager", "ResetDevice", "su", "0000:01:00.0", "4", NULL };
        const char *busy[] = { "busctl", "call", "org.freedesktop.pcreset1", "/org/freedesktop/pcreset1",
                               "org.freedesktop.pcreset1.Manager", "ResetDevice", "su", "0000:02:00.0", "2", NULL };
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, NULL, ok), ==, 0);
        g_assert_cmpint(harness_run_logged(h, HARNESS_USER_BOB, NULL, NULL, busy), !=, 0);
        g_assert_cmpint(harness_stop_daemon(h), ==, 0);   /* flushes the stream */

        g_autoptr(GPtrArray) done = records(h, COMPLETED);
        g_assert_cmpuint(done->len, ==, 1);
        json_object *r = done->pdata[0];
        g_assert_cmpstr(field(r, "PCRESET_EVENT"), ==, "completed");
        g_assert_cmpstr(field(r, "PCRESET_DEVICE"), ==, "0000:01:00.0");
        g_assert_cmpstr(field(r, "PCRESET_MASK"), ==, "0x00000004");
        g_assert_cmpstr(field(r, "PCRESET_SCOPE"), ==, "pm");
        g_assert_cmpstr(field(r, "PCRESET_METHOD"), ==, "pm");
        g_assert_cmpstr(field(r, "PCRESET_MECHANISM"), ==, "kernel-reset-method");
        g_assert_cmpstr(field(r, "PCRESET_AFFECTED"), ==, "0000:01:00.0");
        g_assert_cmpstr(field(r, "PCRESET_RESULT"), ==, "ok");
        g_assert_cmpstr(field(r, "PCRESET_HEALTH"), ==, "ok");
        g_assert_cmpstr(field(r, "PCRESET_LINK"), ==, "0000:01:00.0 2.5 GT/s x1 -> 2.5 GT/s x1");
        g_assert_null(field(r, "PCRESET_AER_NEW"));
        g_assert_cmpstr(field(r, "CALLER_UID"), ==, "0");
        g_assert_nonnull(field(r, "CALLER_PID"));
        g_assert_cmpstr(field(r, "PRIORITY"), ==, "6");
        g_assert_true(g_str_has_prefix(field(r, "MESSAGE"), "Reset of 0000:01:00.0 (mask pm, scope pm via kernel-reset-method) by uid 0 completed"));

        g_autoptr(GPtrArray) refused = records(h, REFUSED);
        g_assert_cmpuint(refused->len, ==, 1);
        r = refused->pdata[0];
        g_assert_cmpstr(field(r, "CALLER_UID"), ==, "4102");
        g_assert_cmpstr(field(r, "PCRESET_RESULT"), ==, "org.freedesktop.pcreset1.Error.DeviceBusy");
        g_assert_nonnull(strstr(field(r, "MESSAGE"), "0000:02:00.0 (e1000e): bound to e1000e"));

        kill(journald, SIGTERM);
        waitpid(journald, NULL, 0);
}

int main(int argc, char *argv[]) {
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/journal/audit-records", test_journal);
        return g_test_run();
}
