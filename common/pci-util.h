/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Facts about a PCI function that every part decides the same way.
 *
 * A bridge is a function with a type 1 configuration header (header type
 * 0x0e, low 7 bits == 1): that covers PCI-to-PCI bridges (class 0x0604),
 * subtractive-decode ones (0x0609) and PCIe ports, and nothing that merely
 * claims a bridge class.
 */

#include <stdbool.h>
#include <stdint.h>

#define PCI_CLASS_BRIDGE_CARDBUS_CODE 0x0607 /* base class and subclass */

static inline bool pci_header_is_bridge(uint8_t header_type) {
        return (header_type & 0x7f) == 0x01;
}

/* From what sysfs keeps in memory, never config space: a read of
 * <devdir>/config waits while the kernel resets the function (it blocks
 * user config access for the whole reset), and whoever asks here must
 * not stall behind someone else's reset. The kernel shows
 * secondary_bus_number for header types 1 and 2; the class tells a
 * CardBus bridge (type 2, class 0x0607) apart. False when unreadable. */
bool pci_sysfs_is_bridge(const char *devdir);
