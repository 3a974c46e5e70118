/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcresetctl against the real daemon on the sample host
 * (tests/fixtures/topologies/sample.topo): golden output of list, info,
 * reset, claim and release in text and JSON; one exit code per error class,
 * each reached through the real daemon; monitor; bash completion of the
 * addresses the daemon knows.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include "client-test.h"
#include "pcreset1.h"

/* The standard errors, as the client reports them */
#define DBUS_ERROR "org.freedesktop.DBus.Error."
#define SD_BUS_ERROR_FAILED DBUS_ERROR "Failed"
#define SD_BUS_ERROR_INVALID_ARGS DBUS_ERROR "InvalidArgs"
#define SD_BUS_ERROR_ACCESS_DENIED DBUS_ERROR "AccessDenied"
#define SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED DBUS_ERROR "InteractiveAuthorizationRequired"
#define SD_BUS_ERROR_LIMITS_EXCEEDED DBUS_ERROR "LimitsExceeded"
#define SD_BUS_ERROR_SERVICE_UNKNOWN DBUS_ERROR "ServiceUnknown"
#define SD_BUS_ERROR_NO_SERVER DBUS_ERROR "NoServer"

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autofree char *path = g_build_filename(g_getenv("PCRESET_SRCDIR"), "tests", "fixtures", "topologies",
                                                 "sample.topo", NULL);
        g_autofree char *desc = NULL;
        g_assert_true(g_file_get_contents(path, &desc, NULL, NULL));
        fixture_build(f, desc);
}

/* ---- golden output ------------------------------------------------------ */

/* Only what varies from run to run: how long a reset took. */
static char *normalize(const char *text) {
        g_autoptr(GRegex) took = g_regex_new("took [0-9.]+ (us|ms|s)\\b", 0, 0, NULL);
        g_autoptr(GRegex) usec = g_regex_new("\"duration_usec\":[0-9]+", 0, 0, NULL);
        g_autofree char *a = g_regex_replace_literal(took, text, -1, 0, "took <duration>", 0, NULL);
        return g_regex_replace_literal(usec, a, -1, 0, "\"duration_usec\":<duration>", 0, NULL);
}

static void assert_golden(const char *name, const char *actual) {
        g_autofree char *norm = normalize(actual);
        g_autofree char *path = g_build_filename(g_getenv("PCRESET_GOLDEN_DIR"), name, NULL);
        g_autofree char *expected = NULL;
        if (g_getenv("PCRESET_GOLDEN_UPDATE")) {
                g_assert_true(g_file_set_contents(path, norm, -1, NULL));
                g_test_message("wrote %s", path);
                return;
        }
        if (!g_file_get_contents(path, &expected, NULL, NULL))
                g_error("golden file %s is missing (PCRESET_GOLDEN_UPDATE=1 writes it)", path);
        if (!g_str_equal(norm, expected))
                g_error("output differs from %s\n--- expected\n%s--- actual\n%s", path, expected, norm);
}

static void test_golden(Fixture *f, gconstpointer data) {
        static const struct {
                const char *golden;
                int exit;
                gboolean stderr_golden;     /* compare stderr, not stdout */
                const char *args[8];
        } cases[] = {
                { "list.txt", 0, FALSE, { "list" } },
                { "list.json", 0, FALSE, { "--json", "list" } },
                /* the GPU's audio function, bound to the host: refused, and why */
                { "info-01_00_1.txt", 0, FALSE, { "info", "01:00.1" } },
                { "info-01_00_1.json", 0, FALSE, { "--json", "info", "0000:01:00.1" } },
                /* a link reset of a driverless NIC alone in its hotplug slot */
                { "info-06_00_0-link.txt", 0, FALSE, { "info", "06:00.0", "--scope", "link" } },
                { "info-06_00_0-link.json", 0, FALSE, { "--json", "info", "06:00.0", "-s", "slot,bus" } },
                /* any: the least invasive */
                { "info-07_00_0-any.txt", 0, FALSE, { "info", "0000:07:00.0", "--scope", "any" } },
                /* a slot reset that would take the audio function along */
                { "error-info-01_00_0-link.txt", 4, TRUE, { "info", "01:00.0", "--scope", "link" } },
                { "error-info-01_00_0-link.json", 4, FALSE, { "--json", "info", "01:00.0", "--scope", "link" } },
                { "error-reset-02_00_0.txt", 5, TRUE, { "reset", "02:00.0" } },
                { "error-reset-02_00_0.json", 5, FALSE, { "--json", "reset", "02:00.0" } },
                { "reset-07_00_0.txt", 0, FALSE, { "reset", "07:00.0" } },
                { "reset-07_00_0-pm.json", 0, FALSE, { "--json", "reset", "07:00.0", "--scope", "pm" } },
                { "claim-03_00_1.json", 0, FALSE, { "--json", "claim", "03:00.1" } },
                { "claim-03_00_0.txt", 0, FALSE, { "claim", "03:00.0" } },
                /* owned now: green on a terminal, plain here */
                { "list-claimed.txt", 0, FALSE, { "list" } },
                { "info-03_00_0-claimed.txt", 0, FALSE, { "info", "03:00.0" } },
                { "release-03_00_1.json", 0, FALSE, { "--json", "release", "03:00.1" } },
                { "release-03_00_0.txt", 0, FALSE, { "release", "03:00.0" } },
                { "error-usage-scope.txt", 2, TRUE, { "info", "07:00.0", "--scope", "flr,bogus" } },
                { "error-usage-scope.json", 2, FALSE, { "--json", "info", "07:00.0", "--scope", "flr,bogus" } },
        };
        start_daemon(f);
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                const char *args[10] = { "--no-ask-password" };
                for (size_t k = 0; cases[i].args[k]; k++)
                        args[k + 1] = cases[i].args[k];
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(ctlv(f, NULL, &out, &err, args), ==, cases[i].exit);
                assert_golden(cases[i].golden, cases[i].stderr_golden ? err : out);
                /* not a terminal: never an escape sequence */
                assert_not_contains(out, "\033");
                if (cases[i].exit == 0)
                        g_assert_cmpstr(err, ==, "");
        }
        assert_attr(f, "0000:07:00.0", "reset", "1");
        assert_completed(f, "0000:07:00.0", 2);
}

/* ---- exit codes --------------------------------------------------------- */

static const char rules[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id.indexOf('org.freedesktop.pcreset1.') != 0) return polkit.Result.NOT_HANDLED;\n"
        "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
        "  if (subject.user == 'pcr-bob') return polkit.Result.NO;\n"
        "  return polkit.Result.AUTH_ADMIN;\n"
        "});\n";

/* Runs the command twice, in text and in JSON, and checks the exit code,
 * the JSON error name and that the message reached stderr. */
static void expect(Fixture *f, unsigned *seen, const char *user, int code, const char *error_name,
                   const char *needle, const char *const *args) {
        const char *text_args[12] = { "--no-ask-password" }, *json_args[12] = { "--no-ask-password", "--json" };
        for (size_t k = 0; args[k]; k++) {
                text_args[k + 1] = args[k];
                json_args[k + 2] = args[k];
        }
        g_autofree char *out = NULL, *err = NULL, *jout = NULL, *jerr = NULL;
        g_assert_cmpint(ctlv(f, user, &out, &err, text_args), ==, code);
        if (code != 0) {
                g_assert_cmpstr(out, ==, "");
                assert_contains(err, "pcresetctl: ");
                if (needle)
                        assert_contains(err, needle);
        }
        g_assert_cmpint(ctlv(f, user, &jout, &jerr, json_args), ==, code);
        if (code != 0) {
                g_autoptr(json_object) o = parse_json(jout);
                g_assert_cmpstr(jstr(o, "error"), ==, error_name);
                if (needle)
                        assert_contains(jstr(o, "message"), needle);
        }
        *seen |= 1u << code;
}

#define EXPECT(user, code, name, needle, ...) \
        expect(f, &seen, user, code, name, needle, (const char *const[]) { __VA_ARGS__, NULL })

/* A stand-in owning org.freedesktop.pcreset1 that answers ResetDeviceEx
 * with one error, on its own thread and main context (harness_run_logged()
 * blocks the test's). */
typedef struct Stub {
        GThread *thread;
        GMainContext *context;
        GMainLoop *loop;
        GDBusConnection *bus;
        const char *error_name, *before, *after;   /* message: before ADDRESS after */
        GMutex lock;
        GCond cond;
        gboolean ready;
} Stub;

static const char stub_xml[] =
        "<node><interface name='org.freedesktop.pcreset1.Manager'>"
        "<method name='ResetDeviceEx'><arg name='address' type='s' direction='in'/>"
        "<arg name='scope' type='u' direction='in'/><arg name='performed' type='u' direction='out'/>"
        "<arg name='affected' type='as' direction='out'/><arg name='details' type='a{sv}' direction='out'/>"
        "</method></interface></node>";

static void stub_method(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                        const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data) {
        Stub *s = data;
        const char *address;
        guint32 scope;
        g_variant_get(params, "(&su)", &address, &scope);
        g_autofree char *message = g_strconcat(s->before, address, s->after, NULL);
        g_dbus_method_invocation_return_dbus_error(inv, s->error_name, message);
}

static gpointer stub_thread(gpointer data) {
        Stub *s = data;
        static const GDBusInterfaceVTable vtable = { .method_call = stub_method };
        g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml(stub_xml, NULL);
        g_main_context_push_thread_default(s->context);
        guint id = g_dbus_connection_register_object(s->bus, PCRESET1_OBJECT_PATH, info->interfaces[0], &vtable, s,
                                                     NULL, NULL);
        g_assert_cmpuint(id, >, 0);
        g_mutex_lock(&s->lock);
        s->ready = TRUE;
        g_cond_signal(&s->cond);
        g_mutex_unlock(&s->lock);
        g_main_loop_run(s->loop);
        g_dbus_connection_unregister_object(s->bus, id);
        g_main_context_pop_thread_default(s->context);
        return NULL;
}

static Stub *stub_start(Fixture *f, const char *error_name, const char *before, const char *after) {
        Stub *s = g_new0(Stub, 1);
        s->bus = harness_bus(f->h);
        s->error_name = error_name;
        s->before = before;
        s->after = after;
        s->context = g_main_context_new();
        s->loop = g_main_loop_new(s->context, FALSE);
        g_mutex_init(&s->lock);
        g_cond_init(&s->cond);
        s->thread = g_thread_new("stub", stub_thread, s);
        g_mutex_lock(&s->lock);
        while (!s->ready)
                g_cond_wait(&s->cond, &s->lock);
        g_mutex_unlock(&s->lock);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(s->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                            "org.freedesktop.DBus", "RequestName",
                                                            g_variant_new("(su)", PCRESET1_BUS_NAME, 4),
                                                            G_VARIANT_TYPE("(u)"), 0, -1, NULL, &error);
        g_assert_no_error(error);
        guint32 owner;
        g_variant_get(r, "(u)", &owner);
        g_assert_cmpuint(owner, ==, 1);   /* primary owner */
        return s;
}

static void stub_stop(Stub *s) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(s->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                            "org.freedesktop.DBus", "ReleaseName",
                                                            g_variant_new("(s)", PCRESET1_BUS_NAME),
                                                            G_VARIANT_TYPE("(u)"), 0, -1, NULL, &error);
        g_assert_no_error(error);
        g_main_loop_quit(s->loop);
        g_thread_join(s->thread);
        g_main_loop_unref(s->loop);
        g_main_context_unref(s->context);
        g_mutex_clear(&s->lock);
        g_cond_clear(&s->cond);
        g_free(s);
}

static void test_exit_codes(Fixture *f, gconstpointer data) {
        unsigned seen = 0;
        /* 0000:03:00.1 fails with EIO */
        const char *specs[] = { "r31:0:EIO", NULL };
        const char *addrs[] = { "0000:03:00.1" };
        bind_fuse(f, specs, addrs);
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Limits]\nMaxResetsPerMinute=1\n", -1, NULL));
        const char *daemon_args[] = { "--config", conf, NULL };
        start_daemon_args(f, daemon_args);
        harness_set_rules(f->h, rules);

        EXPECT(NULL, PCRESETCTL_EXIT_OK, NULL, NULL, "list");
        EXPECT(HARNESS_USER_BOB, PCRESETCTL_EXIT_OK, NULL, NULL, "info", "0000:01:00.1");
        EXPECT(NULL, PCRESETCTL_EXIT_USAGE, SD_BUS_ERROR_INVALID_ARGS, "invalid PCI address 'xyz'", "reset", "xyz");
        EXPECT(NULL, PCRESETCTL_EXIT_USAGE, SD_BUS_ERROR_INVALID_ARGS, "unknown command 'frobnicate'", "frobnicate");
        EXPECT(NULL, PCRESETCTL_EXIT_USAGE, SD_BUS_ERROR_INVALID_ARGS, "--scope only applies to info, reset, claim --reset, oci-hook and cdi",
               "list", "--scope", "flr");
        /* InvalidArgs from the daemon itself */
        EXPECT(NULL, PCRESETCTL_EXIT_USAGE, SD_BUS_ERROR_INVALID_ARGS, "0000:07:00.0 is not claimed",
               "release", "07:00.0");
        EXPECT(NULL, PCRESETCTL_EXIT_NO_SUCH_DEVICE, PCRESET1_ERROR_NO_SUCH_DEVICE, "No PCI device 0000:09:00.0",
               "reset", "0000:09:00.0");
        EXPECT(NULL, PCRESETCTL_EXIT_NOT_SUPPORTED, PCRESET1_ERROR_NOT_SUPPORTED, "the kernel offers only pm bus",
               "reset", "06:00.0", "--scope", "flr");
        EXPECT(NULL, PCRESETCTL_EXIT_BUSY, PCRESET1_ERROR_DEVICE_BUSY, "0000:02:00.0 (nvme): bound to nvme",
               "reset", "02:00.0");
        EXPECT(HARNESS_USER_BOB, PCRESETCTL_EXIT_ACCESS_DENIED, SD_BUS_ERROR_ACCESS_DENIED,
               "Not authorized to reset 0000:07:00.0", "reset", "07:00.0");
        EXPECT(HARNESS_USER_CAROL, PCRESETCTL_EXIT_ACCESS_DENIED, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
               "Interactive authentication is required to reset 0000:07:00.0", "reset", "07:00.0");
        EXPECT(NULL, PCRESETCTL_EXIT_RESET_FAILED, PCRESET1_ERROR_RESET_FAILED,
               "flr reset of 0000:03:00.1 failed: Input/output error", "reset", "03:00.1");
        /* alice may, once a minute: the second is refused (once per run of expect) */
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(ctl(f, HARNESS_USER_ALICE, &out, NULL, "--no-ask-password", "reset", "07:00.0", NULL), ==, 0);
                assert_contains(out, "reset 0000:07:00.0: performed flr (0x02)");
        }
        EXPECT(HARNESS_USER_ALICE, PCRESETCTL_EXIT_LIMITS, SD_BUS_ERROR_LIMITS_EXCEEDED,
               "uid 4101 made 1 resets in the last minute (MaxResetsPerMinute=1)", "reset", "07:00.0");

        /* a claim the daemon cannot record: its state directory turned read-only */
        {
                const char *state = harness_state_dir(f->h);
                g_assert_cmpint(mount(state, state, NULL, MS_BIND, NULL), ==, 0);
                g_assert_cmpint(mount(NULL, state, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), ==, 0);
                EXPECT(NULL, PCRESETCTL_EXIT_FAILURE, SD_BUS_ERROR_FAILED, "Cannot record the claim of 0000:07:00.0",
                       "claim", "07:00.0");
                g_assert_cmpint(umount2(state, MNT_DETACH), ==, 0);
        }

        /* Cancelled: the real daemon answers it to requests still queued when
         * it stops, but sd-bus has closed its connection by then, so no
         * caller ever gets it (reported); a stand-in owning the name
         * answers as the contract says. */
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        {
                Stub *stub = stub_start(f, PCRESET1_ERROR_CANCELLED, "pcresetd is stopping; ", " was not reset");
                EXPECT(NULL, PCRESETCTL_EXIT_CANCELLED, PCRESET1_ERROR_CANCELLED,
                       "pcresetd is stopping; 0000:06:00.0 was not reset", "reset", "0000:06:00.0", "--scope", "pm");
                stub_stop(stub);
        }

        /* nobody answers: the daemon is gone, or the bus itself */
        EXPECT(NULL, PCRESETCTL_EXIT_NO_DAEMON, SD_BUS_ERROR_SERVICE_UNKNOWN, NULL, "list");
        {
                /* ...and now without any bus */
                const char *argv[] = { "env", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus", g_getenv("PCRESETCTL_BIN"),
                                       "--json", "info", "07:00.0", NULL };
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(harness_run_logged(f->h, NULL, &out, &err, argv), ==, PCRESETCTL_EXIT_NO_DAEMON);
                g_autoptr(json_object) o = parse_json(out);
                g_assert_cmpstr(jstr(o, "error"), ==, SD_BUS_ERROR_NO_SERVER);
                assert_contains(err, "Cannot connect to the system bus");
        }

        /* every class, 0 to 10 */
        g_assert_cmphex(seen, ==, (1u << 11) - 1);
        assert_attr(f, "0000:02:00.0", "reset", "");
}

/* ---- monitor ------------------------------------------------------------ */

/* Reads what fd has within timeout_ms into s; FALSE on end of file. */
static gboolean read_some(int fd, GString *s, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[4096];
        if (poll(&p, 1, timeout_ms) <= 0)
                return TRUE;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
                return FALSE;
        g_string_append_len(s, buf, n);
        return TRUE;
}

/* Waits until s has a line with needle. */
static void wait_for_line(int fd, GString *s, const char *needle) {
        for (int i = 0; i < 100 && !strstr(s->str, needle); i++)
                if (!read_some(fd, s, 100))
                        break;
        assert_contains(s->str, needle);
}

static void test_monitor(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r31:0:EIO", NULL };
        const char *addrs[] = { "0000:03:00.1" };
        bind_fuse(f, specs, addrs);
        /* started before the daemon: it follows the name's owner */
        const char *json_argv[] = { g_getenv("PCRESETCTL_BIN"), "--json", "monitor", NULL };
        const char *text_argv[] = { g_getenv("PCRESETCTL_BIN"), "monitor", NULL };
        int jfd = -1, tfd = -1;
        GPid jm = harness_spawn(f->h, HARNESS_USER_BOB, json_argv, &jfd);
        GPid tm = harness_spawn(f->h, HARNESS_USER_CAROL, text_argv, &tfd);
        g_autoptr(GString) jtext = g_string_new(NULL), ttext = g_string_new(NULL);
        start_daemon(f);

        /* until both monitors are listening: reset 01:00.0 until each saw one */
        for (int i = 0; i < 50 && (!strstr(jtext->str, "0000:01:00.0") || !strstr(ttext->str, "0000:01:00.0")); i++) {
                g_assert_cmpint(ctl(f, NULL, NULL, NULL, "reset", "01:00.0", NULL), ==, 0);
                read_some(jfd, jtext, 200);
                read_some(tfd, ttext, 200);
        }
        wait_for_line(jfd, jtext, "0000:01:00.0");
        wait_for_line(tfd, ttext, "0000:01:00.0");
        g_string_truncate(jtext, 0);
        g_string_truncate(ttext, 0);

        /* a reset: started, then completed */
        g_assert_cmpint(ctl(f, NULL, NULL, NULL, "reset", "07:00.0", "--scope", "pm", NULL), ==, 0);
        /* and one the kernel refuses */
        g_assert_cmpint(ctl(f, NULL, NULL, NULL, "reset", "03:00.1", NULL), ==, 7);
        wait_for_line(jfd, jtext, "\"address\":\"0000:03:00.1\",\"performed\":2,\"performed_name\":\"flr\","
                                  "\"affected\":[\"0000:03:00.1\"],\"result\":\"org.freedesktop.pcreset1.Error.ResetFailed\"");
        wait_for_line(tfd, ttext, "completed 0000:03:00.1 flr (0x02) affected 0000:03:00.1: "
                                  "org.freedesktop.pcreset1.Error.ResetFailed\n");
        g_test_message("json monitor:\n%s\ntext monitor:\n%s", jtext->str, ttext->str);

        /* JSON: one object per line, in order; a signal of the warm-up
         * resets of 01:00.0 may still arrive after it */
        g_auto(GStrv) all = g_strsplit(jtext->str, "\n", -1);
        g_autoptr(GStrvBuilder) kept = g_strv_builder_new();
        for (char **l = all; *l; l++)
                if (!strstr(*l, "0000:01:00.0"))
                        g_strv_builder_add(kept, *l);
        g_auto(GStrv) lines = g_strv_builder_end(kept);
        g_assert_cmpuint(g_strv_length(lines), ==, 5);   /* 4 signals and the empty tail */
        static const struct {
                const char *signal, *event, *address, *name, *result;
                int performed;
        } want[] = {
                { "ResetStarted", "started", "0000:07:00.0", "pm", "started", 4 },
                { "ResetCompleted", "completed", "0000:07:00.0", "pm", "ok", 4 },
                { "ResetStarted", "started", "0000:03:00.1", "flr", "started", 2 },
                { "ResetCompleted", "completed", "0000:03:00.1", "flr", "org.freedesktop.pcreset1.Error.ResetFailed", 2 },
        };
        gint64 now = g_get_real_time();
        for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
                g_autoptr(json_object) o = parse_json(lines[i]);
                g_assert_cmpstr(jstr(o, "signal"), ==, want[i].signal);
                g_assert_cmpstr(jstr(o, "event"), ==, want[i].event);
                g_assert_cmpstr(jstr(o, "address"), ==, want[i].address);
                g_assert_cmpint(jint(o, "performed"), ==, want[i].performed);
                g_assert_cmpstr(jstr(o, "performed_name"), ==, want[i].name);
                g_assert_cmpstr(jstr(o, "result"), ==, want[i].result);
                g_assert_cmpuint(json_object_array_length(jget(o, "affected")), ==, 1);
                g_assert_cmpint(jint(o, "time_usec"), <=, now);
                g_assert_cmpint(jint(o, "time_usec"), >, now - 60 * G_USEC_PER_SEC);
        }
        /* text: one line per signal (warm-up stragglers dropped as above) */
        g_auto(GStrv) tall = g_strsplit(ttext->str, "\n", -1);
        g_autoptr(GString) tkept = g_string_new(NULL);
        for (char **l = tall; *l; l++)
                if (**l && !strstr(*l, "0000:01:00.0"))
                        g_string_append_printf(tkept, "%s\n", *l);
        g_assert_true(g_regex_match_simple(
                "^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} started   0000:07:00\\.0 pm \\(0x04\\) affected 0000:07:00\\.0: started\n"
                "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} completed 0000:07:00\\.0 pm \\(0x04\\) affected 0000:07:00\\.0: ok\n"
                "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} started   0000:03:00\\.1 flr \\(0x02\\) affected 0000:03:00\\.1: started\n"
                "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} completed 0000:03:00\\.1 flr \\(0x02\\) affected 0000:03:00\\.1: "
                "org\\.freedesktop\\.pcreset1\\.Error\\.ResetFailed\n$", tkept->str, 0, 0));

        /* a refusal never starts: no signal */
        g_assert_cmpint(ctl(f, NULL, NULL, NULL, "reset", "02:00.0", NULL), ==, 5);
        /* interrupted: exit 0 */
        g_assert_cmpint(kill(jm, SIGTERM), ==, 0);
        g_assert_cmpint(kill(tm, SIGINT), ==, 0);
        g_assert_cmpint(harness_wait(jm), ==, 0);
        g_assert_cmpint(harness_wait(tm), ==, 0);
        while (read_some(jfd, jtext, 100))
                ;
        assert_not_contains(jtext->str, "0000:02:00.0");
        close(jfd);
        close(tfd);
}

/* ---- completion --------------------------------------------------------- */

static char **complete(Fixture *f, const char *line) {
        g_autofree char *bindir = g_build_filename(harness_dir(f->h), "bin", NULL);
        g_autofree char *link = g_build_filename(bindir, "pcresetctl", NULL);
        if (!g_file_test(link, G_FILE_TEST_EXISTS)) {
                g_assert_cmpint(g_mkdir_with_parents(bindir, 0755), ==, 0);
                g_assert_cmpint(symlink(g_getenv("PCRESETCTL_BIN"), link), ==, 0);
        }
        g_autofree char *script = g_strdup_printf(
                "PATH=%s:$PATH; . '%s'; COMP_LINE=$1; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(); COMP_CWORD=0; "
                "_pcresetctl pcresetctl; printf '%%s\\n' \"${COMPREPLY[@]}\"", bindir, g_getenv("PCRESET_COMPLETION"));
        const char *argv[] = { "bash", "-c", script, "bash", line, NULL };
        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_BOB, &out, &err, argv), ==, 0);
        g_assert_cmpstr(err, ==, "");
        g_strchomp(out);
        return g_strsplit(out, "\n", -1);
}

static void test_completion(Fixture *f, gconstpointer data) {
        start_daemon(f);
        /* every address the daemon lists, and only those */
        g_autofree char *json = NULL;
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &json, NULL, "--json", "list", NULL), ==, 0);
        g_autoptr(json_object) list = parse_json(json);
        g_autoptr(GString) want = g_string_new(NULL);
        for (size_t i = 0; i < json_object_array_length(list); i++)
                g_string_append_printf(want, "%s%s", i ? "," : "", jstr(json_object_array_get_idx(list, i), "address"));
        g_assert_cmpuint(json_object_array_length(list), ==, 21);
        {
                g_auto(GStrv) got = complete(f, "pcresetctl reset ");
                g_autofree char *joined = g_strjoinv(",", got);
                g_assert_cmpstr(joined, ==, want->str);
        }
        /* bash replaces only what follows the last ':' */
        {
                g_auto(GStrv) got = complete(f, "pcresetctl --json info 0000:05:0");
                g_autofree char *joined = g_strjoinv(",", got);
                g_assert_cmpstr(joined, ==, "00.0,01.0");
        }
        {
                g_auto(GStrv) got = complete(f, "pcresetctl claim 07:");
                g_autofree char *joined = g_strjoinv(",", got);
                g_assert_cmpstr(joined, ==, "00.0");
        }
        {
                g_auto(GStrv) got = complete(f, "pcresetctl -s flr,p");
                g_autofree char *joined = g_strjoinv(",", got);
                g_assert_cmpstr(joined, ==, "flr,pm");
        }
        /* a verb that takes one address: nothing after it */
        {
                g_auto(GStrv) got = complete(f, "pcresetctl release 0000:07:00.0 ");
                g_assert_cmpuint(g_strv_length(got), ==, 0);
        }
}

int main(int argc, char *argv[]) {
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/client/golden", test_golden);
        ADD("/client/exit-codes", test_exit_codes);
        ADD("/client/monitor", test_monitor);
        ADD("/client/completion", test_completion);
        return g_test_run();
}
