/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Config-space access through libpci for the executor's worker threads:
 * each PciConfig owns its own pci_access (libpci's caches are not thread
 * safe), pointed at <sysfs-root> like the topology's, with an error handler
 * that turns libpci's fatal errors into -EIO instead of exit().
 */

#include "sbr.h"

typedef struct PciConfig PciConfig;

int pci_config_new(const char *sysfs_root, PciConfig **ret);
PciConfig *pci_config_free(PciConfig *c);

/* ConfigOps over a PciConfig (the userdata); real sleeps and clock. */
extern const ConfigOps pci_config_ops;
