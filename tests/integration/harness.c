/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The integration-test harness; see harness.h for what each call promises.
 *
 * Everything that touches the machine happens inside the private mount
 * namespace made by harness_enter_namespace(): bind mounts over /etc and
 * /usr/share/polkit-1 are invisible outside it and vanish with it.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <linux/capability.h>

#include "pcreset1.h"

#define POLKITD_BIN   "/usr/lib/polkit-1/polkitd"
#define POLKIT_NAME   "org.freedesktop.PolicyKit1"
#define POLKIT_BUS_CONF "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"

/* A harness-owned action, answered only by the sentinel rule the harness
 * puts in front of the test's rules: seeing the current generation answered
 * YES proves polkitd runs the current rules file. */
#define SENTINEL_ACTION "org.freedesktop.pcreset1.harness-sentinel"

#define SENTINEL_POLICY \
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
        "<!DOCTYPE policyconfig PUBLIC \"-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN\"\n" \
        " \"http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd\">\n" \
        "<policyconfig>\n" \
        "  <action id=\"" SENTINEL_ACTION "\">\n" \
        "    <description>pcresetd test harness: rules reload probe</description>\n" \
        "    <message>pcresetd test harness: rules reload probe</message>\n" \
        "    <defaults><allow_any>no</allow_any><allow_inactive>no</allow_inactive>" \
        "<allow_active>no</allow_active></defaults>\n" \
        "  </action>\n" \
        "</policyconfig>\n"

/* First in the file so the test's rules never see the sentinel action. */
#define SENTINEL_RULE_FMT \
        "// Harness reload probe, generation %u.\n" \
        "polkit.addRule(function(action, subject) {\n" \
        "        if (action.id == \"" SENTINEL_ACTION "\")\n" \
        "                return action.lookup(\"generation\") == \"%u\" ?\n" \
        "                        polkit.Result.YES : polkit.Result.NO;\n" \
        "});\n\n"

#define TEST_PASSWD \
        "pcr-alice:x:4101:4101:pcresetd test user:/nonexistent:/usr/sbin/nologin\n" \
        "pcr-bob:x:4102:4102:pcresetd test user:/nonexistent:/usr/sbin/nologin\n" \
        "pcr-carol:x:4103:4103:pcresetd test user:/nonexistent:/usr/sbin/nologin\n"
#define TEST_GROUP \
        "pcr-alice:x:4101:\n" \
        "pcr-bob:x:4102:\n" \
        "pcr-carol:x:4103:\n" \
        "pcr-gpu:x:4200:pcr-alice\n"

/* The system bus config, trimmed: no <user>, <fork>, pidfile, syslog,
 * activation. The policy is the stock default; service policies come from
 * the includedir. */
#define BUS_CONF_FMT \
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n" \
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n" \
        "<busconfig>\n" \
        "  <type>system</type>\n" \
        "  <auth>EXTERNAL</auth>\n" \
        "  <listen>unix:path=%s</listen>\n" \
        "  <policy context=\"default\">\n" \
        "    <allow user=\"*\"/>\n" \
        "    <deny own=\"*\"/>\n" \
        "    <deny send_type=\"method_call\"/>\n" \
        "    <allow send_type=\"signal\"/>\n" \
        "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n" \
        "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n" \
        "    <allow receive_type=\"method_call\"/>\n" \
        "    <allow receive_type=\"method_return\"/>\n" \
        "    <allow receive_type=\"error\"/>\n" \
        "    <allow receive_type=\"signal\"/>\n" \
        "    <allow send_destination=\"org.freedesktop.DBus\"\n" \
        "           send_interface=\"org.freedesktop.DBus\"/>\n" \
        "    <allow send_destination=\"org.freedesktop.DBus\"\n" \
        "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n" \
        "    <allow send_destination=\"org.freedesktop.DBus\"\n" \
        "           send_interface=\"org.freedesktop.DBus.Properties\"/>\n" \
        "    <deny send_destination=\"org.freedesktop.DBus\"\n" \
        "          send_interface=\"org.freedesktop.DBus\"\n" \
        "          send_member=\"UpdateActivationEnvironment\"/>\n" \
        "  </policy>\n" \
        "  <includedir>%s</includedir>\n" \
        "</busconfig>\n"

typedef struct Child {
        GPid pid;  /* 0 when not running */
        int pidfd; /* -1 when not running; pollable for exit */
} Child;

#define CHILD_NONE ((Child) { .pid = 0, .pidfd = -1 })

struct Harness {
        char *dir;
        char *fake_root;
        char *state_dir;
        char *daemon_log;
        char *polkitd_log;
        char *rules_file;
        char *bus_address;
        GPtrArray *binds;      /* mount targets, in mount order */
        GDBusConnection *bus;
        Child dbus_daemon;
        Child polkitd;
        Child daemon;
        unsigned rules_generation;
        unsigned trees;
        int run_timeout_ms;    /* harness_run()'s bound */
};

static char *session_dir;      /* made by harness_enter_namespace() */
static gboolean harness_active; /* one Harness at a time: it owns /etc/passwd */
static GHashTable *clients;    /* harness_spawn()ed pid -> Child*, unreaped */

/* ---- small helpers ---- */

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void bail(const char *fmt, ...)
{
        va_list ap;
        char msg[512];

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* TAP's own way to stop a run; stderr for the human. */
        printf("Bail out! harness: %s\n", msg);
        fflush(stdout);
        fprintf(stderr, "harness: FATAL: %s\n", msg);
        _exit(99);
}

static int decode_status(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return -1;
}

static gint64 now_ms(void)
{
        return g_get_monotonic_time() / 1000;
}

/* The last lines of a log file, for error messages. */
static char *file_tail(const char *path, int lines)
{
        g_autofree char *text = NULL;
        size_t len;
        int seen = 0;

        if (!g_file_get_contents(path, &text, &len, NULL))
                return g_strdup("(no log)");
        for (size_t i = len; i > 0; i--)
                if (text[i - 1] == '\n' && i != len && ++seen == lines)
                        return g_strdup(text + i);
        return g_steal_pointer(&text);
}

/* The decoded mount points of this namespace, in mount order. */
static GPtrArray *mount_points(void)
{
        GPtrArray *points = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        if (!g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
                return points;
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = g_strsplit(*l, " ", 6);
                GString *p;

                if (g_strv_length(f) < 5)
                        continue;
                /* Spaces and friends are octal-escaped (\040). */
                p = g_string_new(NULL);
                for (const char *s = f[4]; *s; s++) {
                        if (s[0] == '\\' && g_ascii_isdigit(s[1]) && g_ascii_isdigit(s[2]) &&
                            g_ascii_isdigit(s[3])) {
                                g_string_append_c(p, (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
                                s += 3;
                        } else
                                g_string_append_c(p, *s);
                }
                g_ptr_array_add(points, g_string_free(p, FALSE));
        }
        return points;
}

static gboolean path_is_at_or_below(const char *path, const char *top)
{
        size_t n = strlen(top);

        return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Detach every mount at or below top (FUSE mounts a test left in the fake
 * root, say), innermost first. */
static void unmount_below(const char *top)
{
        g_autoptr(GPtrArray) points = mount_points();

        for (guint i = points->len; i > 0; i--) {
                const char *p = points->pdata[i - 1];

                if (path_is_at_or_below(p, top))
                        (void) umount2(p, MNT_DETACH);
        }
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void) remove(path);
        return 0;
}

/* rm -rf, but never outside the session dir, never through a symlink and
 * never into another file system (a mount that would not detach). */
static void rm_rf(const char *path)
{
        if (!session_dir || !path_is_at_or_below(path, session_dir))
                return;
        unmount_below(path);
        (void) nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static gboolean write_file(const char *path, const char *text, GError **error)
{
        return g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

static gboolean copy_file(const char *from, const char *to, GError **error)
{
        g_autofree char *text = NULL;
        size_t len;

        if (!g_file_get_contents(from, &text, &len, error))
                return FALSE;
        return g_file_set_contents_full(to, text, len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

/* Field n (1-based, as in proc(5)) of /proc/pid/stat; comm may hold spaces. */
static gboolean proc_stat_field(GPid pid, int n, guint64 *ret)
{
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
        g_autofree char *text = NULL;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')))
                return FALSE;
        for (int field = 2; field < n; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return FALSE;
        }
        *ret = g_ascii_strtoull(p + 1, NULL, 10);
        return TRUE;
}

static gboolean proc_real_uid(GPid pid, uid_t *ret)
{
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid);
        g_autofree char *text = NULL;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "\nUid:")))
                return FALSE;
        *ret = (uid_t) g_ascii_strtoull(p + 5, NULL, 10);
        return TRUE;
}

/* ---- children ---- */

/* Spawn argv with stdin from /dev/null, stdout and stderr to the given fds
 * (-1: /dev/null), and extra_fd (if not -1) as fd 3. */
static gboolean child_spawn(Child *c, const char *const *argv, int out_fd, int err_fd, int extra_fd,
                            GError **error)
{
        GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL;
        int target = 3;

        /* Never inherit our stdout: it carries TAP. */
        if (out_fd < 0)
                flags |= G_SPAWN_STDOUT_TO_DEV_NULL;
        if (err_fd < 0)
                flags |= G_SPAWN_STDERR_TO_DEV_NULL;
        if (!g_spawn_async_with_pipes_and_fds(NULL, argv, NULL, flags, NULL, NULL,
                                              -1, out_fd, err_fd, extra_fd >= 0 ? &extra_fd : NULL,
                                              extra_fd >= 0 ? &target : NULL, extra_fd >= 0 ? 1 : 0,
                                              &c->pid, NULL, NULL, NULL, error))
                return FALSE;
        c->pidfd = pidfd_open(c->pid, 0);
        if (c->pidfd < 0)
                g_error("pidfd_open(%d): %s", (int) c->pid, g_strerror(errno));
        return TRUE;
}

/* Wait up to timeout_ms for the child to exit and reap it: its status, or
 * -1 if it still runs. */
static int child_wait(Child *c, int timeout_ms)
{
        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
        int status, r;

        if (c->pid <= 0)
                return -1;
        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r <= 0)
                return -1;
        while (waitpid(c->pid, &status, 0) < 0)
                if (errno != EINTR)
                        g_error("waitpid(%d): %s", (int) c->pid, g_strerror(errno));
        close(c->pidfd);
        *c = CHILD_NONE;
        return decode_status(status);
}

static gboolean child_running(Child *c)
{
        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

        return c->pid > 0 && poll(&p, 1, 0) == 0;
}

/* Signal, wait, and SIGKILL if it does not go: nothing survives this. The
 * pid is ours and unreaped, so it cannot have been reused. */
static int child_stop(Child *c, int sig, int timeout_ms)
{
        int status;

        if (c->pid <= 0)
                return -1;
        (void) kill(c->pid, sig);
        status = child_wait(c, timeout_ms);
        if (status < 0) {
                (void) kill(c->pid, SIGKILL);
                status = child_wait(c, -1);
        }
        return status;
}

/* ---- the namespace and the supervisor ---- */

static void remount_read_only(const char *path)
{
        struct statvfs sv;
        unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;

        if (statvfs(path, &sv) < 0)
                bail("statvfs(%s): %s", path, g_strerror(errno));
        /* A bind remount replaces all per-mount flags: keep the others. */
        if (sv.f_flag & ST_NOSUID)
                flags |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
                flags |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
                flags |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME)
                flags |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
                flags |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
                flags |= MS_RELATIME;
        if (mount(NULL, path, NULL, flags, NULL) < 0)
                bail("remounting %s read-only: %s", path, g_strerror(errno));
}

/* Make top and every mount below it read-only in this namespace, and check
 * it without writing: each must refuse writes with EROFS. */
static void seal_read_only(const char *top)
{
        g_autoptr(GPtrArray) points = NULL;

        /* Our own copy of top and its submounts (cgroup, debugfs, ...), so
         * the read-only flag is on mounts that only this namespace has. */
        if (mount(top, top, NULL, MS_BIND | MS_REC, NULL) < 0)
                bail("bind-mounting %s: %s", top, g_strerror(errno));
        points = mount_points();
        for (guint i = 0; i < points->len; i++)
                if (path_is_at_or_below(points->pdata[i], top))
                        remount_read_only(points->pdata[i]);

        for (guint i = 0; i < points->len; i++) {
                const char *p = points->pdata[i];
                struct statvfs sv;

                if (!path_is_at_or_below(p, top))
                        continue;
                /* (procfs refuses W_OK on its directories with EACCES before
                 * looking at the mount: the flag is what counts.) */
                if (statvfs(p, &sv) < 0 || !(sv.f_flag & ST_RDONLY) || access(p, W_OK) == 0)
                        bail("%s is still writable", p);
        }
}

/* A file that root could write, unless the mount is read-only. */
static void check_erofs(const char *path)
{
        if (access(path, F_OK) == 0 && (access(path, W_OK) == 0 || errno != EROFS))
                bail("access(%s, W_OK) did not fail with EROFS", path);
}

/* The test users run the project's files (pcresetctl, the completion
 * script) through shells, and a shell's exec has no root capability left
 * to cross a checkout's 0700 ancestor (root's home, a mktemp -d). In this
 * namespace only, each such ancestor is replaced by a 0755 tmpfs holding
 * just the ways down to paths, so the host's modes stay as the admin set
 * them. */

/* The highest ancestor of path others cannot search, or NULL. */
static char *unreachable_ancestor(const char *path)
{
        for (const char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                g_autofree char *dir = g_strndup(path, slash - path);
                struct stat st;

                if (stat(dir, &st) < 0)
                        bail("stat %s: %s", dir, g_strerror(errno));
                if (!(st.st_mode & S_IXOTH))
                        return g_steal_pointer(&dir);
        }
        return NULL;
}

static void make_reachable(const char *const *paths)
{
        for (;;) {
                g_autofree char *above = NULL;
                g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func(g_free);
                g_autoptr(GPtrArray) stages = g_ptr_array_new_with_free_func(g_free);

                for (const char *const *p = paths; *p && !above; p++)
                        above = unreachable_ancestor(*p);
                if (!above)
                        return;
                /* every path's way down from above, once */
                for (const char *const *p = paths; *p; p++) {
                        size_t n = strlen(above);
                        if (strncmp(*p, above, n) != 0 || (*p)[n] != '/')
                                continue;
                        const char *end = strchr(*p + n + 1, '/');
                        char *child = end ? g_strndup(*p, end - *p) : g_strdup(*p);
                        if (g_ptr_array_find_with_equal_func(children, child, g_str_equal, NULL))
                                g_free(child);
                        else
                                g_ptr_array_add(children, child);
                }
                for (guint i = 0; i < children->len; i++) {
                        g_autoptr(GError) error = NULL;
                        char *stage = g_dir_make_tmp("pcreset-reach-XXXXXX", &error);

                        if (!stage)
                                bail("making a staging dir: %s", error->message);
                        g_ptr_array_add(stages, stage);
                        if (mount(children->pdata[i], stage, NULL, MS_BIND | MS_REC, NULL) < 0)
                                bail("bind-mounting %s: %s", (char *) children->pdata[i], g_strerror(errno));
                }
                if (mount("tmpfs", above, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                        bail("mounting a tmpfs over %s: %s", above, g_strerror(errno));
                for (guint i = 0; i < children->len; i++) {
                        if (mkdir(children->pdata[i], 0755) < 0 ||
                            mount(stages->pdata[i], children->pdata[i], NULL, MS_MOVE, NULL) < 0)
                                bail("making %s reachable: %s", (char *) children->pdata[i], g_strerror(errno));
                        (void) rmdir(stages->pdata[i]);
                }
        }
}

/* What a daemon under test must never reach on the host: sysfs (resets,
 * rescans, config space), /proc/bus/pci (config space) and /proc/sys; and
 * port I/O, through which libpci's intel-conf1 fallback would reach real
 * config space if it ever missed the fake tree. */
static void seal(void)
{
        seal_read_only("/sys");
        if (access("/sys/kernel", W_OK) == 0 || errno != EROFS)
                bail("/sys/kernel is still writable");
        check_erofs("/sys/bus/pci/rescan");
        check_erofs("/sys/kernel/uevent_helper");
        if (access("/proc/bus", F_OK) == 0)
                seal_read_only("/proc/bus");
        check_erofs("/proc/bus/pci/devices");
        seal_read_only("/proc/sys");
        check_erofs("/proc/sys/kernel/hostname");

        /* Gone from every program we start (their capabilities are bounded
         * by this set at exec): no iopl, no /dev/mem, no /dev/port. */
        if (prctl(PR_CAPBSET_DROP, CAP_SYS_RAWIO, 0, 0, 0) < 0 ||
            prctl(PR_CAPBSET_READ, CAP_SYS_RAWIO, 0, 0, 0) != 0)
                bail("dropping CAP_SYS_RAWIO from the bounding set: %s", g_strerror(errno));
}

static pid_t supervised_pid;

static void forward_signal(int sig)
{
        if (supervised_pid > 0)
                (void) kill(supervised_pid, sig);
}

/* Kill every process we have become the parent of (the subreaper inherits
 * orphans) until none is left. */
static void kill_all_children(void)
{
        gint64 deadline = now_ms() + HARNESS_TIMEOUT_MS;

        while (now_ms() < deadline) {
                g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
                const char *name;

                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
                        return;
                while (proc && (name = g_dir_read_name(proc))) {
                        guint64 pid = g_ascii_strtoull(name, NULL, 10), ppid;

                        if (pid > 0 && proc_stat_field((GPid) pid, 4, &ppid) && ppid == (guint64) getpid())
                                (void) kill((pid_t) pid, SIGKILL);
                }
                g_usleep(5000);
        }
}

/* Stay behind as the parent of the test: when it ends, however it ends,
 * kill what it left running (dbus-daemon, polkitd, the daemon, clients) and
 * remove the session dir, then exit as the test did. Without this a failed
 * assertion (abort) leaves daemons holding meson's output pipe. */
static void supervise(void)
{
        struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
        pid_t parent = getpid(), pid;
        int status = 0;

        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                bail("PR_SET_CHILD_SUBREAPER: %s", g_strerror(errno));
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                bail("fork: %s", g_strerror(errno));
        if (pid == 0) {
                /* The test must not outlive its supervisor. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(99);
                return;
        }

        supervised_pid = pid;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        for (;;) {
                pid_t r = waitpid(-1, &status, 0);

                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR)
                        bail("waitpid: %s", g_strerror(errno));
        }
        kill_all_children();
        rm_rf(session_dir);

        if (WIFSIGNALED(status)) {
                struct rlimit no_core = { 0, 0 };

                /* Die the same way, without a second core dump. */
                (void) setrlimit(RLIMIT_CORE, &no_core);
                signal(WTERMSIG(status), SIG_DFL);
                raise(WTERMSIG(status));
        }
        _exit(decode_status(status));
}

void harness_enter_namespace(void)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *bus_address = NULL;

        if (session_dir)
                bail("harness_enter_namespace() called twice");
        if (geteuid() != 0)
                bail("integration tests must run as root (they need mount namespaces and setpriv)");
        if (unshare(CLONE_NEWNS) < 0)
                bail("unshare(CLONE_NEWNS): %s", g_strerror(errno));
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                bail("making / private: %s", g_strerror(errno));
        seal();
        {
                const char *ctl = g_getenv("PCRESETCTL_BIN");
                g_autofree char *bindir = ctl ? g_path_get_dirname(ctl) : NULL;
                const char *paths[] = { bindir ?: "/", g_getenv("PCRESET_SRCDIR"), NULL };

                make_reachable(paths);
        }

        session_dir = g_dir_make_tmp("pcreset-integ-XXXXXX", &error);
        if (!session_dir)
                bail("making the session dir: %s", error->message);
        /* polkitd and the test users walk through here. */
        if (chmod(session_dir, 0755) < 0)
                bail("chmod %s: %s", session_dir, g_strerror(errno));

        /* Set once, while no thread exists, and never unset: every Harness
         * of this program listens on this socket, and between two of them
         * a stray client meets a missing socket, not the host's bus. */
        bus_address = g_strdup_printf("unix:path=%s/system_bus_socket", session_dir);
        if (setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address, 1) < 0)
                bail("setenv: %s", g_strerror(errno));
        /* The daemon must log to our file and not talk to a real systemd,
         * whatever the test runner inherited. */
        unsetenv("JOURNAL_STREAM");
        unsetenv("NOTIFY_SOCKET");
        supervise();
}

const char *harness_session_dir(void)
{
        return session_dir;
}

/* ---- bus helpers ---- */

static gboolean name_has_owner(Harness *h, const char *name, GError **error)
{
        g_autoptr(GVariant) reply = NULL;
        gboolean has;

        reply = g_dbus_connection_call_sync(h->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                            "org.freedesktop.DBus", "NameHasOwner",
                                            g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"),
                                            G_DBUS_CALL_FLAGS_NONE, HARNESS_TIMEOUT_MS, NULL, error);
        if (!reply)
                return FALSE;
        g_variant_get(reply, "(b)", &has);
        return has;
}

/* Wait until name is owned (or, want_owner false, unowned). If c is given
 * and exits first, fail with the tail of log. */
static gboolean wait_name(Harness *h, const char *name, gboolean want_owner, Child *c,
                          const char *what, const char *log, GError **error)
{
        gint64 deadline = now_ms() + HARNESS_TIMEOUT_MS;

        for (;;) {
                g_autoptr(GError) local = NULL;
                gboolean has = name_has_owner(h, name, &local);

                if (local) {
                        g_propagate_error(error, g_steal_pointer(&local));
                        return FALSE;
                }
                if (has == want_owner)
                        return TRUE;
                if (c && c->pid > 0 && !child_running(c)) {
                        int status = child_wait(c, 0);
                        g_autofree char *tail = file_tail(log, 20);

                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "%s exited with status %d before owning %s; %s ends with:\n%s",
                                    what, status, name, log, tail);
                        return FALSE;
                }
                if (now_ms() > deadline) {
                        g_autofree char *tail = log ? file_tail(log, 20) : g_strdup("");

                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                    "%s did not %s %s within %d ms; %s ends with:\n%s", what,
                                    want_owner ? "acquire" : "release", name, HARNESS_TIMEOUT_MS,
                                    log ? log : "(no log)", tail);
                        return FALSE;
                }
                g_usleep(2000);
        }
}

HarnessAuth harness_check_authorization(Harness *h, GPid pid, const char *action_id,
                                        const char *const *details, GError **error)
{
        g_autoptr(GVariant) reply = NULL;
        GVariantBuilder subject, dict;
        guint64 start_time;
        uid_t uid;
        gboolean authorized, challenge;

        /* polkitd checks pid and start time against the process itself. */
        if (!proc_stat_field(pid, 22, &start_time) || !proc_real_uid(pid, &uid)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no process %d", (int) pid);
                return HARNESS_AUTH_ERROR;
        }
        g_variant_builder_init(&subject, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&subject, "{sv}", "pid", g_variant_new_uint32((guint32) pid));
        g_variant_builder_add(&subject, "{sv}", "start-time", g_variant_new_uint64(start_time));
        g_variant_builder_add(&subject, "{sv}", "uid", g_variant_new_int32((gint32) uid));
        g_variant_builder_init(&dict, G_VARIANT_TYPE("a{ss}"));
        for (const char *const *d = details; d && d[0] && d[1]; d += 2)
                g_variant_builder_add(&dict, "{ss}", d[0], d[1]);

        reply = g_dbus_connection_call_sync(
                h->bus, POLKIT_NAME, "/org/freedesktop/PolicyKit1/Authority",
                "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                g_variant_new("((sa{sv})sa{ss}us)", "unix-process", &subject, action_id, &dict, 0, ""),
                G_VARIANT_TYPE("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE, HARNESS_TIMEOUT_MS, NULL, error);
        if (!reply)
                return HARNESS_AUTH_ERROR;
        g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
        return authorized ? HARNESS_AUTH_YES : challenge ? HARNESS_AUTH_CHALLENGE : HARNESS_AUTH_NO;
}

/* Has polkitd loaded rules generation gen? */
static gboolean rules_loaded(Harness *h, unsigned gen, GError **error)
{
        g_autofree char *gen_text = g_strdup_printf("%u", gen);
        const char *details[] = { "generation", gen_text, NULL };

        /* polkitd itself is the subject: a non-root process we know is
         * alive (root would be authorized without looking at the rules). */
        return harness_check_authorization(h, h->polkitd.pid, SENTINEL_ACTION, details, error) ==
               HARNESS_AUTH_YES;
}

/* The line polkitd logged about our rules file not loading, since offset
 * log_from of its log; NULL if none. */
static char *rules_error(Harness *h, gsize log_from)
{
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        gsize len;

        if (!g_file_get_contents(h->polkitd_log, &text, &len, NULL) || len <= log_from)
                return NULL;
        lines = g_strsplit(text + log_from, "\n", -1);
        for (char **l = lines; *l; l++)
                if (strstr(*l, "Error") && strstr(*l, "/etc/polkit-1/rules.d/50-test.rules"))
                        return g_strdup(*l);
        return NULL;
}

static gsize file_size(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 ? (gsize) st.st_size : 0;
}

/* Wait until polkitd answers the sentinel of generation gen; fail at once
 * if its log (from log_from on) says our rules file did not load. */
static gboolean wait_rules(Harness *h, unsigned gen, gsize log_from, GError **error)
{
        gint64 deadline = now_ms() + HARNESS_TIMEOUT_MS;

        for (;;) {
                g_autoptr(GError) local = NULL;
                g_autofree char *bad = NULL;

                if (rules_loaded(h, gen, &local))
                        return TRUE;
                if (local) {
                        g_propagate_error(error, g_steal_pointer(&local));
                        return FALSE;
                }
                bad = rules_error(h, log_from);
                if (bad) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                    "polkitd rejected rules generation %u: %s", gen, bad);
                        return FALSE;
                }
                if (now_ms() > deadline) {
                        g_autofree char *tail = file_tail(h->polkitd_log, 15);

                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                    "polkitd did not load rules generation %u within %d ms "
                                    "(a syntax error?); %s ends with:\n%s",
                                    gen, HARNESS_TIMEOUT_MS, h->polkitd_log, tail);
                        return FALSE;
                }
                g_usleep(2000);
        }
}

/* ---- harness_new and its parts ---- */

static gboolean bind_over(Harness *h, const char *source, const char *target, GError **error)
{
        if (mount(source, target, NULL, MS_BIND, NULL) < 0) {
                int e = errno;

                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "bind-mounting %s over %s: %s",
                            source, target, g_strerror(e));
                return FALSE;
        }
        g_ptr_array_add(h->binds, g_strdup(target));
        return TRUE;
}

static gboolean make_dir(const char *path, GError **error)
{
        if (g_mkdir_with_parents(path, 0755) < 0) {
                int e = errno;

                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "mkdir %s: %s", path, g_strerror(e));
                return FALSE;
        }
        return TRUE;
}

/* The real file plus ours; uids/gids above any system range. */
static gboolean overlay_etc(Harness *h, const char *name, const char *extra, GError **error)
{
        g_autofree char *real = g_build_filename("/etc", name, NULL);
        g_autofree char *ours = g_build_filename(h->dir, "etc", name, NULL);
        g_autofree char *text = NULL;
        g_autofree char *merged = NULL;

        if (!g_file_get_contents(real, &text, NULL, error))
                return FALSE;
        merged = g_strconcat(text, (*text && !g_str_has_suffix(text, "\n")) ? "\n" : "", extra, NULL);
        return write_file(ours, merged, error) && bind_over(h, ours, real, error);
}

/* An optional project file; its absence is reported, not fatal, because
 * the files are written in parallel with the harness. */
static gboolean copy_project_file(const char *relpath, const char *to_dir, GError **error)
{
        const char *srcdir = g_getenv("PCRESET_SRCDIR");
        g_autofree char *from = NULL;
        g_autofree char *base = g_path_get_basename(relpath);
        g_autofree char *to = g_build_filename(to_dir, base, NULL);

        if (!srcdir) {
                g_test_message("harness: PCRESET_SRCDIR is not set, no %s", relpath);
                return TRUE;
        }
        from = g_build_filename(srcdir, relpath, NULL);
        if (!g_file_test(from, G_FILE_TEST_EXISTS)) {
                g_test_message("harness: %s does not exist, not installed", from);
                return TRUE;
        }
        return copy_file(from, to, error);
}

static gboolean setup_polkit_files(Harness *h, GError **error)
{
        g_autofree char *actions = g_build_filename(h->dir, "polkit", "actions", NULL);
        g_autofree char *rules = g_build_filename(h->dir, "polkit", "rules.d", NULL);
        g_autofree char *share_rules = g_build_filename(h->dir, "polkit", "share-rules.d", NULL);
        g_autofree char *sentinel = g_build_filename(actions, "org.freedesktop.pcreset1.harness.policy", NULL);
        g_autofree char *first_rules = g_strdup_printf(SENTINEL_RULE_FMT, 0u, 0u);

        h->rules_file = g_build_filename(rules, "50-test.rules", NULL);
        /* 0755: polkitd reads these as its own user. */
        return make_dir(actions, error) && make_dir(rules, error) && make_dir(share_rules, error) &&
               copy_project_file("polkit/org.freedesktop.pcreset1.policy", actions, error) &&
               write_file(sentinel, SENTINEL_POLICY, error) &&
               write_file(h->rules_file, first_rules, error) &&
               bind_over(h, actions, "/usr/share/polkit-1/actions", error) &&
               bind_over(h, rules, "/etc/polkit-1/rules.d", error) &&
               bind_over(h, share_rules, "/usr/share/polkit-1/rules.d", error);
}

/* Start dbus-daemon and read its address from fd 3 of the child. */
static gboolean start_bus(Harness *h, GError **error)
{
        g_autofree char *conf_dir = g_build_filename(h->dir, "bus.d", NULL);
        g_autofree char *conf = g_build_filename(h->dir, "bus.conf", NULL);
        g_autofree char *socket = g_build_filename(session_dir, "system_bus_socket", NULL);
        g_autofree char *conf_text = NULL;
        g_autofree char *conf_arg = NULL;
        g_autofree char *log = g_build_filename(h->dir, "dbus-daemon.log", NULL);
        GString *addr = g_string_new(NULL);
        int pipefd[2], logfd;
        gint64 deadline;
        gboolean ok;

        conf_text = g_strdup_printf(BUS_CONF_FMT, socket, conf_dir);
        (void) unlink(socket); /* left by a dbus-daemon that was killed */
        if (!make_dir(conf_dir, error) || !write_file(conf, conf_text, error))
                return FALSE;
        {
                g_autofree char *polkit_conf = g_build_filename(conf_dir, "org.freedesktop.PolicyKit1.conf", NULL);

                if (!copy_file(POLKIT_BUS_CONF, polkit_conf, error) ||
                    !copy_project_file("dbus/org.freedesktop.pcreset1.conf", conf_dir, error))
                        return FALSE;
        }

        conf_arg = g_strconcat("--config-file=", conf, NULL);
        const char *argv[] = { "dbus-daemon", conf_arg, "--nofork", "--print-address=3", NULL };
        logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (logfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", log, g_strerror(errno));
                if (logfd >= 0)
                        close(logfd);
                return FALSE;
        }
        ok = child_spawn(&h->dbus_daemon, argv, logfd, logfd, pipefd[1], error);
        close(pipefd[1]);
        close(logfd);

        /* The address is one line; EOF first means it died. */
        deadline = now_ms() + HARNESS_TIMEOUT_MS;
        while (ok && !strchr(addr->str, '\n')) {
                struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
                char buf[256];
                ssize_t n = 0;

                if (poll(&p, 1, (int) MAX(deadline - now_ms(), 0)) > 0)
                        n = read(pipefd[0], buf, sizeof(buf));
                if (n <= 0) {
                        g_autofree char *tail = file_tail(log, 10);

                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "dbus-daemon gave no address; %s ends with:\n%s", log, tail);
                        ok = FALSE;
                        break;
                }
                g_string_append_len(addr, buf, n);
        }
        close(pipefd[0]);
        if (!ok) {
                g_string_free(addr, TRUE);
                return FALSE;
        }
        *strchr(addr->str, '\n') = '\0';
        h->bus_address = g_string_free(addr, FALSE);

        h->bus = g_dbus_connection_new_for_address_sync(
                h->bus_address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, error);
        return h->bus != NULL;
}

static gboolean start_polkitd(Harness *h, GError **error)
{
        /* Without --no-debug polkitd logs rule loading and JavaScript errors
         * to stdout, which is where a test author looks when rules fail. */
        const char *argv[] = { POLKITD_BIN, NULL };
        int logfd = open(h->polkitd_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        uid_t uid;
        gboolean ok;

        if (logfd < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", h->polkitd_log, g_strerror(errno));
                return FALSE;
        }
        ok = child_spawn(&h->polkitd, argv, logfd, logfd, -1, error);
        close(logfd);
        if (!ok || !wait_name(h, POLKIT_NAME, TRUE, &h->polkitd, "polkitd", h->polkitd_log, error))
                return FALSE;
        /* The reload probe needs a non-root subject: polkitd after it
         * dropped privileges (done before it takes its bus name). */
        if (!proc_real_uid(h->polkitd.pid, &uid) || uid == 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "polkitd runs as root, expected its own user");
                return FALSE;
        }
        return wait_rules(h, 0, 0, error);
}

Harness *harness_new(GError **error)
{
        g_autoptr(Harness) h = NULL;
        g_autofree char *etc_dir = NULL;
        gint64 t0 = g_get_monotonic_time();

        if (!session_dir) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "harness_enter_namespace() must be called first");
                return NULL;
        }
        if (harness_active) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "a Harness already exists");
                return NULL;
        }

        h = g_new0(Harness, 1);
        h->dbus_daemon = h->polkitd = h->daemon = CHILD_NONE;
        h->run_timeout_ms = HARNESS_RUN_TIMEOUT_MS;
        h->binds = g_ptr_array_new_with_free_func(g_free);
        h->dir = g_build_filename(session_dir, "harness-XXXXXX", NULL);
        if (!g_mkdtemp_full(h->dir, 0755)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "mkdtemp: %s", g_strerror(errno));
                g_clear_pointer(&h->dir, g_free);
                return NULL;
        }
        harness_active = TRUE;
        h->fake_root = g_build_filename(h->dir, "root", NULL);
        h->state_dir = g_build_filename(h->dir, "state", NULL);
        h->daemon_log = g_build_filename(h->dir, "pcresetd.log", NULL);
        h->polkitd_log = g_build_filename(h->dir, "polkitd.log", NULL);

        etc_dir = g_build_filename(h->dir, "etc", NULL);
        if (!make_dir(h->fake_root, error) || !make_dir(h->state_dir, error) || !make_dir(etc_dir, error) ||
            !overlay_etc(h, "passwd", TEST_PASSWD, error) || !overlay_etc(h, "group", TEST_GROUP, error) ||
            !setup_polkit_files(h, error) || !start_bus(h, error) || !start_polkitd(h, error))
                return NULL;

        g_test_message("harness: up in %.1f ms (%s)", (g_get_monotonic_time() - t0) / 1000.0, h->dir);
        return g_steal_pointer(&h);
}

void harness_free(Harness *h)
{
        if (!h)
                return;

        /* Clients first: they may hold requests in the daemon. */
        if (clients) {
                GHashTableIter it;
                gpointer value;

                g_hash_table_iter_init(&it, clients);
                while (g_hash_table_iter_next(&it, NULL, &value)) {
                        (void) child_stop(value, SIGKILL, -1);
                        g_hash_table_iter_remove(&it);
                }
        }
        (void) child_stop(&h->daemon, SIGTERM, HARNESS_TIMEOUT_MS);
        if (h->bus) {
                (void) g_dbus_connection_close_sync(h->bus, NULL, NULL);
                g_clear_object(&h->bus);
        }
        (void) child_stop(&h->polkitd, SIGTERM, HARNESS_TIMEOUT_MS);
        (void) child_stop(&h->dbus_daemon, SIGTERM, HARNESS_TIMEOUT_MS);

        for (guint i = h->binds->len; i > 0; i--)
                (void) umount2(h->binds->pdata[i - 1], MNT_DETACH);
        if (h->dir) {
                rm_rf(h->dir);
                harness_active = FALSE;
        }

        g_ptr_array_unref(h->binds);
        g_free(h->dir);
        g_free(h->fake_root);
        g_free(h->state_dir);
        g_free(h->daemon_log);
        g_free(h->polkitd_log);
        g_free(h->rules_file);
        g_free(h->bus_address);
        g_free(h);
}

const char *harness_dir(Harness *h) { return h->dir; }
const char *harness_fake_root(Harness *h) { return h->fake_root; }
const char *harness_state_dir(Harness *h) { return h->state_dir; }
const char *harness_daemon_log(Harness *h) { return h->daemon_log; }
const char *harness_polkitd_log(Harness *h) { return h->polkitd_log; }
const char *harness_bus_address(Harness *h) { return h->bus_address; }
GDBusConnection *harness_bus(Harness *h) { return h->bus; }
GPid harness_polkitd_pid(Harness *h) { return h->polkitd.pid; }
GPid harness_dbus_daemon_pid(Harness *h) { return h->dbus_daemon.pid; }
GPid harness_daemon_pid(Harness *h) { return h->daemon.pid; }

void harness_set_rules(Harness *h, const char *javascript)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        gint64 t0 = g_get_monotonic_time();
        unsigned gen = ++h->rules_generation;
        gsize log_from = file_size(h->polkitd_log);

        /* One file, sentinel first: if the test's JavaScript does not
         * compile, the sentinel is not loaded either, and we say so. The
         * write is atomic (rename), so polkitd never reads half a file. */
        text = g_strdup_printf(SENTINEL_RULE_FMT "%s\n", gen, gen, javascript ? javascript : "");
        if (!write_file(h->rules_file, text, &error) || !wait_rules(h, gen, log_from, &error))
                g_error("harness_set_rules: %s", error->message);
        g_test_message("harness: rules generation %u loaded in %.1f ms", gen,
                       (g_get_monotonic_time() - t0) / 1000.0);
}

/* ---- the daemon ---- */

int harness_start_daemon(Harness *h, const char *const *extra_args, GError **error)
{
        const char *bin = g_getenv("PCRESETD_BIN");
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        int logfd;
        gboolean ok;

        if (!bin) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "PCRESETD_BIN is not set");
                return -1;
        }
        if (h->daemon.pid > 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "the daemon already runs as %d",
                            (int) h->daemon.pid);
                return -1;
        }
        g_ptr_array_add(argv, g_strdup(bin));
        g_ptr_array_add(argv, g_strdup("--sysfs-root"));
        g_ptr_array_add(argv, g_build_filename(h->fake_root, "sys", NULL));
        g_ptr_array_add(argv, g_strdup("--proc-root"));
        g_ptr_array_add(argv, g_build_filename(h->fake_root, "proc", NULL));
        g_ptr_array_add(argv, g_strdup("--dev-root"));
        g_ptr_array_add(argv, g_build_filename(h->fake_root, "dev", NULL));
        g_ptr_array_add(argv, g_strdup("--state-dir"));
        g_ptr_array_add(argv, g_strdup(h->state_dir));
        for (const char *const *a = extra_args; a && *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, NULL);

        logfd = open(h->daemon_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (logfd < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", h->daemon_log, g_strerror(errno));
                return -1;
        }
        ok = child_spawn(&h->daemon, (const char *const *) argv->pdata, logfd, logfd, -1, error);
        close(logfd);
        if (!ok)
                return -1;
        if (!wait_name(h, PCRESET1_BUS_NAME, TRUE, &h->daemon, "pcresetd", h->daemon_log, error)) {
                (void) child_stop(&h->daemon, SIGKILL, -1);
                return -1;
        }
        return 0;
}

/* After the process is gone, dbus-daemon still has to notice the closed
 * socket: wait for that, so a restart can take the name again at once. */
static int daemon_end(Harness *h, int sig)
{
        g_autoptr(GError) error = NULL;
        int status = child_stop(&h->daemon, sig, HARNESS_TIMEOUT_MS);

        if (status >= 0 && !wait_name(h, PCRESET1_BUS_NAME, FALSE, NULL, "pcresetd", NULL, &error))
                g_test_message("harness: %s", error->message);
        return status;
}

int harness_stop_daemon(Harness *h)
{
        return daemon_end(h, SIGTERM);
}

int harness_kill_daemon(Harness *h)
{
        return daemon_end(h, SIGKILL);
}

/* ---- clients ---- */

/* argv behind setpriv for user, and an environment that matches it. */
static gboolean user_command(const char *user, const char *const *argv, GPtrArray *full, char ***envp,
                             GError **error)
{
        struct passwd *pw;

        if (!user) {
                for (const char *const *a = argv; *a; a++)
                        g_ptr_array_add(full, g_strdup(*a));
                g_ptr_array_add(full, NULL);
                *envp = g_get_environ();
                return TRUE;
        }
        /* Resolved through the overlaid /etc/passwd. */
        pw = getpwnam(user);
        if (!pw) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no user %s", user);
                return FALSE;
        }
        g_ptr_array_add(full, g_strdup("setpriv"));
        g_ptr_array_add(full, g_strdup_printf("--reuid=%u", (unsigned) pw->pw_uid));
        g_ptr_array_add(full, g_strdup_printf("--regid=%u", (unsigned) pw->pw_gid));
        g_ptr_array_add(full, g_strdup("--init-groups"));
        g_ptr_array_add(full, g_strdup("--"));
        for (const char *const *a = argv; *a; a++)
                g_ptr_array_add(full, g_strdup(*a));
        g_ptr_array_add(full, NULL);
        *envp = g_get_environ();
        *envp = g_environ_setenv(*envp, "HOME", pw->pw_dir, TRUE);
        *envp = g_environ_setenv(*envp, "USER", pw->pw_name, TRUE);
        *envp = g_environ_setenv(*envp, "LOGNAME", pw->pw_name, TRUE);
        return TRUE;
}

int harness_run(Harness *h, const char *user, char **out, char **err, const char *const *argv)
{
        g_autoptr(GPtrArray) full = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) envp = NULL;
        GString *buf[2] = { g_string_new(NULL), g_string_new(NULL) };
        struct pollfd p[2];
        Child c = CHILD_NONE;
        int timeout_ms = h ? h->run_timeout_ms : HARNESS_RUN_TIMEOUT_MS;
        gint64 deadline = now_ms() + timeout_ms;
        int status = -1, open_fds = 2;

        if (!user_command(user, argv, full, &envp, &error) ||
            !g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) full->pdata,
                                              (const char *const *) envp,
                                              G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                                      G_SPAWN_STDIN_FROM_DEV_NULL,
                                              NULL, NULL, -1, -1, -1, NULL, NULL, 0, &c.pid, NULL,
                                              &p[0].fd, &p[1].fd, &error)) {
                g_string_append_printf(buf[1], "harness: cannot run %s: %s\n", argv[0], error->message);
                goto done;
        }
        c.pidfd = pidfd_open(c.pid, 0);
        if (c.pidfd < 0)
                g_error("pidfd_open(%d): %s", (int) c.pid, g_strerror(errno));

        /* Both pipes to EOF, bounded: a hung client must not hang the test. */
        p[0].events = p[1].events = POLLIN;
        while (open_fds > 0) {
                int left = (int) (deadline - now_ms());

                if (left <= 0 || poll(p, 2, left) == 0)
                        break;
                for (int i = 0; i < 2; i++) {
                        char chunk[4096];
                        ssize_t n;

                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        n = read(p[i].fd, chunk, sizeof(chunk));
                        if (n > 0)
                                g_string_append_len(buf[i], chunk, n);
                        else if (n == 0 || errno != EINTR) {
                                close(p[i].fd);
                                p[i].fd = -1;
                                open_fds--;
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (p[i].fd >= 0)
                        close(p[i].fd);
        if (open_fds == 0)
                status = child_wait(&c, (int) MAX(deadline - now_ms(), 0));
        if (c.pid > 0) { /* still running at the deadline */
                g_string_append_printf(buf[1], "harness: %s killed after %d ms\n", argv[0], timeout_ms);
                status = child_stop(&c, SIGKILL, -1);
        }

done:
        if (out)
                *out = g_string_free(buf[0], FALSE);
        else
                g_string_free(buf[0], TRUE);
        if (err)
                *err = g_string_free(buf[1], FALSE);
        else
                g_string_free(buf[1], TRUE);
        return status;
}

/* One word of a command line as a shell takes it back. */
static void append_shell_word(GString *line, const char *word)
{
        g_autofree char *quoted = NULL;

        if (line->len > 0)
                g_string_append_c(line, ' ');
        if (*word && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                  "_-+=/.,:@%") == strlen(word)) {
                g_string_append(line, word);
                return;
        }
        quoted = g_shell_quote(word);
        g_string_append(line, quoted);
}

/* "\n--- name\n" and text, without its last newline; nothing if empty. */
static void append_output(GString *msg, const char *name, const char *text)
{
        size_t n = strlen(text);

        if (n == 0)
                return;
        if (text[n - 1] == '\n')
                n--;
        g_string_append_printf(msg, "\n--- %s\n", name);
        g_string_append_len(msg, text, (gssize) n);
}

int harness_run_logged(Harness *h, const char *user, char **out, char **err, const char *const *argv)
{
        g_autoptr(GString) msg = g_string_new(NULL);
        g_autoptr(GString) line = g_string_new(NULL);
        char *o = NULL, *e = NULL;
        int status = harness_run(h, user, &o, &e, argv);

        for (const char *const *a = argv; *a; a++)
                append_shell_word(line, *a);
        g_string_append_printf(msg, "as %s: %s\n-> exit status %d", user ?: "root", line->str, status);
        append_output(msg, "stdout", o);
        append_output(msg, "stderr", e);
        g_test_message("%s", msg->str);
        if (out)
                *out = o;
        else
                g_free(o);
        if (err)
                *err = e;
        else
                g_free(e);
        return status;
}

void harness_set_run_timeout(Harness *h, int timeout_ms)
{
        h->run_timeout_ms = timeout_ms > 0 ? timeout_ms : HARNESS_RUN_TIMEOUT_MS;
}

GPid harness_spawn(Harness *h, const char *user, const char *const *argv, int *out_fd)
{
        g_autoptr(GPtrArray) full = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) envp = NULL;
        Child *c = g_new(Child, 1);
        GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL;

        *c = CHILD_NONE;
        if (!out_fd)
                flags |= G_SPAWN_STDOUT_TO_DEV_NULL;
        if (!user_command(user, argv, full, &envp, &error) ||
            !g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) full->pdata,
                                              (const char *const *) envp, flags, NULL, NULL, -1, -1,
                                              -1, NULL, NULL, 0, &c->pid, NULL, out_fd, NULL, &error))
                g_error("harness_spawn %s: %s", argv[0], error->message);
        c->pidfd = pidfd_open(c->pid, 0);
        if (c->pidfd < 0)
                g_error("pidfd_open(%d): %s", (int) c->pid, g_strerror(errno));
        if (!clients)
                clients = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        g_hash_table_insert(clients, GINT_TO_POINTER(c->pid), c);

        /* g_spawn returns after exec, but for a user that exec is setpriv's:
         * wait until setpriv has become the command, so the caller sees the
         * process with the user's uid (polkit checks it). */
        if (user) {
                g_autofree char *setpriv = g_find_program_in_path("setpriv");
                g_autofree char *exe_link = g_strdup_printf("/proc/%d/exe", (int) c->pid);
                gint64 deadline = now_ms() + HARNESS_TIMEOUT_MS;

                for (;;) {
                        g_autofree char *exe = g_file_read_link(exe_link, NULL);

                        if (!exe || g_strcmp0(exe, setpriv) != 0 || !child_running(c))
                                break;
                        if (now_ms() > deadline)
                                g_error("harness_spawn: %s as %s did not start", argv[0], user);
                        g_usleep(1000);
                }
        }
        return c->pid;
}

static Child *client_lookup(GPid pid)
{
        Child *c = clients ? g_hash_table_lookup(clients, GINT_TO_POINTER(pid)) : NULL;

        /* Signalling a pid we do not own (already reaped, maybe reused)
         * could hit any process on the machine. */
        if (!c)
                g_error("pid %d is not a live harness_spawn() child", (int) pid);
        return c;
}

int harness_wait(GPid pid)
{
        Child *c = client_lookup(pid);
        int status = child_wait(c, HARNESS_RUN_TIMEOUT_MS);

        if (status < 0)
                status = child_stop(c, SIGKILL, -1);
        g_hash_table_remove(clients, GINT_TO_POINTER(pid));
        return status;
}

int harness_kill(GPid pid)
{
        Child *c = client_lookup(pid);
        int status = child_stop(c, SIGKILL, -1);

        g_hash_table_remove(clients, GINT_TO_POINTER(pid));
        return status;
}

/* ---- fake trees ---- */

gboolean harness_build_tree(Harness *h, const char *desc_text, GError **error)
{
        const char *bin = g_getenv("PCRESET_FAKETREE_BIN");
        g_autofree char *desc = NULL;
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        int status;

        if (!bin) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "PCRESET_FAKETREE_BIN is not set");
                return FALSE;
        }
        /* Kept (numbered) so a failing test can be replayed by hand. */
        desc = g_strdup_printf("%s/tree-%u.desc", h->dir, ++h->trees);
        if (!write_file(desc, desc_text, error))
                return FALSE;
        const char *argv[] = { bin, desc, h->fake_root, NULL };
        status = harness_run(h, NULL, &out, &err, argv);
        if (status != 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s %s: exit status %d:\n%s%s", bin,
                            desc, h->fake_root, status, out, err);
                return FALSE;
        }
        return TRUE;
}
