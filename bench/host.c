/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>

#include "faketree.h"
#include "host.h"
#include "options.h"

void host_free(Host *x) {
        if (!x)
                return;
        if (x->h && harness_daemon_pid(x->h) > 0)
                (void) harness_stop_daemon(x->h);
        fakereset_stop(x->fuse);
        if (x->tmpfs_state)
                (void) umount2(harness_state_dir(x->h), MNT_DETACH);
        if (x->tmpfs_root)
                (void) umount2(harness_fake_root(x->h), MNT_DETACH);
        harness_free(x->h);
        g_free(x->fuse_log);
        g_free(x->config);
        g_free(x);
}

static char *device_attr(Host *x, const char *addr, const char *attr) {
        g_autofree char *dir = faketree_device_dir(harness_fake_root(x->h), addr);
        return dir ? g_build_filename(dir, attr, NULL) : NULL;
}

Host *host_new(const char *topo, const char *const *specs, const char *const *addrs, const char *config_text,
               GError **error) {
        g_autoptr(Host) x = g_new0(Host, 1);
        g_autofree char *path = g_build_filename(options.topodir, topo, NULL), *desc = NULL;

        if (!g_file_get_contents(path, &desc, NULL, error))
                return NULL;
        x->h = harness_new(error);
        if (!x->h)
                return NULL;
        /* The fake host in memory, like sysfs (kernfs) and procfs: the 4,121
         * function tree is 300 MB of small files, slow to write and to
         * remove on a disk, and reads of it would not differ once cached. */
        if (mount("tmpfs", harness_fake_root(x->h), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "tmpfs on %s: %s",
                            harness_fake_root(x->h), g_strerror(errno));
                return NULL;
        }
        x->tmpfs_root = TRUE;
        if (!harness_build_tree(x->h, desc, error))
                return NULL;

        /* The state dir on tmpfs, as in production (RuntimeDirectory=
         * pcresetd, /run is a tmpfs): the daemon fsyncs an in-flight record
         * there before every kernel-method reset. */
        if (mount("tmpfs", harness_state_dir(x->h), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "tmpfs on %s: %s",
                            harness_state_dir(x->h), g_strerror(errno));
                return NULL;
        }
        x->tmpfs_state = TRUE;

        if (specs && specs[0]) {
                g_autofree char *mnt = g_build_filename(harness_dir(x->h), "fuse", NULL);
                x->fuse_log = g_build_filename(harness_dir(x->h), "fuse.log", NULL);
                x->fuse = fakereset_start(g_getenv("FAKERESET_FUSE_BIN"), mnt, x->fuse_log, (const char **) specs,
                                          error);
                if (!x->fuse)
                        return NULL;
                for (size_t i = 0; specs[i]; i++) {
                        g_auto(GStrv) parts = g_strsplit(specs[i], ":", 2);
                        g_autofree char *target = device_attr(x, addrs[i], "reset");
                        int r = target ? fakereset_bind(x->fuse, parts[0], target) : -ENOENT;
                        if (r < 0) {
                                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "binding %s over %s: %s",
                                            parts[0], addrs[i], g_strerror(-r));
                                return NULL;
                        }
                }
        }
        if (config_text) {
                x->config = g_build_filename(harness_dir(x->h), "pcresetd.conf", NULL);
                if (!g_file_set_contents(x->config, config_text, -1, error))
                        return NULL;
        }
        return g_steal_pointer(&x);
}

int host_start(Host *x, const char *const *more, GError **error) {
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        if (x->config) {
                g_ptr_array_add(args, (char *) "--config");
                g_ptr_array_add(args, x->config);
        }
        for (const char *const *a = more; a && *a; a++)
                g_ptr_array_add(args, (char *) *a);
        g_ptr_array_add(args, NULL);
        return harness_start_daemon(x->h, (const char *const *) args->pdata, error);
}

GPtrArray *fuse_entries(Host *x) {
        return fakereset_read_log(x->fuse_log);
}

static int entry_start_cmp(const void *a, const void *b) {
        const FakeResetEntry *x = *(FakeResetEntry *const *) a, *y = *(FakeResetEntry *const *) b;
        return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

GPtrArray *entries_with_prefix(GPtrArray *log, guint from, const char *prefix) {
        GPtrArray *a = g_ptr_array_new();
        for (guint i = from; i < log->len; i++) {
                FakeResetEntry *e = log->pdata[i];
                if (g_str_has_prefix(e->name, prefix))
                        g_ptr_array_add(a, e);
        }
        qsort(a->pdata, a->len, sizeof(gpointer), entry_start_cmp);
        return a;
}

gboolean run_direct_spans(Host *x, const char *addr, const char *method, unsigned n, GArray *out, GArray *spans,
                          char **err) {
        g_autofree char *dir = faketree_device_dir(harness_fake_root(x->h), addr);
        g_autofree char *file = g_build_filename(harness_dir(x->h), "direct.out", NULL);
        g_autofree char *count = g_strdup_printf("%u", n);
        g_autofree char *errout = NULL, *text = NULL;
        const char *argv[] = { options.direct_bin, dir, method, count, file, NULL };
        int status = 0;
        g_autoptr(GError) error = NULL;

        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &errout, &status,
                          &error) ||
            !g_spawn_check_wait_status(status, &error)) {
                *err = g_strdup_printf("%s: %s %s", options.direct_bin, error->message, errout ? errout : "");
                return FALSE;
        }
        if (!g_file_get_contents(file, &text, NULL, &error)) {
                *err = g_strdup(error->message);
                return FALSE;
        }
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++)
                if (**l) {
                        char *end;
                        double a = g_ascii_strtod(*l, &end) / 1e6, b = g_ascii_strtod(end, NULL) / 1e6, ms = b - a;
                        g_array_append_val(out, ms);
                        if (spans) {
                                g_array_append_val(spans, a);
                                g_array_append_val(spans, b);
                        }
                }
        return TRUE;
}

gboolean run_direct(Host *x, const char *addr, const char *method, unsigned n, GArray *out, char **err) {
        return run_direct_spans(x, addr, method, n, out, NULL, err);
}

gboolean read_mem(pid_t pid, Mem *m) {
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid), *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, NULL))
                return FALSE;
        *m = (Mem) { NAN, NAN, NAN, NAN };
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                double kb;
                if (sscanf(*l, "VmRSS: %lf", &kb) == 1)
                        m->rss_mb = kb / 1024;
                else if (sscanf(*l, "VmHWM: %lf", &kb) == 1)
                        m->hwm_mb = kb / 1024;
                else if (sscanf(*l, "RssAnon: %lf", &kb) == 1)
                        m->anon_mb = kb / 1024;
                else if (sscanf(*l, "RssFile: %lf", &kb) == 1)
                        m->file_mb = kb / 1024;
        }
        return !isnan(m->rss_mb);
}

gboolean read_runs(pid_t pid, guint64 *ret) {
        g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int) pid);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;
        guint64 sum = 0;
        if (!d)
                return FALSE;
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_strdup_printf("%s/%s/schedstat", dir, name), *text = NULL;
                guint64 a, b, c;
                if (g_file_get_contents(p, &text, NULL, NULL) &&
                    sscanf(text, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &a, &b, &c) == 3)
                        sum += c;
        }
        *ret = sum;
        return TRUE;
}
