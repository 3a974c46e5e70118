/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vfio-watch.h"

/* A watch on a directory also reports the opens and closes of the files in
 * it, whichever mount or bind mount of the same dentry they were opened
 * through: two directory watches cover every node, and a new node needs no
 * watch of its own. */
#define NODE_EVENTS (IN_OPEN | IN_CLOSE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
                     IN_MOVE_SELF)
#define ROOT_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

struct VfioWatch {
        int fd;
        char *dev_root, *vfio_dir, *devices_dir;
        int wd_root, wd_vfio, wd_devices;  /* -1: not watched (yet) */
        uint64_t changes;                  /* events heard so far */
};

int vfio_watch_new(const char *dev_root, VfioWatch **ret) {
        VfioWatch *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (VfioWatch) { .wd_root = -1, .wd_vfio = -1, .wd_devices = -1 };
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        w->dev_root = strdup(dev_root);
        w->vfio_dir = strjoin_printf("%s/vfio", dev_root);
        w->devices_dir = strjoin_printf("%s/vfio/devices", dev_root);
        if (w->fd < 0 || !w->dev_root || !w->vfio_dir || !w->devices_dir) {
                int r = w->fd < 0 ? -errno : -ENOMEM;
                vfio_watch_free(w);
                return r;
        }
        /* <dev> itself only for vfio/ appearing (the vfio module loaded
         * after us) */
        w->wd_root = inotify_add_watch(w->fd, dev_root, ROOT_EVENTS | IN_ONLYDIR);
        if (w->wd_root < 0) {
                int r = -errno;
                vfio_watch_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

VfioWatch *vfio_watch_free(VfioWatch *w) {
        if (!w)
                return NULL;
        if (w->fd >= 0)
                close(w->fd);
        free(w->dev_root);
        free(w->vfio_dir);
        free(w->devices_dir);
        free(w);
        return NULL;
}

static void note_event(VfioWatch *w, const struct inotify_event *ev) {
        if (ev->mask & IN_IGNORED) {
                /* the directory went: watched again at the next stamp */
                if (ev->wd == w->wd_vfio)
                        w->wd_vfio = -1;
                else if (ev->wd == w->wd_devices)
                        w->wd_devices = -1;
                w->changes++;
                return;
        }
        /* Opens anyone may make are no node changing hands: a directory's
         * (a readdir of vfio/ or vfio/devices/), and the container's
         * (/dev/vfio/vfio is 0666 and holds no device). Otherwise any user
         * could end the trust in every scan at will. */
        if ((ev->mask & (IN_OPEN | IN_CLOSE)) &&
            ((ev->mask & IN_ISDIR) || ev->len == 0 || (ev->wd == w->wd_vfio && streq(ev->name, "vfio"))))
                return;
        /* of <dev> itself only vfio/ matters */
        if (ev->wd == w->wd_root && !(ev->len > 0 && streq(ev->name, "vfio")))
                return;
        w->changes++;
}

/* At most this many reads per drain: the loop must not spend long here
 * while users open and close their nodes; what is left counts as a change
 * (and is read by the next drain). */
#define DRAIN_MAX_READS 8

static void drain(VfioWatch *w) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        for (unsigned i = 0;; i++) {
                if (i == DRAIN_MAX_READS) {
                        w->changes++;
                        return;
                }
                ssize_t n = read(w->fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n < 0 && errno != EAGAIN) {
                                /* cannot tell: everything may have changed */
                                log_warning_errno(-errno, "Reading VFIO node events failed: %m");
                                w->changes++;
                        }
                        return;
                }
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *) p;
                        /* IN_Q_OVERFLOW (wd -1) lands here as a change */
                        if (ev->wd < 0)
                                w->changes++;
                        else
                                note_event(w, ev);
                        p += sizeof *ev + ev->len;
                }
        }
}

static int watch_dir(VfioWatch *w, const char *path) {
        int wd = inotify_add_watch(w->fd, path, NODE_EVENTS | IN_ONLYDIR);
        if (wd < 0 && errno != ENOENT)
                log_debug_errno(-errno, "Cannot watch %s: %m", path);
        return wd;
}

uint64_t vfio_watch_stamp(VfioWatch *w) {
        /* a directory that appears changes the count, so watching it now
         * and stamping after is race-free: an open between the two is
         * counted, or happened before the stamp */
        if (w->wd_vfio < 0)
                w->wd_vfio = watch_dir(w, w->vfio_dir);
        if (w->wd_devices < 0)
                w->wd_devices = watch_dir(w, w->devices_dir);
        drain(w);
        return w->changes;
}

bool vfio_watch_changed_since(VfioWatch *w, uint64_t stamp) {
        drain(w);
        /* a directory there but not watched (its watch failed) may hold
         * nodes nobody hears */
        if ((w->wd_vfio < 0 && access(w->vfio_dir, F_OK) == 0) ||
            (w->wd_devices < 0 && access(w->devices_dir, F_OK) == 0))
                return true;
        return w->changes != stamp;
}
