/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcresetctl cdi: the CDI spec it writes for the fake host of the OCI hook
 * tests (oci-fixture.h), its file in --output-dir, --watch following
 * <dev>/vfio, and a real CDI engine: Debian's podman runs a busybox rootfs
 * with a device of the spec (--device pcreset.freedesktop.org/vfio=NAME),
 * and the spec's hooks reset the group before the container runs and after
 * it stopped. The kernel side of the fake host is the FUSE reset files,
 * whose write log the container itself reads while it runs.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakereset.h"
#include "oci-fixture.h"

#define KIND "pcreset.freedesktop.org/vfio"
#define SPEC_FILE "pcreset.freedesktop.org-vfio.json"

static char *json_plain(json_object *o) {
        return g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The spec's device NAME, or NULL. */
static json_object *spec_device(json_object *spec, const char *name) {
        json_object *devices = jget(spec, "devices");
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                json_object *d = json_object_array_get_idx(devices, i);
                if (g_strcmp0(jstr(d, "name"), name) == 0)
                        return d;
        }
        return NULL;
}

static char *device_names(json_object *spec) {
        json_object *devices = jget(spec, "devices");
        g_autoptr(GString) s = g_string_new("");
        for (size_t i = 0; i < json_object_array_length(devices); i++)
                g_string_append_printf(s, "%s%s", i ? " " : "", jstr(json_object_array_get_idx(devices, i), "name"));
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* What the hooks of the device with node PATH must run: both stages, this
 * pcresetctl, the node, the policy, the roots, the bus. */
static void assert_hooks(Fixture *f, json_object *device, const char *path, const char *policy) {
        g_autofree char *self = realpath(g_getenv("PCRESETCTL_BIN"), NULL);
        g_autofree char *sys = fake_sys(f);
        g_autofree char *dev = host_dev(f);
        json_object *hooks = jget(jget(device, "containerEdits"), "hooks");
        g_assert_cmpuint(json_object_array_length(hooks), ==, 2);
        for (size_t i = 0; i < 2; i++) {
                json_object *h = json_object_array_get_idx(hooks, i);
                g_assert_cmpstr(jstr(h, "hookName"), ==, i == 0 ? "createRuntime" : "poststop");
                g_assert_cmpstr(jstr(h, "path"), ==, self);
                g_autofree char *args = json_plain(jget(h, "args"));
                g_autofree char *want = g_strdup_printf("[\"pcresetctl\",\"oci-hook\",\"--node=%s\",%s,"
                                                        "\"--sysfs-root=%s\",\"--dev-root=%s\"]",
                                                        path, policy, sys, dev);
                g_assert_cmpstr(args, ==, want);
                g_autofree char *env = json_plain(jget(h, "env"));
                g_autofree char *want_env = g_strdup_printf("[\"DBUS_SYSTEM_BUS_ADDRESS=%s\"]", g_getenv("DBUS_SYSTEM_BUS_ADDRESS"));
                g_assert_cmpstr(env, ==, want_env);
        }
}

static int cdi(Fixture *f, const char *dev, char **out, char **err, const char *const *extra) {
        g_autofree char *sys = fake_sys(f);
        g_autofree char *default_dev = host_dev(f);
        g_autofree char *sys_arg = g_strdup_printf("--sysfs-root=%s", sys);
        g_autofree char *dev_arg = g_strdup_printf("--dev-root=%s", dev ?: default_dev);
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_ptr_array_add(args, (char *) "cdi");
        g_ptr_array_add(args, sys_arg);
        g_ptr_array_add(args, dev_arg);
        for (size_t i = 0; extra && extra[i]; i++)
                g_ptr_array_add(args, (char *) extra[i]);
        g_ptr_array_add(args, NULL);
        return ctlv(f, NULL, out, err, (const char *const *) args->pdata);
}

/* The spec of the fake host: a device per group and per cdev, each node
 * with its number, the container node or iommufd beside it, the hooks. */
static void test_spec(Fixture *f, gconstpointer data) {
        g_autofree char *dev = host_dev(f);
        /* the container node and iommufd; what is no usable VFIO node */
        static const struct {
                const char *name, *target;
        } extra[] = {
                { "vfio/vfio", "/dev/full" },           /* 1:7 */
                { "iommu", "/dev/random" },             /* 1:8 */
                { "vfio/noiommu-3", "/dev/null" },      /* no IOMMU: never reset */
                { "vfio/99", "/dev/tty" },              /* 5:0: sysfs knows no group 99 */
        };
        for (size_t i = 0; i < G_N_ELEMENTS(extra); i++) {
                g_autofree char *p = g_build_filename(dev, extra[i].name, NULL);
                symlink_or_die(extra[i].target, p);
        }
        g_autofree char *plain = g_build_filename(dev, "vfio", "7", NULL);
        g_assert_true(g_file_set_contents(plain, "", 0, NULL));

        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint(cdi(f, NULL, &out, &err, (const char *[]) { "--scope=func,link", "--required", NULL }), ==, 0);
        g_autoptr(json_object) spec = parse_json(out);
        g_assert_cmpstr(jstr(spec, "cdiVersion"), ==, "0.3.0");
        g_assert_cmpstr(jstr(spec, "kind"), ==, KIND);
        g_autofree char *names = device_names(spec);
        g_assert_cmpstr(names, ==, "group-12 group-20 pci-0000:02:00.1");
        assert_contains(err, "skipping ");
        assert_contains(err, "/vfio/99: no PCI function in ");
        assert_contains(err, "/vfio/7: not a character device");
        assert_not_contains(err, "noiommu");

        /* paths only, never device numbers (a group's minor is allocated
         * when it appears: a number written down goes stale); the host's
         * path where it is not the container's (--dev-root) */
        static const struct {
                const char *name, *path, *extra;
        } want[] = {
                { "group-12", "/dev/vfio/12", "vfio/vfio" },
                { "group-20", "/dev/vfio/20", "vfio/vfio" },
                { "pci-0000:02:00.1", "/dev/vfio/devices/vfio3", "iommu" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
                json_object *d = spec_device(spec, want[i].name);
                g_assert_nonnull(d);
                g_autofree char *nodes = json_plain(jget(jget(d, "containerEdits"), "deviceNodes"));
                g_autofree char *h1 = g_strconcat(dev, want[i].path + strlen("/dev"), NULL);
                g_autofree char *h2 = g_build_filename(dev, want[i].extra, NULL);
                g_autofree char *r1 = realpath(h1, NULL), *r2 = realpath(h2, NULL);
                g_autofree char *expect = g_strdup_printf(
                        "[{\"path\":\"%s\",\"hostPath\":\"%s\"},{\"path\":\"/dev/%s\",\"hostPath\":\"%s\"}]",
                        want[i].path, r1, want[i].extra, r2);
                g_assert_cmpstr(nodes, ==, expect);
                g_assert_null(strstr(nodes, "major"));
                assert_hooks(f, d, want[i].path, "\"--scope=func,link\",\"--required\"");
        }

        /* the default policy: func, not required (the annotation may say so) */
        g_autofree char *out2 = NULL;
        g_assert_cmpint(cdi(f, NULL, &out2, NULL, NULL), ==, 0);
        g_autoptr(json_object) spec2 = parse_json(out2);
        assert_hooks(f, spec_device(spec2, "group-20"), "/dev/vfio/20", "\"--scope=func\"");

        /* the hooks run elsewhere: relative roots would point nowhere */
        g_autofree char *err3 = NULL;
        g_assert_cmpint(ctl(f, NULL, NULL, &err3, "cdi", "--dev-root=hostdev", NULL), ==, 2);
        assert_contains(err3, "must be absolute paths");
        /* a host without VFIO nodes has no spec */
        g_autofree char *empty = g_build_filename(harness_dir(f->h), "emptydev", NULL);
        g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
        g_autofree char *out4 = NULL, *err4 = NULL;
        g_assert_cmpint(cdi(f, empty, &out4, &err4, NULL), ==, 0);
        g_assert_cmpstr(out4, ==, "");
        assert_contains(err4, "no VFIO group or device node in ");
}

/* --output-dir: written atomically and readable, rewritten only when it
 * changes, removed when no node is left. */
static void test_output_dir(Fixture *f, gconstpointer data) {
        g_autofree char *dir = g_build_filename(harness_dir(f->h), "cdi", "sub", NULL);
        g_autofree char *file = g_build_filename(dir, SPEC_FILE, NULL);
        g_autofree char *dir_arg = g_strdup_printf("--output-dir=%s", dir);
        const char *args[] = { dir_arg, NULL };

        g_autofree char *out = NULL, *spec = NULL;
        g_assert_cmpint(cdi(f, NULL, &out, NULL, args), ==, 0);
        g_autofree char *line = g_strdup_printf("cdi: wrote %s: 3 devices\n", file);
        assert_contains(out, line);
        assert_contains(out, "  " KIND "=group-12: /dev/vfio/12 (0000:02:00.0 0000:02:00.1)\n");
        assert_contains(out, "  " KIND "=pci-0000:02:00.1: /dev/vfio/devices/vfio3 (0000:02:00.1)\n");
        struct stat st;
        g_assert_cmpint(stat(file, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0644);
        g_assert_true(g_file_get_contents(file, &spec, NULL, NULL));
        g_autofree char *printed = NULL;
        g_assert_cmpint(cdi(f, NULL, &printed, NULL, NULL), ==, 0);
        g_assert_cmpstr(spec, ==, printed);

        /* the same host again: the file is left alone */
        struct stat st2;
        g_autofree char *out2 = NULL;
        g_assert_cmpint(cdi(f, NULL, &out2, NULL, args), ==, 0);
        g_autofree char *unchanged = g_strdup_printf("cdi: %s unchanged\n", file);
        g_assert_cmpstr(out2, ==, unchanged);
        g_assert_cmpint(stat(file, &st2), ==, 0);
        g_assert_cmpuint(st2.st_ino, ==, st.st_ino);

        /* group 20 gone: rewritten without it */
        g_autofree char *dev = host_dev(f);
        g_autofree char *n20 = g_build_filename(dev, "vfio", "20", NULL);
        g_assert_cmpint(unlink(n20), ==, 0);
        g_autofree char *out3 = NULL, *spec3 = NULL;
        g_assert_cmpint(cdi(f, NULL, &out3, NULL, args), ==, 0);
        assert_contains(out3, "2 devices");
        g_assert_true(g_file_get_contents(file, &spec3, NULL, NULL));
        g_autoptr(json_object) o3 = parse_json(spec3);
        g_autofree char *names = device_names(o3);
        g_assert_cmpstr(names, ==, "group-12 pci-0000:02:00.1");

        /* nothing left */
        g_autofree char *empty = g_build_filename(harness_dir(f->h), "emptydev", NULL);
        g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
        g_autofree char *out4 = NULL;
        g_assert_cmpint(cdi(f, empty, &out4, NULL, args), ==, 0);
        assert_contains(out4, "cdi: removed ");
        g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
        /* the directory stays; nothing else was left in it */
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        g_assert_nonnull(d);
        g_assert_null(g_dir_read_name(d));
}

/* Waits up to 5 s for the spec file to have devices want ("" : no file). */
static void wait_for_devices(const char *file, const char *want) {
        g_autofree char *got = NULL;
        for (int i = 0; i < 100; i++) {
                g_autofree char *text = NULL;
                g_free(got);
                got = NULL;
                if (g_file_get_contents(file, &text, NULL, NULL)) {
                        g_autoptr(json_object) o = parse_json(text);
                        got = device_names(o);
                } else
                        got = g_strdup("");
                if (g_strcmp0(got, want) == 0)
                        return;
                g_usleep(50 * 1000);
        }
        g_error("the spec file %s has devices \"%s\", not \"%s\"", file, got, want);
}

/* --watch: the spec follows <dev>/vfio and <dev>/vfio/devices as they come
 * and go, the directories themselves included. */
static void test_watch(Fixture *f, gconstpointer data) {
        g_autofree char *dev = g_build_filename(harness_dir(f->h), "watchdev", NULL);
        g_autofree char *dir = g_build_filename(harness_dir(f->h), "watch-cdi", NULL);
        g_autofree char *file = g_build_filename(dir, SPEC_FILE, NULL);
        g_autofree char *sys = fake_sys(f);
        g_autofree char *sys_arg = g_strdup_printf("--sysfs-root=%s", sys);
        g_autofree char *dev_arg = g_strdup_printf("--dev-root=%s", dev);
        g_autofree char *dir_arg = g_strdup_printf("--output-dir=%s", dir);
        g_assert_cmpint(g_mkdir_with_parents(dev, 0755), ==, 0);
        const char *argv[] = { g_getenv("PCRESETCTL_BIN"), "cdi", "--watch", sys_arg, dev_arg, dir_arg, NULL };
        int out_fd = -1;
        GPid pid = harness_spawn(f->h, NULL, argv, &out_fd);
        /* its first line: it has scanned, and watches */
        g_autoptr(GIOChannel) ch = g_io_channel_unix_new(out_fd);
        g_io_channel_set_close_on_unref(ch, TRUE);
        g_autofree char *first = NULL;
        g_assert_cmpint(g_io_channel_read_line(ch, &first, NULL, NULL, NULL), ==, G_IO_STATUS_NORMAL);
        g_autofree char *unchanged = g_strdup_printf("cdi: %s unchanged\n", file);
        g_assert_cmpstr(first, ==, unchanged);
        g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));

        /* vfio/ appears, with a group */
        g_autofree char *n12 = g_build_filename(dev, "vfio", "12", NULL);
        symlink_or_die("/dev/null", n12);
        wait_for_devices(file, "group-12");
        /* then devices/ with a cdev, then another group */
        g_autofree char *c3 = g_build_filename(dev, "vfio", "devices", "vfio3", NULL);
        symlink_or_die("/dev/fuse", c3);
        wait_for_devices(file, "group-12 pci-0000:02:00.1");
        g_autofree char *n20 = g_build_filename(dev, "vfio", "20", NULL);
        symlink_or_die("/dev/zero", n20);
        wait_for_devices(file, "group-12 group-20 pci-0000:02:00.1");
        /* they go */
        g_assert_cmpint(unlink(n12), ==, 0);
        wait_for_devices(file, "group-20 pci-0000:02:00.1");
        g_assert_cmpint(unlink(c3), ==, 0);
        g_autofree char *devices = g_build_filename(dev, "vfio", "devices", NULL);
        g_assert_cmpint(rmdir(devices), ==, 0);
        wait_for_devices(file, "group-20");
        /* vfio/ removed and made again at once, in one burst: the new
         * directory is watched, not the deleted one */
        g_assert_cmpint(unlink(n20), ==, 0);
        g_autofree char *vfio = g_build_filename(dev, "vfio", NULL);
        g_assert_cmpint(rmdir(vfio), ==, 0);
        g_assert_cmpint(mkdir(vfio, 0755), ==, 0);
        wait_for_devices(file, "");
        symlink_or_die("/dev/zero", n20);
        wait_for_devices(file, "group-20");
        symlink_or_die("/dev/null", n12);
        wait_for_devices(file, "group-12 group-20");

        /* SIGTERM ends it cleanly, the spec left in place */
        g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
        g_assert_cmpint(harness_wait(pid), ==, 0);
        wait_for_devices(file, "group-12 group-20");
}

/* ---- a real CDI engine ---------------------------------------------------- */

/* The container's rootfs: busybox. */
static char *write_rootfs(Fixture *f) {
        const char *busybox = g_getenv("BUSYBOX_BIN");
        if (!busybox || !*busybox)
                g_error("busybox-static is not installed (scripts/install-deps installs it)");
        char *rootfs = g_build_filename(harness_dir(f->h), "podman-rootfs", NULL);
        for (const char *d = "bin\0proc\0dev\0sys\0tmp\0out\0etc\0"; *d; d += strlen(d) + 1) {
                g_autofree char *p = g_build_filename(rootfs, d, NULL);
                g_assert_cmpint(g_mkdir_with_parents(p, 0755), ==, 0);
        }
        g_autofree char *copy = g_build_filename(rootfs, "bin", "busybox", NULL);
        g_autofree char *content = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(busybox, &content, &len, NULL));
        g_assert_true(g_file_set_contents(copy, content, (gssize) len, NULL));
        g_assert_cmpint(chmod(copy, 0755), ==, 0);
        return rootfs;
}

/* podman run --device KIND=name ... as root, the spec written into
 * /run/cdi by pcresetctl cdi --output-dir --required first. Its own mount namespace
 * gives it a fresh /run (where podman keeps its run state and CDI specs are
 * looked for) and an empty /sys/fs/cgroup: crun refuses the host's hybrid
 * cgroup layout, and the sealed /sys is read-only. */
static int podman_run(Fixture *f, const char *rootfs, const char *const *names, const char *scope, const char *script,
                      char **err) {
        const char *podman = g_getenv("PODMAN_BIN");
        if (!podman || !*podman)
                g_error("podman is not installed (scripts/install-deps installs it)");
        g_autofree char *sys = fake_sys(f);
        g_autofree char *dev = host_dev(f);
        g_autofree char *store = g_build_filename(harness_dir(f->h), "podman-store", NULL);
        g_autofree char *out = g_build_filename(harness_dir(f->h), "podman-out", NULL);
        g_autofree char *fuselog = g_build_filename(harness_dir(f->h), "fuse.log", NULL);
        g_autofree char *out_vol = g_strdup_printf("%s:/out", out);
        g_autofree char *log_vol = g_strdup_printf("%s:/fuse.log:ro", fuselog);
        /* crun hands the hooks' output to these files */
        g_autofree char *hook_out = g_strdup_printf("run.oci.hooks.stdout=%s/hooks.out", harness_dir(f->h));
        g_autofree char *hook_err = g_strdup_printf("run.oci.hooks.stderr=%s/hooks.err", harness_dir(f->h));
        g_assert_cmpint(g_mkdir_with_parents(out, 0755), ==, 0);
        /* podman's default sysctls (net.ipv4.ping_group_range) cannot be
         * written: the sealed /proc/sys is read-only */
        g_autofree char *conf = g_build_filename(harness_dir(f->h), "containers.conf", NULL);
        g_assert_true(g_file_set_contents(conf, "[containers]\ndefault_sysctls = []\n", -1, NULL));
        const char *head[] = {
                "unshare", "-m", "sh", "-c",
                "set -e; mount -t tmpfs tmpfs /sys/fs/cgroup; mount -t tmpfs tmpfs /run; "
                "\"$PCRESETCTL_BIN\" cdi --output-dir=/run/cdi --sysfs-root=\"$1\" --dev-root=\"$2\" --scope=\"$4\" "
                "--required >&2; export CONTAINERS_CONF=\"$3\"; shift 4; exec \"$@\"", "sh", sys, dev, conf, scope,
                podman, "--root", store, "--runroot", "/run/podman", "--tmpdir", "/run/libpod",
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
                "run", "--rm", "--network", "none", "--cgroups", "disabled",
                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                "-v", out_vol, "-v", log_vol, "--annotation", hook_out, "--annotation", hook_err,
        };
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; i < G_N_ELEMENTS(head); i++)
                g_ptr_array_add(argv, g_strdup(head[i]));
        for (size_t i = 0; names[i]; i++) {
                g_ptr_array_add(argv, g_strdup("--device"));
                g_ptr_array_add(argv, g_strdup_printf(KIND "=%s", names[i]));
        }
        for (const char *a = "--rootfs\0"; *a; a += strlen(a) + 1)
                g_ptr_array_add(argv, g_strdup(a));
        g_ptr_array_add(argv, g_strdup(rootfs));
        for (const char *a = "/bin/busybox\0sh\0-c\0"; *a; a += strlen(a) + 1)
                g_ptr_array_add(argv, g_strdup(a));
        g_ptr_array_add(argv, g_strdup(script));
        g_ptr_array_add(argv, NULL);
        harness_set_run_timeout(f->h, 120 * 1000);
        int rc = harness_run_logged(f->h, NULL, NULL, err, (const char *const *) argv->pdata);
        harness_set_run_timeout(f->h, 0);
        return rc;
}

/* The writes of reset file NAME in a FUSE write log. */
static unsigned resets_in(const char *log, const char *name) {
        g_autoptr(GPtrArray) entries = fakereset_read_log(log);
        unsigned n = 0;
        g_assert_nonnull(entries);
        for (guint i = 0; i < entries->len; i++) {
                const FakeResetEntry *e = entries->pdata[i];
                n += g_strcmp0(e->name, name) == 0 && e->result == 0 && g_strcmp0(e->data, "1") == 0;
        }
        return n;
}

static void test_podman(Fixture *f, gconstpointer data) {
        /* the reset files of group 12's functions log every write */
        const char *specs[] = { "r0", "r1", NULL };
        const char *addrs[] = { "0000:02:00.0", "0000:02:00.1" };
        bind_fuse(f, specs, addrs);
        start_daemon(f);
        /* the container node the group device brings along */
        g_autofree char *dev = host_dev(f);
        g_autofree char *container_node = g_build_filename(dev, "vfio", "vfio", NULL);
        symlink_or_die("/dev/full", container_node);
        g_autofree char *rootfs = write_rootfs(f);
        g_autofree char *fuselog = g_build_filename(harness_dir(f->h), "fuse.log", NULL);
        if (!g_file_test(fuselog, G_FILE_TEST_EXISTS))
                g_assert_true(g_file_set_contents(fuselog, "", 0, NULL));
        g_autofree char *out = g_build_filename(harness_dir(f->h), "podman-out", NULL);

        /* group 12: its node in the container, each function reset once
         * before the container ran (the container reads the log itself),
         * and once more after it stopped */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(podman_run(f, rootfs, (const char *[]) { "group-12", NULL }, "func",
                                           "test -c /dev/vfio/12 && test -c /dev/vfio/vfio && "
                                           "cat /fuse.log > /out/seen && echo ran > /out/ran", &err), ==, 0);
                g_autofree char *ran = g_build_filename(out, "ran", NULL);
                g_autofree char *mark = NULL;
                g_assert_true(g_file_get_contents(ran, &mark, NULL, NULL));
                g_assert_cmpstr(mark, ==, "ran\n");
                g_autofree char *seen = g_build_filename(out, "seen", NULL);
                g_assert_cmpuint(resets_in(seen, "r0"), ==, 1);
                g_assert_cmpuint(resets_in(seen, "r1"), ==, 1);
                assert_completed(f, "0000:02:00.0", 2);
                assert_completed(f, "0000:02:00.1", 2);
                g_assert_cmpuint(resets_in(fuselog, "r0"), ==, 2);
                g_assert_cmpuint(resets_in(fuselog, "r1"), ==, 2);
                /* the audio function is the host driver's: the hook's fd
                 * proof of the container's node made it the caller's */
                assert_log_count(f, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:02:00.1 PCRESET_MASK=0x00000027", 2);
                /* the hooks' reports: before and after, both functions */
                g_autofree char *hooks_out = g_build_filename(harness_dir(f->h), "hooks.out", NULL), *reports = NULL;
                g_assert_true(g_file_get_contents(hooks_out, &reports, NULL, NULL));
                g_test_message("hook reports:\n%s", reports);
                g_assert_cmpuint(count_lines_with(reports, ": reset 0000:02:00.0: performed flr", NULL), ==, 2);
                g_assert_cmpuint(count_lines_with(reports, ": reset 0000:02:00.1: performed flr", NULL), ==, 2);
                /* group 20 was not asked for */
                assert_completed(f, "0000:03:00.0", 0);
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", NULL), ==, 0);
        }
        /* group 20's NVMe has no function reset, and the spec says
         * --required: the container never runs */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(podman_run(f, rootfs, (const char *[]) { "group-20", NULL }, "func",
                                           "echo ran > /out/ran20", &err), !=, 0);
                g_autofree char *ran = g_build_filename(out, "ran20", NULL);
                g_assert_false(g_file_test(ran, G_FILE_TEST_EXISTS));
                /* exit code 4: no reset within the scope */
                assert_contains(err, "error executing hook `");
                assert_contains(err, "` (exit code: 4)");
                g_autofree char *hooks_err = g_build_filename(harness_dir(f->h), "hooks.err", NULL), *text = NULL;
                g_assert_true(g_file_get_contents(hooks_err, &text, NULL, NULL));
                assert_contains(text, "0000:03:00.0 not reset: no reset of 0000:03:00.0 inside mask");
                assert_attr(f, "0000:03:00.0", "reset", "");
                assert_completed(f, "0000:03:00.0", 0);
                assert_completed(f, "0000:02:00.0", 2);
        }
        /* both groups, with the link scope: each device's hooks reset their
         * own group, so every function once before and once after, not once
         * per device */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(podman_run(f, rootfs, (const char *[]) { "group-12", "group-20", NULL }, "func,link",
                                           "test -c /dev/vfio/12 && test -c /dev/vfio/20 && cat /fuse.log > /out/seen2",
                                           &err), ==, 0);
                g_autofree char *seen = g_build_filename(out, "seen2", NULL);
                g_assert_cmpuint(resets_in(seen, "r0"), ==, 3);
                g_assert_cmpuint(resets_in(seen, "r1"), ==, 3);
                assert_completed(f, "0000:02:00.0", 4);
                assert_completed(f, "0000:02:00.1", 4);
                assert_completed(f, "0000:03:00.0", 2);
                assert_log_count(f, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:03:00.0 PCRESET_MASK=0x0000007f", 2);
                assert_attr(f, "0000:03:00.0", "reset_method", "bus");
        }
}

int main(int argc, char *argv[]) {
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/cdi/spec", test_spec);
        ADD("/cdi/output-dir", test_output_dir);
        ADD("/cdi/watch", test_watch);
        ADD("/cdi/podman", test_podman);
        return g_test_run();
}
