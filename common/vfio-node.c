/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <limits.h>

#include "util.h"
#include "vfio-node.h"

/* "12" -> 12: decimal digits only, no sign, no overflow. */
static int parse_group_number(const char *s, long *ret) {
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v > INT_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_group(const char *s, VfioNode *ret) {
        bool noiommu = startswith(s, "noiommu-");
        long g;

        if (parse_group_number(noiommu ? s + strlen("noiommu-") : s, &g) < 0)
                return -EINVAL;
        *ret = (VfioNode) { .kind = VFIO_NODE_GROUP, .group = g, .noiommu = noiommu };
        return 0;
}

static int parse_cdev(const char *s, VfioNode *ret) {
        long n;

        if (!startswith(s, "vfio") || parse_group_number(s + strlen("vfio"), &n) < 0 || strlen(s) >= sizeof ret->cdev)
                return -EINVAL;
        *ret = (VfioNode) { .kind = VFIO_NODE_CDEV };
        strcpy(ret->cdev, s);
        return 0;
}

int vfio_node_from_name(const char *name, VfioNode *ret) {
        if (startswith(name, "devices/"))
                return parse_cdev(name + strlen("devices/"), ret);
        return parse_group(name, ret);
}

bool vfio_node_equal(const VfioNode *a, const VfioNode *b) {
        if (a->kind != b->kind)
                return false;
        return a->kind == VFIO_NODE_GROUP ? a->group == b->group && a->noiommu == b->noiommu : streq(a->cdev, b->cdev);
}

int vfio_node_from_devnum(const char *sysfs_root, unsigned maj, unsigned min, VfioNode *ret) {
        _cleanup_free_ char *link = strjoin_printf("%s/dev/char/%u:%u", sysfs_root, maj, min), *target = NULL;
        int r;

        if (!link)
                return -ENOMEM;
        r = readlink_malloc(link, &target);
        if (r < 0)
                return r == -ENOMEM ? r : -ENOENT;

        /* a cdev: .../dddd:bb:dd.f/vfio-dev/vfioX */
        char *vd = strstr(target, "/vfio-dev/");
        if (vd) {
                PciAddress a;
                if (parse_cdev(vd + strlen("/vfio-dev/"), ret) < 0)
                        return -EMEDIUMTYPE;
                *vd = '\0';
                const char *slash = strrchr(target, '/');
                if (pci_address_parse(slash ? slash + 1 : target, &a) < 0)
                        return -EMEDIUMTYPE;
                pci_address_format(&a, ret->device);
                return 0;
        }

        /* a group: .../virtual/vfio/N; the container is a misc device */
        char *slash = strrchr(target, '/');
        if (!slash || slash - target < 5 || strncmp(slash - 5, "/vfio", 5) != 0)
                return -EMEDIUMTYPE;
        return parse_group(slash + 1, ret) < 0 ? -EMEDIUMTYPE : 0;
}

static int add_address(char ***devices, const char *name) {
        PciAddress a;
        char buf[PCI_ADDRESS_MAX];

        if (pci_address_parse(name, &a) < 0)
                return 0; /* not a PCI function (an mdev, say): nothing to count */
        pci_address_format(&a, buf);
        return strv_contains(*devices, buf) ? 0 : strv_extend(devices, buf);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Adds the PCI functions named in dir (iommu_groups/N/devices, or
 * bus/pci/devices); with cdev, only the one that has vfio-dev/<cdev>.
 * -ENOENT when dir cannot be read or nothing matched. */
static int add_functions_in(const char *dir, const char *cdev, char ***devices) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        bool found = false;
        int r;

        if (!d)
                return -ENOENT;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                if (cdev) {
                        _cleanup_free_ char *p = strjoin_printf("%s/%s/vfio-dev/%s", dir, de->d_name, cdev);
                        if (!p)
                                return -ENOMEM;
                        if (access(p, F_OK) < 0)
                                continue;
                }
                if ((r = add_address(devices, de->d_name)) < 0)
                        return r;
                found = true;
        }
        return found || !cdev ? 0 : -ENOENT;
}

int vfio_node_devices(const char *sysfs_root, const VfioNode *n, char ***devices) {
        int r;

        if (n->device[0])
                r = add_address(devices, n->device);
        else {
                _cleanup_free_ char *dir = n->kind == VFIO_NODE_GROUP
                        ? strjoin_printf("%s/kernel/iommu_groups/%ld/devices", sysfs_root, n->group)
                        : strjoin_printf("%s/bus/pci/devices", sysfs_root);
                if (!dir)
                        return -ENOMEM;
                /* a cdev's function is found by one readdir of bus/pci/devices */
                r = add_functions_in(dir, n->kind == VFIO_NODE_CDEV ? n->cdev : NULL, devices);
        }
        if (r < 0)
                return r;
        size_t len = strv_length(*devices);
        if (len > 1)
                qsort(*devices, len, sizeof(char *), compare_strings);
        return 0;
}
