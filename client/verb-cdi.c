/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcresetctl cdi: the CDI spec of the host's VFIO nodes (cdi-spec.h), on
 * stdout, or as DIR/pcreset.freedesktop.org-vfio.json (--output-dir; CDI
 * engines read /etc/cdi and /var/run/cdi). With --watch it stays and
 * rewrites that file whenever an entry of <dev>/vfio or <dev>/vfio/devices
 * comes or goes (inotify; devtmpfs reports the kernel's own node changes):
 * one process, which after each burst of events scans afresh, so no change
 * is lost between a scan and the next event.
 *
 * The hooks call the pcresetctl that wrote the spec (/proc/self/exe), with
 * this run's --scope, --required, --sysfs-root and --dev-root, and the
 * DBUS_SYSTEM_BUS_ADDRESS it ran with, if any: a hook's environment is
 * only what the spec gives it.
 *
 * The file is written atomically (0644: rootless engines read it too) and
 * only when its text changes; with no VFIO node it is removed, since a CDI
 * spec without devices is invalid. A line per change goes to stdout.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus.h"
#include "cdi-spec.h"
#include "pcresetctl.h"
#include "util.h"

/* a burst of group nodes (vfio-pci binding several devices at boot) makes
 * one rewrite */
#define SETTLE_USEC (100 * 1000)

typedef struct Cdi Cdi;

typedef struct Watch {
        Cdi *cdi;
        const char *sub;        /* below <dev>: "vfio", "vfio/devices" */
        sd_event_source *source;
        dev_t dev;
        ino_t ino;
        /* the directory was deleted or moved away: a new one at the path
         * may even have the old inode number, so this is how we know */
        bool gone;
} Watch;

struct Cdi {
        Context *c;
        CdiHookConfig cfg;
        char *hook_path;
        char *file;             /* --output-dir: DIR/CDI_SPEC_FILE */
        char *written;          /* the text last written, NULL: none */
        /* --watch */
        sd_event *event;
        sd_event_source *settle, *dev_source, *sigterm, *sigint;
        Watch watches[2];
};

static void cdi_done(Cdi *x) {
        for (size_t i = 0; i < ELEMENTSOF(x->watches); i++)
                sd_event_source_disable_unref(x->watches[i].source);
        sd_event_source_disable_unref(x->settle);
        sd_event_source_disable_unref(x->dev_source);
        sd_event_source_disable_unref(x->sigterm);
        sd_event_source_disable_unref(x->sigint);
        sd_event_unref(x->event);
        free(x->hook_path);
        free(x->file);
        free(x->written);
}

/* The program the hooks run: this one. A package upgrade replaces it under
 * a running --watch: the kernel then says "... (deleted)", and the path is
 * the new one's. */
static int self_path(char **ret) {
        _cleanup_free_ char *p = NULL;
        int r = readlink_malloc("/proc/self/exe", &p);

        if (r < 0)
                return r;
        if (endswith(p, " (deleted)"))
                p[strlen(p) - strlen(" (deleted)")] = '\0';
        *ret = p;
        p = NULL;
        return 0;
}

static void print_devices(const CdiHost *h) {
        for (size_t i = 0; i < h->n_nodes; i++) {
                _cleanup_free_ char *name = cdi_device_name(&h->nodes[i]), *fns = strv_join(h->nodes[i].devices, " ");
                printf("  " CDI_KIND "=%s: %s (%s)\n", strempty(name), h->nodes[i].dev.path, strempty(fns));
        }
}

/* Scans and writes (or prints) the spec. Returns 0 or an exit code; errors
 * are reported here. */
static int refresh(Cdi *x) {
        _cleanup_(cdi_host_done) CdiHost h = {};
        _cleanup_free_ char *text = NULL;
        int r;

        r = cdi_scan(x->c->sysfs_root, x->c->dev_root, &h);
        if (r >= 0)
                r = cdi_spec_build(&h, &x->cfg, &text);
        if (r < 0) {
                _cleanup_free_ char *m = strjoin_printf("cannot scan %s/vfio: %s", x->c->dev_root, strerror(-r));
                return report_error(x->c, r == -ENOMEM ? SD_BUS_ERROR_NO_MEMORY : SD_BUS_ERROR_IO_ERROR,
                                    m ?: strerror(-r), PCRESETCTL_EXIT_FAILURE);
        }

        if (!x->file) {
                if (text)
                        fputs(text, stdout);
                else
                        fprintf(stderr, PROGRAM " cdi: no VFIO group or device node in %s/vfio: no spec (a CDI "
                                "spec without devices is invalid)\n", x->c->dev_root);
                return PCRESETCTL_EXIT_OK;
        }

        if (streq_ptr(text, x->written)) {
                printf("cdi: %s unchanged\n", x->file);
                return PCRESETCTL_EXIT_OK;
        }
        if (!text) {
                if (unlink(x->file) < 0 && errno != ENOENT) {
                        _cleanup_free_ char *m = strjoin_printf("cannot remove %s: %s", x->file, strerror(errno));
                        return report_error(x->c, SD_BUS_ERROR_IO_ERROR, m ?: strerror(ENOMEM), PCRESETCTL_EXIT_FAILURE);
                }
                printf("cdi: removed %s: no VFIO group or device node in %s/vfio\n", x->file, x->c->dev_root);
        } else {
                r = write_file_atomic_mode(x->file, text, 0644);
                if (r < 0) {
                        _cleanup_free_ char *m = strjoin_printf("cannot write %s: %s", x->file, strerror(-r));
                        return report_error(x->c, SD_BUS_ERROR_IO_ERROR, m ?: strerror(ENOMEM), PCRESETCTL_EXIT_FAILURE);
                }
                printf("cdi: wrote %s: %zu device%s\n", x->file, h.n_nodes, h.n_nodes == 1 ? "" : "s");
                print_devices(&h);
        }
        free(x->written);
        x->written = text;
        text = NULL;
        return PCRESETCTL_EXIT_OK;
}

/* The text of the file as it is now, so that a first run that finds it up
 * to date leaves it alone. */
static void read_current(Cdi *x) {
        _cleanup_(fclosep) FILE *f = fopen(x->file, "re");
        size_t size = 0;

        /* a text file has no NUL: up to one is the whole file */
        if (f && getdelim(&x->written, &size, '\0', f) < 0)
                x->written = mfree(x->written);
}

/* ---------------------------------------------------------------------- */
/* --watch */

static int on_change(sd_event_source *s, const struct inotify_event *ev, void *userdata);

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        Cdi *x = userdata;
        int r;

        /* first the watches, then the scan: what appears in between is seen
         * by the scan, what appears after it by a watch */
        for (size_t i = 0; i < ELEMENTSOF(x->watches); i++) {
                Watch *w = &x->watches[i];
                _cleanup_free_ char *dir = strjoin_printf("%s/%s", x->c->dev_root, w->sub);
                struct stat st;
                bool exists = dir && stat(dir, &st) >= 0 && S_ISDIR(st.st_mode);

                if (w->source && !w->gone && exists && st.st_dev == w->dev && st.st_ino == w->ino)
                        continue;
                /* the old watch goes first: sd-event keys watches by inode */
                w->source = sd_event_source_disable_unref(w->source);
                w->gone = false;
                if (!exists)
                        continue;
                r = sd_event_add_inotify(x->event, &w->source, dir,
                                         IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                                         IN_MOVE_SELF | IN_ONLYDIR, on_change, w);
                if (r < 0) {
                        fprintf(stderr, PROGRAM " cdi: cannot watch %s: %s\n", dir, strerror(-r));
                        continue;
                }
                w->dev = st.st_dev;
                w->ino = st.st_ino;
        }
        (void) refresh(x);
        fflush(stdout);
        return 0;
}

static void schedule(Cdi *x) {
        int enabled = SD_EVENT_OFF;

        (void) sd_event_source_get_enabled(x->settle, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time_relative(x->settle, SETTLE_USEC);
        (void) sd_event_source_set_enabled(x->settle, SD_EVENT_ONESHOT);
}

static int on_change(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Watch *w = userdata;

        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                w->gone = true;
        schedule(w->cdi);
        return 0;
}

/* <dev> itself: only vfio/ and iommu coming or going matter (the rest of
 * /dev changes all the time) */
static int on_dev_change(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        if (ev->len > 0 && (streq(ev->name, "vfio") || streq(ev->name, "iommu")))
                schedule(userdata);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int watch(Cdi *x) {
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        r = -sigprocmask(SIG_BLOCK, &ss, NULL);
        if (r >= 0)
                r = sd_event_new(&x->event);
        if (r >= 0)
                r = sd_event_add_signal(x->event, &x->sigterm, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(x->event, &x->sigint, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_time_relative(x->event, &x->settle, CLOCK_MONOTONIC, 0, 0, on_settled, x);
        if (r >= 0)
                r = sd_event_source_set_enabled(x->settle, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_inotify(x->event, &x->dev_source, x->c->dev_root,
                                         IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR,
                                         on_dev_change, x);
        if (r < 0) {
                _cleanup_free_ char *m = strjoin_printf("cannot watch %s: %s", x->c->dev_root, strerror(-r));
                return report_error(x->c, SD_BUS_ERROR_FAILED, m ?: strerror(-r), PCRESETCTL_EXIT_FAILURE);
        }

        /* the first spec, then ready: an engine ordered after us finds it */
        (void) on_settled(x->settle, 0, x);
        (void) sd_notify(false, "READY=1");
        r = sd_event_loop(x->event);
        if (r < 0) {
                _cleanup_free_ char *m = strjoin_printf("event loop failed: %s", strerror(-r));
                return report_error(x->c, SD_BUS_ERROR_FAILED, m ?: strerror(-r), PCRESETCTL_EXIT_FAILURE);
        }
        return PCRESETCTL_EXIT_OK;
}

/* ---------------------------------------------------------------------- */

int verb_cdi(Context *c, const char *address) {
        _cleanup_(cdi_done) Cdi x = {
                .c = c,
        };
        x.watches[0] = (Watch) { .cdi = &x, .sub = "vfio" };
        x.watches[1] = (Watch) { .cdi = &x, .sub = "vfio/devices" };
        int r;

        /* the hooks run with the bundle as their working directory */
        if (c->sysfs_root[0] != '/' || c->dev_root[0] != '/')
                return report_error(c, SD_BUS_ERROR_INVALID_ARGS,
                                    "cdi: --sysfs-root and --dev-root must be absolute paths: the hooks run elsewhere",
                                    PCRESETCTL_EXIT_USAGE);
        r = self_path(&x.hook_path);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_FAILED, "cannot find this program's path in /proc/self/exe",
                                    PCRESETCTL_EXIT_FAILURE);
        x.cfg = (CdiHookConfig) {
                .path = x.hook_path,
                .scope = c->scope_arg ?: "func",
                .required = c->required,
                .sysfs_root = streq(c->sysfs_root, "/sys") ? NULL : c->sysfs_root,
                .dev_root = streq(c->dev_root, "/dev") ? NULL : c->dev_root,
                .bus_address = getenv("DBUS_SYSTEM_BUS_ADDRESS"),
        };

        if (c->output_dir) {
                x.file = strjoin_printf("%s/%s", c->output_dir, CDI_SPEC_FILE);
                if (!x.file)
                        return report_error(c, SD_BUS_ERROR_NO_MEMORY, strerror(ENOMEM), PCRESETCTL_EXIT_FAILURE);
                r = mkdir_p(c->output_dir, 0755);
                if (r < 0) {
                        _cleanup_free_ char *m = strjoin_printf("cannot create %s: %s", c->output_dir, strerror(-r));
                        return report_error(c, SD_BUS_ERROR_IO_ERROR, m ?: strerror(-r), PCRESETCTL_EXIT_FAILURE);
                }
                read_current(&x);
        }
        return c->watch ? watch(&x) : refresh(&x);
}
