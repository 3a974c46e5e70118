/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real pcresetd on a private system bus with the real polkitd, on a fake
 * host, driven by gdbus/busctl/pcresetctl as root and as test users. Every
 * case checks the answer AND the device files: what was written to `reset`,
 * and that `reset_method` is as it was.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fakereset.h"
#include "faketree.h"
#include "harness.h"

#define DEST "org.freedesktop.pcreset1"
#define PATH "/org/freedesktop/pcreset1"
#define IFACE "org.freedesktop.pcreset1.Manager"

static const char host_desc[] =
        /* a NIC in use by the host */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 driver=e1000e group=5 methods=\"flr pm bus\"\n"
        /* a GPU on vfio-pci, idle, and its audio function bound to the host */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=12 vfio methods=\"flr bus\"\n"
        "02:00.1 vendor=10de device=10f8 class=040300 driver=snd_hda_intel group=12 methods=\"flr\"\n"
        /* a driverless NVMe alone in a hotplug slot */
        "00:03.0 bridge=root-port hotplug slot=3 secondary=03 driver=pcieport\n"
        "03:00.0 vendor=144d device=a808 class=010802 group=20 methods=\"flr bus\"\n"
        /* alice's VM: group node hers, open by her qemu */
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=30 vfio-owner=4101 open-by=4711 "
        "methods=\"flr pm bus\"\n"
        /* idle, PM only */
        "00:05.0 bridge=root-port secondary=05 driver=pcieport\n"
        "05:00.0 vendor=8086 device=1521 class=020000 group=40 methods=\"pm\"\n"
        "00:06.0 bridge=root-port secondary=06 driver=pcieport\n"
        "06:00.0 vendor=8086 device=1521 class=020000 group=41 methods=\"pm flr\"\n"
        /* GPU + HDMI audio on the host's driver, behind a port with reset_subordinate */
        "00:07.0 bridge=root-port secondary=07 driver=pcieport reset_subordinate\n"
        "07:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=70 vfio methods=\"flr bus\"\n"
        "07:00.1 vendor=10de device=10f8 class=040300 driver=snd_hda_intel group=70 methods=\"flr\"\n"
        /* a dual NIC nobody uses, behind a port without reset_subordinate */
        "00:08.0 bridge=root-port secondary=08 driver=pcieport\n"
        "08:00.0 vendor=8086 device=1521 class=020000 group=80 methods=\"flr bus\"\n"
        "08:00.1 vendor=8086 device=1521 class=020000 driver=vfio-pci group=81 vfio methods=\"flr\"\n";

typedef struct Fixture {
        Harness *h;
        FakeReset *fuse;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        f->h = harness_new(&error);
        g_assert_no_error(error);
        g_assert_true(harness_build_tree(f->h, data ?: host_desc, &error));
        g_assert_no_error(error);
}

static void start_daemon(Fixture *f) {
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(harness_start_daemon(f->h, NULL, &error), ==, 0);
        g_assert_no_error(error);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        if (harness_daemon_pid(f->h))
                g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        if (f->fuse)
                fakereset_stop(f->fuse);
        harness_free(f->h);
}

static char *attr_path(Fixture *f, const char *addr, const char *attr) {
        g_autofree char *dir = faketree_device_dir(harness_fake_root(f->h), addr);
        return g_build_filename(dir, attr, NULL);
}

static char *read_attr(Fixture *f, const char *addr, const char *attr) {
        g_autofree char *p = attr_path(f, addr, attr);
        char *s = NULL;
        g_assert_true(g_file_get_contents(p, &s, NULL, NULL));
        return g_strchomp(s);
}

#define assert_attr(f, addr, attr, expected) do {                        \
                g_autofree char *_v = read_attr(f, addr, attr);           \
                g_assert_cmpstr(_v, ==, expected);                        \
        } while (0)

/* Calls a Manager method with gdbus as user; *out gets the GVariant text,
 * *err the error line ("GDBus.Error:NAME: message"). Returns the exit code. */
static int call(Fixture *f, const char *user, char **out, char **err, const char *method, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *m = g_strdup_printf("%s.%s", IFACE, method);
        va_list ap;
        g_ptr_array_add(argv, g_strdup("gdbus"));
        g_ptr_array_add(argv, g_strdup("call"));
        g_ptr_array_add(argv, g_strdup("--system"));
        g_ptr_array_add(argv, g_strdup("--dest=" DEST));
        g_ptr_array_add(argv, g_strdup("--object-path=" PATH));
        g_ptr_array_add(argv, g_strdup("--timeout=60"));
        g_ptr_array_add(argv, g_strdup_printf("--method=%s", m));
        va_start(ap, method);
        for (const char *a; (a = va_arg(ap, const char *));)
                g_ptr_array_add(argv, g_strdup(a));
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        int r = harness_run_logged(f->h, user, out, err, (const char *const *) argv->pdata);
        if (out)
                g_strchomp(*out);   /* gdbus ends its answer with a newline */
        return r;
}

static void assert_error(const char *err, const char *name, const char *needle) {
        g_autofree char *prefix = g_strdup_printf("GDBus.Error:%s:", name);
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err, prefix));
        if (needle)
                g_assert_nonnull(strstr(err, needle));
}

static int ctl(Fixture *f, const char *user, char **out, char **err, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        va_list ap;
        g_ptr_array_add(argv, (char *) g_getenv("PCRESETCTL_BIN"));
        g_ptr_array_add(argv, (char *) "--no-ask-password");
        va_start(ap, err);
        for (const char *a; (a = va_arg(ap, const char *));)
                g_ptr_array_add(argv, (char *) a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        return harness_run_logged(f->h, user, out, err, (const char *const *) argv->pdata);
}

static char *daemon_log(Fixture *f) {
        char *s = NULL;
        g_assert_true(g_file_get_contents(harness_daemon_log(f->h), &s, NULL, NULL));
        return s;
}

/* Where needle first is in text, -1 if nowhere. (Not inlined: gcc 12 at
 * -O3 takes daemon_log()'s buffer for its local and warns.) */
__attribute__((noinline)) static gssize offset_of(const char *text, const char *needle) {
        const char *p = strstr(text, needle);
        return p ? p - text : -1;
}

static unsigned count_lines_with(const char *text, const char *a, const char *b) {
        unsigned n = 0;
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++)
                n += strstr(*l, a) && (!b || strstr(*l, b));
        return n;
}

/* ---- cases ------------------------------------------------------------- */

static void test_introspection(Fixture *f, gconstpointer data) {
        g_autofree char *out = NULL, *tree = NULL, *ver = NULL;
        start_daemon(f);
        const char *intro[] = { "busctl", "introspect", DEST, PATH, NULL };
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_BOB, &out, NULL, intro), ==, 0);
        for (const char *m = "ResetDevice\0GetResetInfo\0ClaimDevice\0ReleaseDevice\0ListDevices\0ListDevicesEx\0Version\0"
                             "org.freedesktop.DBus.Peer\0org.freedesktop.DBus.Properties\0";
             *m; m += strlen(m) + 1)
                g_assert_nonnull(strstr(out, m));
        g_assert_true(g_regex_match_simple("^\\.ResetDevice +method +su +uas", out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^\\.ListDevices +method +- +a\\(ssqqsssssuas\\)", out, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^\\.ListDevicesEx +method +- +a\\(ssqqsssssuasa\\{sv\\}\\)", out,
                                           G_REGEX_MULTILINE, 0));
        const char *t[] = { "busctl", "tree", DEST, NULL };
        g_assert_cmpint(harness_run_logged(f->h, NULL, &tree, NULL, t), ==, 0);
        g_assert_nonnull(strstr(tree, PATH));
        const char *v[] = { "busctl", "get-property", DEST, PATH, IFACE, "Version", NULL };
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_ALICE, &ver, NULL, v), ==, 0);
        g_assert_true(g_str_has_prefix(ver, "s \""));
        const char *ping[] = { "busctl", "call", DEST, PATH, "org.freedesktop.DBus.Peer", "Ping", NULL };
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_BOB, NULL, NULL, ping), ==, 0);
}

static void test_invalid_input(Fixture *f, gconstpointer data) {
        static const struct {
                const char *addr, *mask, *error, *needle;
        } cases[] = {
                { "0000:05:00.0", "uint32 0", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid scope mask 0x00000000" },
                { "0000:05:00.0", "uint32 128", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid scope mask 0x00000080" },
                { "0000:05:00.0", "uint32 2147483647", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid scope mask" },
                { "05:00", "uint32 39", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid PCI address '05:00'" },
                { "", "uint32 39", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid PCI address ''" },
                { "0000:05:00.0/../../x", "uint32 39", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid PCI address" },
                { "0000:05:00.8", "uint32 39", "org.freedesktop.DBus.Error.InvalidArgs", "Invalid PCI address" },
                { "0000:09:00.0", "uint32 39", "org.freedesktop.pcreset1.Error.NoSuchDevice", "No PCI device 0000:09:00.0" },
                { "0000:00:05.0", "uint32 39", "org.freedesktop.pcreset1.Error.NotSupported", "no reset_method" },
                { "0000:05:00.0", "uint32 2", "org.freedesktop.pcreset1.Error.NotSupported", "the kernel offers only pm" },
                { "0000:05:00.0", "uint32 24", "org.freedesktop.pcreset1.Error.NotSupported", "the kernel offers no bus reset for 0000:05:00.0" },
        };
        start_daemon(f);
        /* the same answer for root and for an unprivileged caller */
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                for (int u = 0; u < 2; u++) {
                        g_autofree char *err = NULL, *err2 = NULL;
                        const char *user = u ? HARNESS_USER_BOB : NULL;
                        g_assert_cmpint(call(f, user, NULL, &err, "ResetDevice", cases[i].addr, cases[i].mask, NULL), !=, 0);
                        g_assert_nonnull(strstr(err, cases[i].error));
                        g_assert_nonnull(strstr(err, cases[i].needle));
                        g_assert_cmpint(call(f, user, NULL, &err2, "GetResetInfo", cases[i].addr, cases[i].mask, NULL), !=, 0);
                        g_assert_nonnull(strstr(err2, cases[i].error));
                }
        /* wrong signature: refused by sd-bus itself */
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, NULL, NULL, &err, "ResetDevice", "0000:05:00.0", NULL), !=, 0);
        g_assert_nonnull(strstr(err, "InvalidArgs"));
        /* nothing was touched */
        assert_attr(f, "0000:05:00.0", "reset", "");
        assert_attr(f, "0000:05:00.0", "reset_method", "pm");
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", NULL), >=, G_N_ELEMENTS(cases));
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", NULL), ==, 0);
}

static void test_reset_as_root(Fixture *f, gconstpointer data) {
        g_autofree char *out = NULL, *out2 = NULL;
        start_daemon(f);
        /* LINK on a device alone in a hotplug slot: the slot path */
        g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDevice", "03:00.0", "uint32 88", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "(uint32 8, ['0000:03:00.0'])");
        assert_attr(f, "0000:03:00.0", "reset", "1");
        assert_attr(f, "0000:03:00.0", "reset_method", "flr bus");
        /* ANY takes the least invasive: flr */
        g_assert_cmpint(call(f, NULL, &out2, NULL, "ResetDevice", "0000:06:00.0", "uint32 4294967295", NULL), ==, 0);
        g_assert_cmpstr(out2, ==, "(uint32 2, ['0000:06:00.0'])");
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
        /* the audit trail */
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:03:00.0"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "MESSAGE_ID=9b76c9888fc6490081ab94dd74427d09",
                                          "PCRESET_SCOPE=slot PCRESET_METHOD=bus"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=accepted", "CALLER_UID=0"), ==, 2);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_MASK=0xffffffff"), ==, 1);
}

static void test_busy_and_claim(Fixture *f, gconstpointer data) {
        g_autofree char *err = NULL, *out = NULL, *info = NULL, *info2 = NULL;
        start_daemon(f);
        /* a NIC the host uses: refused, named */
        g_assert_cmpint(call(f, NULL, NULL, &err, "ResetDevice", "0000:01:00.0", "uint32 39", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy",
                     "0000:01:00.0 (e1000e): bound to e1000e: in use by the host and not owned by you");
        assert_attr(f, "0000:01:00.0", "reset", "");
        g_assert_cmpint(call(f, NULL, &info, NULL, "GetResetInfo", "0000:01:00.0", "uint32 39", NULL), ==, 0);
        g_assert_cmpstr(info, ==, "(uint32 2, [('0000:01:00.0', 'busy', 'bound to e1000e: in use by the host and not owned by you')])");
        /* root claims it: now it is root's to reset, under its driver */
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ClaimDevice", "0000:01:00.0", NULL), ==, 0);
        g_assert_cmpint(call(f, NULL, &info2, NULL, "GetResetInfo", "0000:01:00.0", "uint32 4", NULL), ==, 0);
        g_assert_nonnull(strstr(info2, "'owned', 'claimed by you; the reset runs under its host driver e1000e'"));
        g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDevice", "0000:01:00.0", "uint32 39", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "(uint32 2, ['0000:01:00.0'])");
        assert_attr(f, "0000:01:00.0", "reset", "1");
        assert_attr(f, "0000:01:00.0", "reset_method", "flr pm bus");
        /* someone else's device stays someone else's, even for root */
        g_autofree char *err2 = NULL;
        g_assert_cmpint(call(f, NULL, NULL, &err2, "ResetDevice", "0000:04:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err2, "org.freedesktop.pcreset1.Error.DeviceBusy", "vfio group 30 is open by pid 4711");
}

static const char rules_gpu[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id.indexOf('org.freedesktop.pcreset1.') == 0 && subject.user == 'pcr-bob')\n"
        "    return polkit.Result.NO;\n"
        "  if ((action.id == 'org.freedesktop.pcreset1.reset' || action.id == 'org.freedesktop.pcreset1.claim') &&\n"
        "      subject.isInGroup('pcr-gpu') && action.lookup('vendor') == '10de')\n"
        "    return polkit.Result.YES;\n"
        "  if (action.id == 'org.freedesktop.pcreset1.reset' && subject.user == 'pcr-alice' &&\n"
        "      action.lookup('device') == '0000:04:00.0' && action.lookup('scope') == 'flr')\n"
        "    return polkit.Result.YES;\n"
        "  if (action.id == 'org.freedesktop.pcreset1.reset' && subject.user == 'pcr-carol')\n"
        "    return polkit.Result.AUTH_ADMIN_KEEP;\n"
        "});\n";

static void test_polkit_rules(Fixture *f, gconstpointer data) {
        start_daemon(f);
        /* no rules: the policy default (auth_admin) wants a password, which a
         * non-interactive caller cannot give; nothing happens */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                             "Interactive authentication is required to reset 0000:02:00.0 (polkit action org.freedesktop.pcreset1.reset)");
                assert_attr(f, "0000:02:00.0", "reset", "");
        }
        harness_set_rules(f->h, rules_gpu);
        /* vendor rule: alice (group pcr-gpu) may reset the idle NVIDIA GPU */
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out, NULL, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), ==, 0);
                g_assert_cmpstr(out, ==, "(uint32 2, ['0000:02:00.0'])");
                assert_attr(f, "0000:02:00.0", "reset", "1");
                assert_attr(f, "0000:02:00.0", "reset_method", "flr bus");
        }
        /* a rule says no to bob */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, &err, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.AccessDenied",
                             "Not authorized to reset 0000:02:00.0 (polkit action org.freedesktop.pcreset1.reset)");
        }
        /* details rule: alice may FLR her VM's device, which is hers (group node) though open */
        {
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out, NULL, "ResetDevice", "0000:04:00.0", "uint32 39", NULL), ==, 0);
                g_assert_cmpstr(out, ==, "(uint32 2, ['0000:04:00.0'])");
                /* ...but not with PM: the rule says flr, the default wants a password */
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:04:00.0", "uint32 4", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", NULL);
                assert_attr(f, "0000:04:00.0", "reset_method", "flr pm bus");
        }
        /* a vendor the rule does not name: refused (the device is idle, so it is polkit saying no) */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", NULL);
                assert_attr(f, "0000:05:00.0", "reset", "");
        }
        /* a challenge without interaction allowed */
        {
                g_autofree char *err = NULL;
                const char *argv[] = { "busctl", "--allow-interactive-authorization=no", "call", DEST, PATH, IFACE,
                                       "ResetDevice", "su", "0000:05:00.0", "4", NULL };
                g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_CAROL, NULL, &err, argv), !=, 0);
                g_assert_nonnull(strstr(err, "Interactive authentication is required to reset 0000:05:00.0"));
                assert_attr(f, "0000:05:00.0", "reset", "");
        }
        /* busy beats authorized: alice may reset NVIDIA devices, not one the host uses */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:02:00.1", "uint32 2", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "0000:02:00.1 (snd_hda_intel)");
        }
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "CALLER_UID=4101"), ==, 2);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", "PCRESET_RESULT=org.freedesktop.DBus.Error.AccessDenied"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", "PCRESET_RESULT=org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), ==, 4);
}

static void test_claims_across_restart(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_gpu);
        /* alice cannot claim the host-bound audio function: a claim never
         * takes a device away (NVIDIA: the rule would allow it) */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ClaimDevice", "0000:02:00.1", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy",
                             "Cannot claim 0000:02:00.1: bound to snd_hda_intel: in use by the host and not owned by "
                             "you. A claim never takes a device away from its user");
        }
        /* she claims the idle GPU function (twice: a claim is idempotent) */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "0000:02:00.0", NULL), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "02:00.0", NULL), ==, 0);
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, &err, "ClaimDevice", "0000:05:00.0", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.AccessDenied", "Not authorized to claim 0000:05:00.0");
        }
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        start_daemon(f);
        {
                g_autofree char *info = NULL, *binfo = NULL, *err = NULL, *err2 = NULL, *out = NULL;
                g_autofree char *rinfo = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
                g_assert_nonnull(strstr(info, "'owned', 'claimed by you'"));
                /* who claimed it is root's and alice's business only */
                g_assert_cmpint(call(f, HARNESS_USER_BOB, &binfo, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
                g_assert_nonnull(strstr(binfo, "'busy', 'claimed by another user'"));
                g_assert_null(strstr(binfo, "4101"));
                g_assert_cmpint(call(f, NULL, &rinfo, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
                g_assert_nonnull(strstr(rinfo, "'busy', 'claimed by uid 4101 (pcr-alice)'"));
                /* a claim is not a way around the rules of others */
                g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, &err, "ClaimDevice", "0000:02:00.0", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "0000:02:00.0 is already claimed by another user");
                g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, &err2, "ReleaseDevice", "0000:02:00.0", NULL), !=, 0);
                assert_error(err2, "org.freedesktop.DBus.Error.AccessDenied", "only that user or root can release it");
                /* the owner resets it, then releases it */
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out, NULL, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), ==, 0);
                g_assert_cmpstr(out, ==, "(uint32 2, ['0000:02:00.0'])");
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ReleaseDevice", "0000:02:00.0", NULL), ==, 0);
        }
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ReleaseDevice", "0000:02:00.0", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.InvalidArgs", "0000:02:00.0 is not claimed");
                /* the audio function is still the host's */
                g_autofree char *err2 = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err2, "ResetDevice", "0000:02:00.1", "uint32 2", NULL), !=, 0);
                assert_error(err2, "org.freedesktop.pcreset1.Error.DeviceBusy", NULL);
        }
        /* root, the admin, may claim a device the host's driver has; its reset runs under that driver */
        {
                g_autofree char *info = NULL;
                g_assert_cmpint(call(f, NULL, NULL, NULL, "ClaimDevice", "0000:02:00.1", NULL), ==, 0);
                g_assert_cmpint(call(f, NULL, &info, NULL, "GetResetInfo", "0000:02:00.1", "uint32 2", NULL), ==, 0);
                g_assert_nonnull(strstr(info, "'owned', 'claimed by you; the reset runs under its host driver snd_hda_intel'"));
                g_assert_cmpint(call(f, NULL, NULL, NULL, "ReleaseDevice", "0000:02:00.1", NULL), ==, 0);
        }
        /* root can break a claim */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "0000:02:00.0", NULL), ==, 0);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ReleaseDevice", "0000:02:00.0", NULL), ==, 0);
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=claimed", "CALLER_UID=4101"), ==, 2);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=released", "CALLER_UID=0"), ==, 2);
}

/* Binds fakereset files over attributes: specs as bind_fuse(), each over
 * attr of addrs[i]. */
static void bind_fuse_attrs(Fixture *f, const char *const *specs, const char *const *addrs, const char *const *attrs) {
        g_autoptr(GError) error = NULL;
        g_autofree char *mnt = g_build_filename(harness_dir(f->h), "fuse", NULL);
        g_autofree char *log = g_build_filename(harness_dir(f->h), "fuse.log", NULL);
        f->fuse = fakereset_start(g_getenv("FAKERESET_FUSE_BIN"), mnt, log, specs, &error);
        g_assert_no_error(error);
        for (size_t i = 0; specs[i]; i++) {
                g_auto(GStrv) parts = g_strsplit(specs[i], ":", 2);
                g_autofree char *target = attr_path(f, addrs[i], attrs[i]);
                g_assert_cmpint(fakereset_bind(f->fuse, parts[0], target), ==, 0);
        }
}

static void bind_fuse(Fixture *f, const char *const *specs, const char *const *addrs) {
        const char *attrs[8];
        size_t n = 0;
        for (; specs[n]; n++) {
                g_assert_cmpuint(n, <, G_N_ELEMENTS(attrs));
                attrs[n] = "reset";
        }
        bind_fuse_attrs(f, specs, addrs, attrs);
}

static GPtrArray *fuse_log(Fixture *f) {
        g_autofree char *log = g_build_filename(harness_dir(f->h), "fuse.log", NULL);
        return fakereset_read_log(log);
}

static void test_kernel_error(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r5:0:EIO", "r6:0:ENOTTY", NULL };
        const char *addrs[] = { "0000:05:00.0", "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        g_autofree char *err = NULL, *err2 = NULL;
        g_assert_cmpint(call(f, NULL, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.ResetFailed", "pm reset of 0000:05:00.0 failed: Input/output error");
        assert_attr(f, "0000:05:00.0", "reset_method", "pm");
        g_assert_cmpint(call(f, NULL, NULL, &err2, "ResetDevice", "0000:06:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err2, "org.freedesktop.pcreset1.Error.ResetFailed", "Inappropriate ioctl for device");
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 2);
        g_autofree char *dl = daemon_log(f);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=failed", "PCRESET_RESULT=org.freedesktop.pcreset1.Error.ResetFailed"), ==, 2);
}

/* A caller that leaves the bus while queued gets nothing reset. */
static void test_disconnect_while_queued(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r6:800", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        const char *first[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                                "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 2", NULL };
        const char *second[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                                 "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 4", NULL };
        GPid a = harness_spawn(f->h, NULL, first, NULL);
        g_usleep(200 * 1000);  /* the first one runs in the FUSE write */
        GPid b = harness_spawn(f->h, NULL, second, NULL);
        g_usleep(200 * 1000);  /* the second one is queued behind it */
        g_assert_cmpint(harness_kill(b), ==, 128 + SIGKILL);
        g_assert_cmpint(harness_wait(a), ==, 0);
        g_usleep(300 * 1000);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);   /* only the first reset ran */
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
        g_autofree char *dl = daemon_log(f);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=cancelled", "PCRESET_SCOPE=pm"), ==, 1);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=completed", "PCRESET_SCOPE=flr"), ==, 1);
}

/* Through the daemon: one domain serial and in order, two domains together. */
static void test_domains(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r5:300", "r6:300", NULL };
        const char *addrs[] = { "0000:05:00.0", "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        const char *on5[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:05:00.0", "uint32 4", NULL };
        const char *on6[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 39", NULL };
        gint64 t0 = g_get_monotonic_time();
        GPid p[4] = { harness_spawn(f->h, NULL, on5, NULL), harness_spawn(f->h, NULL, on6, NULL),
                      harness_spawn(f->h, NULL, on5, NULL), harness_spawn(f->h, NULL, on6, NULL) };
        for (int i = 0; i < 4; i++)
                g_assert_cmpint(harness_wait(p[i]), ==, 0);
        gint64 ms = (g_get_monotonic_time() - t0) / 1000;
        g_test_message("4 resets of 300 ms over 2 domains: %" G_GINT64_FORMAT " ms", ms);

        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 4);
        int cross = 0;
        for (guint i = 0; i < log->len; i++)
                for (guint k = i + 1; k < log->len; k++) {
                        FakeResetEntry *x = log->pdata[i], *y = log->pdata[k];
                        gboolean ov = x->start_ns < y->end_ns && y->start_ns < x->end_ns;
                        if (g_str_equal(x->name, y->name))
                                g_assert_false(ov);
                        else
                                cross += ov;
                }
        g_assert_cmpint(cross, >=, 1);
        g_assert_cmpint(ms, <, 4 * 300);
        assert_attr(f, "0000:05:00.0", "reset_method", "pm");
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
}

static void test_crash_repair(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r6:3000", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 4", NULL };
        GPid a = harness_spawn(f->h, NULL, req, NULL);
        g_usleep(500 * 1000);
        /* mid-reset, the method is narrowed to ours */
        assert_attr(f, "0000:06:00.0", "reset_method", "pm");
        harness_kill_daemon(f->h);
        /* the client gets an error, not a hang */
        g_assert_cmpint(harness_wait(a), !=, 0);
        start_daemon(f);
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
        g_autofree char *dl = daemon_log(f);
        g_assert_cmpuint(count_lines_with(dl, "restored reset_method 'pm flr'", NULL), ==, 1);
        g_assert_cmpuint(count_lines_with(dl, "MESSAGE_ID=e931c0e3356f46ea86dae8eda5ba5ee0", NULL), ==, 1);
}

static void test_pcresetctl(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_gpu);
        g_autofree char *list = NULL, *info = NULL, *reset = NULL, *json = NULL, *e1 = NULL, *e2 = NULL, *e3 = NULL;
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &list, NULL, "list", NULL), ==, 0);
        g_assert_nonnull(strstr(list, "0000:01:00.0"));
        g_assert_nonnull(strstr(list, "e1000e"));
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &info, NULL, "info", "0000:02:00.1", NULL), ==, 0);
        g_assert_nonnull(strstr(info, "snd_hda_intel"));
        g_assert_cmpint(ctl(f, HARNESS_USER_ALICE, &reset, NULL, "reset", "0000:02:00.0", "--scope", "flr", NULL), ==, 0);
        g_assert_nonnull(strstr(reset, "flr"));
        assert_attr(f, "0000:02:00.0", "reset", "1");
        g_assert_cmpint(ctl(f, NULL, &json, NULL, "--json", "info", "0000:03:00.0", "--scope", "link", NULL), ==, 0);
        g_assert_nonnull(strstr(json, "\"planned\""));
        /* exit codes per error class */
        g_assert_cmpint(ctl(f, NULL, NULL, &e1, "reset", "0000:09:00.0", NULL), ==, 3);
        g_assert_cmpint(ctl(f, NULL, NULL, &e2, "reset", "0000:05:00.0", "--scope", "flr", NULL), ==, 4);
        g_assert_cmpint(ctl(f, NULL, NULL, &e3, "reset", "0000:01:00.0", NULL), ==, 5);
        g_assert_nonnull(strstr(e3, "e1000e"));
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, NULL, NULL, "reset", "0000:05:00.0", "--scope", "pm", NULL), ==, 6);
        g_assert_cmpint(ctl(f, NULL, NULL, NULL, "reset", "0000:05:00.0", "--scope", "bogus", NULL), ==, 2);
        g_assert_cmpint(ctl(f, NULL, NULL, NULL, "reset", "xyz", NULL), ==, 2);
        assert_attr(f, "0000:05:00.0", "reset", "");
        harness_stop_daemon(f->h);
        g_assert_cmpint(ctl(f, NULL, NULL, NULL, "list", NULL), ==, 10);
}

/* Link resets of several devices (GPU + audio, dual NIC). */
static void test_link_resets(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_gpu);
        /* what a bus reset of the GPU would touch, before anything happens */
        {
                g_autofree char *info = NULL, *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfoEx", "0000:07:00.0", "uint32 16", NULL), ==, 0);
                g_assert_cmpstr(info, ==, "(uint32 16, [('0000:07:00.0', 'idle', 'bound to vfio-pci, not open'), "
                                "('0000:07:00.1', 'busy', 'bound to snd_hda_intel: in use by the host and not owned by you')], "
                                "{'mechanism': <'reset-subordinate'>, 'method': <''>, 'bridge': <'0000:00:07.0'>, "
                                "'domain': <'0000:00:07.0'>})");
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:07:00.0", "uint32 16", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy",
                             "0000:07:00.1 (snd_hda_intel): bound to snd_hda_intel: in use by the host and not owned by you");
                g_autofree char *rs = read_attr(f, "0000:00:07.0", "reset_subordinate");
                g_assert_cmpstr(rs, ==, "");
        }
        /* alice cannot claim the audio function away from the host's driver... */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ClaimDevice", "0000:07:00.1", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy",
                             "Cannot claim 0000:07:00.1: bound to snd_hda_intel: in use by the host");
        }
        /* ...the admin hands it to VFIO, then she claims it: all of it is hers or idle now */
        g_assert_cmpint(faketree_set_driver(harness_fake_root(f->h), "0000:07:00.1", "vfio-pci"), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "0000:07:00.1", NULL), ==, 0);
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out, NULL, "ResetDeviceEx", "0000:07:00.1", "uint32 88", NULL), ==, 0);
                g_assert_true(g_str_has_prefix(out, "(uint32 16, ['0000:07:00.0', '0000:07:00.1'], {'mechanism': <'reset-subordinate'>, "
                                               "'method': <''>, 'bridge': <'0000:00:07.0'>, 'duration_usec': <uint64 "));
                g_autofree char *rs = read_attr(f, "0000:00:07.0", "reset_subordinate");
                g_assert_cmpstr(rs, ==, "1");
                assert_attr(f, "0000:07:00.0", "reset_method", "flr bus");
                assert_attr(f, "0000:07:00.1", "reset_method", "flr");
        }
        /* the dual NIC: no reset_subordinate, both quiet: the userspace bus reset */
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDeviceEx", "0000:08:00.1", "uint32 16", NULL), ==, 0);
                g_assert_true(g_str_has_prefix(out, "(uint32 16, ['0000:08:00.0', '0000:08:00.1'], {'mechanism': <'userspace-sbr'>"));
                /* the bridge control register is as before: the SBR bit was released */
                g_autofree char *cfg = attr_path(f, "0000:00:08.0", "config");
                g_autofree char *bytes = NULL;
                gsize len;
                g_assert_true(g_file_get_contents(cfg, &bytes, &len, NULL));
                g_assert_cmpuint(len, >, 0x3f);
                g_assert_cmphex(bytes[0x3e] & 0x40, ==, 0);
        }
        /* ...and once a host driver holds one function, not at all, and we say why */
        g_assert_cmpint(faketree_set_driver(harness_fake_root(f->h), "0000:08:00.0", "igb"), ==, 0);
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, NULL, NULL, &err, "ResetDevice", "0000:08:00.1", "uint32 16", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.NotSupported",
                             "a bus reset of 0000:08:00.1 would need reset_subordinate (Linux 6.13+, or a stable kernel "
                             "with it), because 0000:08:00.0 shares the bus and is bound to igb");
        }
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_MECHANISM=reset-subordinate PCRESET_BRIDGE=0000:00:07.0 PCRESET_AFFECTED=0000:07:00.0,0000:07:00.1"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_MECHANISM=userspace-sbr"), ==, 1);
}

/* The admin's switch: UseResetSubordinate=no; and a broken config file. */
static void test_config(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Reset]\nUseResetSubordinate=no\n", -1, NULL));
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, NULL, NULL, &err, "GetResetInfo", "0000:07:00.0", "uint32 16", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.NotSupported",
                     "would need reset_subordinate, which UseResetSubordinate=no turns off, because 0000:07:00.1 shares "
                     "the bus and is bound to snd_hda_intel");
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);

        g_assert_true(g_file_set_contents(conf, "[Reset]\nUseResetSubordinate=perhaps\n", -1, NULL));
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), <, 0);
        g_assert_nonnull(error);
        g_autofree char *log = daemon_log(f);
        g_assert_nonnull(strstr(log, "pcresetd.conf:2: UseResetSubordinate=perhaps is not a boolean (yes/no)"));
}

/* Ownership by proof: VFIO fds passed with the call. The fake host's
 * sysfs says character device 1:3 is group 12, so /dev/null stands in for
 * an open /dev/vfio/12. No <proc>/devices: the shipped unit's ProcSubset=pid
 * hides it, so the proof must not need it. */
static void test_fd_proof(Fixture *f, gconstpointer data) {
        const char *root = harness_fake_root(f->h);
        g_autofree char *devices = g_build_filename(root, "proc", "devices", NULL);
        g_autofree char *chardir = g_build_filename(root, "sys", "dev", "char", NULL);
        g_autofree char *vgroup = g_build_filename(root, "sys", "devices", "virtual", "vfio", "12", NULL);
        g_autofree char *link = g_build_filename(chardir, "1:3", NULL);
        g_assert_false(g_file_test(devices, G_FILE_TEST_EXISTS));
        g_assert_cmpint(g_mkdir_with_parents(chardir, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(vgroup, 0755), ==, 0);
        g_assert_cmpint(symlink("../../devices/virtual/vfio/12", link), ==, 0);
        start_daemon(f);

        const struct {
                const char *fds, *redirect;
                int exit;
                const char *needle;
        } cases[] = {
                { "", "", 1, NULL },   /* no proof: the audio function is the host's */
                { "3", "3</dev/null", 0, NULL },
                /* the attack: an O_PATH fd of the node needs no permission on it */
                { "opath:/dev/null", "", 1, "fd #0 refused: the passed fd was opened with O_PATH, which proves nothing" },
                { "3", "3</etc/hostname", 1, "InvalidArgs: fd #0 refused: the passed fd is a regular file, not a VFIO group or device" },
                { "3", "3< <(sleep 5)", 1, "fd #0 refused: the passed fd is a pipe" },
                { "3", "3</dev/zero", 1, "character device 1:5, which sysfs does not know: not a VFIO group or device" },
                { "3 4", "3</dev/null 4</etc/hostname", 1, "fd #1 refused: the passed fd is a regular file" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *full = g_strdup_printf("exec %s 0000:02:00.1 2 %s %s", g_getenv("CALL_WITH_FDS_BIN"),
                                                        cases[i].fds, cases[i].redirect);
                g_autofree char *out = NULL, *err = NULL;
                const char *argv[] = { "bash", "-c", full, NULL };
                int r = harness_run_logged(f->h, NULL, &out, &err, argv);
                g_assert_cmpint(r, ==, cases[i].exit);
                if (cases[i].needle)
                        g_assert_nonnull(strstr(err, cases[i].needle));
                if (i == 0)
                        g_assert_nonnull(strstr(err, "0000:02:00.1 (snd_hda_intel)"));
                if (i == 1)
                        g_assert_cmpstr(out, ==, "2 0000:02:00.1\n");
        }
        /* exactly one reset happened */
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:02:00.1"), ==, 1);
        assert_attr(f, "0000:02:00.1", "reset_method", "flr");
}

/* Monitors see resets happen. */
static void test_signals(Fixture *f, gconstpointer data) {
        start_daemon(f);
        /* dbus-monitor flushes every message: nothing is lost when we kill it */
        const char *mon[] = { "dbus-monitor", "--system", "type='signal',interface='" IFACE "'", NULL };
        int fd = -1;
        GPid m = harness_spawn(f->h, HARNESS_USER_BOB, mon, &fd);
        g_usleep(300 * 1000);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ResetDevice", "0000:06:00.0", "uint32 2", NULL), ==, 0);
        g_usleep(300 * 1000);
        harness_kill(m);
        g_autoptr(GString) text = g_string_new(NULL);
        char buf[4096];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                g_string_append_len(text, buf, n);
        close(fd);
        g_test_message("%s", text->str);
        const char *started = strstr(text->str, "member=ResetStarted");
        const char *completed = strstr(text->str, "member=ResetCompleted");
        g_assert_nonnull(started);
        g_assert_nonnull(completed);
        g_assert_true(started < completed);
        g_assert_nonnull(strstr(completed, "string \"0000:06:00.0\""));
        g_assert_nonnull(strstr(completed, "uint32 2"));
        g_assert_nonnull(strstr(completed, "string \"ok\""));
}

/* Health after a reset: a GPU that comes back at 2.5 GT/s x1 with a new
 * uncorrectable error. The reset (a FUSE `reset` that takes 700 ms) runs
 * while the test changes the device's config as a bad retrain would. */
static const char health_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport link=gen4x16\n"
        "01:00.0 vendor=10de device=1eb8 class=030000 group=12 methods=\"flr\" link=gen4x16 aer aer-status=20\n";

/* Returns the call's exit code. */
static int degrade_during_reset(Fixture *f, const char *method, char **ret_out, char **ret_signals) {
        g_autofree char *cfg = attr_path(f, "0000:01:00.0", "config");
        const char *mon[] = { "dbus-monitor", "--system", "type='signal',interface='" IFACE "'", NULL };
        const char *argv[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH, "--timeout=60",
                               method, "0000:01:00.0", "uint32 2", NULL };
        int mfd = -1, cfd = -1;
        GPid m = harness_spawn(f->h, HARNESS_USER_BOB, mon, &mfd);
        g_usleep(300 * 1000);
        GPid c = harness_spawn(f->h, NULL, argv, &cfd);
        g_usleep(300 * 1000);
        /* Link Status 2.5 GT/s x1 (PCIe capability at 0x60), UnsupReq on top of the old SDES */
        int fd = open(cfg, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, (uint8_t[]) { 0x11, 0x00 }, 2, 0x72), ==, 2);
        g_assert_cmpint(pwrite(fd, (uint8_t[]) { 0x20, 0x00, 0x10, 0x00 }, 4, 0x104), ==, 4);
        close(fd);
        int rc = harness_wait(c);
        g_usleep(300 * 1000);
        harness_kill(m);
        g_autoptr(GString) out = g_string_new(NULL), sig = g_string_new(NULL);
        char buf[4096];
        for (ssize_t n; (n = read(cfd, buf, sizeof buf)) > 0;)
                g_string_append_len(out, buf, n);
        for (ssize_t n; (n = read(mfd, buf, sizeof buf)) > 0;)
                g_string_append_len(sig, buf, n);
        close(cfd);
        close(mfd);
        g_test_message("reply: %s\nsignals: %s", out->str, sig->str);
        *ret_out = g_string_free(g_steal_pointer(&out), FALSE);
        *ret_signals = g_string_free(g_steal_pointer(&sig), FALSE);
        return rc;
}

static void restore_link(Fixture *f) {
        g_autofree char *cfg = attr_path(f, "0000:01:00.0", "config");
        int fd = open(cfg, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, (uint8_t[]) { 0x04, 0x01 }, 2, 0x72), ==, 2);
        g_assert_cmpint(pwrite(fd, (uint8_t[]) { 0x20, 0x00, 0x00, 0x00 }, 4, 0x104), ==, 4);
        close(fd);
}

static void test_health(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r1:700", NULL };
        const char *addrs[] = { "0000:01:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);

        /* a healthy reset says so */
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDeviceEx", "0000:01:00.0", "uint32 2", NULL), ==, 0);
                g_assert_nonnull(strstr(out, "'health': <'ok'>, 'health_report': <''>, 'health_devices': "
                                        "<[('0000:01:00.0', 'same', uint32 16000, uint32 16, uint32 16000, uint32 16, "
                                        "'clear', uint32 0)]>}"));
        }
        /* degraded: a warning by default, the call succeeds */
        {
                g_autofree char *out = NULL, *sig = NULL;
                g_assert_cmpint(degrade_during_reset(f, "--method=" IFACE ".ResetDeviceEx", &out, &sig), ==, 0);
                g_assert_true(g_str_has_prefix(out, "(uint32 2, ['0000:01:00.0'], {'mechanism': <'kernel-reset-method'>"));
                g_assert_nonnull(strstr(out, "'health': <'degraded'>, 'health_report': <'0000:01:00.0: link 2.5 GT/s x1, "
                                        "was 16 GT/s x16; 0000:01:00.0: new uncorrectable errors UnsupReq'>, "
                                        "'health_devices': <[('0000:01:00.0', 'degraded', uint32 16000, uint32 16, "
                                        "uint32 2500, uint32 1, 'new-errors', uint32 1048576)]>}"));
                /* ResetCompleted as before, then ResetCompletedEx with the details */
                const char *plain = strstr(sig, "member=ResetCompleted\n");
                const char *ex = strstr(sig, "member=ResetCompletedEx\n");
                g_assert_nonnull(plain);
                g_assert_nonnull(ex);
                g_assert_true(plain < ex);
                g_assert_nonnull(strstr(ex, "string \"health\"\n         variant             string \"degraded\""));
                g_assert_nonnull(strstr(ex, "string \"0000:01:00.0: link 2.5 GT/s x1, was 16 GT/s x16; 0000:01:00.0: "
                                        "new uncorrectable errors UnsupReq\""));
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "pcresetd: warning: Reset of 0000:01:00.0 (mask flr, scope flr via "
                                                  "kernel-reset-method) by uid 0 completed; health degraded: 0000:01:00.0: "
                                                  "link 2.5 GT/s x1, was 16 GT/s x16",
                                                  "PCRESET_HEALTH=degraded PCRESET_LINK=0000:01:00.0 16 GT/s x16 -> "
                                                  "2.5 GT/s x1 PCRESET_AER_NEW=0000:01:00.0 UnsupReq"), ==, 1);
        }
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);

        /* RequireSameLink=yes: the same is a failed reset */
        restore_link(f);
        g_autoptr(GError) error = NULL;
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Reset]\nRequireSameLink=yes\n", -1, NULL));
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        {
                g_autofree char *out = NULL, *sig = NULL;
                g_assert_cmpint(degrade_during_reset(f, "--method=" IFACE ".ResetDevice", &out, &sig), !=, 0);
                g_assert_cmpstr(out, ==, "");
                const char *ex = strstr(sig, "member=ResetCompletedEx\n");
                g_assert_nonnull(ex);
                g_assert_nonnull(strstr(ex, "string \"org.freedesktop.pcreset1.Error.ResetFailed\""));
                g_assert_nonnull(strstr(ex, "string \"degraded\""));
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=failed", "PCRESET_HEALTH=degraded"), ==, 1);
                g_assert_cmpuint(count_lines_with(log, "the reset of 0000:01:00.0 left a link degraded "
                                                  "(RequireSameLink=yes): 0000:01:00.0: link 2.5 GT/s x1, was 16 GT/s x16",
                                                  "PCRESET_RESULT=org.freedesktop.pcreset1.Error.ResetFailed"), ==, 1);
        }
}

static const char rules_alice_all[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id.indexOf('org.freedesktop.pcreset1.') == 0 && subject.user == 'pcr-alice')\n"
        "    return polkit.Result.YES;\n"
        "});\n";

static GPid spawn_call(Fixture *f, const char *user, const char *addr, const char *mask) {
        const char *argv[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                               "--method=" IFACE ".ResetDevice", addr, mask, NULL };
        return harness_spawn(f->h, user, argv, NULL);
}

/* Per-uid queue cap, per-uid rate, and the bound on a queued request's wait. */
static void test_limits(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        const char *specs[] = { "r6:2500", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Limits]\nMaxQueuedPerUser=1\nMaxResetsPerMinute=2\n"
                                          "MaxQueueWaitSec=1\n", -1, NULL));
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        harness_set_rules(f->h, rules_alice_all);

        GPid a = spawn_call(f, NULL, "0000:06:00.0", "uint32 2");   /* runs 2.5 s */
        g_usleep(300 * 1000);
        /* root already has one request: the per-uid cap */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, NULL, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.LimitsExceeded",
                             "uid 0 already has 1 resets queued (MaxQueuedPerUser=1)");
        }
        /* alice queues behind it and is dropped after 1 s */
        {
                g_autofree char *err = NULL;
                gint64 t0 = g_get_monotonic_time();
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:06:00.0", "uint32 4", NULL), !=, 0);
                gint64 ms = (g_get_monotonic_time() - t0) / 1000;
                assert_error(err, "org.freedesktop.DBus.Error.LimitsExceeded",
                             "waited 1 s in the queue of 0000:00:06.0 and was dropped (MaxQueueWaitSec=1)");
                g_assert_cmpint(ms, >=, 900);
                g_assert_cmpint(ms, <, 2400);
        }
        g_assert_cmpint(harness_wait(a), ==, 0);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);     /* alice's never ran */
        /* the rate: alice's dropped request never ran and does not count
         * (issue 12): two more are fine, then no */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), !=, 0);
                assert_error(err, "org.freedesktop.DBus.Error.LimitsExceeded",
                             "uid 4101 made 2 resets in the last minute (MaxResetsPerMinute=2)");
        }
        /* root is not rate limited */
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
}

/* A device removed while its request waits in the queue. */
static void test_removed_while_queued(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r8:1500", NULL };
        const char *addrs[] = { "0000:08:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        GPid a = spawn_call(f, NULL, "0000:08:00.0", "uint32 2");
        g_usleep(300 * 1000);
        const char *argv[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                               "--method=" IFACE ".ResetDevice", "0000:08:00.1", "uint32 2", NULL };
        int out_fd = -1;
        GPid b = harness_spawn(f->h, NULL, argv, &out_fd);
        g_usleep(300 * 1000);
        g_assert_cmpint(faketree_remove_device(harness_fake_root(f->h), "0000:08:00.1"), ==, 0);
        g_assert_cmpint(harness_wait(a), ==, 0);
        g_assert_cmpint(harness_wait(b), !=, 0);
        close(out_fd);
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=failed", "PCRESET_RESULT=org.freedesktop.pcreset1.Error.NoSuchDevice"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "0000:08:00.1 was removed while the request was queued", NULL), >=, 1);
}

/* polkitd hung, then gone: callers get a clear error within the bound. */
static void test_polkit_faults(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Limits]\nPolkitTimeoutSec=2\n", -1, NULL));
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        harness_set_rules(f->h, rules_alice_all);
        GPid pk = harness_polkitd_pid(f->h);

        g_assert_cmpint(kill(pk, SIGSTOP), ==, 0);
        {
                g_autofree char *err = NULL;
                gint64 t0 = g_get_monotonic_time();
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), !=, 0);
                gint64 ms = (g_get_monotonic_time() - t0) / 1000;
                assert_error(err, "org.freedesktop.DBus.Error.AccessDenied", "Cannot reset 0000:05:00.0: polkit could not be asked");
                g_assert_cmpint(ms, >=, 1900);
                g_assert_cmpint(ms, <, 5000);
        }
        /* the daemon itself never stalled: root needs no polkit */
        g_assert_cmpint(call(f, NULL, NULL, NULL, "GetResetInfo", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        /* polkitd dies with a check pending: an error at once, not a hang */
        GPid b = spawn_call(f, HARNESS_USER_ALICE, "0000:05:00.0", "uint32 4");
        g_usleep(300 * 1000);
        g_assert_cmpint(kill(pk, SIGKILL), ==, 0);
        kill(pk, SIGCONT);
        gint64 t0 = g_get_monotonic_time();
        g_assert_cmpint(harness_wait(b), !=, 0);
        g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <, 2500);
        assert_attr(f, "0000:05:00.0", "reset", "");
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", NULL), ==, 0);
}

/* The bus goes away: the daemon exits cleanly (activation restarts it). */
static void test_bus_gone(Fixture *f, gconstpointer data) {
        start_daemon(f);
        GPid pid = harness_daemon_pid(f->h);
        g_assert_cmpint(kill(harness_dbus_daemon_pid(f->h), SIGTERM), ==, 0);
        /* it exits by itself: a zombie waiting for us, before we signal it */
        g_autofree char *stat = g_strdup_printf("/proc/%d/stat", (int) pid);
        gboolean exited = FALSE;
        for (int i = 0; i < 100 && !exited; i++) {
                g_autofree char *text = NULL;
                exited = !g_file_get_contents(stat, &text, NULL, NULL) || strstr(text, ") Z ");
                if (!exited)
                        g_usleep(50 * 1000);
        }
        g_assert_true(exited);
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
}

/* Stopping: the running reset finishes and is answered; the queued one is
 * answered Cancelled; nothing hangs. */
static void test_stop_answers_everyone(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r6:1500", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        const char *first[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                                "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 2", NULL };
        const char *second[] = { "bash", "-c", "gdbus call --system --dest=" DEST " --object-path=" PATH
                                 " --method=" IFACE ".ResetDevice 0000:06:00.0 'uint32 4' 2>&1", NULL };
        GPid a = harness_spawn(f->h, NULL, first, NULL);
        g_usleep(300 * 1000);
        int out_fd = -1;
        GPid b = harness_spawn(f->h, NULL, second, &out_fd);
        g_usleep(300 * 1000);
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        g_assert_cmpint(harness_wait(a), ==, 0);
        g_assert_cmpint(harness_wait(b), !=, 0);
        char buf[1024] = "";
        ssize_t n = read(out_fd, buf, sizeof buf - 1);
        close(out_fd);
        buf[n > 0 ? n : 0] = '\0';
        g_assert_nonnull(strstr(buf, "org.freedesktop.pcreset1.Error.Cancelled: pcresetd is stopping; 0000:06:00.0 was not reset"));
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
}

/* ...and so are callers waiting for polkit, and callers who call while the
 * daemon drains its running resets: Cancelled, never NoReply. */
static void test_stop_answers_pending_and_late(Fixture *f, gconstpointer data) {
        static const char slow_rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id == 'org.freedesktop.pcreset1.reset' && subject.user == 'pcr-alice') {\n"
                "    polkit.spawn(['/bin/sleep', '3']);\n"
                "    return polkit.Result.YES;\n"
                "  }\n"
                "});\n";
        const char *specs[] = { "r6:2000", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        harness_set_rules(f->h, slow_rules);
        GPid pid = harness_daemon_pid(f->h);
        const char *running[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                                  "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 2", NULL };
        const char *asking[] = { "bash", "-c", "gdbus call --system --dest=" DEST " --object-path=" PATH
                                 " --method=" IFACE ".ResetDevice 0000:05:00.0 'uint32 4' 2>&1", NULL };
        /* busctl sends the call at once (gdbus would first introspect, and
         * its call proper would come after the daemon left) */
        const char *late[] = { "bash", "-c", "busctl --system call " DEST " " PATH " " IFACE
                               " GetResetInfo su 0000:05:00.0 4 2>&1", NULL };
        GPid a = harness_spawn(f->h, NULL, running, NULL);
        int ask_fd = -1, late_fd = -1;
        GPid b = harness_spawn(f->h, HARNESS_USER_ALICE, asking, &ask_fd);
        g_usleep(400 * 1000);   /* a runs in the FUSE write, b waits for polkit */
        g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
        g_usleep(300 * 1000);   /* draining a */
        GPid c = harness_spawn(f->h, HARNESS_USER_BOB, late, &late_fd);
        g_assert_cmpint(harness_wait(a), ==, 0);
        g_assert_cmpint(harness_wait(b), !=, 0);
        g_assert_cmpint(harness_wait(c), !=, 0);
        for (int i = 0; i < 2; i++) {
                int fd = i == 0 ? ask_fd : late_fd;
                char buf[1024] = "";
                ssize_t n = read(fd, buf, sizeof buf - 1);
                close(fd);
                buf[n > 0 ? n : 0] = '\0';
                g_test_message("%s: %s", i == 0 ? "waiting for polkit" : "called while draining", buf);
                if (!strstr(buf, "Cancelled")) {
                        g_autofree char *dl = daemon_log(f);
                        g_test_message("daemon log:\n%s", dl);
                }
                g_assert_nonnull(strstr(buf, i == 0 ? "org.freedesktop.pcreset1.Error.Cancelled: pcresetd is stopping"
                                                    : "Call failed: pcresetd is stopping; nothing was done"));
        }
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        assert_attr(f, "0000:05:00.0", "reset", "");
}

/* --exit-idle: leaves when nothing is going on, stays while a claim exists. */
static void test_exit_idle(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        const char *args[] = { "--exit-idle", "1", NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ClaimDevice", "0000:05:00.0", NULL), ==, 0);
        g_usleep(2500 * 1000);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "GetResetInfo", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ReleaseDevice", "0000:05:00.0", NULL), ==, 0);
        g_usleep(2500 * 1000);
        g_autofree char *log = daemon_log(f);
        g_assert_nonnull(strstr(log, "Idle for 1 s, exiting"));
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
}

/* Every method, every kind of caller, with and without interaction allowed:
 * the answer each gets is in this table and nowhere else. */
static void test_authorization_matrix(Fixture *f, gconstpointer data) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id.indexOf('org.freedesktop.pcreset1.') != 0) return polkit.Result.NOT_HANDLED;\n"
                "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
                "  if (subject.user == 'pcr-bob') return polkit.Result.NO;\n"
                "  if (subject.user == 'pcr-carol') return polkit.Result.AUTH_ADMIN;\n"
                "});\n";
        enum { ROOT, ALICE, BOB, CAROL, N_CALLERS };
        static const char *const users[N_CALLERS] = { NULL, HARNESS_USER_ALICE, HARNESS_USER_BOB, HARNESS_USER_CAROL };
#define OK "ok"
#define DENIED "Access denied"   /* busctl shows AccessDenied without its message */
#define NEEDS_AUTH "Interactive authentication is required to"
        static const struct {
                const char *args[6];
                const char *expect[N_CALLERS][2];   /* [caller][interactive] */
        } rows[] = {
                { { "ResetDevice", "su", "0000:05:00.0", "4" },
                  { { OK, OK }, { OK, OK }, { DENIED, DENIED }, { NEEDS_AUTH, DENIED } } },
                { { "ResetDeviceEx", "su", "0000:05:00.0", "4" },
                  { { OK, OK }, { OK, OK }, { DENIED, DENIED }, { NEEDS_AUTH, DENIED } } },
                { { "GetResetInfo", "su", "0000:05:00.0", "4" },
                  { { OK, OK }, { OK, OK }, { OK, OK }, { OK, OK } } },
                { { "GetResetInfoEx", "su", "0000:01:00.0", "39" },
                  { { OK, OK }, { OK, OK }, { OK, OK }, { OK, OK } } },
                { { "ListDevices" },
                  { { OK, OK }, { OK, OK }, { OK, OK }, { OK, OK } } },
                { { "ListDevicesEx" },
                  { { OK, OK }, { OK, OK }, { OK, OK }, { OK, OK } } },
                { { "ClaimDevice", "s", "0000:05:00.0" },
                  { { OK, OK }, { OK, OK }, { DENIED, DENIED }, { NEEDS_AUTH, DENIED } } },
                /* nobody's claim now: nothing to release, for anyone */
                { { "ReleaseDevice", "s", "0000:05:00.0" },
                  { { "is not claimed", "is not claimed" }, { "is not claimed", "is not claimed" },
                    { "is not claimed", "is not claimed" }, { "is not claimed", "is not claimed" } } },
                /* a busy device is refused before polkit is even asked */
                { { "ResetDevice", "su", "0000:01:00.0", "2" },
                  { { "Refusing", "Refusing" }, { "Refusing", "Refusing" }, { "Refusing", "Refusing" },
                    { "Refusing", "Refusing" } } },
        };
        start_daemon(f);
        harness_set_rules(f->h, rules);
        int checked = 0, undo_resets = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
                for (int c = 0; c < N_CALLERS; c++)
                        for (int inter = 0; inter < 2; inter++) {
                                g_autoptr(GPtrArray) argv = g_ptr_array_new();
                                g_autofree char *out = NULL, *err = NULL;
                                g_ptr_array_add(argv, (char *) "busctl");
                                g_ptr_array_add(argv, inter ? (char *) "--allow-interactive-authorization=yes"
                                                            : (char *) "--allow-interactive-authorization=no");
                                g_ptr_array_add(argv, (char *) "call");
                                g_ptr_array_add(argv, (char *) DEST);
                                g_ptr_array_add(argv, (char *) PATH);
                                g_ptr_array_add(argv, (char *) IFACE);
                                for (size_t k = 0; rows[i].args[k]; k++)
                                        g_ptr_array_add(argv, (char *) rows[i].args[k]);
                                g_ptr_array_add(argv, NULL);
                                int r = harness_run_logged(f->h, users[c], &out, &err,
                                                           (const char *const *) argv->pdata);
                                const char *want = rows[i].expect[c][inter];
                                if (g_str_equal(want, OK))
                                        g_assert_cmpint(r, ==, 0);
                                else {
                                        g_assert_cmpint(r, !=, 0);
                                        g_assert_nonnull(strstr(err, want));
                                }
                                /* undo a successful claim, so every caller meets the same state:
                                 * released, and reset by root (else the next caller's claim needs one) */
                                if (r == 0 && g_str_equal(rows[i].args[0], "ClaimDevice")) {
                                        g_assert_cmpint(call(f, users[c], NULL, NULL, "ReleaseDevice", "0000:05:00.0", NULL), ==, 0);
                                        g_assert_cmpint(call(f, NULL, NULL, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
                                        undo_resets++;
                                }
                                checked++;
                        }
        g_assert_cmpint(checked, ==, (int) G_N_ELEMENTS(rows) * N_CALLERS * 2);
        /* exactly the allowed resets happened: root and alice, twice each for two methods (and
         * root's after each of the 4 claims) */
        g_autofree char *log = daemon_log(f);
        g_assert_cmpint(undo_resets, ==, 4);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:05:00.0"), ==, 8 + 4);
#undef OK
#undef DENIED
#undef NEEDS_AUTH
}

/* ---- a hostile user with a polkit grant for some devices (issue 11) ----- */

static const char attack_desc[] =
        /* alice's VM device, its function 1 hidden until the test shows it */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport reset_subordinate\n"
        "01:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=30 vfio-owner=4101 methods=\"flr pm bus\"\n"
        "01:00.1 vendor=8086 device=10d3 class=020000 driver=e1000e group=31 methods=\"flr\"\n"
        /* alice's node, but bob's process holds the group (an fd she handed on) */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=40 vfio-owner=4101 open-by=5100@4102 "
        "methods=\"flr pm\"\n"
        /* an SR-IOV PF of alice's with two VFs, one held by bob */
        "00:03.0 bridge=root-port secondary=03 driver=pcieport\n"
        "03:00.0 vendor=1b36 device=0010 class=010802 driver=vfio-pci group=50 vfio-owner=4101 methods=\"flr\"\n"
        "03:00.1 vendor=1b36 device=0010 class=010802 driver=vfio-pci group=51 vf-of=03:00.0 vfio-owner=4101 "
        "methods=\"flr\"\n"
        "03:00.2 vendor=1b36 device=0010 class=010802 driver=vfio-pci group=52 vf-of=03:00.0 vfio-owner=4102 "
        "open-by=5200@4102 methods=\"flr\"\n"
        /* a device whose reset the test can change under a pending authorization */
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=60 vfio-owner=4101 methods=\"flr pm\"\n";

/* Alice may reset what is hers; polkit answers resets of 04:00.0 slowly,
 * and says yes only to an FLR. */
static const char rules_attack[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id != 'org.freedesktop.pcreset1.reset' && action.id != 'org.freedesktop.pcreset1.claim')\n"
        "    return polkit.Result.NOT_HANDLED;\n"
        "  if (subject.user != 'pcr-alice') return polkit.Result.NOT_HANDLED;\n"
        "  if (action.lookup('device') == '0000:04:00.0') {\n"
        "    polkit.spawn(['/bin/sleep', '1']);\n"
        "    return action.lookup('scope') == 'flr' ? polkit.Result.YES : polkit.Result.NO;\n"
        "  }\n"
        "  if (action.lookup('device') == '0000:03:00.0')\n"
        "    return action.lookup('affected') == '0000:03:00.0,0000:03:00.1,0000:03:00.2' ? polkit.Result.YES : polkit.Result.NO;\n"
        "  return polkit.Result.YES;\n"
        "});\n";

/* A polkit "yes" answers one question: when the plan changes while polkit
 * thinks, the new plan is not waved through. */
static void test_polkit_answer_bound(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_attack);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDeviceEx", "0000:04:00.0", "uint32 6", NULL };
        int fd = -1;
        GPid p = harness_spawn(f->h, HARNESS_USER_ALICE, req, &fd);
        g_usleep(400 * 1000);   /* polkit is asked about an FLR and sleeps */
        g_autofree char *rm = attr_path(f, "0000:04:00.0", "reset_method");
        g_assert_true(g_file_set_contents(rm, "pm\n", -1, NULL));  /* the admin turns FLR off meanwhile */
        g_assert_cmpint(harness_wait(p), ==, 1);
        close(fd);
        assert_attr(f, "0000:04:00.0", "reset", "");
        g_autofree char *log = daemon_log(f);
        /* polkit said yes to an FLR; decided again on a fresh scan (the
         * device is VFIO's), the reset is a PM reset now, and polkit,
         * asked about that, says no */
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", "PCRESET_DEVICE=0000:04:00.0 PCRESET_MASK=0x00000006 PCRESET_SCOPE=pm"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:04:00.0"), ==, 0);
}

/* What a call decided before polkit answered is kept with the question;
 * a device that vanishes meanwhile (and a rescan that frees it) must not
 * leave the kept decision pointing at it: the call is decided anew. Under
 * ASan a use of the freed device fails this test. */
static void test_device_gone_while_polkit_thinks(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_attack);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDeviceEx", "0000:04:00.0", "uint32 2", NULL };
        g_autofree char *link = g_build_filename(harness_fake_root(f->h), "sys/bus/pci/devices/0000:04:00.0", NULL);
        g_autofree char *dir = realpath(link, NULL);
        g_assert_nonnull(dir);
        g_autofree char *reset = g_build_filename(dir, "reset", NULL);
        GPid p = harness_spawn(f->h, HARNESS_USER_ALICE, req, NULL);
        g_usleep(400 * 1000);   /* polkit is asked about an FLR and sleeps */
        g_assert_cmpint(unlink(link), ==, 0);   /* the device goes away */
        g_autofree char *info = NULL;
        /* any call rescans: the topology frees 04:00.0 */
        g_assert_cmpint(call(f, NULL, &info, NULL, "GetResetInfo", "0000:03:00.0", "uint32 2", NULL), ==, 0);
        g_assert_cmpint(harness_wait(p), ==, 1);
        g_autofree char *written = NULL;
        g_assert_true(g_file_get_contents(reset, &written, NULL, NULL));
        g_assert_cmpstr(written, ==, "");
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", "PCRESET_RESULT=org.freedesktop.pcreset1.Error.NoSuchDevice"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=accepted", "PCRESET_DEVICE=0000:04:00.0"), ==, 0);
}

/* The affected set is decided again right before the reset: a device that
 * appears below the bridge while the request waits is not reset unchecked. */
static void test_affected_set_grows_while_queued(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r1:1000", NULL };
        const char *addrs[] = { "0000:01:00.0" };
        g_autofree char *link = g_build_filename(harness_fake_root(f->h), "sys/bus/pci/devices/0000:01:00.1", NULL);
        g_autofree char *target = g_file_read_link(link, NULL);
        g_assert_nonnull(target);
        g_assert_cmpint(unlink(link), ==, 0);   /* 01:00.1 is not there yet */
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        harness_set_rules(f->h, rules_attack);
        {
                g_autofree char *info = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfo", "0000:01:00.0", "uint32 16", NULL), ==, 0);
                g_assert_cmpstr(info, ==, "(uint32 16, [('0000:01:00.0', 'owned', 'vfio group 30 belongs to you')])");
        }
        const char *first[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                                "--method=" IFACE ".ResetDevice", "0000:01:00.0", "uint32 2", NULL };
        const char *second[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                                 "--method=" IFACE ".ResetDevice", "0000:01:00.0", "uint32 16", NULL };
        int fd1 = -1, fd2 = -1;
        GPid a = harness_spawn(f->h, HARNESS_USER_ALICE, first, &fd1);
        g_usleep(300 * 1000);   /* the FLR runs, held in the FUSE write */
        GPid b = harness_spawn(f->h, HARNESS_USER_ALICE, second, &fd2);
        g_usleep(300 * 1000);   /* the bus reset was accepted and waits */
        g_assert_cmpint(symlink(target, link), ==, 0);  /* the host's NIC appears below the port */
        g_assert_cmpint(harness_wait(a), ==, 0);
        g_assert_cmpint(harness_wait(b), ==, 1);
        close(fd1);
        close(fd2);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);   /* only the FLR ran */
        g_autofree char *rs = read_attr(f, "0000:00:01.0", "reset_subordinate");
        g_assert_cmpstr(rs, ==, "");
        assert_attr(f, "0000:01:00.1", "reset", "");
        g_autofree char *dl = daemon_log(f);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=accepted", "PCRESET_DEVICE=0000:01:00.0 PCRESET_MASK=0x00000010"), ==, 1);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=failed", "PCRESET_RESULT=org.freedesktop.pcreset1.Error.DeviceBusy"), ==, 1);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=completed", "PCRESET_SCOPE=bus"), ==, 0);
}

/* Owning a node or holding a claim never takes a device from another
 * uid's process; who that is stays between root and that uid. */
static void test_held_by_another_uid(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_attack);
        g_autofree char *ainfo = NULL, *binfo = NULL, *rinfo = NULL, *err = NULL, *err2 = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &ainfo, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
        /* gdbus quotes a string with an apostrophe in double quotes */
        g_assert_nonnull(strstr(ainfo, "'busy', \"vfio group 40 belongs to you, but vfio group 40 is in use by another user's process\""));
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &binfo, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
        g_assert_nonnull(strstr(binfo, "vfio group 40 is open by pid 5100 (qemu-system-x86)"));
        g_assert_cmpint(call(f, NULL, &rinfo, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
        g_assert_nonnull(strstr(rinfo, "pid 5100"));
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "in use by another user's process");
        g_assert_null(strstr(err, "5100"));
        /* claiming it does not help her: the claim is refused */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err2, "ClaimDevice", "0000:02:00.0", NULL), !=, 0);
        assert_error(err2, "org.freedesktop.pcreset1.Error.DeviceBusy",
                     "Cannot claim 0000:02:00.0: vfio group 40 belongs to you, but vfio group 40 is in use by another user's process");
        /* ListDevices tells strangers no pids either */
        g_autofree char *list = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &list, NULL, "ListDevices", NULL), ==, 0);
        g_assert_null(strstr(list, "5100"));
        g_assert_null(strstr(list, "5200"));
        assert_attr(f, "0000:02:00.0", "reset", "");
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=claimed", NULL), ==, 0);
}

static char *info_of(Fixture *f, const char *user, const char *address) {
        char *info = NULL;
        g_assert_cmpint(call(f, user, &info, NULL, "GetResetInfo", address, "uint32 2", NULL), ==, 0);
        return info;
}

/* An informational call trusts the last /proc scan while no VFIO node was
 * opened, closed, created or removed (vfio-watch.h), for at most
 * SCANNER_TRUST_USEC (5 s); a reset never does. Holders come and go here
 * by renaming their fake /proc entry, which no node hears. */
static void test_scan_trust(Fixture *f, gconstpointer data) {
        const char *root = harness_fake_root(f->h);
        g_autofree char *shown = g_build_filename(root, "proc/5100", NULL);
        g_autofree char *hidden = g_build_filename(root, "proc/.5100", NULL);
        g_autofree char *touch = g_build_filename(root, "dev/vfio/touch", NULL);
        g_autofree char *vdir = g_build_filename(root, "dev/vfio", NULL);
        g_autofree char *container = g_build_filename(root, "dev/vfio/vfio", NULL);
        g_assert_true(g_file_set_contents(touch, "", 0, NULL));
        /* the container, which anyone may open on a real host: a file here */
        g_assert_cmpint(unlink(container), ==, 0);
        g_assert_true(g_file_set_contents(container, "", 0, NULL));
        g_assert_cmpint(rename(shown, hidden), ==, 0);   /* bob's holder is not there yet */
        start_daemon(f);
        harness_set_rules(f->h, rules_attack);
        g_autofree char *i1 = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i1, "'owned'"));

        g_assert_cmpint(rename(hidden, shown), ==, 0);   /* bob's process takes the group */
        g_usleep(300 * 1000);   /* past SCANNER_SHARE_USEC: only the watch makes it trusted */
        g_autofree char *i2 = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i2, "'owned'"));   /* nobody opened a node: the scan is trusted */
        /* a reset never is */
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "in use by another user's process");
        assert_attr(f, "0000:02:00.0", "reset", "");
        g_autofree char *i3 = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i3, "'busy'"));    /* the reset's scan is the last one now */

        g_assert_cmpint(rename(shown, hidden), ==, 0);
        g_usleep(300 * 1000);
        g_autofree char *i4 = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i4, "'busy'"));
        /* what any user may open ends no trust: the directory, the container */
        g_autoptr(GDir) dir = g_dir_open(vdir, 0, NULL);
        g_assert_nonnull(dir);
        while (g_dir_read_name(dir))
                ;
        g_clear_pointer(&dir, g_dir_close);
        int cfd = open(container, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(cfd, >=, 0);
        close(cfd);
        g_autofree char *i4b = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i4b, "'busy'"));
        /* an open and close of anything in <dev>/vfio: scanned again */
        int fd = open(touch, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
        g_autofree char *i5 = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i5, "'owned'"));

        /* what no node hears is seen once the scan is too old to trust */
        g_assert_cmpint(rename(hidden, shown), ==, 0);
        g_usleep(5300 * 1000);
        g_autofree char *i6 = info_of(f, HARNESS_USER_ALICE, "0000:02:00.0");
        g_assert_nonnull(strstr(i6, "'busy'"));
}

/* A holder's pid, reused by another user's process while the scan is
 * trusted, must not give that process' name away. */
static void test_pid_reuse_hides_name(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *i1 = info_of(f, HARNESS_USER_BOB, "0000:02:00.0");
        g_assert_nonnull(strstr(i1, "vfio group 40 is open by pid 5100 (qemu-system-x86)"));
        /* pid 5100 is now alice's process */
        g_autofree char *status = g_build_filename(harness_fake_root(f->h), "proc/5100/status", NULL);
        g_autofree char *comm = g_build_filename(harness_fake_root(f->h), "proc/5100/comm", NULL);
        g_assert_true(g_file_set_contents(status, "Name:\talices-secret\nUid:\t4101\t4101\t4101\t4101\n", -1, NULL));
        g_assert_true(g_file_set_contents(comm, "alices-secret\n", -1, NULL));
        g_autofree char *i2 = info_of(f, HARNESS_USER_BOB, "0000:02:00.0");
        g_assert_null(strstr(i2, "alices-secret"));
        g_assert_nonnull(strstr(i2, "vfio group 40 is open by pid 5100"));
}

/* A card swapped at the same address leaves the list of PCI names as it
 * was, and the sandboxed daemon hears no uevent: polkit must be asked about
 * the card that is there now, and a claim of the card that left must not
 * pass to the new one. */
static void test_hot_swap_same_address(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h,
                          "polkit.addRule(function(action, subject) {\n"
                          "  if (action.id.indexOf('org.freedesktop.pcreset1.') != 0) return polkit.Result.NOT_HANDLED;\n"
                          "  if (subject.user == 'pcr-bob') return polkit.Result.YES;\n"
                          "  if (subject.user == 'pcr-alice' && action.lookup('vendor') == '1af4') return polkit.Result.YES;\n"
                          "  return polkit.Result.NO;\n"
                          "});\n");
        /* root claims the NIC at 01:00.1 (8086:10d3, under e1000e) */
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ClaimDevice", "0000:01:00.1", NULL), ==, 0);
        g_autofree char *i0 = info_of(f, NULL, "0000:01:00.1");
        g_assert_nonnull(strstr(i0, "'owned'"));
        g_autofree char *i1 = info_of(f, HARNESS_USER_ALICE, "0000:01:00.0");

        /* both cards are swapped: 01:00.0 becomes an 8086:10d3, 01:00.1 a 1af4:1041 */
        static const struct { const char *addr, *vendor, *device; unsigned char ids[4]; } swap[] = {
                { "0000:01:00.0", "0x8086\n", "0x10d3\n", { 0x86, 0x80, 0xd3, 0x10 } },
                { "0000:01:00.1", "0x1af4\n", "0x1041\n", { 0xf4, 0x1a, 0x41, 0x10 } },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(swap); i++) {
                g_autofree char *v = attr_path(f, swap[i].addr, "vendor");
                g_autofree char *d = attr_path(f, swap[i].addr, "device");
                g_autofree char *c = attr_path(f, swap[i].addr, "config");
                g_assert_true(g_file_set_contents(v, swap[i].vendor, -1, NULL));
                g_assert_true(g_file_set_contents(d, swap[i].device, -1, NULL));
                int fd = open(c, O_WRONLY | O_CLOEXEC);
                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(pwrite(fd, swap[i].ids, 4, 0), ==, 4);
                close(fd);
        }
        /* alice's rule says yes to 1af4 only: the card at 01:00.0 is an 8086
         * now; polkit must be asked about it, for a claim as for a reset */
        g_autofree char *cerr = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &cerr, "ClaimDevice", "0000:01:00.0", NULL), !=, 0);
        assert_error(cerr, "org.freedesktop.DBus.Error.AccessDenied", "Not authorized");
        g_autofree char *ci = info_of(f, HARNESS_USER_ALICE, "0000:01:00.0");
        g_assert_null(strstr(ci, "claimed by you"));
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.DBus.Error.AccessDenied", "Not authorized");
        assert_attr(f, "0000:01:00.0", "reset", "");
        g_autofree char *log = daemon_log(f);
        g_assert_nonnull(strstr(log, "0000:01:00.0 is not the device it was when last scanned"));
        /* root's claim was of the card that left 01:00.1: gone with it */
        g_autofree char *i2 = info_of(f, NULL, "0000:01:00.1");
        g_assert_null(strstr(i2, "'owned'"));
}

/* Any reset of an SR-IOV PF touches its VFs: each must be the caller's or
 * idle, and polkit is told about them. */
static void test_sriov_pf(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, rules_attack);
        g_autofree char *info = NULL, *err = NULL, *out = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfo", "0000:03:00.0", "uint32 2", NULL), ==, 0);
        g_assert_cmpstr(info, ==, "(uint32 2, [('0000:03:00.0', 'owned', 'vfio group 50 belongs to you'), "
                        "('0000:03:00.1', 'owned', 'vfio group 51 belongs to you'), "
                        "('0000:03:00.2', 'busy', \"bound to vfio-pci and vfio group 52 is in use by another user's process\")])");
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:03:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "0000:03:00.2 (vfio-pci)");
        /* her own VF alone: only that VF */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out, NULL, "ResetDevice", "0000:03:00.1", "uint32 2", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "(uint32 2, ['0000:03:00.1'])");
        assert_attr(f, "0000:03:00.0", "reset", "");
        /* bob lets go of his VF: now the PF reset runs, and polkit's rule saw all three */
        g_assert_cmpint(faketree_unset_open(harness_fake_root(f->h), 5200, "/dev/vfio/52"), ==, 1);
        g_autofree char *node = g_build_filename(harness_fake_root(f->h), "dev/vfio/52", NULL);
        g_assert_cmpint(chown(node, 4101, -1), ==, 0);
        g_autofree char *out2 = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out2, NULL, "ResetDevice", "0000:03:00.0", "uint32 2", NULL), ==, 0);
        g_assert_cmpstr(out2, ==, "(uint32 2, ['0000:03:00.0', '0000:03:00.1', '0000:03:00.2'])");
        assert_attr(f, "0000:03:00.0", "reset", "1");
        /* the relation, for everyone to see */
        g_autofree char *list = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &list, NULL, "ListDevicesEx", NULL), ==, 0);
        g_assert_nonnull(strstr(list, "{'physfn': <''>, 'vfs': <['0000:03:00.1', '0000:03:00.2']>, "));
        g_assert_nonnull(strstr(list, "{'physfn': <'0000:03:00.0'>, 'vfs': <@as []>, "));
}

/* ---- what the independent review found (each failed before its fix) ---- */

static const char review_desc[] =
        /* an idle vfio-pci NIC, nobody's yet */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 driver=vfio-pci group=5 vfio methods=\"flr pm\"\n"
        /* bob's device (his group node), his VM stopped right now */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=12 vfio-owner=4102 methods=\"flr\"\n"
        /* alice's GPU node; its HDMI audio (same group) is the host's */
        "00:03.0 bridge=root-port secondary=03 driver=pcieport reset_subordinate\n"
        "03:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=30 vfio-owner=4101 methods=\"flr bus\"\n"
        "03:00.1 vendor=10de device=10f8 class=040300 driver=snd_hda_intel group=30 methods=\"flr\"\n";

/* alice and bob may reset and claim everything: what is tested is ownership */
static const char review_rules[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id.indexOf('org.freedesktop.pcreset1.') != 0) return polkit.Result.NOT_HANDLED;\n"
        "  if (subject.user == 'pcr-alice' || subject.user == 'pcr-bob') return polkit.Result.YES;\n"
        "});\n";

/* A claim made while the device was idle does not follow it back to a host
 * driver (libvirt's managed hostdev at VM stop, an admin's rebind). */
static void test_review_stale_claim(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        g_autofree char *info = NULL, *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "0000:01:00.0", NULL), ==, 0);
        g_assert_cmpint(faketree_set_driver(harness_fake_root(f->h), "0000:01:00.0", "e1000e"), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfo", "0000:01:00.0", "uint32 2", NULL), ==, 0);
        g_assert_nonnull(strstr(info, "'busy', \"claimed by you, but bound to e1000e: in use by the host; a user's claim"));
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "(e1000e)");
        assert_attr(f, "0000:01:00.0", "reset", "");
}

/* ...nor to a new device at the same address, if a host driver has it. */
static void test_review_claim_outlives_device(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        g_autofree char *link = g_build_filename(harness_fake_root(f->h), "sys/bus/pci/devices/0000:01:00.0", NULL);
        g_autofree char *target = g_file_read_link(link, NULL);
        g_autofree char *e1 = NULL, *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "0000:01:00.0", NULL), ==, 0);
        g_assert_cmpint(unlink(link), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &e1, "GetResetInfo", "0000:01:00.0", "uint32 2", NULL), !=, 0);
        assert_error(e1, "org.freedesktop.pcreset1.Error.NoSuchDevice", NULL);
        g_assert_cmpint(symlink(target, link), ==, 0);
        g_assert_cmpint(faketree_set_driver(harness_fake_root(f->h), "0000:01:00.0", "e1000e"), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "(e1000e)");
        assert_attr(f, "0000:01:00.0", "reset", "");
}

/* A claim never takes a device its node gives someone else. */
static void test_review_claim_takes_node(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        g_autofree char *err = NULL, *after = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ClaimDevice", "0000:02:00.0", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy",
                     "Cannot claim 0000:02:00.0: its VFIO node belongs to another user");
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &after, NULL, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL), ==, 0);
        g_assert_nonnull(strstr(after, "'owned', 'vfio group 12 belongs to you'"));
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=claimed", NULL), ==, 0);
}

/* A group node does not make the host-bound function of its group the
 * user's: no FLR of it, no bus reset through it, no claim of it. */
static void test_review_group_mate(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        g_autofree char *info = NULL, *err = NULL, *err2 = NULL, *err3 = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfo", "0000:03:00.1", "uint32 2", NULL), ==, 0);
        g_assert_nonnull(strstr(info, "'busy', \"vfio group 30 belongs to you, but bound to snd_hda_intel: in use by the host"));
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:03:00.1", "uint32 2", NULL), !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", NULL);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err2, "ResetDevice", "0000:03:00.0", "uint32 16", NULL), !=, 0);
        assert_error(err2, "org.freedesktop.pcreset1.Error.DeviceBusy", "0000:03:00.1 (snd_hda_intel)");
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err3, "ClaimDevice", "0000:03:00.1", NULL), !=, 0);
        assert_error(err3, "org.freedesktop.pcreset1.Error.DeviceBusy", "Cannot claim 0000:03:00.1");
        assert_attr(f, "0000:03:00.1", "reset", "");
        assert_attr(f, "0000:00:03.0", "reset_subordinate", "");
        /* her own GPU function alone is still hers */
        g_autofree char *out = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out, NULL, "ResetDevice", "0000:03:00.0", "uint32 2", NULL), ==, 0);
        g_assert_cmpstr(out, ==, "(uint32 2, ['0000:03:00.0'])");
}

/* A claim made while the device was nobody's does not beat the user the
 * admin gives its VFIO node to later. */
static void test_review_claim_then_node(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ClaimDevice", "0000:01:00.0", NULL), ==, 0);
        g_autofree char *node = g_build_filename(harness_fake_root(f->h), "dev/vfio/5", NULL);
        g_assert_cmpint(chown(node, 4102, -1), ==, 0);
        g_autofree char *binfo = NULL, *out = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &binfo, NULL, "GetResetInfo", "0000:01:00.0", "uint32 2", NULL), ==, 0);
        g_assert_nonnull(strstr(binfo, "'owned', 'vfio group 5 belongs to you'"));
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &out, NULL, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), ==, 0);
}

/* ReleaseDevice names no claimer to strangers either. */
static void test_review_release_hides_claimer(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, NULL, "ClaimDevice", "0000:01:00.0", NULL), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_CAROL, NULL, &err, "ReleaseDevice", "0000:01:00.0", NULL), !=, 0);
        assert_error(err, "org.freedesktop.DBus.Error.AccessDenied", "claimed by another user");
        g_assert_null(strstr(err, "4102"));
}

/* ---- what a hostile caller can do to the log (issue 12) ---------------- */

/* An address is the caller's text: it reaches the log escaped and cut,
 * never as a forged record or megabytes per call; and one uid's stream of
 * refusals is rate limited without touching another uid's records. */
static void test_audit_hostile_input(Fixture *f, gconstpointer data) {
        start_daemon(f);
        gsize before = 0, after = 0;
        g_autofree char *l0 = daemon_log(f);
        before = strlen(l0);
        /* a newline and a forged record inside the address */
        const char *forge[] = { "bash", "-c",
                                "exec gdbus call --system --dest=" DEST " --object-path=" PATH
                                " --method=" IFACE ".ResetDevice \"$(printf '0000:05:00.0\\npcresetd: Reset of 0000:06:00.0 "
                                "(mask any) by uid 0 completed [MESSAGE_ID=9b76c9888fc6490081ab94dd74427d09 "
                                "PCRESET_EVENT=completed]')\" 4", NULL };
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_BOB, NULL, NULL, forge), ==, 1);
        /* a 120 kB address (one exec argument can hold 128 KiB) */
        const char *huge[] = { "bash", "-c",
                               "exec gdbus call --system --dest=" DEST " --object-path=" PATH
                               " --method=" IFACE ".ResetDevice \"$(head -c 120000 /dev/zero | tr '\\0' a)\" 4", NULL };
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_BOB, NULL, NULL, huge), ==, 1);
        g_autofree char *l1 = daemon_log(f);
        after = strlen(l1);
        g_test_message("two hostile calls added %zu bytes of log", after - before);
        g_assert_cmpuint(after - before, <, 8192);
        g_assert_cmpuint(count_lines_with(l1, "PCRESET_EVENT=completed", NULL), ==, 0);
        g_assert_cmpuint(count_lines_with(l1, "PCRESET_DEVICE=0000:05:00.0\\x0apcresetd: Reset of", NULL), ==, 1);

        /* 60 refusals of bob's: at most 20 records; alice's refusal still written */
        const char *flood[] = { "bash", "-c",
                                "for i in $(seq 60); do gdbus call --system --dest=" DEST " --object-path=" PATH
                                " --method=" IFACE ".ResetDevice 0000:01:00.0 2 >/dev/null 2>&1; done; true", NULL };
        g_assert_cmpint(harness_run_logged(f->h, HARNESS_USER_BOB, NULL, NULL, flood), ==, 0);
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), !=, 0);
        g_autofree char *l2 = daemon_log(f);
        unsigned bob = count_lines_with(l2, "PCRESET_EVENT=refused", "CALLER_UID=4102");
        g_test_message("bob: 62 refusals, %u records", bob);
        g_assert_cmpuint(bob, <=, 20);
        g_assert_cmpuint(bob, >=, 10);
        g_assert_cmpuint(count_lines_with(l2, "PCRESET_EVENT=refused", "CALLER_UID=4101"), ==, 1);
}

/* One uid's flood of questions for polkit does not keep another uid's
 * authorized calls from being asked (the daemon's one connection to
 * polkitd has room for 128 pending replies on a system bus). */
static void test_polkit_flood(Fixture *f, gconstpointer data) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id != 'org.freedesktop.pcreset1.reset') return polkit.Result.NOT_HANDLED;\n"
                "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
                "  if (subject.user == 'pcr-bob') return polkit.Result.NO;\n"
                "});\n";
        start_daemon(f);
        harness_set_rules(f->h, rules);
        const char *flood[] = { g_getenv("FLOOD_BIN"), "4", "32", "8", "ResetDevice", "0000:06:00.0", "2", NULL };
        int fd = -1;
        GPid p = harness_spawn(f->h, HARNESS_USER_BOB, flood, &fd);
        g_usleep(500 * 1000);
        unsigned ok = 0;
        for (int i = 0; i < 10; i++) {
                g_autofree char *err = NULL;
                if (call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:06:00.0", "uint32 2", NULL) == 0)
                        ok++;
        }
        g_assert_cmpint(harness_wait(p), ==, 0);
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[1024];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                g_string_append_len(out, buf, n);
        close(fd);
        g_test_message("bob's flood: %s", out->str);
        g_assert_cmpuint(ok, ==, 10);
        g_assert_nonnull(strstr(out->str, "org.freedesktop.DBus.Error.LimitsExceeded "));
        g_assert_nonnull(strstr(out->str, "org.freedesktop.DBus.Error.AccessDenied "));
        g_assert_null(strstr(out->str, "\nok "));
}

/* What a flood of refused calls costs is its own time: a uid at its cap
 * of pending authorizations is refused, but the refusal is held
 * TARPIT_DELAY_USEC (250 ms), so bob's closed loop of 64 calls in flight
 * gets at most 64 refusals per 250 ms instead of as many as the buses
 * carry; alice's authorized calls meanwhile are neither held nor refused. */
static void test_flood_answered_late(Fixture *f, gconstpointer data) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id != 'org.freedesktop.pcreset1.reset') return polkit.Result.NOT_HANDLED;\n"
                "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
                "  if (subject.user == 'pcr-bob') return polkit.Result.NO;\n"
                "});\n";
        start_daemon(f);
        harness_set_rules(f->h, rules);
        const char *flood[] = { g_getenv("FLOOD_BIN"), "2", "2", "32", "ResetDevice", "0000:06:00.0", "2", NULL };
        int fd = -1;
        gint64 t0 = g_get_monotonic_time();
        GPid p = harness_spawn(f->h, HARNESS_USER_BOB, flood, &fd);
        g_usleep(300 * 1000);
        for (int i = 0; i < 5; i++) {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:06:00.0", "uint32 2",
                                     NULL), ==, 0);
        }
        g_assert_cmpint(harness_wait(p), ==, 0);
        double seconds = (g_get_monotonic_time() - t0) / 1e6;
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[1024];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                g_string_append_len(out, buf, n);
        close(fd);
        const char *le = strstr(out->str, "org.freedesktop.DBus.Error.LimitsExceeded ");
        g_assert_nonnull(le);
        unsigned long limited = strtoul(le + strlen("org.freedesktop.DBus.Error.LimitsExceeded "), NULL, 10);
        g_test_message("bob's flood in %.1f s: %s", seconds, out->str);
        /* 64 in flight, each refusal 250 ms late: at most 64 per 250 ms
         * over the flood's run (answered ones included) */
        g_assert_cmpuint(limited, <=, (unsigned long) (64 * (seconds / 0.25 + 1)));
        g_assert_null(strstr(out->str, "\nok "));
}

static unsigned count_fds(GPid pid) {
        g_autofree char *p = g_strdup_printf("/proc/%d/fd", (int) pid);
        g_autoptr(GDir) d = g_dir_open(p, 0, NULL);
        unsigned n = 0;
        while (d && g_dir_read_name(d))
                n++;
        return n;
}

/* (found by a red-team review) fds sent to the daemon with its calls. A
 * ResetDeviceWithFds call carries up to 16 fds (the system bus's
 * max_message_unix_fds). Bob, with no grant at all, floods such calls
 * from 8 fresh connections, 48 in flight each:
 *  - while the loop waits synchronously for a new sender's credentials
 *    (caller.c), sd-bus reads the rest into its queue, 16 fds each; under
 *    the soft RLIMIT_NOFILE systemd gives a service (1024) recvmsg
 *    truncated, sd-bus dropped the bus and 0.1 exited: every queued reset
 *    cancelled, alice's calls failed 5 of 5. The daemon now raises its
 *    soft limit to the hard one (main.c);
 *  - refusals held by the tarpit kept their calls, fds and all (3,914 of
 *    bob's fds open at once); it now keeps only the reply (tarpit.c).
 * Asserted: the daemon stays up, holds none of bob's fds once his flood
 * is over, and serves alice then. Not asserted: each of alice's calls
 * during the flood: dbus-daemon's own per-connection limits
 * (max_outgoing_unix_fds, 64 per destination) may drop a reply bound for
 * the daemon while its queue is full of bob's fds (one of alice's polkit
 * questions then times out, 25 s): a limit of the bus, docs/security.md.
 * Knobs for the experiments: RT_SOFT, RT_CONNS, RT_INFLIGHT, RT_NFDS. */
static void test_tarpit_pins_fds(Fixture *f, gconstpointer data) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id != 'org.freedesktop.pcreset1.reset') return polkit.Result.NOT_HANDLED;\n"
                "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
                "  if (subject.user == 'pcr-bob') return polkit.Result.NO;\n"
                "});\n";
        /* started with what systemd gives a service without LimitNOFILE=:
         * soft 1024 (the hard limit is this machine's) */
        struct rlimit mine, rl;
        g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &mine), ==, 0);
        rl = mine;
        rl.rlim_cur = g_getenv("RT_SOFT") ? strtoul(g_getenv("RT_SOFT"), NULL, 10) : 1024;
        g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        start_daemon(f);
        g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &mine), ==, 0);
        harness_set_rules(f->h, rules);
        GPid daemon = harness_daemon_pid(f->h);
        /* it raised its soft limit to the hard one (main.c) */
        g_assert_cmpint(prlimit(daemon, RLIMIT_NOFILE, NULL, &rl), ==, 0);
        g_assert_cmpuint(rl.rlim_cur, ==, mine.rlim_max);
        unsigned before = count_fds(daemon);
        g_autofree char *cmd = g_strdup_printf("%s 4 %s %s ResetDeviceWithFds 0000:06:00.0 2 %s 2>&1; echo \"exit $?\"",
                                               g_getenv("FLOOD_BIN"), g_getenv("RT_CONNS") ?: "8",
                                               g_getenv("RT_INFLIGHT") ?: "48", g_getenv("RT_NFDS") ?: "16");
        const char *flood[] = { "sh", "-c", cmd, NULL };
        int fd = -1;
        /* RT_PREFLOOD: bob first keeps his polkit cap full with plain
         * ResetDevice calls, so his fd-carrying calls go to the tarpit */
        const char *pre[] = { g_getenv("FLOOD_BIN"), "5", "2", "32", "ResetDevice", "0000:06:00.0", "2", NULL };
        GPid pp = 0;
        if (g_getenv("RT_PREFLOOD")) {
                pp = harness_spawn(f->h, HARNESS_USER_BOB, pre, NULL);
                g_usleep(300 * 1000);
        }
        GPid p = harness_spawn(f->h, HARNESS_USER_BOB, flood, &fd);
        unsigned most = 0, ok = 0, tries = 0;
        g_autoptr(GString) errs = g_string_new(NULL);
        for (int i = 0; i < 30; i++) {
                g_usleep(100 * 1000);
                unsigned n = count_fds(daemon);
                most = MAX(most, n);
                if (i >= 5 && i % 5 == 0) {
                        g_autofree char *err = NULL;
                        tries++;
                        gint64 t0 = g_get_monotonic_time();
                        if (call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:06:00.0", "uint32 2",
                                 NULL) == 0)
                                ok++;
                        else
                                g_string_append_printf(errs, "[call %u after %" G_GINT64_FORMAT " ms: %s] ", tries,
                                                       (g_get_monotonic_time() - t0) / 1000, err ? err : "?");
                }
        }
        (void) harness_wait(p);
        if (pp)
                (void) harness_wait(pp);
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[1024];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                g_string_append_len(out, buf, n);
        close(fd);
        g_test_message("daemon fds: %u before, %u at most during bob's flood; alice: %u of %u resets ok; "
                       "errors: %s; bob's flood: %s", before, most, ok, tries, errs->str, out->str);
        g_autofree char *log = daemon_log(f);
        size_t len = strlen(log);
        g_test_message("daemon log (end): %s", log + (len > 3000 ? len - 3000 : 0));
        g_assert_null(strstr(log, "pcresetd: Exiting"));
        g_assert_cmpint(kill(daemon, 0), ==, 0);
        /* nothing of bob's pinned once he stopped */
        unsigned after = count_fds(daemon);
        for (int i = 0; i < 20 && after > before + 8; i++) {
                g_usleep(100 * 1000);
                after = count_fds(daemon);
        }
        g_test_message("daemon fds after bob's flood: %u", after);
        g_assert_cmpuint(after, <=, before + 8);
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:06:00.0", "uint32 2", NULL), ==, 0);
}

/* Requests dropped unrun (MaxQueueWaitSec) do not use up the caller's
 * MaxResetsPerMinute. */
static void test_dropped_requests_do_not_count(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r6:2500", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        g_autoptr(GError) error = NULL;
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Limits]\nMaxQueueWaitSec=1\nMaxResetsPerMinute=3\n", -1, NULL));
        const char *args[] = { "--config", conf, NULL };
        bind_fuse(f, specs, addrs);
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        harness_set_rules(f->h, rules_alice_all);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 2", NULL };
        GPid p[3];
        for (int i = 0; i < 3; i++) {
                p[i] = harness_spawn(f->h, HARNESS_USER_ALICE, req, NULL);
                g_usleep(150 * 1000);
        }
        g_assert_cmpint(harness_wait(p[0]), ==, 0);   /* ran */
        g_assert_cmpint(harness_wait(p[1]), ==, 1);   /* dropped after 1 s in the queue */
        g_assert_cmpint(harness_wait(p[2]), ==, 1);
        /* two more fit: only the one that ran counted */
        for (int i = 0; i < 2; i++) {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        }
        g_autofree char *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), !=, 0);
        assert_error(err, "org.freedesktop.DBus.Error.LimitsExceeded", "MaxResetsPerMinute=3");
        g_autofree char *dl = daemon_log(f);
        g_assert_cmpuint(count_lines_with(dl, "PCRESET_EVENT=cancelled", "MaxQueueWaitSec=1"), ==, 2);
}

/* SIGHUP reloads pcresetd.conf (a bad file changes nothing) and never
 * disturbs a reset in flight. */
static void wait_for_log(Fixture *f, const char *needle) {
        for (int i = 0; i < 100; i++) {
                g_autofree char *log = daemon_log(f);
                if (strstr(log, needle))
                        return;
                g_usleep(50 * 1000);
        }
        g_error("the daemon never logged '%s'", needle);
}

static void test_sighup_reload(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r6:1500", NULL };
        const char *addrs[] = { "0000:06:00.0" };
        g_autoptr(GError) error = NULL;
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Reset]\nUseResetSubordinate=yes\n", -1, NULL));
        const char *args[] = { "--config", conf, NULL };
        bind_fuse(f, specs, addrs);
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        GPid pid = harness_daemon_pid(f->h);
        g_assert_cmpint(call(f, NULL, NULL, NULL, "GetResetInfo", "0000:07:00.0", "uint32 16", NULL), ==, 0);

        /* a reset in flight, and a SIGHUP in the middle of it */
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 2", NULL };
        GPid r = harness_spawn(f->h, NULL, req, NULL);
        g_usleep(400 * 1000);
        g_assert_true(g_file_set_contents(conf, "[Reset]\nUseResetSubordinate=no\n", -1, NULL));
        g_assert_cmpint(kill(pid, SIGHUP), ==, 0);
        wait_for_log(f, "Reloaded ");
        g_assert_cmpint(harness_wait(r), ==, 0);
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
        g_assert_cmpint(harness_daemon_pid(f->h), ==, pid);
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(call(f, NULL, NULL, &err, "GetResetInfo", "0000:07:00.0", "uint32 16", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.NotSupported", "UseResetSubordinate=no");
        }
        /* a file with a mistake: the old settings stay, and the log says why */
        g_assert_true(g_file_set_contents(conf, "[Reset]\nUseResetSubordinate=yes\nMaxQueueWaitSec=soon\n", -1, NULL));
        g_assert_cmpint(kill(pid, SIGHUP), ==, 0);
        wait_for_log(f, "Not reloading: ");
        {
                g_autofree char *err = NULL, *log = daemon_log(f);
                g_assert_nonnull(strstr(log, "pcresetd.conf:3: "));
                g_assert_cmpint(call(f, NULL, NULL, &err, "GetResetInfo", "0000:07:00.0", "uint32 16", NULL), !=, 0);
                assert_error(err, "org.freedesktop.pcreset1.Error.NotSupported", "UseResetSubordinate=no");
        }
        g_assert_cmpint(harness_daemon_pid(f->h), ==, pid);
}

/* A restore of reset_method that fails keeps the admin's list: readers see
 * it, the next reset narrows from it, and it is written back once writing
 * works again (the 0.1 daemon lost it for good). */
static void test_failed_restore_keeps_original(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *mnt = g_build_filename(harness_dir(f->h), "fuse", NULL);
        g_autofree char *flog = g_build_filename(harness_dir(f->h), "fuse.log", NULL);
        const char *specs[] = { "r6:800", "rm6", NULL };
        f->fuse = fakereset_start(g_getenv("FAKERESET_FUSE_BIN"), mnt, flog, specs, &error);
        g_assert_no_error(error);
        g_autofree char *reset = attr_path(f, "0000:06:00.0", "reset");
        g_autofree char *rm = attr_path(f, "0000:06:00.0", "reset_method");
        g_assert_cmpint(fakereset_bind(f->fuse, "r6", reset), ==, 0);
        g_assert_cmpint(fakereset_bind(f->fuse, "rm6", rm), ==, 0);
        start_daemon(f);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:06:00.0", "uint32 2", NULL };
        GPid p = harness_spawn(f->h, NULL, req, NULL);
        g_usleep(400 * 1000);   /* narrowed to "flr", the reset blocks in FUSE */
        assert_attr(f, "0000:06:00.0", "reset_method", "flr");
        g_assert_cmpint(fakereset_set(f->fuse, "rm6", 0, EIO), ==, 0);  /* the restore will fail */
        g_assert_cmpint(harness_wait(p), ==, 1);
        assert_attr(f, "0000:06:00.0", "reset_method", "flr");
        g_assert_cmpint(fakereset_set(f->fuse, "rm6", 0, 0), ==, 0);
        /* the daemon still knows the admin's list: PM is planned from it */
        g_autofree char *info = NULL, *out = NULL;
        g_assert_cmpint(call(f, NULL, &info, NULL, "GetResetInfo", "0000:06:00.0", "uint32 4", NULL), ==, 0);
        g_assert_true(g_str_has_prefix(info, "(uint32 4, "));
        g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDevice", "0000:06:00.0", "uint32 4", NULL), ==, 0);
        /* ...and gives it back */
        assert_attr(f, "0000:06:00.0", "reset_method", "pm flr");
        g_autofree char *record = g_build_filename(harness_state_dir(f->h), "inflight", "0000:06:00.0", NULL);
        g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
}

/* A crash in the middle of a userspace bus reset left Secondary Bus Reset
 * asserted: the next start clears it (recorded or not) and says so. */
static void test_sbr_left_asserted(Fixture *f, gconstpointer data) {
        g_autofree char *cfg = attr_path(f, "0000:00:08.0", "config");
        g_autofree char *bytes = NULL;
        gsize len = 0;
        g_assert_true(g_file_get_contents(cfg, &bytes, &len, NULL));
        g_assert_cmpuint(len, >, 0x3e);
        bytes[0x3e] |= 0x40;
        g_assert_true(g_file_set_contents(cfg, bytes, (gssize) len, NULL));
        g_autofree char *dir = g_build_filename(harness_state_dir(f->h), "inflight-sbr", NULL);
        g_autofree char *rec = g_build_filename(dir, "0000:00:08.0", NULL);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
        g_assert_true(g_file_set_contents(rec, "0000:00:08.0", -1, NULL));
        start_daemon(f);
        /* the check runs as the first job below the root (the daemon
         * answers meanwhile): soon after the start, the bit is clear */
        g_autofree char *after = NULL;
        for (int i = 0; i < 200; i++) {
                g_clear_pointer(&after, g_free);
                g_assert_true(g_file_get_contents(cfg, &after, &len, NULL));
                if (!(after[0x3e] & 0x40))
                        break;
                g_usleep(10 * 1000);
        }
        g_assert_cmphex(after[0x3e] & 0x40, ==, 0);
        /* a reset below waits for it: the repair is logged before it ran */
        g_autofree char *out = NULL;
        g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDeviceEx", "0000:08:00.1", "uint32 16", NULL), ==, 0);
        g_assert_nonnull(strstr(out, "'userspace-sbr'"));
        g_autofree char *log = daemon_log(f);
        gssize left = offset_of(log, "0000:00:08.0: Secondary Bus Reset was left asserted");
        gssize done = offset_of(log, "PCRESET_EVENT=completed PCRESET_DEVICE=0000:08:00.1");
        g_assert_cmpint(left, >=, 0);
        g_assert_cmpint(done, >, left);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=repaired", "PCRESET_DEVICE=bridge control"), ==, 1);
        /* and neither the repair nor the userspace bus reset leaves a record behind */
        g_assert_false(g_file_test(rec, G_FILE_TEST_EXISTS));
}

/* A process of user's holding n fds (fdhog), once it says it is ready:
 * it makes every /proc scan slow. */
static GPid spawn_fdhog(Fixture *f, const char *user, const char *n, int *ret_fd) {
        const char *hog[] = { g_getenv("FDHOG_BIN"), n, NULL };
        GPid hp = harness_spawn(f->h, user, hog, ret_fd);
        char ready[16] = "";
        g_assert_cmpint(read(*ret_fd, ready, sizeof ready - 1), >, 0);
        g_assert_true(g_str_has_prefix(ready, "ready"));
        return hp;
}

/* The scan of /proc costs what strangers hold, so it never runs on the bus
 * loop: while bob holds 300,000 fds and floods resets (each needs a fresh
 * scan), root's unrelated calls are answered at once. */
static void test_scan_off_the_loop(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        const char *args[] = { "--proc-root", "/proc", NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        int hog_fd = -1;
        GPid hp = spawn_fdhog(f, HARNESS_USER_BOB, "300000", &hog_fd);

        /* what one scan costs now, seen by a call that needs one: a reset
         * always does (polkit refuses bob's after it) */
        gint64 t0 = g_get_monotonic_time();
        g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, NULL, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), !=, 0);
        gint64 scan_ms = (g_get_monotonic_time() - t0) / 1000;

        const char *flood[] = { g_getenv("FLOOD_BIN"), "3", "8", "2", "ResetDevice", "0000:02:00.0", "2", NULL };
        int flood_fd = -1;
        GPid fp = harness_spawn(f->h, HARNESS_USER_BOB, flood, &flood_fd);
        g_usleep(200 * 1000);
        GDBusConnection *bus = harness_bus(f->h);
        gint64 worst = 0;
        for (int i = 0; i < 20; i++) {
                gint64 c0 = g_get_monotonic_time();
                g_autoptr(GVariant) v = g_dbus_connection_call_sync(bus, DEST, PATH, IFACE, "GetResetInfo",
                                                                   g_variant_new("(su)", "0000:01:00.0", 2u), NULL,
                                                                   G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
                g_assert_no_error(error);
                worst = MAX(worst, g_get_monotonic_time() - c0);
                g_usleep(50 * 1000);
        }
        g_assert_cmpint(harness_wait(fp), ==, 0);
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[512];
        for (ssize_t n; (n = read(flood_fd, buf, sizeof buf)) > 0;)
                g_string_append_len(out, buf, n);
        close(flood_fd);
        /* a stop does not wait for a scan bob made slow */
        const char *one[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:02:00.0", "uint32 2", NULL };
        GPid op = harness_spawn(f->h, HARNESS_USER_BOB, one, NULL);
        g_usleep(300 * 1000);   /* its scan runs */
        gint64 s0 = g_get_monotonic_time();
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        gint64 stop_ms = (g_get_monotonic_time() - s0) / 1000;
        (void) harness_wait(op);
        harness_kill(hp);
        close(hog_fd);
        g_test_message("stop while a scan runs: %" G_GINT64_FORMAT " ms", stop_ms);
        g_assert_cmpint(stop_ms, <, scan_ms / 2);
        g_test_message("one scan with 300,000 fds held: %" G_GINT64_FORMAT " ms; bob's flood: %s; root's unrelated "
                       "GetResetInfo, worst of 20: %" G_GINT64_FORMAT " ms", scan_ms, out->str, worst / 1000);
        /* at once, next to a scan (13.7 s on 0.1, whose loop scanned): 100 ms,
         * or a tenth of one scan on a machine (or a sanitizer build) slow
         * enough that a scan takes over a second */
        g_assert_cmpint(worst / 1000, <, MAX(100, scan_ms / 10));
        /* the load was real: a scan costs several times root's worst answer */
        g_assert_cmpint(scan_ms, >, 3 * (worst / 1000));
}

/* An unprivileged user mounts FUSE in a user namespace and holds fds on
 * it that root may not stat: the mount serves no device node, so it must
 * not make every stub-bound device look held (for alice, for root), and
 * thousands of such fds with a long mountinfo must not make a scan slow.
 * The daemon scans a /proc that holds just that process. */
static void test_userns_fuse_is_no_holder(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *proc = g_build_filename(harness_dir(f->h), "proc-one", NULL);
        g_autofree char *node = g_build_filename(harness_dir(f->h), "fuse", NULL);
        g_autofree char *mnt = g_build_filename(harness_dir(f->h), "fusemnt", NULL);
        g_assert_cmpint(g_mkdir_with_parents(proc, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(mnt, 0777), ==, 0);
        /* a stock host's /dev/fuse is 0666 */
        g_assert_cmpint(mknod(node, S_IFCHR | 0666, makedev(10, 229)), ==, 0);
        g_assert_cmpint(chmod(node, 0666), ==, 0);
        const char *hold[] = { g_getenv("FUSEHOLD_BIN"), node, mnt, "2000", "500", NULL };
        int out = -1;
        GPid hp = harness_spawn(f->h, HARNESS_USER_BOB, hold, &out);
        char ready[64] = "";
        g_assert_cmpint(read(out, ready, sizeof ready - 1), >, 0);
        g_assert_true(g_str_has_prefix(ready, "ready "));
        int pid = atoi(ready + strlen("ready "));
        g_autofree char *target = g_strdup_printf("/proc/%d", pid);
        g_autofree char *link = g_strdup_printf("%s/%d", proc, pid);
        g_assert_cmpint(symlink(target, link), ==, 0);

        const char *args[] = { "--proc-root", proc, NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        harness_set_rules(f->h, rules_attack);
        gint64 t0 = g_get_monotonic_time();
        g_autofree char *info = info_of(f, HARNESS_USER_ALICE, "0000:01:00.0");
        gint64 ms = (g_get_monotonic_time() - t0) / 1000;
        g_test_message("alice's GetResetInfo with bob's 2,000 FUSE fds and 500 mounts: %" G_GINT64_FORMAT " ms: %s",
                       ms, info);
        g_assert_nonnull(strstr(info, "'owned'"));
        g_assert_cmpint(ms, <, 3000);
        g_autofree char *out2 = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out2, NULL, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), ==, 0);
        assert_attr(f, "0000:01:00.0", "reset", "1");
        harness_kill(hp);
        close(out);
}


/* While the kernel resets a function it blocks user reads of its config
 * (pci_cfg_access_lock for the whole reset: a second or more for a link
 * reset). 0.1's bus loop read the config of every driverless function it
 * judged (is it a bridge?), so anyone's call that touched a function
 * under reset, even alice's ListDevices, stalled every caller until the
 * reset ended. Here the FUSE config of the idle 05:00.0 blocks exactly
 * so while root's 2.5 s PM reset of it runs: the calls made meanwhile
 * must come back long before the reset ends. */
static void test_attack_config_blocked_during_reset(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r5:2500", "c5", NULL };
        const char *addrs[] = { "0000:05:00.0", "0000:05:00.0" };
        const char *attrs[] = { "reset", "config" };
        bind_fuse_attrs(f, specs, addrs, attrs);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "c5", "r5"), ==, 0);
        start_daemon(f);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:05:00.0", "uint32 4", NULL };
        GPid a = harness_spawn(f->h, NULL, req, NULL);
        g_usleep(500 * 1000); /* the reset is in its FUSE write */

        gint64 t0 = g_get_monotonic_time();
        g_autofree char *info = NULL, *info2 = NULL, *list = NULL;
        g_assert_cmpint(call(f, NULL, &info, NULL, "GetResetInfo", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info2, NULL, "GetResetInfo", "0000:06:00.0", "uint32 4", NULL), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &list, NULL, "ListDevices", NULL), ==, 0);
        gint64 t1 = g_get_monotonic_time();
        g_test_message("three calls during the reset of 0000:05:00.0: %" G_GINT64_FORMAT " ms", (t1 - t0) / 1000);
        g_assert_nonnull(strstr(info, "'0000:05:00.0', 'idle'"));
        g_assert_nonnull(strstr(list, "0000:05:00.0"));

        g_assert_cmpint(harness_wait(a), ==, 0);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        FakeResetEntry *e = log->pdata[0];
        /* all three answered while the reset still ran */
        g_assert_cmpint((gint64) (e->start_ns / 1000), <, t0);
        g_assert_cmpint(t1, <, (gint64) (e->end_ns / 1000));
        assert_attr(f, "0000:05:00.0", "reset_method", "pm");
}

/* writes "1" to the path (a reset attribute), as someone else's reset */
static gpointer write_one_thread(gpointer path) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return GINT_TO_POINTER(-errno);
        int r = write(fd, "1", 1) == 1 ? 0 : -errno;
        close(fd);
        return GINT_TO_POINTER(r);
}

/* (red team rt6b, faults and load) The daemon leaves after two idle
 * minutes and anyone's next call activates it again. Its start reads the
 * config space of every function it enumerates (topology's read_config()
 * through libpci: header type, capability list, link status) and of every
 * bridge (executor_repair_sbr()), on the one thread, before it takes the
 * bus name. While the kernel resets a function it blocks user config
 * reads of it, and since ~6.10 of its upstream bridge too, for the whole
 * reset. So alice, who owns 04:00.0 through VFIO, keeps it resetting
 * (VFIO_DEVICE_RESET in a loop, or one slow reset): every activation, and
 * with it every other user's first call, waits behind her resets. Here
 * her one 2.5 s reset of 04:00.0 (emulated by a write of its reset
 * attribute; its config, and its bridge's, blocked meanwhile) is running
 * when the daemon starts: bob's ListDevices must come back long before
 * her reset ends. */
static void test_attack_config_blocked_at_start(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r4:2500", "c4", "cb4", NULL };
        const char *addrs[] = { "0000:04:00.0", "0000:04:00.0", "0000:00:04.0" };
        const char *attrs[] = { "reset", "config", "config" };
        bind_fuse_attrs(f, specs, addrs, attrs);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "c4", "r4"), ==, 0);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "cb4", "r4"), ==, 0);

        g_autofree char *reset = attr_path(f, "0000:04:00.0", "reset");
        GThread *t = g_thread_new("alice-vfio-reset", write_one_thread, reset);
        g_usleep(300 * 1000); /* her reset is in its FUSE write */

        gint64 t0 = g_get_monotonic_time();
        start_daemon(f);
        g_autofree char *list = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &list, NULL, "ListDevices", NULL), ==, 0);
        gint64 t1 = g_get_monotonic_time();
        g_test_message("start and bob's ListDevices during alice's reset of 0000:04:00.0: %" G_GINT64_FORMAT " ms",
                       (t1 - t0) / 1000);
        g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t)), ==, 0);
        g_assert_nonnull(strstr(list, "0000:04:00.0"));

        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        FakeResetEntry *e = log->pdata[0];
        g_assert_cmpint((gint64) (e->start_ns / 1000), <, t0);
        /* answered while her reset still ran */
        g_assert_cmpint(t1, <, (gint64) (e->end_ns / 1000));
}

/* (red team rt8b, faults and load) The start's Bridge Control check is
 * one link job per ROOT bus ("pci0000:00"), and reads bridge after bridge.
 * On most hosts every root port sits below the one root, so when the read
 * of one bridge waits for someone's reset (since ~6.10 the kernel blocks
 * user config reads of the upstream bridge too), every reset of everyone
 * below every other port of the host waits with it. Here alice's 2.5 s
 * reset of her 04:00.0 runs when the daemon starts (the config of her
 * port 00:04.0 blocked meanwhile); root's PM reset of 05:00.0, below
 * another port, whose bridge was checked (or could be) at once, must not
 * wait for her reset to end. */
static void test_attack_bridge_check_holds_other_ports(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r4:2500", "cb4", NULL };
        const char *addrs[] = { "0000:04:00.0", "0000:00:04.0" };
        const char *attrs[] = { "reset", "config" };
        bind_fuse_attrs(f, specs, addrs, attrs);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "cb4", "r4"), ==, 0);

        g_autofree char *reset = attr_path(f, "0000:04:00.0", "reset");
        GThread *t = g_thread_new("alice-vfio-reset", write_one_thread, reset);
        g_usleep(300 * 1000); /* her reset is in its FUSE write */

        start_daemon(f);
        gint64 t0 = g_get_monotonic_time();
        g_autofree char *out = NULL;
        g_assert_cmpint(call(f, NULL, &out, NULL, "ResetDevice", "0000:05:00.0", "uint32 4", NULL), ==, 0);
        gint64 t1 = g_get_monotonic_time();
        g_test_message("root's PM reset of 0000:05:00.0 (below 00:05.0) during alice's reset below 00:04.0: "
                       "%" G_GINT64_FORMAT " ms", (t1 - t0) / 1000);
        g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t)), ==, 0);
        assert_attr(f, "0000:05:00.0", "reset", "1");

        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        FakeResetEntry *e = log->pdata[0];
        g_assert_cmpstr(e->name, ==, "r4");
        /* done while her reset still ran */
        g_assert_cmpint(t1, <, (gint64) (e->end_ns / 1000));
}

/* (red team rt8b, faults and load) The start's Bridge Control check used
 * to stop the start when it failed ("Cannot check bridges for an
 * interrupted bus reset"); now it only warns, and the resets it held back
 * run. executor_repair_sbr() fails before it reads a single bridge when it
 * cannot create <state>/inflight-sbr (here: the state directory's file
 * system has no inode left for a while; any mkdir error or ENOMEM does the
 * same; the check is never tried again). So a
 * bridge a crash left with Secondary Bus Reset set stays set, and a reset
 * of the function held in reset below it is run and reported done (here
 * a PM reset of 05:00.0, whose reset_method is "pm" alone: no record to
 * write). Either
 * the bit is cleared, or nothing below that bridge is reset. */
static void test_attack_bridge_check_error_resets_below(Fixture *f, gconstpointer data) {
        g_autofree char *cfg = attr_path(f, "0000:00:05.0", "config");
        g_autofree char *bytes = NULL;
        gsize len = 0;
        g_assert_true(g_file_get_contents(cfg, &bytes, &len, NULL));
        bytes[0x3e] |= 0x40;
        g_assert_true(g_file_set_contents(cfg, bytes, (gssize) len, NULL));

        /* the state directory on a file system whose inodes are all taken,
         * but for what the daemon had from earlier starts */
        const char *state = harness_state_dir(f->h);
        g_assert_cmpint(mount("tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,nr_inodes=64"), ==, 0);
        g_autofree char *inflight = g_build_filename(state, "inflight", NULL);
        g_assert_cmpint(mkdir(inflight, 0700), ==, 0);
        for (int i = 0;; i++) {
                g_autofree char *p = g_strdup_printf("%s/filler%d", state, i);
                int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0) {
                        g_assert_cmpint(errno, ==, ENOSPC);
                        break;
                }
                close(fd);
        }

        g_autoptr(GError) error = NULL;
        if (harness_start_daemon(f->h, NULL, &error) < 0) {
                /* 0.1 up to 8f700bc: no start, nothing reset: fine */
                g_test_message("the daemon did not start: %s", error->message);
                return;
        }
        /* the failure was transient: once the check gave up, space comes
         * back (the check is not tried again) */
        for (int i = 0; i < 500; i++) {
                g_autofree char *l = daemon_log(f);
                if (strstr(l, "0000:00:05.0: Secondary Bus Reset was left asserted") ||
                    strstr(l, "0000:00:05.0: cannot check its Bridge Control"))
                        break;
                g_usleep(10 * 1000);
        }
        for (int i = 0; i < 4; i++) {
                g_autofree char *p = g_strdup_printf("%s/filler%d", state, i);
                g_assert_cmpint(unlink(p), ==, 0);
        }
        g_autofree char *out = NULL, *err = NULL;
        int r = call(f, NULL, &out, &err, "ResetDevice", "0000:05:00.0", "uint32 4", NULL);
        g_autofree char *after = NULL;
        g_assert_true(g_file_get_contents(cfg, &after, &len, NULL));
        g_autofree char *log = daemon_log(f);
        g_autofree char *written = read_attr(f, "0000:05:00.0", "reset");
        g_test_message("PM reset of 0000:05:00.0: %s%s; Bridge Control of 0000:00:05.0: 0x%02x; reset written: '%s'",
                       r == 0 ? "done " : "refused ", r == 0 ? out : err, (unsigned) (uint8_t) after[0x3e], written);
        /* never: the bus stays held in reset, and a reset below it was run */
        g_assert_false(r == 0 && (after[0x3e] & 0x40));
        /* the records' directory could not be made; the bridge was checked all the same */
        g_assert_nonnull(strstr(log, "Cannot create"));
        g_assert_nonnull(strstr(log, "0000:00:05.0: Secondary Bus Reset was left asserted"));
        g_assert_cmphex(after[0x3e] & 0x40, ==, 0);
}

/* Two root buses (domains 0000 and 0001), MaxParallelResets=1: one
 * root's check runs (its read of a bridge waits for alice's 3 s reset of
 * 0001:02:00.0), the other's waits for the slot, and a reset below it
 * waits for that check. SIGTERM now: the queued check is dropped, the
 * queued call answered Cancelled without a reset, the running check ends
 * with alice's reset, and the daemon exits cleanly (with PCRESET_VALGRIND=1
 * under memcheck: no error, no definite leak). */
static const char two_roots_desc[] =
        "0000:00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "0000:01:00.0 vendor=8086 device=1521 class=020000 group=40 methods=\"pm\"\n"
        "0001:00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "0001:01:00.0 vendor=8086 device=1521 class=020000 group=41 methods=\"pm\"\n"
        "0001:00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "0001:02:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=30 vfio-owner=4101 open-by=4711 "
        "methods=\"flr pm bus\"\n";

static void test_stop_during_bridge_checks(Fixture *f, gconstpointer data) {
        gboolean valgrind = g_strcmp0(g_getenv("PCRESET_VALGRIND"), "1") == 0;
        const char *specs[] = { valgrind ? "ra:10000" : "ra:3000", "cba", "cbb", "cbc", NULL };
        const char *addrs[] = { "0001:02:00.0", "0001:00:02.0", "0001:00:01.0", "0000:00:01.0" };
        const char *attrs[] = { "reset", "config", "config", "config" };
        bind_fuse_attrs(f, specs, addrs, attrs);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "cba", "ra"), ==, 0);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "cbb", "ra"), ==, 0);
        g_assert_cmpint(fakereset_block_reads(f->fuse, "cbc", "ra"), ==, 0);
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Limits]\nMaxParallelResets=1\n", -1, NULL));

        g_autofree char *reset = attr_path(f, "0001:02:00.0", "reset");
        GThread *t = g_thread_new("alice-vfio-reset", write_one_thread, reset);
        g_usleep(300 * 1000);

        g_autofree char *vg = NULL;
        g_autofree char *bin = g_strdup(g_getenv("PCRESETD_BIN"));
        if (valgrind) {
                g_autofree char *vlog = g_build_filename(harness_dir(f->h), "valgrind.log", NULL);
                vg = g_build_filename(harness_dir(f->h), "pcresetd-valgrind", NULL);
                g_autofree char *script = g_strdup_printf(
                        "#!/bin/sh\nexec valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite "
                        "--error-exitcode=99 --log-file=%s %s \"$@\"\n", vlog, bin);
                g_assert_true(g_file_set_contents(vg, script, -1, NULL));
                g_assert_cmpint(chmod(vg, 0755), ==, 0);
                g_setenv("PCRESETD_BIN", vg, TRUE);
        }
        g_autoptr(GError) error = NULL;
        const char *args[] = { "--config", conf, NULL };
        int started = harness_start_daemon(f->h, args, &error);
        g_setenv("PCRESETD_BIN", bin, TRUE);
        g_assert_cmpint(started, ==, 0);

        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:01:00.0", "uint32 4", NULL };
        const char *req2[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                               "--method=" IFACE ".ResetDevice", "0001:01:00.0", "uint32 4", NULL };
        GPid a = harness_spawn(f->h, NULL, req, NULL);
        GPid b = harness_spawn(f->h, NULL, req2, NULL);
        g_usleep(vg ? 2000 * 1000 : 500 * 1000);
        gint64 t0 = g_get_monotonic_time();
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        g_test_message("stopped in %" G_GINT64_FORMAT " ms", (g_get_monotonic_time() - t0) / 1000);
        g_assert_cmpint(harness_wait(a), !=, 0);
        g_assert_cmpint(harness_wait(b), !=, 0);
        g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t)), ==, 0);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1); /* alice's only */
        g_autofree char *r1 = read_attr(f, "0000:01:00.0", "reset");
        g_autofree char *r2 = read_attr(f, "0001:01:00.0", "reset");
        g_assert_cmpstr(r1, ==, "");
        g_assert_cmpstr(r2, ==, "");
        g_autofree char *dl = daemon_log(f);
        g_test_message("%s", dl);
}

/* (found by a red-team review) A reset call that waited for a /proc scan
 * and, run again, is refused because its uid is at
 * MaxPendingAuthorizationsPerUser must give its scan waiter back: 0.1's
 * bus.c refused before collecting it (scanner_get()), and the woken waiter
 * stayed in the scanner's list until the connection closed, counting
 * against SCANNER_MAX_WAITERS_PER_UID (32) and SCANNER_MAX_WAITERS (1024).
 * After bob's 40 calls were all answered, one more call on the same
 * connection, with nothing else outstanding, must be asked (and denied by
 * polkit), not refused for "too many" scan waiters. */
static void test_attack_scan_waiter_leak(Fixture *f, gconstpointer data) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id != 'org.freedesktop.pcreset1.reset') return polkit.Result.NOT_HANDLED;\n"
                "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
                "  polkit.spawn(['/bin/sleep', '1']);\n"
                "  return polkit.Result.NO;\n"
                "});\n";
        start_daemon(f);
        harness_set_rules(f->h, rules);
        harness_set_run_timeout(f->h, 60000);
        /* 200,000 fds make each /proc scan take a while: the 8 questions
         * are at polkitd before the 32 calls come back from their scan
         * (without it the leak showed in about half of the runs) */
        int hog_fd = -1;
        GPid hp = spawn_fdhog(f, HARNESS_USER_ALICE, "200000", &hog_fd);
        const char *leak[] = { g_getenv("WAITLEAK_BIN"), "32", "0000:02:00.0", "8", "0000:03:00.0", NULL };
        int fd = -1;
        GPid p = harness_spawn(f->h, HARNESS_USER_BOB, leak, &fd);
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[1024];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                g_string_append_len(out, buf, n);
        close(fd);
        (void) harness_wait(p);
        harness_kill(hp);
        close(hog_fd);
        g_test_message("bob's one connection: %s", out->str);
        g_assert_nonnull(strstr(out->str, "sent 40 answered 40"));
        g_assert_null(strstr(out->str, "probe org.freedesktop.DBus.Error.LimitsExceeded"));
        g_assert_nonnull(strstr(out->str, "probe org.freedesktop.DBus.Error.AccessDenied"));
}

/* The same attack by 36 uids (a user's subordinate uids through
 * newuidmap, or the uids of a rootless container's processes, each its own
 * uid on the system bus): 36 uids, 32 stale waiters each, fill
 * SCANNER_MAX_WAITERS (1024),
 * and from then on, as long as those connections stay open and with no
 * call of theirs outstanding, every other user's reset of a stub-bound
 * device (it needs a scan) would be refused. alice is authorized and her
 * device is idle: her reset must run. Before the fix the review observed
 * (a temporary log line in scanner_wait) every one of the 36 uids locked
 * out of scans with nothing outstanding and 448 stale waiters held when
 * alice called: not yet the 1024 that would refuse her, so this passed
 * then too; it guards the global cap against the same leak. */
#define NUIDS 36
static void test_attack_scan_waiter_leak_global(Fixture *f, gconstpointer data) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "  if (action.id != 'org.freedesktop.pcreset1.reset') return polkit.Result.NOT_HANDLED;\n"
                "  if (subject.user == 'pcr-alice') return polkit.Result.YES;\n"
                "  polkit.spawn(['/bin/sleep', '0.2']);\n"
                "  return polkit.Result.NO;\n"
                "});\n";
        /* named users (this dbus-daemon drops connections of uids it cannot
         * look up; dbus-broker does not look them up) */
        if (!g_getenv("RT_NO_PASSWD")) {
                FILE *pw = fopen("/etc/passwd", "ae"), *gr = fopen("/etc/group", "ae");
                g_assert_nonnull(pw);
                g_assert_nonnull(gr);
                for (int i = 0; i < NUIDS; i++) {
                        fprintf(pw, "pcr-sub%d:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", i, 60000 + i, 60000 + i);
                        fprintf(gr, "pcr-sub%d:x:%d:\n", i, 60000 + i);
                }
                fclose(pw);
                fclose(gr);
        }
        start_daemon(f);
        harness_set_rules(f->h, rules);
        harness_set_run_timeout(f->h, 60000);
        GPid pids[NUIDS];
        int fds[NUIDS];
        for (int i = 0; i < NUIDS; i++) {
                g_autofree char *ru = g_strdup_printf("--reuid=%d", 60000 + i);
                g_autofree char *rg = g_strdup_printf("--regid=%d", 60000 + i);
                const char *leak[] = { "setpriv", ru, rg, "--clear-groups", g_getenv("WAITLEAK_BIN"), "32",
                                       "0000:02:00.0", "8", "0000:03:00.0", "60", NULL };
                pids[i] = harness_spawn(f->h, NULL, leak, &fds[i]);
        }
        unsigned limited = 0;
        for (int i = 0; i < NUIDS; i++) {
                /* until its probe line: all its calls were answered */
                g_autoptr(GString) out = g_string_new(NULL);
                char buf[512];
                for (ssize_t n; !strstr(out->str, "probe") && (n = read(fds[i], buf, sizeof buf)) > 0;)
                        g_string_append_len(out, buf, n);
                if (i < 2)
                        g_test_message("uid %d: %s", 60000 + i, out->str);
                limited += strstr(out->str, "probe org.freedesktop.DBus.Error.LimitsExceeded") != NULL;
        }
        g_test_message("%u of " G_STRINGIFY(NUIDS) " uids locked out of scans with nothing outstanding", limited);
        g_autofree char *out = NULL, *err = NULL;
        int r = call(f, HARNESS_USER_ALICE, &out, &err, "ResetDevice", "0000:02:00.0", "uint32 2", NULL);
        g_test_message("alice's reset while the 32 uids stay connected: %d %s %s", r, out ? out : "", err ? err : "");
        {
                g_autofree char *o2 = NULL, *e2 = NULL;
                int r2 = call(f, HARNESS_USER_BOB, &o2, &e2, "GetResetInfo", "0000:02:00.0", "uint32 2", NULL);
                g_test_message("bob's GetResetInfo: %d %s %s", r2, o2 ? o2 : "", e2 ? e2 : "");
                g_autofree char *o3 = NULL, *e3 = NULL;
                int r3 = call(f, HARNESS_USER_CAROL, &o3, &e3, "ResetDevice", "0000:02:00.0", "uint32 2", NULL);
                g_test_message("carol's reset: %d %s %s", r3, o3 ? o3 : "", e3 ? e3 : "");
        }
        for (int i = 0; i < NUIDS; i++) {
                harness_kill(pids[i]);
                close(fds[i]);
        }
        g_assert_cmpint(r, ==, 0);
}

/* ---- handover (issue 14.2) --------------------------------------------- */

static const char handover_desc[] =
        /* an idle function on vfio-pci, nobody's */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=1521 class=020000 driver=vfio-pci group=10 vfio methods=\"flr\"\n"
        /* two idle functions behind a port with reset_subordinate */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport reset_subordinate\n"
        "02:00.0 vendor=8086 device=1521 class=020000 driver=vfio-pci group=20 vfio methods=\"flr bus\"\n"
        "02:00.1 vendor=8086 device=1521 class=020000 driver=vfio-pci group=21 vfio methods=\"flr\"\n"
        /* alice's by its group node, not open */
        "00:03.0 bridge=root-port secondary=03 driver=pcieport\n"
        "03:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=30 vfio-owner=4101 methods=\"flr\"\n";

static const char rules_handover[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id.indexOf('org.freedesktop.pcreset1.') != 0) return polkit.Result.NOT_HANDLED;\n"
        "  if (subject.user == 'pcr-alice' || subject.user == 'pcr-bob') return polkit.Result.YES;\n"
        "  return polkit.Result.NO;\n"
        "});\n";

#define BOOT_A "0b1d2c3e-1111-4222-8333-444455556666"
#define BOOT_B "9f8e7d6c-aaaa-4bbb-8ccc-ddddeeeeffff"
#define NEEDS_RESET "org.freedesktop.pcreset1.Error.NeedsReset"

/* The fake /proc's boot id, which the daemon ties its handover records to. */
static void set_boot_id(Fixture *f, const char *id) {
        g_autofree char *dir = g_build_filename(harness_fake_root(f->h), "proc/sys/kernel/random", NULL);
        g_autofree char *p = g_build_filename(dir, "boot_id", NULL);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(p, id, -1, NULL));
}

static void start_handover(Fixture *f) {
        set_boot_id(f, BOOT_A "\n");
        start_daemon(f);
        harness_set_rules(f->h, rules_handover);
}

static void claim_ok(Fixture *f, const char *user, const char *addr) {
        g_assert_cmpint(call(f, user, NULL, NULL, "ClaimDevice", addr, NULL), ==, 0);
}

static void release_ok(Fixture *f, const char *user, const char *addr) {
        g_assert_cmpint(call(f, user, NULL, NULL, "ReleaseDevice", addr, NULL), ==, 0);
}

/* ClaimDevice of user on addr is refused with NeedsReset; the message. */
static char *claim_needs_reset(Fixture *f, const char *user, const char *addr) {
        char *err = NULL;
        g_assert_cmpint(call(f, user, NULL, &err, "ClaimDevice", addr, NULL), !=, 0);
        assert_error(err, NEEDS_RESET, "it was not reset since");
        return err;
}

static char *list_ex(Fixture *f, const char *user) {
        char *out = NULL;
        g_assert_cmpint(call(f, user, &out, NULL, "ListDevicesEx", NULL), ==, 0);
        return out;
}

/* (found by a red-team review) While bob's reset of the idle 01:00.0 runs
 * (a 2.5 s FLR), alice cannot claim it: the reset was decided on its being
 * idle, and whatever she did with it before the reset ended would be
 * "cleaned" by it. Once it is done, she can. */
static void test_handover_claim_during_reset(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r1:2500", NULL };
        const char *addrs[] = { "0000:01:00.0" };
        char *err = NULL;
        bind_fuse(f, specs, addrs);
        start_handover(f);
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:01:00.0", "uint32 2", NULL };
        GPid bob = harness_spawn(f->h, HARNESS_USER_BOB, req, NULL);
        g_usleep(600 * 1000); /* bob's reset is in its FUSE write */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err, "ClaimDevice", "0000:01:00.0", NULL), !=, 0);
        gint64 refused = g_get_monotonic_time();
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", "a reset that touches it is running");
        g_free(err);
        g_assert_cmpint(harness_wait(bob), ==, 0);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        /* refused while the reset ran, not before it began */
        g_assert_cmpint(refused, <, (gint64) (((FakeResetEntry *) log->pdata[0])->end_ns / 1000));
        g_assert_cmpint(refused, >, (gint64) (((FakeResetEntry *) log->pdata[0])->start_ns / 1000));
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
}

/* (found by a red-team review) alice releases her claim while her own
 * reset of it runs: what she did with it after the reset's write is not
 * reset, so bob still needs a reset to take it. Two rules keep it so: her
 * reset marks her use of what she owned, and a reset never cleans a mark
 * set after it began (/handover/mark-during-reset tests that one alone). */
static void test_handover_release_during_reset(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r1:2500", NULL };
        const char *addrs[] = { "0000:01:00.0" };
        bind_fuse(f, specs, addrs);
        start_handover(f);
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        const char *req[] = { "gdbus", "call", "--system", "--dest=" DEST, "--object-path=" PATH,
                              "--method=" IFACE ".ResetDevice", "0000:01:00.0", "uint32 2", NULL };
        GPid alice = harness_spawn(f->h, HARNESS_USER_ALICE, req, NULL);
        g_usleep(600 * 1000); /* her reset is in its FUSE write */
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        gint64 released = g_get_monotonic_time();
        g_assert_cmpint(harness_wait(alice), ==, 0);
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 1);
        g_assert_cmpint(released, <, (gint64) (((FakeResetEntry *) log->pdata[0])->end_ns / 1000));
        g_autofree char *after = list_ex(f, NULL);
        g_assert_nonnull(strstr(after, "'handover': <'dirty'>"));
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0"));
        /* the same user takes it back freely */
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
}

/* A claim released is another user's only with a reset; the same user
 * takes it back freely; root is no exception; it survives a restart; claim
 * --reset resets, then claims. */
static void test_handover_claim(Fixture *f, gconstpointer data) {
        start_handover(f);
        g_autofree char *e1 = NULL, *e2 = NULL, *rl = NULL, *bl = NULL, *rx = NULL, *ctl_list = NULL, *out = NULL;
        g_autofree char *info = NULL, *rx2 = NULL, *e3 = NULL, *rx3 = NULL;

        /* never owned: clean, for anyone */
        g_autofree char *clean = list_ex(f, HARNESS_USER_BOB);
        g_assert_nonnull(strstr(clean, "('0000:01:00.0', '0000:00:01.0', 32902, 5409"));
        g_assert_nonnull(strstr(clean, "'handover': <'clean'>, 'handover_reason': <''>"));
        g_assert_null(strstr(clean, "'dirty'"));

        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        /* bob: refused, and not told whose it was */
        e1 = claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0");
        g_assert_nonnull(strstr(e1, "Cannot claim 0000:01:00.0: another user had it"));
        g_assert_nonnull(strstr(e1, "pcresetctl claim --reset"));
        g_assert_null(strstr(e1, "4101"));
        g_assert_null(strstr(e1, "pcr-alice"));
        /* root too: the rule protects alice's data from whoever comes next */
        e2 = claim_needs_reset(f, NULL, "0000:01:00.0");
        g_assert_nonnull(strstr(e2, "uid 4101 (pcr-alice) had it"));
        /* shown: to root with the uid, to bob without */
        g_assert_cmpint(call(f, NULL, &rl, NULL, "ListDevices", NULL), ==, 0);
        g_assert_nonnull(strstr(rl, "'bound to vfio-pci, not open; dirty since uid 4101 (pcr-alice) released it: not "
                                    "reset since"));
        g_assert_cmpint(call(f, HARNESS_USER_BOB, &bl, NULL, "ListDevices", NULL), ==, 0);
        g_assert_nonnull(strstr(bl, "dirty since another user released it"));
        g_assert_null(strstr(bl, "4101"));
        rx = list_ex(f, NULL);
        g_assert_nonnull(strstr(rx, "'handover': <'dirty'>, 'handover_reason': <'dirty since uid 4101 (pcr-alice)"));
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &ctl_list, NULL, "list", NULL), ==, 0);
        g_assert_true(g_regex_match_simple("0000:01:00.0 .*dirty since another user released it", ctl_list,
                                           G_REGEX_MULTILINE, 0));
        /* nothing was reset, nothing claimed */
        assert_attr(f, "0000:01:00.0", "reset", "");
        g_autofree char *log0 = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log0, "PCRESET_EVENT=claimed", "CALLER_UID=4102"), ==, 0);
        g_assert_cmpuint(count_lines_with(log0, "PCRESET_EVENT=claimed", "CALLER_UID=0"), ==, 0);

        /* alice takes her own device back without a reset */
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");

        /* a daemon restart remembers */
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        start_daemon(f);
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0"));

        /* bob: with a reset */
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &out, NULL, "claim", "--reset", "0000:01:00.0", NULL), ==, 0);
        g_assert_nonnull(strstr(out, "claim 0000:01:00.0: reset (performed flr"));
        g_assert_nonnull(strstr(out, "claimed for uid 4102"));
        assert_attr(f, "0000:01:00.0", "reset", "1");
        info = info_of(f, HARNESS_USER_BOB, "0000:01:00.0");
        g_assert_nonnull(strstr(info, "'owned', 'claimed by you'"));
        rx2 = list_ex(f, NULL);
        g_assert_nonnull(strstr(rx2, "'handover': <'held'>, 'handover_reason': <'held by uid 4102 (pcr-bob)"));
        g_autofree char *log = daemon_log(f);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=completed", "CALLER_UID=4102"), ==, 1);
        g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=claimed", "CALLER_UID=4102"), ==, 1);

        /* now bob's: alice needs a reset */
        release_ok(f, HARNESS_USER_BOB, "0000:01:00.0");
        e3 = claim_needs_reset(f, HARNESS_USER_ALICE, "0000:01:00.0");
        g_assert_null(strstr(e3, "4102"));
        /* root breaking a claim counts as its holder letting go */
        claim_ok(f, HARNESS_USER_BOB, "0000:01:00.0");
        release_ok(f, NULL, "0000:01:00.0");
        g_free(claim_needs_reset(f, HARNESS_USER_ALICE, "0000:01:00.0"));
        rx3 = list_ex(f, HARNESS_USER_BOB);
        g_assert_nonnull(strstr(rx3, "'handover_reason': <'dirty since uid 4102 (pcr-bob) released it"));

        /* the admin turns the rule off: shown still, refused no more */
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "pcresetd.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[Ownership]\nRequireResetOnHandover=no\n", -1, NULL));
        g_autoptr(GError) error = NULL;
        const char *args[] = { "--config", conf, NULL };
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        g_autofree char *rx4 = list_ex(f, NULL);
        g_assert_nonnull(strstr(rx4, "'handover_reason': <'dirty since uid 4102 (pcr-bob)"));
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        assert_attr(f, "0000:01:00.0", "reset", "1");   /* still only bob's one reset */
}

/* Only a reset that completed cleans, and a bus reset only if it completed
 * on every device; a claim --reset whose reset fails claims nothing. */
static void test_handover_failed_reset(Fixture *f, gconstpointer data) {
        const char *specs[] = { "r1:0:EIO", "rs2:0:EIO", NULL };
        const char *addrs[] = { "0000:01:00.0", "0000:00:02.0" };
        const char *attrs[] = { "reset", "reset_subordinate" };
        bind_fuse_attrs(f, specs, addrs, attrs);
        start_handover(f);
        g_autofree char *err = NULL, *err2 = NULL, *err3 = NULL, *info = NULL, *out = NULL;

        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        /* the reset fails: no claim, still dirty, nothing left half-done */
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, NULL, &err, "claim", "--reset", "0000:01:00.0", NULL), ==, 7);
        g_assert_nonnull(strstr(err, "flr reset of 0000:01:00.0 failed: Input/output error"));
        info = info_of(f, HARNESS_USER_BOB, "0000:01:00.0");
        g_assert_null(strstr(info, "claimed"));
        g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, &err2, "ReleaseDevice", "0000:01:00.0", NULL), !=, 0);
        assert_error(err2, "org.freedesktop.DBus.Error.InvalidArgs", "is not claimed");
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0"));
        /* a failed plain reset does not clean either */
        g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, NULL, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), !=, 0);
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0"));
        /* once the kernel resets it: claimed */
        g_assert_cmpint(fakereset_set(f->fuse, "r1", 0, 0), ==, 0);
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &out, NULL, "--json", "claim", "--reset", "0000:01:00.0", NULL), ==, 0);
        g_assert_nonnull(strstr(out, "\"claimed\":true"));
        g_assert_nonnull(strstr(out, "\"performed_name\":\"flr\""));

        /* two dirty functions behind one bridge */
        claim_ok(f, HARNESS_USER_ALICE, "0000:02:00.0");
        claim_ok(f, HARNESS_USER_ALICE, "0000:02:00.1");
        release_ok(f, HARNESS_USER_ALICE, "0000:02:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:02:00.1");
        /* a function reset of one cleans that one only */
        g_assert_cmpint(call(f, HARNESS_USER_BOB, NULL, NULL, "ResetDevice", "0000:02:00.0", "uint32 2", NULL), ==, 0);
        claim_ok(f, HARNESS_USER_BOB, "0000:02:00.0");
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:02:00.1"));
        release_ok(f, HARNESS_USER_BOB, "0000:02:00.0");
        /* the bus reset through reset_subordinate fails: neither is cleaned */
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, &err3, "ResetDevice", "0000:02:00.0", "uint32 16", NULL), !=, 0);
        assert_error(err3, "org.freedesktop.pcreset1.Error.ResetFailed", "reset_subordinate of 0000:00:02.0 failed");
        g_free(claim_needs_reset(f, HARNESS_USER_ALICE, "0000:02:00.0"));   /* bob's mark */
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:02:00.1"));     /* alice's mark */
        /* it completes: both clean, for anyone */
        g_assert_cmpint(fakereset_set(f->fuse, "rs2", 0, 0), ==, 0);
        g_autofree char *out2 = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &out2, NULL, "ResetDevice", "0000:02:00.0", "uint32 16", NULL), ==, 0);
        g_assert_cmpstr(out2, ==, "(uint32 16, ['0000:02:00.0', '0000:02:00.1'])");
        claim_ok(f, HARNESS_USER_ALICE, "0000:02:00.0");
        claim_ok(f, HARNESS_USER_BOB, "0000:02:00.1");
        g_autoptr(GPtrArray) log = fuse_log(f);
        g_assert_cmpuint(log->len, ==, 5);   /* r1 twice failed, once ok; rs2 failed, then ok */
}

/* A VFIO node owner's use counts once its reset is done: when the admin
 * gives the node to someone else, that one needs a reset to claim it. */
static void test_handover_node_owner(Fixture *f, gconstpointer data) {
        start_handover(f);
        g_autofree char *out = NULL, *rx = NULL;

        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ResetDevice", "0000:03:00.0", "uint32 2", NULL), ==, 0);
        rx = list_ex(f, NULL);
        g_assert_nonnull(strstr(rx, "'handover_reason': <'dirty since uid 4101 (pcr-alice) released it"));
        /* the admin takes the node back */
        g_autofree char *node = g_build_filename(harness_fake_root(f->h), "dev/vfio/30", NULL);
        g_assert_cmpint(chown(node, 0, 0), ==, 0);
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:03:00.0"));
        g_assert_cmpint(ctl(f, HARNESS_USER_BOB, &out, NULL, "claim", "--reset", "0000:03:00.0", NULL), ==, 0);
        g_autofree char *info = info_of(f, HARNESS_USER_BOB, "0000:03:00.0");
        g_assert_nonnull(strstr(info, "'owned', 'claimed by you'"));
}

/* A record is of one card: a reset of another card swapped in at the same
 * address cleans nothing of the first card's, which is dirty again when it
 * comes back; the other card is not dirty meanwhile. */
static void swap_ids(Fixture *f, const char *addr, const char *vendor, const char *device, const unsigned char ids[4]) {
        g_autofree char *v = attr_path(f, addr, "vendor");
        g_autofree char *d = attr_path(f, addr, "device");
        g_autofree char *c = attr_path(f, addr, "config");
        g_assert_true(g_file_set_contents(v, vendor, -1, NULL));
        g_assert_true(g_file_set_contents(d, device, -1, NULL));
        int fd = open(c, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, ids, 4, 0), ==, 4);
        close(fd);
}

static void test_handover_hot_swap(Fixture *f, gconstpointer data) {
        static const unsigned char virtio[4] = { 0xf4, 0x1a, 0x41, 0x10 }, igb[4] = { 0x86, 0x80, 0x21, 0x15 };
        start_handover(f);

        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        swap_ids(f, "0000:01:00.0", "0x1af4\n", "0x1041\n", virtio);
        /* root resets the card there now */
        g_assert_cmpint(call(f, NULL, NULL, NULL, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), ==, 0);
        assert_attr(f, "0000:01:00.0", "reset", "1");
        /* it was never anyone's */
        g_autofree char *rx = list_ex(f, NULL);
        g_assert_nonnull(strstr(rx, "('0000:01:00.0', '0000:00:01.0', 6900, 4161"));
        g_assert_null(strstr(rx, "'dirty'"));
        /* alice's card comes back: that reset was not of it, and the claim
         * is decided on the card there now (no rescan has seen it yet) */
        swap_ids(f, "0000:01:00.0", "0x8086\n", "0x1521\n", igb);
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0"));
        /* the other card again: bob may claim it */
        swap_ids(f, "0000:01:00.0", "0x1af4\n", "0x1041\n", virtio);
        claim_ok(f, HARNESS_USER_BOB, "0000:01:00.0");
}

/* Records survive a restart, not a reboot (another boot id); the state
 * file is read strictly: a symlink in its place stops the start. */
static void test_handover_reboot(Fixture *f, gconstpointer data) {
        start_handover(f);
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        g_autofree char *state = g_build_filename(harness_state_dir(f->h), "handover", NULL);
        g_autofree char *text = NULL;
        g_assert_true(g_file_get_contents(state, &text, NULL, NULL));
        g_assert_nonnull(strstr(text, "boot " BOOT_A "\n0000:01:00.0 4101 8086 1521 dirty\n"));

        /* a symlink in its place, to a file that would make 02:00.0 dirty: refused */
        g_autofree char *elsewhere = g_build_filename(harness_dir(f->h), "elsewhere", NULL);
        g_assert_true(g_file_set_contents(elsewhere, "boot " BOOT_A "\n0000:02:00.0 4101 8086 1521 dirty\n", -1,
                                          NULL));
        g_autofree char *saved = g_strconcat(state, ".saved", NULL);
        g_assert_cmpint(rename(state, saved), ==, 0);
        g_assert_cmpint(symlink(elsewhere, state), ==, 0);
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(harness_start_daemon(f->h, NULL, &error), <, 0);
        g_autofree char *log = daemon_log(f);
        g_assert_nonnull(strstr(log, "Cannot load handover records from"));
        g_assert_cmpint(unlink(state), ==, 0);
        g_assert_cmpint(rename(saved, state), ==, 0);

        /* another boot: dropped */
        set_boot_id(f, BOOT_B "\n");
        start_daemon(f);
        claim_ok(f, HARNESS_USER_BOB, "0000:01:00.0");
        g_autofree char *text2 = NULL;
        g_assert_true(g_file_get_contents(state, &text2, NULL, NULL));
        g_assert_nonnull(strstr(text2, "boot " BOOT_B "\n0000:01:00.0 4102 8086 1521 held\n"));
        g_assert_null(strstr(text2, "4101"));
}

/* ---- handover attacks (found by a red-team review; fixed) --------------- */

/* A claim the daemon knows of but has no handover record for (the claims
 * file of a version before the handover rule, kept in /run/pcresetd across
 * the package upgrade's restart; or a handover file lost while the claims
 * file stayed): handover_sync() turns held records without a claim into
 * dirty ones, but nothing turns a claim without a record into a held one.
 * Its holder's release then leaves the device "clean", and another uid
 * claims it without any reset. Expected: NeedsReset. */
static void test_attack_handover_claim_without_record(Fixture *f, gconstpointer data) {
        start_handover(f);
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        /* the state an upgrade from a pre-handover version leaves: claims only */
        g_autofree char *state = g_build_filename(harness_state_dir(f->h), "handover", NULL);
        g_assert_cmpint(unlink(state), ==, 0);
        start_daemon(f);
        g_autofree char *info = info_of(f, HARNESS_USER_ALICE, "0000:01:00.0");
        g_assert_nonnull(strstr(info, "'owned', 'claimed by you'"));
        /* alice used it and lets go */
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        /* bob must not get it without a reset */
        g_autofree char *e = claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0");
        assert_attr(f, "0000:01:00.0", "reset", "");
}

/* The shipped unit has ProcSubset=pid: /proc/sys/kernel/random/boot_id is
 * not visible to the daemon, so it writes "boot unknown". A later start
 * that can read the boot id (a unit override, a debugging run, a unit
 * upgrade that changes the sandbox) takes the same boot's file for another
 * boot's and drops every record: dirty devices become clean without a
 * reset. Expected: records of an unknown boot are kept (as the start that
 * wrote them kept them), not dropped. */
static void test_attack_handover_unknown_boot_drops_marks(Fixture *f, gconstpointer data) {
        /* no boot_id in the fake /proc: as under ProcSubset=pid */
        start_daemon(f);
        harness_set_rules(f->h, rules_handover);
        claim_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        release_ok(f, HARNESS_USER_ALICE, "0000:01:00.0");
        g_free(claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0"));
        g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        /* same boot, the id now readable */
        set_boot_id(f, BOOT_A "\n");
        start_daemon(f);
        g_autofree char *e = claim_needs_reset(f, HARNESS_USER_BOB, "0000:01:00.0");
        assert_attr(f, "0000:01:00.0", "reset", "");
}

/* handover_used() replaces whatever record is there, also another uid's
 * held one: bob's claim stays, but after alice's node-owner reset his mark
 * says "dirty by alice". Once the node is root's again bob's claim counts
 * again (ownership.c), bob uses the device and releases it: the release
 * finds no record held by bob and changes nothing, so alice, "the last
 * owner", takes it over from bob without a reset. Expected: NeedsReset. */
static void test_attack_handover_used_overwrites_held(Fixture *f, gconstpointer data) {
        start_handover(f);
        g_autofree char *node = g_build_filename(harness_fake_root(f->h), "dev/vfio/10", NULL);
        claim_ok(f, HARNESS_USER_BOB, "0000:01:00.0");
        /* the admin gives the node to alice: her node beats bob's claim */
        g_assert_cmpint(chown(node, 4101, 0), ==, 0);
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, NULL, NULL, "ResetDevice", "0000:01:00.0", "uint32 2", NULL), ==, 0);
        /* and takes it back: bob's claim counts again, bob uses it, lets go */
        g_assert_cmpint(chown(node, 0, 0), ==, 0);
        g_autofree char *info = info_of(f, HARNESS_USER_BOB, "0000:01:00.0");
        g_assert_nonnull(strstr(info, "'owned', 'claimed by you'"));
        release_ok(f, HARNESS_USER_BOB, "0000:01:00.0");
        g_autofree char *e = claim_needs_reset(f, HARNESS_USER_ALICE, "0000:01:00.0");
}


/* rt6a red team: what the planner calls a bridge (topology.c: header type
 * 1 read from config space once) and what ownership calls a pass-through
 * bridge (pci-util.c since 669b2cd: secondary_bus_number present, class
 * not 0x0607) are two different rules. Where they disagree the planner
 * leaves the subtree out of the affected set while ownership waves the
 * function itself through as "idle", so a function reset of it hits the
 * devices below it unchecked. Bob's VM devices sit below each port. */
static const char rt6a_desc[] =
        /* control: an ordinary root port */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport methods=\"pm\"\n"
        "01:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=30 vfio-owner=4102 open-by=5100@4102 "
        "methods=\"flr\"\n"
        /* header type patched to 2 by the test: the kernel shows
         * secondary_bus_number for it, class stays 0x060400 (pcieport) */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport methods=\"pm\"\n"
        "02:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=31 vfio-owner=4102 open-by=5101@4102 "
        "methods=\"flr\"\n"
        /* patched into a driverless CardBus bridge (type 2, class 0x060700) */
        "00:03.0 bridge=root-port secondary=03 methods=\"pm\"\n"
        "03:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=32 vfio-owner=4102 open-by=5102@4102 "
        "methods=\"flr\"\n";

static void rt6a_patch_config(Fixture *f, const char *addr, unsigned off, uint8_t v) {
        g_autofree char *p = attr_path(f, addr, "config");
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, &v, 1, off), ==, 1);
        close(fd);
}

static void rt6a_expect_busy(Fixture *f, const char *addr, const char *below) {
        g_autofree char *info = NULL, *err = NULL;
        g_assert_cmpint(call(f, HARNESS_USER_ALICE, &info, NULL, "GetResetInfo", addr, "uint32 4", NULL), ==, 0);
        g_test_message("%s: %s", addr, info);
        int r = call(f, HARNESS_USER_ALICE, NULL, &err, "ResetDevice", addr, "uint32 4", NULL);
        g_autofree char *written = read_attr(f, addr, "reset");
        g_test_message("ResetDevice %s as alice: %d %s; reset file '%s'", addr, r, err ? err : "(performed)", written);
        /* bob's device below is in use: the reset must be refused */
        g_assert_cmpint(r, !=, 0);
        assert_error(err, "org.freedesktop.pcreset1.Error.DeviceBusy", below);
        g_assert_cmpstr(written, ==, "");
}

/* control: the ordinary port is refused because of 01:00.0 */
static void test_rt6a_bridge_control(Fixture *f, gconstpointer data) {
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        rt6a_expect_busy(f, "0000:00:01.0", "0000:01:00.0");
}

/* a function with a type 2 header but a PCI-bridge class, bound to
 * pcieport: before 669b2cd ownership read header type 2, "not a bridge",
 * so pcieport made it busy; now sysfs says bridge, so it is "passed
 * through" and idle, while the planner (type 1 only) never adds 02:00.0 */
static void test_rt6a_type2_bridge_class(Fixture *f, gconstpointer data) {
        rt6a_patch_config(f, "0000:00:02.0", 0x0e, 0x02);
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        rt6a_expect_busy(f, "0000:00:02.0", NULL);
}

/* a driverless CardBus bridge (pci-util.h: "the class tells a CardBus
 * bridge apart", so never a bridge): the planner leaves its card out */
static void test_rt6a_cardbus_bridge(Fixture *f, gconstpointer data) {
        g_autofree char *cls = attr_path(f, "0000:00:03.0", "class");
        g_assert_true(g_file_set_contents(cls, "0x060700\n", -1, NULL));
        rt6a_patch_config(f, "0000:00:03.0", 0x0e, 0x02);
        rt6a_patch_config(f, "0000:00:03.0", 0x0a, 0x07);
        start_daemon(f);
        harness_set_rules(f->h, review_rules);
        rt6a_expect_busy(f, "0000:00:03.0", NULL);
}

int main(int argc, char *argv[]) {
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/daemon/introspection", test_introspection);
        ADD("/daemon/invalid-input", test_invalid_input);
        ADD("/daemon/reset-as-root", test_reset_as_root);
        ADD("/daemon/busy-and-claim", test_busy_and_claim);
        ADD("/daemon/polkit-rules", test_polkit_rules);
        ADD("/daemon/claims-across-restart", test_claims_across_restart);
        ADD("/daemon/kernel-error", test_kernel_error);
        ADD("/daemon/disconnect-while-queued", test_disconnect_while_queued);
        ADD("/daemon/domains", test_domains);
        ADD("/daemon/crash-repair", test_crash_repair);
        ADD("/daemon/pcresetctl", test_pcresetctl);
        ADD("/daemon/link-resets", test_link_resets);
        ADD("/daemon/config", test_config);
        ADD("/daemon/fd-proof", test_fd_proof);
        ADD("/daemon/signals", test_signals);
        ADD("/daemon/limits", test_limits);
        ADD("/daemon/authorization-matrix", test_authorization_matrix);
        ADD("/daemon/removed-while-queued", test_removed_while_queued);
        ADD("/daemon/polkit-faults", test_polkit_faults);
        ADD("/daemon/exit-idle", test_exit_idle);
        ADD("/daemon/stop-answers-everyone", test_stop_answers_everyone);
        ADD("/daemon/bus-gone", test_bus_gone);
        ADD("/daemon/audit-hostile-input", test_audit_hostile_input);
        ADD("/daemon/polkit-flood", test_polkit_flood);
        ADD("/daemon/attack/flood-answered-late", test_flood_answered_late);
        ADD("/daemon/attack/tarpit-pins-fds", test_tarpit_pins_fds);
        ADD("/daemon/dropped-requests-do-not-count", test_dropped_requests_do_not_count);
        ADD("/daemon/sighup-reload", test_sighup_reload);
        ADD("/daemon/failed-restore-keeps-original", test_failed_restore_keeps_original);
        ADD("/daemon/sbr-left-asserted", test_sbr_left_asserted);
        ADD("/daemon/scan-off-the-loop", test_scan_off_the_loop);
        ADD("/daemon/stop-answers-pending-and-late", test_stop_answers_pending_and_late);
        ADD("/daemon/attack/scan-waiter-leak", test_attack_scan_waiter_leak);
        ADD("/daemon/attack/config-blocked-during-reset", test_attack_config_blocked_during_reset);
        ADD("/daemon/attack/config-blocked-at-start", test_attack_config_blocked_at_start);
        ADD("/daemon/attack/bridge-check-holds-other-ports", test_attack_bridge_check_holds_other_ports);
        ADD("/daemon/attack/bridge-check-error-resets-below", test_attack_bridge_check_error_resets_below);
        ADD("/daemon/attack/scan-waiter-leak-many-uids", test_attack_scan_waiter_leak_global);
#define ADD_ON(name, desc, fn) g_test_add(name, Fixture, desc, fixture_setup, fn, fixture_teardown)
        ADD_ON("/daemon/health", health_desc, test_health);
        ADD_ON("/daemon/stop-during-bridge-checks", two_roots_desc, test_stop_during_bridge_checks);
        ADD_ON("/daemon/handover/claim", handover_desc, test_handover_claim);
        ADD_ON("/daemon/handover/claim-during-reset", handover_desc, test_handover_claim_during_reset);
        ADD_ON("/daemon/handover/release-during-reset", handover_desc, test_handover_release_during_reset);
        ADD_ON("/daemon/handover/failed-reset", handover_desc, test_handover_failed_reset);
        ADD_ON("/daemon/handover/node-owner", handover_desc, test_handover_node_owner);
        ADD_ON("/daemon/handover/hot-swap", handover_desc, test_handover_hot_swap);
        ADD_ON("/daemon/handover/reboot", handover_desc, test_handover_reboot);
        ADD_ON("/daemon/attack/handover-claim-without-record", handover_desc, test_attack_handover_claim_without_record);
        ADD_ON("/daemon/attack/handover-unknown-boot-kept", handover_desc, test_attack_handover_unknown_boot_drops_marks);
        ADD_ON("/daemon/attack/handover-use-while-held", handover_desc, test_attack_handover_used_overwrites_held);
        ADD_ON("/daemon/attack/polkit-answer-bound", attack_desc, test_polkit_answer_bound);
        ADD_ON("/daemon/attack/device-gone-while-polkit-thinks", attack_desc, test_device_gone_while_polkit_thinks);
        ADD_ON("/daemon/attack/affected-set-grows-while-queued", attack_desc, test_affected_set_grows_while_queued);
        ADD_ON("/daemon/attack/held-by-another-uid", attack_desc, test_held_by_another_uid);
        ADD_ON("/daemon/attack/sriov-pf", attack_desc, test_sriov_pf);
        ADD_ON("/daemon/attack/scan-trust", attack_desc, test_scan_trust);
        ADD_ON("/daemon/attack/hot-swap-same-address", attack_desc, test_hot_swap_same_address);
        ADD_ON("/daemon/attack/pid-reuse-hides-name", attack_desc, test_pid_reuse_hides_name);
        ADD_ON("/daemon/attack/userns-fuse-is-no-holder", attack_desc, test_userns_fuse_is_no_holder);
        ADD_ON("/daemon/review/stale-claim", review_desc, test_review_stale_claim);
        ADD_ON("/daemon/review/claim-outlives-device", review_desc, test_review_claim_outlives_device);
        ADD_ON("/daemon/review/claim-takes-node", review_desc, test_review_claim_takes_node);
        ADD_ON("/daemon/review/group-mate", review_desc, test_review_group_mate);
        ADD_ON("/daemon/review/release-hides-claimer", review_desc, test_review_release_hides_claimer);
        ADD_ON("/daemon/review/claim-then-node", review_desc, test_review_claim_then_node);
        ADD_ON("/daemon/attack/bridge-rule-control", rt6a_desc, test_rt6a_bridge_control);
        ADD_ON("/daemon/attack/bridge-rule-type2-header", rt6a_desc, test_rt6a_type2_bridge_class);
        ADD_ON("/daemon/attack/bridge-rule-cardbus", rt6a_desc, test_rt6a_cardbus_bridge);
        return g_test_run();
}
