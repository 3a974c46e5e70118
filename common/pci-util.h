/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Facts about a PCI function that every part decides the same way.
 *
 * A bridge is what the kernel's pci_is_bridge() calls one: a function with
 * a type 1 (PCI-to-PCI, PCIe port) or type 2 (CardBus) configuration
 * header (header type 0x0e, low 7 bits), whatever class it claims. The
 * planner (from the header type read once) and the ownership rules (from
 * sysfs) must agree: where one saw a bridge and the other not, a reset
 * could skip the devices below it.
 */

#include <stdbool.h>
#include <stdint.h>

static inline bool pci_header_is_bridge(uint8_t header_type) {
        return (header_type & 0x7f) == 0x01 || (header_type & 0x7f) == 0x02;
}

/* From sysfs, never config space: a read of <devdir>/config waits while the
 * kernel resets the function (it blocks user config access for the whole
 * reset), and whoever asks here must not stall behind someone else's
 * reset. The kernel shows secondary_bus_number exactly where
 * pci_is_bridge() holds (its existence is checked, never its content,
 * whose show() reads config). */
bool pci_sysfs_is_bridge(const char *devdir);
