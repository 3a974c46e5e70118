/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "pci-util.h"
#include "util.h"

bool pci_sysfs_is_bridge(const char *devdir) {
        _cleanup_free_ char *sec = strjoin_printf("%s/secondary_bus_number", devdir),
                            *cpath = strjoin_printf("%s/class", devdir), *cls = NULL;

        if (!sec || !cpath || access(sec, F_OK) < 0 || read_one_line_file(cpath, &cls) < 0)
                return false;
        return (strtoul(cls, NULL, 16) >> 8) != PCI_CLASS_BRIDGE_CARDBUS_CODE;
}
