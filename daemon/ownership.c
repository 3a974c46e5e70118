/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <limits.h>
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
        _cleanup_free_ char *name = NULL;
        uid_t now;

        (void) holders_process_status(proc_root, pid, &name, &now);
        bool same = now != (uid_t) -1 && (uid == (uid_t) -1 || now == uid);
        if (name && same)
                return strjoin_printf("pid %d (%s)", (int) pid, name);
        return strjoin_printf("pid %d", (int) pid);
}

char *ownership_describe_uid(uid_t uid) {
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
                return strjoin_printf("uid %u (%s)", (unsigned) uid, res->pw_name);
        return strjoin_printf("uid %u", (unsigned) uid);
}

/* PCI-to-PCI bridges bound to the port driver (or none) only pass the reset
 * through: they do not count against the caller. */
static bool is_passthrough_bridge(const char *syspath, const char *driver) {
        return (!driver || streq(driver, "pcieport")) && pci_sysfs_is_bridge(syspath);
}

void device_facts_init(DeviceFacts *f, const char *syspath) {
        *f = (DeviceFacts) { .syspath = syspath, .dirfd = -1 };
}

void device_facts_init_at(DeviceFacts *f, int dirfd, const char *relname, const char *syspath) {
        *f = (DeviceFacts) { .syspath = syspath, .dirfd = relname ? dirfd : -1, .relname = relname };
}

int device_facts_set_driver(DeviceFacts *f, const char *driver) {
        char *copy = NULL;
        if (driver && !(copy = strdup(driver)))
                return -ENOMEM;
        free(f->driver);
        f->driver = copy;
        f->have_driver = true;
        return 0;
}

/* readlink_basename() of the device's attr, through dirfd when there is one. */
static int facts_readlink(DeviceFacts *f, const char *attr, char **ret) {
        char rel[PATH_MAX];

        if (f->dirfd >= 0 && snprintf(rel, sizeof rel, "%s/%s", f->relname, attr) < (int) sizeof rel &&
            readlinkat_basename(f->dirfd, rel, ret) >= 0)
                return 0;
        _cleanup_free_ char *p = strjoin_printf("%s/%s", f->syspath, attr);
        return p ? readlink_basename(p, ret) : -ENOMEM;
}

void device_facts_done(DeviceFacts *f) {
        free(f->driver);
        free(f->group);
        free(f->cdev);
        *f = (DeviceFacts) {};
}

/* The driver (NULL: unbound): 0, or <0 when it cannot be read. */
static int facts_driver(DeviceFacts *f, const char **ret) {
        if (!f->have_driver) {
                int r = facts_readlink(f, "driver", &f->driver);
                if (r < 0 && r != -ENOENT)
                        return r;
                f->have_driver = true;
        }
        *ret = f->driver;
        return 0;
}

/* The IOMMU group number as sysfs names it, NULL if none (or unreadable). */
static const char *facts_group(DeviceFacts *f) {
        if (!f->have_group) {
                (void) facts_readlink(f, "iommu_group", &f->group);
                f->have_group = true;
        }
        return f->group;
}

/* "vfio3" when the device has a VFIO cdev, else NULL. */
static const char *facts_cdev(DeviceFacts *f) {
        if (!f->have_cdev) {
                _cleanup_free_ char *vd = strjoin_printf("%s/vfio-dev", f->syspath);
                _cleanup_closedir_ DIR *d = vd ? opendir(vd) : NULL;
                for (struct dirent *de; d && (de = readdir(d));)
                        if (startswith(de->d_name, "vfio")) {
                                f->cdev = strdup(de->d_name);
                                break;
                        }
                f->have_cdev = true;
        }
        return f->cdev;
}

/* Who holds or claimed a device is told to root and to that uid only:
 * GetResetInfo and ListDevices need no authorization, and hidepid must not
 * be walked around through us. */
bool ownership_may_see(uid_t viewer, uid_t who) {
        return viewer == 0 || (who != (uid_t) -1 && viewer == who);
}

/* "vfio group 12 is open by pid 4711 (qemu)", as viewer may be told. */
static char *describe_holder(const OwnershipContext *ctx, const Holder *x, uid_t viewer) {
        _cleanup_free_ char *who = NULL, *what = NULL;

        if (ownership_may_see(viewer, x->uid) && !(who = describe_pid(ctx->proc_root, x->pid, x->uid)))
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

static long group_number(DeviceFacts *f) {
        const char *g = facts_group(f);
        return g ? strtol(g, NULL, 10) : -1;
}

/* The first holder of the device other than except_uid's, described for
 * viewer: 1 with *ret_text, or 0. Only a holder of a VFIO node needs the
 * device's group and cdev to be matched: without one they are not read. */
static int find_holder(const OwnershipContext *ctx, const char *name, DeviceFacts *f, bool stub_bound,
                       uid_t except_uid, uid_t viewer, Holders **holders, char **ret_text) {
        *ret_text = NULL;
        if (!*holders) {
                if (ctx->no_scan)
                        return -EAGAIN;
                int r = holders_scan(ctx->proc_root, ctx->sysfs_root, holders);
                if (r < 0)
                        return r;
        }
        bool nodes = holders_any_node(*holders);
        const Holder *x = holders_find(*holders, name, nodes ? group_number(f) : -1, nodes ? facts_cdev(f) : NULL,
                                       stub_bound, except_uid);
        if (!x)
                return 0;
        *ret_text = describe_holder(ctx, x, viewer);
        return *ret_text ? 1 : -ENOMEM;
}

/* The device's VFIO group node (<dev>/vfio/N) or cdev node
 * (<dev>/vfio/devices/vfioX), each stat()ed at most once and only when
 * asked about. */
typedef struct Node {
        bool done, exists;
        uid_t uid;
} Node;

typedef struct Nodes {
        const OwnershipContext *ctx;
        DeviceFacts *facts;
        Node group, cdev;
} Nodes;

/* 1 with the node's owner in *ret, 0 when the device has no such node (or
 * it cannot be stat()ed), -ENOMEM. */
static int node_uid(Nodes *n, bool cdev, uid_t *ret) {
        Node *x = cdev ? &n->cdev : &n->group;

        if (!x->done) {
                const char *id = cdev ? facts_cdev(n->facts) : facts_group(n->facts);
                if (id) {
                        _cleanup_free_ char *path = cdev ? strjoin_printf("%s/vfio/devices/%s", n->ctx->dev_root, id)
                                                         : strjoin_printf("%s/vfio/%s", n->ctx->dev_root, id);
                        struct stat st;
                        if (!path)
                                return -ENOMEM;
                        x->exists = stat(path, &st) == 0;
                        if (!x->exists && !cdev) {
                                /* a no-IOMMU group's node is noiommu-N
                                 * (group numbers are unique: never both) */
                                free(path);
                                path = strjoin_printf("%s/vfio/noiommu-%s", n->ctx->dev_root, id);
                                if (!path)
                                        return -ENOMEM;
                                x->exists = stat(path, &st) == 0;
                        }
                        x->uid = st.st_uid;
                }
                x->done = true;
        }
        if (x->exists)
                *ret = x->uid;
        return x->exists;
}

/* The non-root owner of either node (the group's first): 1 with *ret, or 0. */
static int nodes_owner(Nodes *n, uid_t *ret) {
        uid_t u;
        int r;

        for (int cdev = 0; cdev <= 1; cdev++) {
                r = node_uid(n, cdev, &u);
                if (r < 0)
                        return r;
                if (r > 0 && u != 0) {
                        *ret = u;
                        return 1;
                }
        }
        return 0;
}

/* The node is owned by a non-root uid that equals the caller's: 1, or 0. */
static int node_owned_by(Nodes *n, bool cdev, uid_t uid) {
        uid_t u;
        if (uid == 0)
                return 0;
        int r = node_uid(n, cdev, &u);
        return r <= 0 ? r : u == uid;
}

int ownership_node_owner(const OwnershipContext *ctx, const char *syspath, uid_t *ret) {
        _cleanup_(device_facts_done) DeviceFacts f;
        device_facts_init(&f, syspath);
        const char *driver;
        int r = facts_driver(&f, &driver);
        if (r < 0)
                return r;
        Nodes n = { .ctx = ctx, .facts = &f };
        return nodes_owner(&n, ret);
}

int ownership_device_quiet_facts(const OwnershipContext *ctx, const char *name, DeviceFacts *f, uid_t viewer,
                                 Holders **holders, bool *ret, char **why) {
        _cleanup_free_ char *held = NULL;
        const char *driver;
        int r = facts_driver(f, &driver);

        *why = NULL;
        if (r < 0)
                return r;
        if (driver && !config_is_stub_driver(ctx->config, driver)) {
                *ret = false;
                *why = strjoin_printf("bound to %s", driver);
                return 0;
        }
        r = driver ? find_holder(ctx, name, f, true, (uid_t) -1, viewer, holders, &held) : 0;
        if (r < 0)
                return r;
        *ret = r == 0;
        if (r > 0)
                *why = TAKE_PTR(held);
        return 0;
}

int ownership_device_quiet(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t viewer,
                           Holders **holders, bool *ret, char **why) {
        _cleanup_(device_facts_done) DeviceFacts f;
        device_facts_init(&f, syspath);
        return ownership_device_quiet_facts(ctx, name, &f, viewer, holders, ret, why);
}

int ownership_evaluate_facts(const OwnershipContext *ctx, const char *name, DeviceFacts *f, uid_t uid,
                             char *const *proven, Holders **holders, DeviceVerdict *ret) {
        _cleanup_free_ char *owned_by = NULL, *held = NULL, *driver_copy = NULL;
        Nodes nodes = { .ctx = ctx, .facts = f };
        DeviceBlocker blocker = BLOCKER_NONE;
        char *reason = NULL;
        const char *driver;
        DeviceState state;
        uid_t holder;
        int r;

        r = facts_driver(f, &driver);
        if (r < 0)
                return r;
        if (driver && !(driver_copy = strdup(driver)))
                return -ENOMEM;
        bool stub = driver && config_is_stub_driver(ctx->config, driver);

        /* owned? A claim counts only while no other user's VFIO node says
         * otherwise: an admin who gave the node to someone after the claim
         * was made gave them the device */
        uid_t node_owner = 0;
        bool claimed = claims_get(ctx->claims, name, &holder) >= 0, other_node = false;
        if (claimed) {
                r = nodes_owner(&nodes, &node_owner);
                if (r < 0)
                        return r;
                other_node = r > 0;
        }
        if (claimed && !(other_node && node_owner != holder)) {
                if (holder == uid)
                        owned_by = strdup("claimed by you");
                else {
                        _cleanup_free_ char *who = ownership_may_see(uid, holder) ? ownership_describe_uid(holder) : NULL;
                        reason = strjoin_printf("claimed by %s", who ?: "another user");
                        state = DEVICE_BUSY;
                        blocker = BLOCKER_CLAIM;
                        goto done;
                }
        } else if (strv_contains(proven, name))
                owned_by = strdup("yours by the VFIO fd you passed");
        else if ((r = node_owned_by(&nodes, false, uid)) != 0) {
                if (r < 0)
                        return r;
                owned_by = strjoin_printf("vfio group %s belongs to you", facts_group(f));
        } else if ((r = node_owned_by(&nodes, true, uid)) != 0) {
                if (r < 0)
                        return r;
                owned_by = strjoin_printf("vfio device %s belongs to you", facts_cdev(f));
        }

        /* A user owns a device only while no host driver has it: a claim
         * made while it was idle, or a group node whose group also holds a
         * host-bound function, must not make the host's device the user's
         * (VFIO's hot reset wants every affected device on vfio too). Root,
         * the admin, may reset a device under its host driver. */
        if (owned_by && uid != 0 && driver && !stub) {
                state = DEVICE_BUSY;
                blocker = BLOCKER_HOST_DRIVER;
                reason = strjoin_printf("%s, but bound to %s: in use by the host; a user's claim, node or fd "
                                        "covers a device only while no host driver has it", owned_by, driver);
                goto done;
        }
        if (owned_by) {
                /* ...unless someone else holds it: owning never takes a device away */
                r = driver ? find_holder(ctx, name, f, stub, uid, uid, holders, &held) : 0;
                if (r < 0)
                        return r;
                if (r > 0) {
                        state = DEVICE_BUSY;
                        blocker = BLOCKER_HOLDER;
                        reason = strjoin_printf("%s, but %s", owned_by, held);
                        goto done;
                }
                state = DEVICE_OWNED;
                ret->under_driver = driver && !stub;
                reason = !ret->under_driver ? strdup(owned_by)
                        : strjoin_printf("%s; the reset runs under its host driver %s", owned_by, driver);
                goto done;
        }

        /* idle or busy */
        if (is_passthrough_bridge(f->syspath, driver)) {
                state = DEVICE_IDLE;
                reason = strjoin_printf("bridge%s%s%s: passed through, its config is kept", driver ? " (" : "",
                                        strempty(driver), driver ? ")" : "");
                goto done;
        }
        if (!driver) {
                state = DEVICE_IDLE;
                reason = strdup("no driver bound");
                goto done;
        }
        if (!stub) {
                state = DEVICE_BUSY;
                blocker = BLOCKER_HOST_DRIVER;
                reason = strjoin_printf("bound to %s: in use by the host and not owned by you", driver);
                goto done;
        }
        r = find_holder(ctx, name, f, true, (uid_t) -1, uid, holders, &held);
        if (r < 0)
                return r;
        state = r > 0 ? DEVICE_BUSY : DEVICE_IDLE;
        blocker = r > 0 ? BLOCKER_HOLDER : BLOCKER_NONE;
        reason = r > 0 ? strjoin_printf("bound to %s and %s", driver, held)
                       : strjoin_printf("bound to %s, not open", driver);

done:
        if (!reason)
                return -ENOMEM;
        ret->state = state;
        ret->blocker = blocker;
        ret->reason = reason;
        ret->driver = TAKE_PTR(driver_copy);
        if (state != DEVICE_OWNED)
                ret->under_driver = false;
        return 0;
}

int ownership_evaluate(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t uid,
                       char *const *proven, Holders **holders, DeviceVerdict *ret) {
        _cleanup_(device_facts_done) DeviceFacts f;
        device_facts_init(&f, syspath);
        return ownership_evaluate_facts(ctx, name, &f, uid, proven, holders, ret);
}
