/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Facts about a PCI function that every part decides the same way.
 *
 * A bridge is what the kernel's pci_is_bridge() calls one: a function with
 * a type 1 (PCI-to-PCI, PCIe port) or type 2 (CardBus) configuration
 * header, whatever class it claims. The topology (so the planner), the
 * ownership rules and the OCI hook all ask pci_sysfs_is_bridge(): where
 * one part saw a bridge and another not, a reset could skip the devices
 * below it.
 */

#include <stdbool.h>

/* From sysfs, never config space: a read of <devdir>/config waits while the
 * kernel resets the function (it blocks user config access for the whole
 * reset), and whoever asks here must not stall behind someone else's
 * reset. The kernel shows secondary_bus_number exactly where
 * pci_is_bridge() holds (its existence is checked, never its content,
 * whose show() reads config). */
bool pci_sysfs_is_bridge(const char *devdir);
