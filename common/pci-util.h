/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Facts about a PCI function that every part decides the same way.
 *
 * A bridge is a function with a type 1 configuration header (header type
 * 0x0e, low 7 bits == 1): that covers PCI-to-PCI bridges (class 0x0604),
 * subtractive-decode ones (0x0609) and PCIe ports, and nothing that merely
 * claims a bridge class. The header type lies in the first 64 bytes of
 * config space, which sysfs shows to every user.
 */

#include <stdbool.h>
#include <stdint.h>

#define PCI_HEADER_TYPE_OFFSET 0x0e

static inline bool pci_header_is_bridge(uint8_t header_type) {
        return (header_type & 0x7f) == 0x01;
}

/* Reads <devdir>/config; false when it cannot be read. */
bool pci_sysfs_is_bridge(const char *devdir);
