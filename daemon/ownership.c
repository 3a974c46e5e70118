/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>

#include "ownership.h"
#include "pci-util.h"
#include "util.h"

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

/* "pid 4711 (qemu)". The name only while the process still runs as uid:
 * the scan may be seconds old (scanner.h), and a pid reused by someone
 * else's process must not give that process' name away. */
static char *describe_pid(const char *proc_root, pid_t pid, uid_t uid) {
        _cleanup_free_ char *p = strjoin_printf("%s/%d/status", proc_root, (int) pid), *text = NULL, *name = NULL;
        bool same = false;

        if (p && read_one_line_file(p, &text) >= 0)   /* the first 4 KiB: Name and Uid come first */
                for (char *line = text, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        unsigned real, effective;
                        if (startswith(line, "Name:\t") && !name)
                                name = strdup(line + strlen("Name:\t"));
                        else if (sscanf(line, "Uid: %u %u", &real, &effective) == 2)
                                same = uid == (uid_t) -1 || effective == uid;
                }
        if (name && same)
                return strjoin_printf("pid %d (%s)", (int) pid, name);
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

/* Who holds or claimed a device is told to root and to that uid only:
 * GetResetInfo and ListDevices need no authorization, and hidepid must not
 * be walked around through us. */
static bool may_see(uid_t viewer, uid_t who) {
        return viewer == 0 || (who != (uid_t) -1 && viewer == who);
}

static long group_number(const DeviceFacts *f) {
        return f->group ? strtol(f->group, NULL, 10) : -1;
}

/* "vfio group 12 is open by pid 4711 (qemu)", as viewer may be told. */
static char *describe_holder(const OwnershipContext *ctx, const Holder *x, uid_t viewer) {
        _cleanup_free_ char *who = NULL, *what = NULL;

        if (may_see(viewer, x->uid) && !(who = describe_pid(ctx->proc_root, x->pid, x->uid)))
                return NULL;
        switch (x->kind) {
        case HOLDER_NODE:
                what = x->node.kind == VFIO_NODE_GROUP ? strjoin_printf("vfio group %ld", x->node.group)
                                                        : strjoin_printf("vfio device %s", x->node.cdev);
                if (!what)
                        return NULL;
                return who ? strjoin_printf("%s is open by %s", what, who)
                           : strjoin_printf("%s is in use by another user's process", what);
        case HOLDER_DEVICE_FD:
                return who ? strjoin_printf("a VFIO device fd of it is held by %s", who)
                           : strdup("a VFIO device fd of it is held by another user's process");
        case HOLDER_DEVICE_FD_UNNAMED:
                return strjoin_printf("%s holds a VFIO device fd that this kernel does not name (its fdinfo has no "
                                      "vfio-device-syspath), so it may be this device's", who ?: "another user's process");
        default:
                return strjoin_printf("the open files of %s cannot be read (%s), so it may hold this device",
                                      who ?: "another user's process", strerror(x->error));
        }
}

/* The first holder of the device other than except_uid's, described for
 * viewer: 1 with *ret_text, or 0. */
static int find_holder(const OwnershipContext *ctx, const char *name, const DeviceFacts *f, bool stub_bound,
                       uid_t except_uid, uid_t viewer, Holders **holders, char **ret_text) {
        *ret_text = NULL;
        if (!*holders) {
                if (ctx->no_scan)
                        return -EAGAIN;
                int r = holders_scan(ctx->proc_root, ctx->sysfs_root, holders);
                if (r < 0)
                        return r;
        }
        const Holder *x = holders_find(*holders, name, group_number(f), f->cdev, stub_bound, except_uid);
        if (!x)
                return 0;
        *ret_text = describe_holder(ctx, x, viewer);
        return *ret_text ? 1 : -ENOMEM;
}

/* The device's VFIO group and cdev nodes below <dev>/vfio (NULL where it
 * has none). */
static int node_paths(const OwnershipContext *ctx, const DeviceFacts *f, char **ret_group, char **ret_cdev) {
        *ret_group = f->group ? strjoin_printf("%s/vfio/%s", ctx->dev_root, f->group) : NULL;
        *ret_cdev = f->cdev ? strjoin_printf("%s/vfio/devices/%s", ctx->dev_root, f->cdev) : NULL;
        return (f->group && !*ret_group) || (f->cdev && !*ret_cdev) ? -ENOMEM : 0;
}

/* The non-root owner of either node: 1 with *ret, or 0. */
static int nodes_owner(const char *group_node, const char *cdev_node, uid_t *ret) {
        struct stat st;

        if (group_node && stat(group_node, &st) == 0 && st.st_uid != 0) {
                *ret = st.st_uid;
                return 1;
        }
        if (cdev_node && stat(cdev_node, &st) == 0 && st.st_uid != 0) {
                *ret = st.st_uid;
                return 1;
        }
        return 0;
}

int ownership_node_owner(const OwnershipContext *ctx, const char *syspath, uid_t *ret) {
        _cleanup_(facts_done) DeviceFacts f = {};
        _cleanup_free_ char *group_node = NULL, *cdev_node = NULL;
        int r = read_facts(syspath, &f);

        if (r >= 0)
                r = node_paths(ctx, &f, &group_node, &cdev_node);
        return r < 0 ? r : nodes_owner(group_node, cdev_node, ret);
}

int ownership_device_quiet(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t viewer,
                           Holders **holders, bool *ret, char **why) {
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
        r = f.driver ? find_holder(ctx, name, &f, true, (uid_t) -1, viewer, holders, &held) : 0;
        if (r < 0)
                return r;
        *ret = r == 0;
        if (r > 0)
                *why = TAKE_PTR(held);
        return 0;
}

int ownership_evaluate(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t uid,
                       char *const *proven, Holders **holders, DeviceVerdict *ret) {
        _cleanup_(facts_done) DeviceFacts f = {};
        _cleanup_free_ char *owned_by = NULL, *held = NULL, *group_node = NULL, *cdev_node = NULL;
        DeviceBlocker blocker = BLOCKER_NONE;
        char *reason = NULL;
        DeviceState state;
        uid_t holder;
        int r;

        r = read_facts(syspath, &f);
        if (r >= 0)
                r = node_paths(ctx, &f, &group_node, &cdev_node);
        if (r < 0)
                return r;
        bool stub = f.driver && config_is_stub_driver(ctx->config, f.driver);

        /* owned? A claim counts only while no other user's VFIO node says
         * otherwise: an admin who gave the node to someone after the claim
         * was made gave them the device */
        uid_t node_owner = 0;
        bool other_node = nodes_owner(group_node, cdev_node, &node_owner) > 0;
        if (claims_get(ctx->claims, name, &holder) >= 0 && !(other_node && node_owner != holder)) {
                if (holder == uid)
                        owned_by = strdup("claimed by you");
                else {
                        _cleanup_free_ char *who = may_see(uid, holder) ? describe_uid(holder) : NULL;
                        reason = strjoin_printf("claimed by %s", who ?: "another user");
                        state = DEVICE_BUSY;
                        blocker = BLOCKER_CLAIM;
                        goto done;
                }
        } else if (strv_contains(proven, name))
                owned_by = strdup("yours by the VFIO fd you passed");
        else if (group_node && node_owned_by(group_node, uid))
                owned_by = strjoin_printf("vfio group %s belongs to you", f.group);
        else if (cdev_node && node_owned_by(cdev_node, uid))
                owned_by = strjoin_printf("vfio device %s belongs to you", f.cdev);

        /* A user owns a device only while no host driver has it: a claim
         * made while it was idle, or a group node whose group also holds a
         * host-bound function, must not make the host's device the user's
         * (VFIO's hot reset wants every affected device on vfio too). Root,
         * the admin, may reset a device under its host driver. */
        if (owned_by && uid != 0 && f.driver && !stub) {
                state = DEVICE_BUSY;
                blocker = BLOCKER_HOST_DRIVER;
                reason = strjoin_printf("%s, but bound to %s: in use by the host; a user's claim, node or fd "
                                        "covers a device only while no host driver has it", owned_by, f.driver);
                goto done;
        }
        if (owned_by) {
                /* ...unless someone else holds it: owning never takes a device away */
                r = f.driver ? find_holder(ctx, name, &f, stub, uid, uid, holders, &held) : 0;
                if (r < 0)
                        return r;
                if (r > 0) {
                        state = DEVICE_BUSY;
                        blocker = BLOCKER_HOLDER;
                        reason = strjoin_printf("%s, but %s", owned_by, held);
                        goto done;
                }
                state = DEVICE_OWNED;
                ret->under_driver = f.driver && !stub;
                reason = !ret->under_driver ? strdup(owned_by)
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
        if (!stub) {
                state = DEVICE_BUSY;
                blocker = BLOCKER_HOST_DRIVER;
                reason = strjoin_printf("bound to %s: in use by the host and not owned by you", f.driver);
                goto done;
        }
        r = find_holder(ctx, name, &f, true, (uid_t) -1, uid, holders, &held);
        if (r < 0)
                return r;
        state = r > 0 ? DEVICE_BUSY : DEVICE_IDLE;
        blocker = r > 0 ? BLOCKER_HOLDER : BLOCKER_NONE;
        reason = r > 0 ? strjoin_printf("bound to %s and %s", f.driver, held)
                       : strjoin_printf("bound to %s, not open", f.driver);

done:
        if (!reason)
                return -ENOMEM;
        ret->state = state;
        ret->blocker = blocker;
        ret->reason = reason;
        ret->driver = TAKE_PTR(f.driver);
        if (state != DEVICE_OWNED)
                ret->under_driver = false;
        return 0;
}
