/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Self-test of the integration harness: the world it builds is sealed, has
 * the test users, a bus that enforces its policy and a real polkitd that
 * runs our rules, and it leaves nothing behind.
 *
 * It tests the harness, not the project: the daemon is replaced by
 * harness-stub-daemon and the fake-tree builder by a shell script, and if
 * the project's polkit .policy or bus .conf do not exist yet, minimal
 * stand-ins are used (see use_project_files_or_fallbacks()).
 */
#include "harness.h"

#include <errno.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pcreset1.h"

#define GPU_RULE \
        "polkit.addRule(function(action, subject) {\n" \
        "        if (action.id == \"org.freedesktop.pcreset1.reset\" &&\n" \
        "            subject.isInGroup(\"pcr-gpu\") && action.lookup(\"vendor\") == \"10de\")\n" \
        "                return polkit.Result.YES;\n" \
        "});\n"

#define BOB_RULE \
        "polkit.addRule(function(action, subject) {\n" \
        "        if (action.id == \"org.freedesktop.pcreset1.reset\" &&\n" \
        "            subject.user == \"pcr-bob\" && action.lookup(\"vendor\") == \"8086\")\n" \
        "                return polkit.Result.YES;\n" \
        "});\n"

/* Stand-ins, used only while the real files are not written yet. */
#define FALLBACK_POLICY \
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
        "<!DOCTYPE policyconfig PUBLIC \"-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN\"\n" \
        " \"http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd\">\n" \
        "<policyconfig>\n" \
        "  <action id=\"org.freedesktop.pcreset1.reset\">\n" \
        "    <description>Reset a PCI device (harness self-test stand-in)</description>\n" \
        "    <message>Authentication is required to reset a PCI device</message>\n" \
        "    <defaults><allow_any>auth_admin</allow_any><allow_inactive>auth_admin</allow_inactive>" \
        "<allow_active>auth_admin</allow_active></defaults>\n" \
        "  </action>\n" \
        "  <action id=\"org.freedesktop.pcreset1.claim\">\n" \
        "    <description>Claim a PCI device (harness self-test stand-in)</description>\n" \
        "    <message>Authentication is required to claim a PCI device</message>\n" \
        "    <defaults><allow_any>auth_admin</allow_any><allow_inactive>auth_admin</allow_inactive>" \
        "<allow_active>auth_admin</allow_active></defaults>\n" \
        "  </action>\n" \
        "</policyconfig>\n"

#define FALLBACK_BUS_CONF \
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n" \
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n" \
        "<busconfig>\n" \
        "  <policy user=\"root\"><allow own=\"org.freedesktop.pcreset1\"/></policy>\n" \
        "  <policy context=\"default\">\n" \
        "    <allow send_destination=\"org.freedesktop.pcreset1\"/>\n" \
        "  </policy>\n" \
        "</busconfig>\n"

#define STUB_FAKETREE \
        "#!/bin/sh\n" \
        "# Stand-in for pcreset-faketree DESC OUTDIR.\n" \
        "if grep -q '^fail' \"$1\"; then echo 'stub-faketree: bad description' >&2; exit 3; fi\n" \
        "mkdir -p \"$2/sys/bus/pci/devices\" \"$2/proc\" \"$2/dev\" && cp \"$1\" \"$2/sys/desc\"\n"

static const char *const reset_10de[] = { "vendor", "10de", "device", "0000:01:00.0", NULL };
static const char *const reset_8086[] = { "vendor", "8086", "device", "0000:02:00.0", NULL };

/* PCRESET_SRCDIR for the harness: the project's files where they exist,
 * stand-ins where they do not yet (reported in the TAP log). */
static void use_project_files_or_fallbacks(void)
{
        const char *srcdir = g_getenv("PCRESET_SRCDIR");
        g_autofree char *overlay = g_build_filename(harness_session_dir(), "srcdir", NULL);
        struct {
                const char *relpath, *fallback;
        } files[] = {
                { "polkit/org.freedesktop.pcreset1.policy", FALLBACK_POLICY },
                { "dbus/org.freedesktop.pcreset1.conf", FALLBACK_BUS_CONF },
        };

        g_assert_nonnull(srcdir);
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
                g_autofree char *real = g_build_filename(srcdir, files[i].relpath, NULL);
                g_autofree char *ours = g_build_filename(overlay, files[i].relpath, NULL);
                g_autofree char *dir = g_path_get_dirname(ours);
                g_autofree char *text = NULL;
                g_autoptr(GError) error = NULL;

                g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
                if (!g_file_get_contents(real, &text, NULL, NULL)) {
                        g_test_message("%s does not exist yet: using the self-test's stand-in", real);
                        text = g_strdup(files[i].fallback);
                }
                g_file_set_contents(ours, text, -1, &error);
                g_assert_no_error(error);
        }
        g_setenv("PCRESET_SRCDIR", overlay, TRUE);
}

static void use_stub_binaries(void)
{
        g_autofree char *faketree = g_build_filename(harness_session_dir(), "stub-faketree", NULL);
        g_autoptr(GError) error = NULL;

        g_assert_nonnull(g_getenv("HARNESS_STUB_DAEMON"));
        g_setenv("PCRESETD_BIN", g_getenv("HARNESS_STUB_DAEMON"), TRUE);
        g_file_set_contents(faketree, STUB_FAKETREE, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpint(chmod(faketree, 0755), ==, 0);
        g_setenv("PCRESET_FAKETREE_BIN", faketree, TRUE);
}

static Harness *new_harness(void)
{
        g_autoptr(GError) error = NULL;
        Harness *h = harness_new(&error);

        g_assert_no_error(error);
        g_assert_nonnull(h);
        return h;
}

static gboolean has_owner(Harness *h, const char *name)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        gboolean has;

        reply = g_dbus_connection_call_sync(harness_bus(h), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                            "org.freedesktop.DBus", "NameHasOwner", g_variant_new("(s)", name),
                                            G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        g_variant_get(reply, "(b)", &has);
        return has;
}

static char *read_text(const char *path)
{
        g_autoptr(GError) error = NULL;
        char *text = NULL;

        g_file_get_contents(path, &text, NULL, &error);
        g_assert_no_error(error);
        return text;
}

/* Children of this process, found through /proc. */
static guint count_children(void)
{
        g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
        const char *name;
        guint n = 0;

        g_assert_nonnull(proc);
        while ((name = g_dir_read_name(proc))) {
                g_autofree char *path = g_strdup_printf("/proc/%s/stat", name);
                g_autofree char *text = NULL;
                g_autofree char *ppid = NULL;
                const char *p;

                if (!g_ascii_isdigit(name[0]) || !g_file_get_contents(path, &text, NULL, NULL) ||
                    !(p = strrchr(text, ')')))
                        continue;
                /* ") S 1234 ...": state, then the parent's pid. */
                ppid = g_strdup_printf(" %d ", (int) getpid());
                if (g_str_has_prefix(p + 3, ppid))
                        n++;
        }
        return n;
}

static void test_sealed(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autofree char *host_root = g_build_filename(harness_session_dir(), "host-root", NULL);
        g_autofree char *host_passwd_path = g_build_filename(host_root, "etc", "passwd", NULL);
        g_autofree char *host_passwd = NULL, *our_passwd = NULL;
        g_autofree char *mountinfo = read_text("/proc/self/mountinfo");
        struct statvfs sv;
        const char *argv[] = { "sh", "-c", "test -w /sys/kernel", NULL };
        const char *capbnd[] = { "grep", "^CapBnd:", "/proc/self/status", NULL };
        g_autofree char *caps = NULL;

        g_assert_cmpint(statvfs("/sys", &sv), ==, 0);
        g_assert_true(sv.f_flag & ST_RDONLY);
        g_assert_cmpint(access("/sys/kernel", W_OK), ==, -1);
        g_assert_cmpint(errno, ==, EROFS);
        if (access("/sys/bus/pci/rescan", F_OK) == 0) {
                g_assert_cmpint(access("/sys/bus/pci/rescan", W_OK), ==, -1);
                g_assert_cmpint(errno, ==, EROFS);
        }
        if (access("/sys/fs/cgroup", F_OK) == 0) {
                g_assert_cmpint(access("/sys/fs/cgroup", W_OK), ==, -1);
                g_assert_cmpint(errno, ==, EROFS);
        }
        g_assert_cmpint(access("/proc/sys/kernel/hostname", W_OK), ==, -1);
        g_assert_cmpint(errno, ==, EROFS);
        if (access("/proc/bus/pci/devices", F_OK) == 0) {
                g_assert_cmpint(access("/proc/bus/pci/devices", W_OK), ==, -1);
                g_assert_cmpint(errno, ==, EROFS);
        }
        /* Children (the daemon) inherit it, and a root child has no
         * CAP_SYS_RAWIO (bit 17) to do port I/O with. */
        g_assert_cmpint(harness_run(h, NULL, NULL, NULL, argv), ==, 1);
        g_assert_cmpint(harness_run(h, NULL, &caps, NULL, capbnd), ==, 0);
        g_assert_true(g_str_has_prefix(caps, "CapBnd:\t"));
        g_assert_cmphex(g_ascii_strtoull(caps + 8, NULL, 16) & (1ull << 17), ==, 0);
        g_assert_cmphex(g_ascii_strtoull(caps + 8, NULL, 16) & (1ull << 21), !=, 0); /* CAP_SYS_ADMIN stays */
        /* Nothing propagates back to the host... */
        g_assert_null(strstr(mountinfo, " shared:"));
        /* ...whose /etc/passwd, under our bind mount, has no test user: a
         * non-recursive bind of / shows the file without what is on top. */
        g_assert_cmpint(g_mkdir_with_parents(host_root, 0755), ==, 0);
        g_assert_cmpint(mount("/", host_root, NULL, MS_BIND, NULL), ==, 0);
        host_passwd = read_text(host_passwd_path);
        g_assert_cmpint(umount2(host_root, MNT_DETACH), ==, 0);
        g_assert_null(strstr(host_passwd, "pcr-alice"));
        our_passwd = read_text("/etc/passwd");
        g_assert_true(g_str_has_prefix(our_passwd, host_passwd));
        g_assert_nonnull(strstr(our_passwd, "pcr-alice"));
}

static void test_users(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autofree char *out = NULL, *err = NULL;
        struct passwd *pw;
        struct group *gr;

        pw = getpwnam(HARNESS_USER_ALICE);
        g_assert_nonnull(pw);
        g_assert_cmpuint(pw->pw_uid, ==, HARNESS_UID_ALICE);
        g_assert_cmpuint(pw->pw_gid, ==, HARNESS_UID_ALICE);
        gr = getgrnam(HARNESS_GROUP_GPU);
        g_assert_nonnull(gr);
        g_assert_cmpuint(gr->gr_gid, ==, HARNESS_GID_GPU);
        g_assert_true(g_strv_contains((const char *const *) gr->gr_mem, HARNESS_USER_ALICE));

        const char *getent[] = { "getent", "passwd", "pcr-bob", "pcr-carol", NULL };
        g_assert_cmpint(harness_run(h, NULL, &out, &err, getent), ==, 0);
        g_assert_nonnull(strstr(out, "pcr-bob:x:4102:4102:"));
        g_assert_nonnull(strstr(out, "pcr-carol:x:4103:4103:"));
        g_clear_pointer(&out, g_free);

        const char *id_alice[] = { "id", "pcr-alice", NULL };
        g_assert_cmpint(harness_run(h, NULL, &out, NULL, id_alice), ==, 0);
        g_assert_nonnull(strstr(out, "4200(pcr-gpu)"));
        g_clear_pointer(&out, g_free);

        /* As the user: setpriv --init-groups gives the supplementary group. */
        const char *id[] = { "id", NULL };
        g_assert_cmpint(harness_run(h, HARNESS_USER_ALICE, &out, NULL, id), ==, 0);
        g_assert_true(g_str_has_prefix(out, "uid=4101(pcr-alice) gid=4101(pcr-alice)"));
        g_assert_nonnull(strstr(out, "4200(pcr-gpu)"));
        g_clear_pointer(&out, g_free);
        g_assert_cmpint(harness_run(h, HARNESS_USER_CAROL, &out, NULL, id), ==, 0);
        g_assert_true(g_str_has_prefix(out, "uid=4103(pcr-carol)"));
        g_assert_null(strstr(out, "pcr-gpu"));
}

static void test_run(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autofree char *out = NULL, *err = NULL;
        const char *both[] = { "sh", "-c", "echo out; echo err >&2; echo \"$DBUS_SYSTEM_BUS_ADDRESS\"", NULL };
        const char *code[] = { "sh", "-c", "exit 7", NULL };
        const char *sig[] = { "sh", "-c", "kill -TERM $$", NULL };
        const char *missing[] = { "/nonexistent/binary", NULL };

        g_assert_cmpint(harness_run(h, HARNESS_USER_BOB, &out, &err, both), ==, 0);
        g_assert_cmpstr(err, ==, "err\n");
        g_assert_true(g_str_has_prefix(out, "out\n"));
        g_assert_nonnull(strstr(out, g_getenv("DBUS_SYSTEM_BUS_ADDRESS")));
        g_assert_cmpint(harness_run(h, NULL, NULL, NULL, code), ==, 7);
        g_assert_cmpint(harness_run(h, NULL, NULL, NULL, sig), ==, 128 + SIGTERM);
        g_clear_pointer(&err, g_free);
        g_assert_cmpint(harness_run(h, NULL, NULL, &err, missing), ==, -1);
        g_assert_nonnull(strstr(err, "cannot run"));
        g_clear_pointer(&err, g_free);
        g_assert_cmpint(harness_run(h, "no-such-user", NULL, &err, code), ==, -1);
        g_assert_nonnull(strstr(err, "no-such-user"));
}

/* The tests' way to run a client: what harness_run() hands out, logged. */
static void test_run_logged(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autofree char *out = NULL, *err = NULL;
        const char *both[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
        const char *id[] = { "id", "-u", NULL };
        const char *slow[] = { "sleep", "10", NULL };
        const char *pause[] = { "sleep", "0.5", NULL };
        const char *missing[] = { "/nonexistent/binary", NULL };
        gint64 t0;

        g_assert_cmpint(harness_run_logged(h, NULL, &out, &err, both), ==, 3);
        g_assert_cmpstr(out, ==, "out\n");
        g_assert_cmpstr(err, ==, "err\n");
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        g_assert_cmpint(harness_run_logged(h, HARNESS_USER_CAROL, &out, NULL, id), ==, 0);
        g_assert_cmpstr(out, ==, "4103\n");
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, NULL, both), ==, 3);
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, &err, missing), ==, -1);
        g_assert_nonnull(strstr(err, "cannot run"));
        g_clear_pointer(&err, g_free);

        /* a bound of its own, and back to the default */
        harness_set_run_timeout(h, 300);
        t0 = g_get_monotonic_time();
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, &err, slow), ==, 128 + SIGKILL);
        g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
        g_assert_nonnull(strstr(err, "killed after 300 ms"));
        harness_set_run_timeout(h, 0);
        g_assert_cmpint(harness_run_logged(h, NULL, NULL, NULL, pause), ==, 0);
}

static void test_spawn(void)
{
        g_autoptr(Harness) h = new_harness();
        const char *argv[] = { "sh", "-c", "echo hello; exec sleep 1000", NULL };
        const char *code[] = { "sh", "-c", "exit 4", NULL };
        char buf[16] = "";
        int fd = -1;
        GPid pid;

        pid = harness_spawn(h, HARNESS_USER_ALICE, argv, &fd);
        g_assert_cmpint(pid, >, 0);
        g_assert_cmpint(read(fd, buf, sizeof(buf) - 1), ==, 6);
        g_assert_cmpstr(buf, ==, "hello\n");
        close(fd);
        g_assert_cmpint(harness_kill(pid), ==, 128 + SIGKILL);
        g_assert_cmpint(harness_wait(harness_spawn(h, NULL, code, NULL)), ==, 4);
}

static void test_bus_policy(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autofree char *out = NULL, *err = NULL;
        const char *request[] = { "busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "RequestName", "su", PCRESET1_BUS_NAME, "0", NULL };
        const char *get_id[] = { "busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetId", NULL };

        /* Alice reaches the bus (dbus-daemon knows her uid)... */
        g_assert_cmpint(harness_run(h, HARNESS_USER_ALICE, &out, &err, get_id), ==, 0);
        g_assert_true(g_str_has_prefix(out, "s "));
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        /* ...but may not own the daemon's name; root may. */
        g_assert_cmpint(harness_run(h, HARNESS_USER_ALICE, &out, &err, request), !=, 0);
        g_assert_nonnull(strstr(err, "Access denied"));
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        g_assert_cmpint(harness_run(h, NULL, &out, &err, request), ==, 0);
        g_assert_cmpstr(out, ==, "u 1\n");
}

/* A background process as user, for polkit to look at. */
static GPid sleeper(Harness *h, const char *user)
{
        const char *argv[] = { "sleep", "1000", NULL };

        return harness_spawn(h, user, argv, NULL);
}

static HarnessAuth check(Harness *h, GPid pid, const char *action, const char *const *details)
{
        g_autoptr(GError) error = NULL;
        HarnessAuth r = harness_check_authorization(h, pid, action, details, &error);

        g_assert_no_error(error);
        return r;
}

static void test_polkit(void)
{
        g_autoptr(Harness) h = new_harness();
        GPid alice, bob, root;
        gint64 t0;

        alice = sleeper(h, HARNESS_USER_ALICE);
        bob = sleeper(h, HARNESS_USER_BOB);
        root = sleeper(h, NULL);

        /* No rules: only root. A non-root subject gets the .policy default
         * (never YES here: without logind nobody is local and active). */
        g_assert_cmpint(check(h, alice, PCRESET1_ACTION_RESET, reset_10de), !=, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, root, PCRESET1_ACTION_RESET, reset_10de), ==, HARNESS_AUTH_YES);

        t0 = g_get_monotonic_time();
        harness_set_rules(h, GPU_RULE);
        g_test_message("set_rules took %.1f ms", (g_get_monotonic_time() - t0) / 1000.0);
        g_assert_cmpint(check(h, alice, PCRESET1_ACTION_RESET, reset_10de), ==, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, alice, PCRESET1_ACTION_RESET, reset_8086), !=, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, alice, PCRESET1_ACTION_CLAIM, reset_10de), !=, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, bob, PCRESET1_ACTION_RESET, reset_10de), !=, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, root, PCRESET1_ACTION_RESET, reset_8086), ==, HARNESS_AUTH_YES);

        /* New rules replace the old ones entirely. */
        harness_set_rules(h, BOB_RULE);
        g_assert_cmpint(check(h, alice, PCRESET1_ACTION_RESET, reset_10de), !=, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, bob, PCRESET1_ACTION_RESET, reset_8086), ==, HARNESS_AUTH_YES);
        g_assert_cmpint(check(h, bob, PCRESET1_ACTION_RESET, reset_10de), !=, HARNESS_AUTH_YES);

        /* A challenge is told apart from a refusal. */
        harness_set_rules(h, "polkit.addRule(function(action, subject) {\n"
                             "        if (subject.user == \"pcr-bob\") return polkit.Result.AUTH_ADMIN_KEEP;\n"
                             "        return polkit.Result.NO;\n"
                             "});\n");
        g_assert_cmpint(check(h, bob, PCRESET1_ACTION_RESET, reset_8086), ==, HARNESS_AUTH_CHALLENGE);
        g_assert_cmpint(check(h, alice, PCRESET1_ACTION_RESET, reset_10de), ==, HARNESS_AUTH_NO);

        /* Back to none. */
        harness_set_rules(h, NULL);
        g_assert_cmpint(check(h, bob, PCRESET1_ACTION_RESET, reset_8086), !=, HARNESS_AUTH_YES);
}

/* Rules that do not compile stop the test with polkitd's message, at once
 * rather than after the reload timeout. */
static void test_polkit_bad_rules(void)
{
        if (g_test_subprocess()) {
                g_autoptr(Harness) h = new_harness();

                harness_set_rules(h, "polkit.addRule(function(action, subject) {");
                return;
        }
        g_test_trap_subprocess(NULL, 5 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_failed();
        g_test_trap_assert_stderr("*polkitd rejected rules generation 1*SyntaxError*");
}

static void test_daemon(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autoptr(GError) error = NULL;
        g_autofree char *starts = g_build_filename(harness_state_dir(h), "starts", NULL);
        g_autofree char *expect = g_strdup_printf("--sysfs-root %s/sys --proc-root %s/proc --dev-root %s/dev "
                                                  "--state-dir %s --delay-ms 300",
                                                  harness_fake_root(h), harness_fake_root(h),
                                                  harness_fake_root(h), harness_state_dir(h));
        g_autofree char *log = NULL, *count = NULL;
        const char *slow[] = { "--delay-ms", "300", NULL };
        const char *fail[] = { "--exit-early", "3", NULL };
        gint64 t0 = g_get_monotonic_time();

        g_assert_cmpint(harness_daemon_pid(h), ==, 0);
        g_assert_cmpint(harness_start_daemon(h, slow, &error), ==, 0);
        g_assert_no_error(error);
        /* It waited for the name, not just for the process. */
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 300 * 1000);
        g_assert_true(has_owner(h, PCRESET1_BUS_NAME));
        g_assert_cmpint(harness_daemon_pid(h), >, 0);
        g_assert_cmpint(harness_start_daemon(h, NULL, &error), ==, -1);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
        g_clear_error(&error);

        g_assert_cmpint(harness_stop_daemon(h), ==, 0);
        g_assert_false(has_owner(h, PCRESET1_BUS_NAME));
        g_assert_cmpint(harness_daemon_pid(h), ==, 0);
        g_assert_cmpint(harness_stop_daemon(h), ==, -1);
        log = read_text(harness_daemon_log(h));
        g_assert_nonnull(strstr(log, expect));
        g_assert_nonnull(strstr(log, "stub: terminated"));

        /* Restarts take the name again at once; the state dir persists. */
        g_assert_cmpint(harness_start_daemon(h, NULL, &error), ==, 0);
        g_assert_no_error(error);
        count = read_text(starts);
        g_assert_cmpstr(count, ==, "2\n");
        g_assert_cmpint(harness_kill_daemon(h), ==, 128 + SIGKILL);
        g_assert_false(has_owner(h, PCRESET1_BUS_NAME));

        /* An early exit is reported with the log's tail, without waiting. */
        t0 = g_get_monotonic_time();
        g_assert_cmpint(harness_start_daemon(h, fail, &error), ==, -1);
        g_assert_nonnull(error);
        g_assert_nonnull(strstr(error->message, "status 3"));
        g_assert_nonnull(strstr(error->message, "failing on purpose with 3"));
        g_assert_cmpint(g_get_monotonic_time() - t0, <, 2 * G_USEC_PER_SEC);
        g_assert_cmpint(harness_daemon_pid(h), ==, 0);
}

static void test_build_tree(void)
{
        g_autoptr(Harness) h = new_harness();
        g_autoptr(GError) error = NULL;
        g_autofree char *copy_path = g_build_filename(harness_fake_root(h), "sys", "desc", NULL);
        g_autofree char *copy = NULL;

        g_assert_true(harness_build_tree(h, "device 0000:01:00.0\n", &error));
        g_assert_no_error(error);
        copy = read_text(copy_path);
        g_assert_cmpstr(copy, ==, "device 0000:01:00.0\n");

        g_assert_false(harness_build_tree(h, "fail\n", &error));
        g_assert_nonnull(error);
        g_assert_nonnull(strstr(error->message, "bad description"));
}

static int pidfd_of(GPid pid)
{
        int fd = pidfd_open(pid, 0);

        g_assert_cmpint(fd, >=, 0);
        return fd;
}

static void test_teardown(void)
{
        Harness *h = new_harness();
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = g_strdup(harness_dir(h));
        g_autofree char *socket = g_build_filename(harness_session_dir(), "system_bus_socket", NULL);
        g_autofree char *bus_env = g_strconcat("unix:path=", socket, NULL);
        const char *argv[] = { "sleep", "1000", NULL };
        int fds[6];
        int n = 0;

        g_assert_cmpint(harness_start_daemon(h, NULL, &error), ==, 0);
        g_assert_no_error(error);
        fds[n++] = pidfd_of(harness_dbus_daemon_pid(h));
        fds[n++] = pidfd_of(harness_polkitd_pid(h));
        fds[n++] = pidfd_of(harness_daemon_pid(h));
        fds[n++] = pidfd_of(harness_spawn(h, HARNESS_USER_ALICE, argv, NULL));
        fds[n++] = pidfd_of(harness_spawn(h, NULL, argv, NULL));
        g_assert_cmpuint(count_children(), ==, 5);
        g_assert_cmpstr(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"), ==, bus_env);
        g_assert_true(g_str_has_prefix(harness_bus_address(h), bus_env));

        harness_free(h);

        /* Dead and reaped, every one. */
        for (int i = 0; i < n; i++) {
                g_assert_cmpint(pidfd_send_signal(fds[i], 0, NULL, 0), ==, -1);
                g_assert_cmpint(errno, ==, ESRCH);
                close(fds[i]);
        }
        g_assert_cmpuint(count_children(), ==, 0);
        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
        g_assert_null(getpwnam(HARNESS_USER_ALICE));
        /* The bus address still leads to the (gone) private bus only. */
        g_assert_cmpstr(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"), ==, bus_env);
        g_assert_false(g_file_test(socket, G_FILE_TEST_EXISTS));

        /* And the next Harness starts from scratch, on the same address. */
        h = new_harness();
        g_assert_nonnull(getpwnam(HARNESS_USER_ALICE));
        g_assert_true(g_str_has_prefix(harness_bus_address(h), bus_env));
        harness_free(h);
}

static void test_startup_time(void)
{
        gint64 t0 = g_get_monotonic_time();
        Harness *h = new_harness();
        gint64 up = g_get_monotonic_time() - t0;

        harness_free(h);
        g_test_message("harness_new took %.1f ms, harness_free %.1f ms", up / 1000.0,
                       (g_get_monotonic_time() - t0 - up) / 1000.0);
        /* Generous: it is ~100 ms; seconds mean something waits on a timeout. */
        g_assert_cmpint(up, <, 3 * G_USEC_PER_SEC);
}

int main(int argc, char **argv)
{
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
        use_project_files_or_fallbacks();
        use_stub_binaries();

        g_test_add_func("/harness/startup-time", test_startup_time);
        g_test_add_func("/harness/sealed", test_sealed);
        g_test_add_func("/harness/users", test_users);
        g_test_add_func("/harness/run", test_run);
        g_test_add_func("/harness/run-logged", test_run_logged);
        g_test_add_func("/harness/spawn", test_spawn);
        g_test_add_func("/harness/bus-policy", test_bus_policy);
        g_test_add_func("/harness/polkit", test_polkit);
        g_test_add_func("/harness/polkit/bad-rules", test_polkit_bad_rules);
        g_test_add_func("/harness/daemon", test_daemon);
        g_test_add_func("/harness/build-tree", test_build_tree);
        g_test_add_func("/harness/teardown", test_teardown);
        return g_test_run();
}
