/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GetResetInfo and ResetDevice must never disagree (issue 10): for every
 * device of the sample hosts and every scope bit (plus FUNC, LINK, ANY),
 * as root and as an authorized user, what GetResetInfoEx says is what
 * ResetDeviceEx then does:
 *   - an error from the info is the same error (name and message) from the
 *     reset;
 *   - an affected device the info calls busy is named, with the info's
 *     reason, in the reset's DeviceBusy message, and no other is;
 *   - otherwise the reset runs exactly the planned scope, on exactly the
 *     listed devices, through the same mechanism, method and bridge.
 * The oracle is the daemon's own public answer to the other method, never
 * its code. The comparing client is this program run again as the caller
 * (--agree), with its own bus connection.
 */

#include <stdio.h>
#include <string.h>

#include "faketree.h"
#include "harness.h"

#define DEST  "org.freedesktop.pcreset1"
#define PATH  "/org/freedesktop/pcreset1"
#define IFACE "org.freedesktop.pcreset1.Manager"

static const guint32 masks[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x27, 0x58, 0xffffffffu };

/* Devices owned, open and idle side by side, for the ownership verdicts. */
static const char mixed_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=30 vfio-owner=4101 open-by=4711 "
        "methods=\"flr pm bus\"\n"
        "01:00.1 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=31 vfio methods=\"flr\"\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport reset_subordinate\n"
        "02:00.0 vendor=8086 device=1521 class=020000 driver=igb group=40 methods=\"flr bus\"\n"
        "02:00.1 vendor=8086 device=1521 class=020000 group=41 methods=\"pm\"\n"
        "00:03.0 bridge=root-port secondary=03 driver=pcieport\n"
        "03:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=50 vfio-owner=4101 methods=\"flr bus\"\n";

static const char rules_alice_all[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id.indexOf('org.freedesktop.pcreset1.') == 0 && subject.user == 'pcr-alice')\n"
        "    return polkit.Result.YES;\n"
        "});\n";

static const char config_text[] = "[Limits]\nMaxResetsPerMinute=100000\nMaxQueuedPerUser=100\n";

/* ---- the comparing client (--agree) ------------------------------------ */

typedef struct Details {
        char *mechanism, *method, *bridge;
} Details;

static void details_clear(Details *d) {
        g_clear_pointer(&d->mechanism, g_free);
        g_clear_pointer(&d->method, g_free);
        g_clear_pointer(&d->bridge, g_free);
}

static void details_read(GVariant *dict, Details *d) {
        g_variant_lookup(dict, "mechanism", "s", &d->mechanism);
        g_variant_lookup(dict, "method", "s", &d->method);
        g_variant_lookup(dict, "bridge", "s", &d->bridge);
}

static int failures;

G_GNUC_PRINTF(3, 4)
static void mismatch(const char *dev, guint32 mask, const char *fmt, ...) {
        va_list ap;
        g_autofree char *msg = NULL;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        fprintf(stderr, "MISMATCH %s mask 0x%08x: %s\n", dev, mask, msg);
        failures++;
}

static gboolean names_device(const char *message, const char *dev) {
        g_autofree char *a = g_strdup_printf("%s (", dev), *b = g_strdup_printf("%s:", dev);
        return strstr(message, a) || strstr(message, b);
}

static void compare(GDBusConnection *bus, const char *dev, guint32 mask, unsigned counts[3]) {
        g_autoptr(GError) info_error = NULL, reset_error = NULL;
        g_autoptr(GVariant) info = g_dbus_connection_call_sync(bus, DEST, PATH, IFACE, "GetResetInfoEx",
                                                               g_variant_new("(su)", dev, mask), NULL,
                                                               G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &info_error);
        g_autoptr(GVariant) reset = g_dbus_connection_call_sync(bus, DEST, PATH, IFACE, "ResetDeviceEx",
                                                                g_variant_new("(su)", dev, mask), NULL,
                                                                G_DBUS_CALL_FLAGS_NONE, 60000, NULL, &reset_error);
        if (info_error) {
                counts[2]++;
                g_autofree char *iname = g_dbus_error_get_remote_error(info_error);
                g_autofree char *rname = reset_error ? g_dbus_error_get_remote_error(reset_error) : NULL;
                if (!reset_error)
                        mismatch(dev, mask, "GetResetInfo refused (%s) but ResetDevice ran", iname);
                else if (g_strcmp0(iname, rname) != 0)
                        mismatch(dev, mask, "GetResetInfo said %s, ResetDevice said %s", iname, rname);
                else {
                        g_dbus_error_strip_remote_error(info_error);
                        g_dbus_error_strip_remote_error(reset_error);
                        if (g_strcmp0(info_error->message, reset_error->message) != 0)
                                mismatch(dev, mask, "messages differ: '%s' vs '%s'", info_error->message,
                                         reset_error->message);
                }
                return;
        }

        guint32 planned;
        g_autoptr(GVariantIter) affected = NULL;
        g_autoptr(GVariant) idict = NULL;
        g_variant_get(info, "(ua(sss)@a{sv})", &planned, &affected, &idict);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) busy = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func(g_free);
        const char *name, *state, *reason;
        while (g_variant_iter_next(affected, "(&s&s&s)", &name, &state, &reason)) {
                g_ptr_array_add(names, g_strdup(name));
                if (g_str_equal(state, "busy")) {
                        g_ptr_array_add(busy, g_strdup(name));
                        g_ptr_array_add(reasons, g_strdup(reason));
                }
        }

        if (busy->len > 0) {
                counts[1]++;
                g_autofree char *rname = reset_error ? g_dbus_error_get_remote_error(reset_error) : NULL;
                if (g_strcmp0(rname, "org.freedesktop.pcreset1.Error.DeviceBusy") != 0) {
                        mismatch(dev, mask, "GetResetInfo shows %u busy device(s) but ResetDevice said %s",
                                 busy->len, rname ?: "ok");
                        return;
                }
                g_dbus_error_strip_remote_error(reset_error);
                for (guint i = 0; i < names->len; i++) {
                        const char *n = names->pdata[i];
                        gboolean is_busy = g_ptr_array_find_with_equal_func(busy, n, g_str_equal, NULL);
                        if (is_busy != names_device(reset_error->message, n))
                                mismatch(dev, mask, "%s is %s in GetResetInfo but %s in '%s'", n,
                                         is_busy ? "busy" : "not busy", is_busy ? "not named" : "named",
                                         reset_error->message);
                }
                for (guint i = 0; i < reasons->len; i++)
                        if (!strstr(reset_error->message, reasons->pdata[i]))
                                mismatch(dev, mask, "the reason '%s' is not in '%s'", (char *) reasons->pdata[i],
                                         reset_error->message);
                return;
        }

        counts[0]++;
        if (reset_error) {
                mismatch(dev, mask, "GetResetInfo planned 0x%x with nothing busy, ResetDevice failed: %s", planned,
                         reset_error->message);
                return;
        }
        guint32 performed;
        g_autofree const char **done = NULL;
        g_autoptr(GVariant) rdict = NULL;
        g_variant_get(reset, "(u^a&s@a{sv})", &performed, &done, &rdict);
        if (performed != planned)
                mismatch(dev, mask, "planned 0x%x, performed 0x%x", planned, performed);
        if (g_strv_length((char **) done) != names->len)
                mismatch(dev, mask, "%u devices listed, %u reset", names->len, g_strv_length((char **) done));
        for (guint i = 0; done && done[i] && i < names->len; i++)
                if (!g_str_equal(done[i], names->pdata[i]))
                        mismatch(dev, mask, "listed %s, reset %s", (char *) names->pdata[i], done[i]);
        Details a = {}, b = {};
        details_read(idict, &a);
        details_read(rdict, &b);
        if (g_strcmp0(a.mechanism, b.mechanism) || g_strcmp0(a.method, b.method) || g_strcmp0(a.bridge, b.bridge))
                mismatch(dev, mask, "planned %s/%s/%s, ran %s/%s/%s", a.mechanism, a.method, a.bridge, b.mechanism,
                         b.method, b.bridge);
        details_clear(&a);
        details_clear(&b);
}

static int agree_main(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        unsigned counts[3] = {};

        if (!bus) {
                fprintf(stderr, "cannot connect: %s\n", error->message);
                return 2;
        }
        g_autoptr(GVariant) list = g_dbus_connection_call_sync(bus, DEST, PATH, IFACE, "ListDevices", NULL, NULL,
                                                               G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
        if (!list) {
                fprintf(stderr, "ListDevices: %s\n", error->message);
                return 2;
        }
        g_autoptr(GVariantIter) it = NULL;
        g_variant_get(list, "(a(ssqqsssssuas))", &it);
        const char *dev;
        unsigned n_devices = 0;
        while (g_variant_iter_next(it, "(&s&sqq&s&s&s&s&su@as)", &dev, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                   NULL, NULL)) {
                n_devices++;
                for (size_t i = 0; i < G_N_ELEMENTS(masks); i++)
                        compare(bus, dev, masks[i], counts);
        }
        printf("devices=%u planned=%u busy=%u refused=%u failures=%d\n", n_devices, counts[0], counts[1], counts[2],
               failures);
        return failures ? 1 : 0;
}

/* ---- the tests ---------------------------------------------------------- */

typedef struct Run {
        unsigned devices, planned, busy, refused;
} Run;

static Run agree_as(Harness *h, const char *user) {
        g_autofree char *out = NULL, *err = NULL;
        const char *argv[] = { "/proc/self/exe", "--agree", NULL };
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        argv[0] = self;
        Run r = {};
        int failures_seen = -1;

        int rc = harness_run(h, user, &out, &err, argv);
        g_test_message("agree as %s: rc %d\n%s%s", user ?: "root", rc, out ?: "", err ?: "");
        g_assert_cmpint(rc, ==, 0);
        g_assert_cmpint(sscanf(out, "devices=%u planned=%u busy=%u refused=%u failures=%d", &r.devices, &r.planned,
                               &r.busy, &r.refused, &failures_seen), ==, 5);
        g_assert_cmpint(failures_seen, ==, 0);
        g_assert_cmpuint(r.planned + r.busy + r.refused, ==, r.devices * G_N_ELEMENTS(masks));
        return r;
}

static void run_topology(const char *desc, gboolean expect_busy_for_alice) {
        g_autoptr(GError) error = NULL;
        g_autoptr(Harness) h = harness_new(&error);
        g_assert_no_error(error);
        g_assert_true(harness_build_tree(h, desc, &error));
        g_assert_no_error(error);
        harness_set_rules(h, rules_alice_all);
        g_autofree char *conf = g_build_filename(harness_dir(h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, config_text, -1, &error));
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(h, args, &error), ==, 0);
        g_assert_no_error(error);

        Run root = agree_as(h, NULL);
        Run alice = agree_as(h, HARNESS_USER_ALICE);
        /* each kind of answer was really compared, for both callers */
        g_assert_cmpuint(root.devices, >, 0);
        g_assert_cmpuint(root.planned, >, 0);
        g_assert_cmpuint(root.refused, >, 0);
        g_assert_cmpuint(alice.planned, >, 0);
        g_assert_cmpuint(alice.refused, >, 0);
        if (expect_busy_for_alice)
                g_assert_cmpuint(alice.busy, >, 0);
        g_assert_cmpint(harness_stop_daemon(h), ==, 0);
}

static void test_sample_host(void) {
        g_autofree char *path = g_build_filename(g_getenv("PCRESET_SRCDIR"), "tests", "fixtures", "topologies",
                                                 "sample.topo", NULL);
        g_autofree char *desc = NULL;
        g_autoptr(GError) error = NULL;
        g_assert_true(g_file_get_contents(path, &desc, NULL, &error));
        run_topology(desc, TRUE);
}

static void test_mixed_owners(void) {
        run_topology(mixed_desc, TRUE);
}

int main(int argc, char *argv[]) {
        if (argc == 2 && g_str_equal(argv[1], "--agree"))
                return agree_main();
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/decision/info-and-reset-agree/sample-host", test_sample_host);
        g_test_add_func("/decision/info-and-reset-agree/mixed-owners", test_mixed_owners);
        return g_test_run();
}
