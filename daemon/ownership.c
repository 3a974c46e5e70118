/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>

#include "ownership.h"
#include "pci-util.h"
#include "util.h"

typedef struct Handle {
        char *target;   /* link text, e.g. "/dev/vfio/12" */
        pid_t pid;
} Handle;

struct OpenHandles {
        Handle *items;
        size_t n;
};

const char *device_state_to_string(DeviceState s) {
        switch (s) {
        case DEVICE_OWNED: return "owned";
        case DEVICE_IDLE:  return "idle";
        default:           return "busy";
        }
}

void device_verdict_done(DeviceVerdict *v) {
        v->reason = mfree(v->reason);
        v->driver = mfree(v->driver);
}

OpenHandles *open_handles_free(OpenHandles *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n; i++)
                free(h->items[i].target);
        free(h->items);
        free(h);
        return NULL;
}

static bool is_pid_name(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static int scan_pid(OpenHandles *h, const char *proc_root, const char *pid) {
        _cleanup_free_ char *dir = strjoin_printf("%s/%s/fd", proc_root, pid);
        if (!dir)
                return -ENOMEM;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return 0; /* gone, or not ours to read: nothing to learn */
        int dfd = dirfd(d);
        struct dirent *de;
        while ((de = readdir(d))) {
                char buf[256];
                ssize_t n = readlinkat(dfd, de->d_name, buf, sizeof buf - 1);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                if (!startswith(buf, "/dev/vfio/"))
                        continue;
                Handle *items = realloc(h->items, sizeof(Handle) * (h->n + 1));
                if (!items)
                        return -ENOMEM;
                h->items = items;
                h->items[h->n] = (Handle) { .target = strdup(buf), .pid = (pid_t) atoi(pid) };
                if (!h->items[h->n].target)
                        return -ENOMEM;
                h->n++;
        }
        return 0;
}

static int open_handles_scan(const char *proc_root, OpenHandles **ret) {
        OpenHandles *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        DIR *d = opendir(proc_root);
        if (!d) {
                int r = -errno;
                open_handles_free(h);
                return r;
        }
        struct dirent *de;
        int r = 0;
        while (r >= 0 && (de = readdir(d)))
                if (is_pid_name(de->d_name))
                        r = scan_pid(h, proc_root, de->d_name);
        closedir(d);
        if (r < 0) {
                open_handles_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static const Handle *open_handles_find(const OpenHandles *h, const char *target) {
        for (size_t i = 0; h && i < h->n; i++)
                if (streq(h->items[i].target, target))
                        return &h->items[i];
        return NULL;
}

static char *describe_pid(const char *proc_root, pid_t pid) {
        _cleanup_free_ char *p = strjoin_printf("%s/%d/comm", proc_root, (int) pid), *comm = NULL;
        if (p && read_one_line_file(p, &comm) >= 0)
                return strjoin_printf("pid %d (%s)", (int) pid, comm);
        return strjoin_printf("pid %d", (int) pid);
}

static char *describe_uid(uid_t uid) {
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
                return strjoin_printf("uid %u (%s)", (unsigned) uid, res->pw_name);
        return strjoin_printf("uid %u", (unsigned) uid);
}

/* A node owned by a non-root uid that equals the caller's. */
static bool node_owned_by(const char *path, uid_t uid) {
        struct stat st;
        return uid != 0 && stat(path, &st) == 0 && st.st_uid == uid;
}

/* PCI-to-PCI bridges bound to the port driver (or none) only pass the reset
 * through: they do not count against the caller. */
static bool is_passthrough_bridge(const char *syspath, const char *driver) {
        return (!driver || streq(driver, "pcieport")) && pci_sysfs_is_bridge(syspath);
}

static int find_open(const OwnershipContext *ctx, OpenHandles **handles, const char *target, const Handle **ret) {
        if (!*handles) {
                int r = open_handles_scan(ctx->proc_root, handles);
                if (r < 0)
                        return r;
        }
        *ret = open_handles_find(*handles, target);
        return 0;
}

/* What a device's sysfs tells about who may use it; read fresh each time. */
typedef struct DeviceFacts {
        char *driver;   /* NULL when unbound */
        char *group;    /* iommu group number, NULL if none */
        char *cdev;     /* "vfio3" when a VFIO cdev exists */
} DeviceFacts;

static void facts_done(DeviceFacts *f) {
        free(f->driver);
        free(f->group);
        free(f->cdev);
}

static int read_facts(const char *syspath, DeviceFacts *f) {
        _cleanup_free_ char *p = strjoin_printf("%s/driver", syspath);
        _cleanup_free_ char *g = strjoin_printf("%s/iommu_group", syspath);
        _cleanup_free_ char *vd = strjoin_printf("%s/vfio-dev", syspath);

        *f = (DeviceFacts) {};
        if (!p || !g || !vd)
                return -ENOMEM;
        int r = readlink_basename(p, &f->driver);
        if (r < 0 && r != -ENOENT)
                return r;
        (void) readlink_basename(g, &f->group);
        _cleanup_closedir_ DIR *d = opendir(vd);
        for (struct dirent *de; d && (de = readdir(d));)
                if (startswith(de->d_name, "vfio")) {
                        f->cdev = strdup(de->d_name);
                        break;
                }
        return 0;
}

/* The first process holding the device's VFIO group or cdev open, if any;
 * *ret_text describes it ("vfio group 12 is open by pid 4711 (qemu)"). */
static int find_holder(const OwnershipContext *ctx, const DeviceFacts *f, OpenHandles **handles, char **ret_text) {
        const Handle *h = NULL;
        const char *what = NULL, *which = NULL;
        int r;

        *ret_text = NULL;
        if (f->group) {
                _cleanup_free_ char *t = strjoin_printf("/dev/vfio/%s", f->group);
                if (!t)
                        return -ENOMEM;
                r = find_open(ctx, handles, t, &h);
                if (r < 0)
                        return r;
                what = "vfio group", which = f->group;
        }
        if (!h && f->cdev) {
                _cleanup_free_ char *t = strjoin_printf("/dev/vfio/devices/%s", f->cdev);
                if (!t)
                        return -ENOMEM;
                r = find_open(ctx, handles, t, &h);
                if (r < 0)
                        return r;
                what = "vfio device", which = f->cdev;
        }
        if (!h)
                return 0;
        _cleanup_free_ char *who = describe_pid(ctx->proc_root, h->pid);
        *ret_text = strjoin_printf("%s %s is open by %s", what, which, strempty(who));
        return *ret_text ? 1 : -ENOMEM;
}

int ownership_device_quiet(const OwnershipContext *ctx, const char *syspath, OpenHandles **handles, bool *ret,
                           char **why) {
        _cleanup_(facts_done) DeviceFacts f = {};
        _cleanup_free_ char *held = NULL;
        int r = read_facts(syspath, &f);

        *why = NULL;
        if (r < 0)
                return r;
        if (f.driver && !config_is_stub_driver(ctx->config, f.driver)) {
                *ret = false;
                *why = strjoin_printf("bound to %s", f.driver);
                return 0;
        }
        r = f.driver ? find_holder(ctx, &f, handles, &held) : 0;
        if (r < 0)
                return r;
        *ret = r == 0;
        if (r > 0)
                *why = TAKE_PTR(held);
        return 0;
}

int ownership_evaluate(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t uid,
                       char *const *proven, OpenHandles **handles, DeviceVerdict *ret) {
        _cleanup_(facts_done) DeviceFacts f = {};
        _cleanup_free_ char *owned_by = NULL, *held = NULL;
        char *reason = NULL;
        DeviceState state;
        uid_t holder;
        int r;

        r = read_facts(syspath, &f);
        if (r < 0)
                return r;
        _cleanup_free_ char *group_node = f.group ? strjoin_printf("%s/vfio/%s", ctx->dev_root, f.group) : NULL;
        _cleanup_free_ char *cdev_node = f.cdev ? strjoin_printf("%s/vfio/devices/%s", ctx->dev_root, f.cdev) : NULL;

        /* owned? */
        if (claims_get(ctx->claims, name, &holder) >= 0) {
                if (holder == uid)
                        owned_by = strdup("claimed by you");
                else {
                        _cleanup_free_ char *who = describe_uid(holder);
                        reason = strjoin_printf("claimed by %s", strempty(who));
                        state = DEVICE_BUSY;
                        goto done;
                }
        } else if (strv_contains(proven, name))
                owned_by = strdup("yours by the VFIO fd you passed");
        else if (group_node && node_owned_by(group_node, uid))
                owned_by = strjoin_printf("vfio group %s belongs to you", f.group);
        else if (cdev_node && node_owned_by(cdev_node, uid))
                owned_by = strjoin_printf("vfio device %s belongs to you", f.cdev);

        if (owned_by) {
                state = DEVICE_OWNED;
                bool stub = !f.driver || config_is_stub_driver(ctx->config, f.driver);
                ret->under_driver = !stub;
                reason = stub ? strdup(owned_by)
                              : strjoin_printf("%s; the reset runs under its host driver %s", owned_by, f.driver);
                goto done;
        }

        /* idle or busy */
        if (is_passthrough_bridge(syspath, f.driver)) {
                state = DEVICE_IDLE;
                reason = strjoin_printf("bridge%s%s%s: passed through, its config is kept", f.driver ? " (" : "",
                                        strempty(f.driver), f.driver ? ")" : "");
                goto done;
        }
        if (!f.driver) {
                state = DEVICE_IDLE;
                reason = strdup("no driver bound");
                goto done;
        }
        if (!config_is_stub_driver(ctx->config, f.driver)) {
                state = DEVICE_BUSY;
                reason = strjoin_printf("bound to %s: in use by the host and not owned by you", f.driver);
                goto done;
        }
        r = find_holder(ctx, &f, handles, &held);
        if (r < 0)
                return r;
        state = r > 0 ? DEVICE_BUSY : DEVICE_IDLE;
        reason = r > 0 ? strjoin_printf("bound to %s and %s", f.driver, held)
                       : strjoin_printf("bound to %s, not open", f.driver);

done:
        if (!reason)
                return -ENOMEM;
        ret->state = state;
        ret->reason = reason;
        ret->driver = TAKE_PTR(f.driver);
        if (state != DEVICE_OWNED)
                ret->under_driver = false;
        return 0;
}
