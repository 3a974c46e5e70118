/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>

#include "pci-util.h"
#include "util.h"

bool pci_sysfs_is_bridge(const char *devdir) {
        _cleanup_free_ char *p = strjoin_printf("%s/config", devdir);
        uint8_t ht;

        if (!p)
                return false;
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        return fd >= 0 && pread(fd, &ht, 1, PCI_HEADER_TYPE_OFFSET) == 1 && pci_header_is_bridge(ht);
}
