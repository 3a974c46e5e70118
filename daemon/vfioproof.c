/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "pcreset1.h"
#include "util.h"
#include "vfio-node.h"
#include "vfioproof.h"

/* The name the kernel registered a character major under, from
 * <proc>/devices ("Character devices:" section). */
static int chrdev_name(const char *proc_root, unsigned major_nr, char **ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/devices", proc_root);
        if (!p)
                return -ENOMEM;
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        if (!f)
                return -errno;
        char line[256];
        bool chr = false;
        while (fgets(line, sizeof line, f)) {
                if (startswith(line, "Character devices:")) {
                        chr = true;
                        continue;
                }
                if (startswith(line, "Block devices:"))
                        break;
                unsigned n;
                char name[128];
                if (chr && sscanf(line, "%u %127s", &n, name) == 2 && n == major_nr) {
                        *ret = strdup(name);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return -ENOENT;
}

static const char *describe_mode(mode_t m) {
        if (S_ISREG(m))
                return "a regular file";
        if (S_ISFIFO(m))
                return "a pipe";
        if (S_ISSOCK(m))
                return "a socket";
        if (S_ISDIR(m))
                return "a directory";
        if (S_ISBLK(m))
                return "a block device";
        return "not a character device";
}

int vfio_fd_devices(const char *sysfs_root, const char *proc_root, int fd, char ***devices, char **ret_error) {
        struct stat st;
        _cleanup_free_ char *kind = NULL;
        VfioNode node;
        int r;

        *ret_error = NULL;
        if (fstat(fd, &st) < 0)
                return set_errorf(ret_error, -errno, "cannot fstat the passed fd: %m");
        if (!S_ISCHR(st.st_mode))
                return set_errorf(ret_error, -EINVAL, "the passed fd is %s, not a VFIO group or device",
                                  describe_mode(st.st_mode));

        unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
        r = chrdev_name(proc_root, maj, &kind);
        if (r < 0 || !kind || (!streq(kind, "vfio") && !streq(kind, "vfio-dev")))
                return set_errorf(ret_error, -EINVAL, "the passed fd is character device %u:%u (%s), not a VFIO "
                                  "group or device", maj, min, kind ?: "unknown major");

        r = vfio_node_from_devnum(sysfs_root, maj, min, &node);
        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT)
                return set_errorf(ret_error, -EINVAL, "the passed fd is VFIO character device %u:%u, but sysfs has "
                                  "no device for it", maj, min);
        if (r < 0 || (node.kind == VFIO_NODE_CDEV) != streq(kind, "vfio-dev"))
                return set_errorf(ret_error, -EINVAL, "VFIO node %u:%u is neither a group nor a PCI device's cdev",
                                  maj, min);
        r = vfio_node_devices(sysfs_root, &node, devices);
        if (r == -ENOENT && node.kind == VFIO_NODE_GROUP)
                return set_errorf(ret_error, -EINVAL, "VFIO group %ld has no devices in sysfs", node.group);
        if (r == -ENOENT)
                return set_errorf(ret_error, -EINVAL, "VFIO device %s does not lead back to a PCI device", node.cdev);
        return r;
}
