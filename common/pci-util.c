/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "pci-util.h"
#include "util.h"

bool pci_sysfs_is_bridge(const char *devdir) {
        _cleanup_free_ char *sec = strjoin_printf("%s/secondary_bus_number", devdir);

        return sec && access(sec, F_OK) == 0;
}
