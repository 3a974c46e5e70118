/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oci-hook's proofs of ownership: the container's VFIO nodes, the PCI
 * functions each covers, and the host's node opened for the daemon. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "oci-hook.h"
#include "util.h"

#define DEV_VFIO "/dev/vfio/"

long proof_group(const Proof *p) {
        return p->node.kind == VFIO_NODE_GROUP ? p->node.group : -1;
}

void proof_done(Proof *p) {
        free(p->container_path);
        free(p->host_path);
        strv_free(p->devices);
        closep(&p->fd);
        free(p->error);
}

/* Which VFIO node a linux.devices entry is: by its device number where
 * sysfs knows it (the container may see the node under another name), else
 * by its path (common/vfio-node.h, the mapping the daemon's fd proof uses).
 * Returns 1 with *ret set, 0 for anything else: the container node
 * /dev/vfio/vfio, an unknown name, and a noiommu-N group, which the hook
 * has never taken as a proof. */
static int identify_node(const Context *c, const char *path, bool has_devnum, int64_t major_nr, int64_t minor_nr,
                         VfioNode *ret) {
        int r = -ENOENT;

        if (has_devnum)
                r = vfio_node_from_devnum(c->sysfs_root, (unsigned) major_nr, (unsigned) minor_nr, ret);
        if (r == -ENOENT)
                r = vfio_node_from_name(path + strlen(DEV_VFIO), ret);
        if (r == -ENOMEM)
                return r;
        return r >= 0 && !(ret->kind == VFIO_NODE_GROUP && ret->noiommu);
}

/* Opens the host's node: the proof. It must be a character device, and the
 * one the container was given. */
static void open_proof(const Context *c, Proof *p, bool has_devnum, int64_t major_nr, int64_t minor_nr) {
        struct stat st;

        if (p->node.kind == VFIO_NODE_GROUP)
                p->host_path = strjoin_printf("%s/vfio/%ld", c->dev_root, p->node.group);
        else
                p->host_path = strjoin_printf("%s/vfio/devices/%s", c->dev_root, p->node.cdev);
        if (!p->host_path) {
                p->error = strdup(strerror(ENOMEM));
                return;
        }
        /* O_RDONLY is enough: the daemon only fstat()s the fd. The container
         * does not run yet (or any more), so the group is free to open. */
        p->fd = open(p->host_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (p->fd < 0) {
                int e = errno;
                set_errorf(&p->error, 0, "cannot open %s: %s%s", p->host_path, strerror(e),
                           e == EBUSY ? " (another process has the VFIO group open)" : "");
                return;
        }
        if (fstat(p->fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
                set_errorf(&p->error, 0, "%s is not a character device", p->host_path);
                closep(&p->fd);
                p->fd = -1;
                return;
        }
        if (has_devnum && (major(st.st_rdev) != major_nr || minor(st.st_rdev) != minor_nr)) {
                set_errorf(&p->error, 0, "%s is device %u:%u, but the container was given %" PRId64 ":%" PRId64,
                           p->host_path, major(st.st_rdev), minor(st.st_rdev), major_nr, minor_nr);
                closep(&p->fd);
                p->fd = -1;
        }
}

static int add_proof(Hook *h, json_object *entry) {
        const char *path = json_get_string(entry, "path");
        json_object *maj = json_get(entry, "major", json_type_int), *min = json_get(entry, "minor", json_type_int);
        bool has_devnum = maj && min;
        int64_t major_nr = maj ? json_object_get_int64(maj) : -1, minor_nr = min ? json_object_get_int64(min) : -1;
        VfioNode node;
        int r;

        if (!path || !startswith(path, DEV_VFIO))
                return 0;
        if (has_devnum && (major_nr < 0 || major_nr > 0xfff || minor_nr < 0 || minor_nr > 0xfffff))
                has_devnum = false;
        r = identify_node(h->c, path, has_devnum, major_nr, minor_nr, &node);
        if (r <= 0)
                return r;
        /* the same node twice is one proof */
        for (size_t i = 0; i < h->n_proofs; i++)
                if (vfio_node_equal(&h->proofs[i].node, &node))
                        return 0;

        Proof *l = reallocarray(h->proofs, h->n_proofs + 1, sizeof(Proof));
        if (!l)
                return -ENOMEM;
        h->proofs = l;
        Proof *p = &h->proofs[h->n_proofs++];
        *p = (Proof) { .node = node, .fd = -1, .container_path = strdup(path) };
        if (!p->container_path)
                return -ENOMEM;

        r = vfio_node_devices(h->c->sysfs_root, &p->node, &p->devices);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !p->devices || !p->devices[0]) {
                if (p->node.kind == VFIO_NODE_GROUP)
                        return set_errorf(&p->error, 0, "IOMMU group %ld has no PCI devices in %s/kernel/iommu_groups%s%s",
                                          p->node.group, h->c->sysfs_root, r < 0 ? ": " : "",
                                          r < 0 ? strerror(-r) : "");
                return set_errorf(&p->error, 0, "no PCI device in %s/bus/pci/devices has the VFIO device %s",
                                  h->c->sysfs_root, p->node.cdev);
        }
        open_proof(h->c, p, has_devnum, major_nr, minor_nr);
        return 0;
}

int hook_find_proofs(Hook *h) {
        json_object *devices = json_get(json_get(h->config, "linux", json_type_object), "devices", json_type_array);
        int r;

        for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
                json_object *e = json_object_array_get_idx(devices, i);
                if (json_object_is_type(e, json_type_object) && (r = add_proof(h, e)) < 0)
                        return r;
        }
        return 0;
}

const Proof *hook_covering_proof(const Hook *h, const char *address) {
        const Proof *found = NULL;

        for (size_t i = 0; i < h->n_proofs; i++)
                if (strv_contains(h->proofs[i].devices, address)) {
                        if (h->proofs[i].fd >= 0)
                                return &h->proofs[i];
                        found = found ?: &h->proofs[i];
                }
        return found;
}
