/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "pcreset1.h"
#include "util.h"
#include "vfio-node.h"
#include "vfioproof.h"

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

int vfio_fd_devices(const char *sysfs_root, int fd, char ***devices, char **ret_error) {
        struct statx stx;
        VfioNode node;
        int r, flags;

        *ret_error = NULL;
        /* AT_STATX_DONT_SYNC: a caller's fd on a FUSE or NFS file must not
         * make us wait for its server on the bus loop */
        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0)
                return set_errorf(ret_error, -errno, "cannot stat the passed fd: %m");
        if (!S_ISCHR(stx.stx_mode))
                return set_errorf(ret_error, -EINVAL, "the passed fd is %s, not a VFIO group or device",
                                  describe_mode(stx.stx_mode));
        /* O_PATH needs only search permission on /dev/vfio: anyone can have
         * one, of any node, while another process holds the group */
        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return set_errorf(ret_error, -errno, "cannot read the passed fd's flags: %m");
        if (flags & O_PATH)
                return set_errorf(ret_error, -EPERM, "the passed fd was opened with O_PATH, which proves nothing: "
                                  "pass an fd that really opened the VFIO group or device");

        unsigned maj = stx.stx_rdev_major, min = stx.stx_rdev_minor;
        r = vfio_node_from_devnum(sysfs_root, maj, min, &node);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_errorf(ret_error, -EINVAL, "the passed fd is character device %u:%u, %s", maj, min,
                                  r == -ENOENT ? "which sysfs does not know: not a VFIO group or device"
                                               : "not a VFIO group or device");
        r = vfio_node_devices(sysfs_root, &node, devices);
        if (r == -ENOENT && node.kind == VFIO_NODE_GROUP)
                return set_errorf(ret_error, -EINVAL, "VFIO group %ld has no devices in sysfs", node.group);
        if (r == -ENOENT)
                return set_errorf(ret_error, -EINVAL, "VFIO device %s does not lead back to a PCI device", node.cdev);
        return r;
}
