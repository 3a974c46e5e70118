/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl cdi's spec: the host's VFIO nodes and the JSON that describes
 * them (cdi-spec.h). */

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cdi-spec.h"
#include "pcresetctl.h"
#include "util.h"

static void dev_node_done(CdiDevNode *d) {
        d->path = mfree(d->path);
        d->host_path = mfree(d->host_path);
}

void cdi_host_done(CdiHost *h) {
        for (size_t i = 0; i < h->n_nodes; i++) {
                dev_node_done(&h->nodes[i].dev);
                strv_free(h->nodes[i].devices);
        }
        free(h->nodes);
        dev_node_done(&h->container);
        dev_node_done(&h->iommu);
        *h = (CdiHost) {};
}

/* host: where we look (symlinks followed: a test's /dev is made of them);
 * path: what the container will see. 0, -ENOTTY if it is not a character
 * device, -errno if it cannot be looked at. */
static int stat_chardev(const char *host, const char *path, CdiDevNode *ret) {
        struct stat st;

        if (stat(host, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode))
                return -ENOTTY;
        /* engines lstat() the host's path: the node itself, not a link */
        _cleanup_free_ char *p = strdup(path), *hp = realpath(host, NULL);
        if (!p || !hp)
                return p ? -errno : -ENOMEM;
        if (streq(hp, path))
                hp = mfree(hp);
        *ret = (CdiDevNode) { .path = TAKE_PTR(p), .host_path = TAKE_PTR(hp), .major = major(st.st_rdev),
                              .minor = minor(st.st_rdev) };
        return 0;
}

__attribute__((format(printf, 1, 2)))
static void warn(const char *fmt, ...) {
        va_list ap;

        fputs(PROGRAM " cdi: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* One entry of <dev>/vfio or <dev>/vfio/devices: name "12", "devices/vfio3". */
static int add_node(CdiHost *h, const char *sysfs_root, const char *dev_root, const char *name) {
        _cleanup_free_ char *host = strjoin_printf("%s/vfio/%s", dev_root, name),
                            *path = strjoin_printf("/dev/vfio/%s", name);
        CdiDevNode dev = {};
        VfioNode by_name, node;
        int r;

        if (!host || !path)
                return -ENOMEM;
        if (vfio_node_from_name(name, &by_name) < 0)
                return 0;       /* "devices", or something that is not ours */
        if (by_name.kind == VFIO_NODE_GROUP && by_name.noiommu)
                return 0;       /* no IOMMU: the hook never takes it as a proof */
        r = stat_chardev(host, path, &dev);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                warn("skipping %s: %s", host, r == -ENOTTY ? "not a character device" : strerror(-r));
                return 0;
        }

        /* by its number, as the hook will identify it in the container */
        r = vfio_node_from_devnum(sysfs_root, dev.major, dev.minor, &node);
        if (r == -ENOENT) {
                node = by_name;
                r = 0;
        }
        if (r == -ENOMEM || (r >= 0 && !vfio_node_equal(&node, &by_name))) {
                if (r >= 0)
                        warn("skipping %s: its device number %u:%u is another VFIO node in %s/dev/char", host,
                             dev.major, dev.minor, sysfs_root);
                dev_node_done(&dev);
                return r < 0 ? r : 0;
        }
        if (r < 0) {
                warn("skipping %s: device %u:%u is not a VFIO node", host, dev.major, dev.minor);
                dev_node_done(&dev);
                return 0;
        }

        char **devices = NULL;
        r = vfio_node_devices(sysfs_root, &node, &devices);
        if (r < 0 || !devices || !devices[0]) {
                strv_free(devices);
                dev_node_done(&dev);
                if (r == -ENOMEM)
                        return r;
                warn("skipping %s: no PCI function in %s behind it", host, sysfs_root);
                return 0;
        }

        CdiNode *l = reallocarray(h->nodes, h->n_nodes + 1, sizeof(CdiNode));
        if (!l) {
                strv_free(devices);
                dev_node_done(&dev);
                return -ENOMEM;
        }
        h->nodes = l;
        h->nodes[h->n_nodes++] = (CdiNode) { .node = node, .dev = dev, .devices = devices };
        return 0;
}

/* The entries of <dev>/vfio/<sub>; a missing directory has none. */
static int scan_dir(CdiHost *h, const char *sysfs_root, const char *dev_root, const char *sub) {
        _cleanup_free_ char *dir = strjoin_printf("%s/vfio%s%s", dev_root, sub ? "/" : "", sub ?: "");
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *name = sub ? strjoin_printf("%s/%s", sub, de->d_name) : strdup(de->d_name);
                if (!name)
                        return -ENOMEM;
                r = add_node(h, sysfs_root, dev_root, name);
                if (r < 0)
                        return r;
        }
        return errno ? -errno : 0;
}

static int compare_nodes(const void *a, const void *b) {
        const CdiNode *x = a, *y = b;

        if (x->node.kind != y->node.kind)
                return x->node.kind == VFIO_NODE_GROUP ? -1 : 1;
        if (x->node.kind == VFIO_NODE_GROUP)
                return (x->node.group > y->node.group) - (x->node.group < y->node.group);
        return strcmp(x->devices[0], y->devices[0]);
}

/* An optional extra node: kept when it is a character device. */
static int add_extra(const char *dev_root, const char *name, CdiDevNode *ret) {
        _cleanup_free_ char *host = strjoin_printf("%s/%s", dev_root, name), *path = strjoin_printf("/dev/%s", name);

        if (!host || !path)
                return -ENOMEM;
        int r = stat_chardev(host, path, ret);
        return r == -ENOMEM ? r : 0;
}

int cdi_scan(const char *sysfs_root, const char *dev_root, CdiHost *ret) {
        _cleanup_(cdi_host_done) CdiHost h = {};
        int r;

        r = scan_dir(&h, sysfs_root, dev_root, NULL);
        if (r >= 0)
                r = scan_dir(&h, sysfs_root, dev_root, "devices");
        if (r >= 0)
                r = add_extra(dev_root, "vfio/vfio", &h.container);
        if (r >= 0)
                r = add_extra(dev_root, "iommu", &h.iommu);
        if (r < 0)
                return r;
        if (h.n_nodes > 1)
                qsort(h.nodes, h.n_nodes, sizeof(CdiNode), compare_nodes);
        *ret = h;
        h = (CdiHost) {};
        return 0;
}

char *cdi_device_name(const CdiNode *n) {
        if (n->node.kind == VFIO_NODE_GROUP)
                return strjoin_printf("group-%ld", n->node.group);
        return strjoin_printf("pci-%s", n->devices[0]);
}

/* ---------------------------------------------------------------------- */
/* JSON */

/* Adds v (a new value: NULL when out of memory) to o; returns v, or NULL
 * after dropping it when o is NULL or the add failed. */
static json_object *add(json_object *o, const char *key, json_object *v) {
        if (o && v && json_object_object_add(o, key, v) == 0)
                return v;
        json_object_put(v);
        return NULL;
}

static json_object *append(json_object *a, json_object *v) {
        if (a && v && json_object_array_add(a, v) == 0)
                return v;
        json_object_put(v);
        return NULL;
}

/* The path only: the engine stat()s the node when it creates the container
 * (CDI fills in type and numbers it is not given). Numbers written here
 * would go stale: a group's minor is allocated when it appears, and a spec
 * naming group N could then hand a container group M, which a later group
 * got N's old number for. */
static bool add_dev_node(json_object *nodes, const CdiDevNode *d) {
        json_object *o = append(nodes, json_object_new_object());

        return add(o, "path", json_object_new_string(d->path)) &&
               (!d->host_path || add(o, "hostPath", json_object_new_string(d->host_path)));
}

/* prefix and value joined: "--node=" "/dev/vfio/12" */
static bool add_arg(json_object *args, const char *prefix, const char *value) {
        _cleanup_free_ char *s = strjoin_printf("%s%s", prefix, value ?: "");

        return s && append(args, json_object_new_string(s));
}

static bool add_hook(json_object *hooks, const char *stage, const CdiNode *n, const CdiHookConfig *cfg) {
        json_object *o = append(hooks, json_object_new_object()), *args = NULL;
        bool ok;

        ok = add(o, "hookName", json_object_new_string(stage)) && add(o, "path", json_object_new_string(cfg->path)) &&
             (args = add(o, "args", json_object_new_array()));
        ok = ok && add_arg(args, PROGRAM, NULL) && add_arg(args, "oci-hook", NULL) &&
             add_arg(args, "--node=", n->dev.path) && add_arg(args, "--scope=", cfg->scope);
        if (ok && cfg->required)
                ok = add_arg(args, "--required", NULL);
        if (ok && cfg->sysfs_root)
                ok = add_arg(args, "--sysfs-root=", cfg->sysfs_root);
        if (ok && cfg->dev_root)
                ok = add_arg(args, "--dev-root=", cfg->dev_root);
        /* a hook's environment is what the spec gives it, nothing more */
        if (ok && cfg->bus_address) {
                json_object *env = add(o, "env", json_object_new_array());
                ok = add_arg(env, "DBUS_SYSTEM_BUS_ADDRESS=", cfg->bus_address);
        }
        return ok;
}

static bool add_device(json_object *devices, const CdiHost *h, const CdiNode *n, const CdiHookConfig *cfg) {
        _cleanup_free_ char *name = cdi_device_name(n);
        json_object *d = append(devices, json_object_new_object()), *edits, *nodes = NULL, *hooks;
        /* a group is used through the container node, a cdev through iommufd */
        const CdiDevNode *extra = n->node.kind == VFIO_NODE_GROUP ? &h->container : &h->iommu;

        if (!name || !add(d, "name", json_object_new_string(name)) ||
            !(edits = add(d, "containerEdits", json_object_new_object())) ||
            !(nodes = add(edits, "deviceNodes", json_object_new_array())) || !add_dev_node(nodes, &n->dev))
                return false;
        if (extra->path && !add_dev_node(nodes, extra))
                return false;
        hooks = add(edits, "hooks", json_object_new_array());
        return add_hook(hooks, "createRuntime", n, cfg) && add_hook(hooks, "poststop", n, cfg);
}

int cdi_spec_build(const CdiHost *h, const CdiHookConfig *cfg, char **ret) {
        json_object *spec, *devices = NULL;
        bool ok;

        *ret = NULL;
        if (h->n_nodes == 0)
                return 0;
        spec = json_object_new_object();
        ok = add(spec, "cdiVersion", json_object_new_string(CDI_VERSION)) &&
             add(spec, "kind", json_object_new_string(CDI_KIND)) &&
             (devices = add(spec, "devices", json_object_new_array()));
        for (size_t i = 0; ok && i < h->n_nodes; i++)
                ok = add_device(devices, h, &h->nodes[i], cfg);
        if (ok) {
                const char *text = json_object_to_json_string_ext(
                        spec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
                *ret = text ? strjoin_printf("%s\n", text) : NULL;
        }
        if (spec)
                json_object_put(spec);
        return *ret ? 0 : -ENOMEM;
}
