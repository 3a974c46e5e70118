/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "pcreset1.h"
#include "util.h"
#include "vfioproof.h"

__attribute__((format(printf, 3, 4)))
static int refuse(char **ret, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
        return r;
}

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

static int add_address(char ***devices, const char *addr) {
        PciAddress a;
        char buf[PCI_ADDRESS_MAX];
        if (pci_address_parse(addr, &a) < 0)
                return 0; /* not a PCI function (an mdev, say): nothing to count */
        pci_address_format(&a, buf);
        return strv_contains(*devices, buf) ? 0 : strv_extend(devices, buf);
}

int vfio_fd_devices(const char *sysfs_root, const char *proc_root, int fd, char ***devices, char **ret_error) {
        struct stat st;
        _cleanup_free_ char *kind = NULL, *link = NULL, *target = NULL;
        int r;

        *ret_error = NULL;
        if (fstat(fd, &st) < 0)
                return refuse(ret_error, -errno, "cannot fstat the passed fd: %s", strerror(errno));
        if (!S_ISCHR(st.st_mode))
                return refuse(ret_error, -EINVAL, "the passed fd is %s, not a VFIO group or device", describe_mode(st.st_mode));

        unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
        r = chrdev_name(proc_root, maj, &kind);
        if (r < 0 || !kind || (!streq(kind, "vfio") && !streq(kind, "vfio-dev")))
                return refuse(ret_error, -EINVAL, "the passed fd is character device %u:%u (%s), not a VFIO group or "
                              "device", maj, min, kind ?: "unknown major");

        link = strjoin_printf("%s/dev/char/%u:%u", sysfs_root, maj, min);
        if (!link)
                return -ENOMEM;
        r = readlink_malloc(link, &target);
        if (r < 0)
                return refuse(ret_error, -EINVAL, "the passed fd is VFIO character device %u:%u, but sysfs has no "
                              "device for it (%s)", maj, min, strerror(-r));

        /* cdev: .../dddd:bb:dd.f/vfio-dev/vfioX */
        char *vd = strstr(target, "/vfio-dev/");
        if (streq(kind, "vfio-dev")) {
                if (!vd)
                        return refuse(ret_error, -EINVAL, "VFIO device %u:%u does not lead back to a PCI device", maj, min);
                *vd = '\0';
                const char *slash = strrchr(target, '/');
                return add_address(devices, slash ? slash + 1 : target);
        }

        /* group: .../virtual/vfio/N, or noiommu-N for a group vfio made up
         * for a device without an IOMMU; the container (/dev/vfio/vfio) is a
         * misc device, not here */
        const char *slash = strrchr(target, '/');
        const char *group = slash ? slash + 1 : target;
        if (startswith(group, "noiommu-"))
                group += strlen("noiommu-");
        char *end;
        long g = strtol(group, &end, 10);
        if (*group == '\0' || *end || g < 0)
                return refuse(ret_error, -EINVAL, "VFIO node %u:%u (%s) is not a group", maj, min, group);
        _cleanup_free_ char *dir = strjoin_printf("%s/kernel/iommu_groups/%ld/devices", sysfs_root, g);
        if (!dir)
                return -ENOMEM;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return refuse(ret_error, -EINVAL, "VFIO group %ld has no devices in sysfs (%s)", g, strerror(errno));
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.' && (r = add_address(devices, de->d_name)) < 0)
                        return r;
        return 0;
}
