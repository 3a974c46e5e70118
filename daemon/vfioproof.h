/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Ownership by proof, as VFIO's hot reset takes it: a caller passes open
 * VFIO group (/dev/vfio/N) or VFIO device cdev (/dev/vfio/devices/vfioX)
 * file descriptors, and every device such an fd covers counts as the
 * caller's for that call.
 *
 * An fd is accepted only if it really opened the node (not O_PATH: that
 * needs only search permission on /dev/vfio and proves nothing), fstat()
 * says it is a character device, and <sysfs>/dev/char/MAJ:MIN leads back
 * to a VFIO group (-> every device in <sysfs>/kernel/iommu_groups/N/devices)
 * or to a device's vfio-dev/vfioX (-> that device) - common/vfio-node.h,
 * the OCI hook's mapping too. /proc/devices is not read: the shipped unit's
 * ProcSubset=pid hides it. Anything else - a pipe, a regular file,
 * /dev/null, the VFIO container - is refused, with a message that says what
 * the fd is.
 */

/* Appends the addresses fd covers to *devices (NULL-terminated). Returns 0,
 * or -EINVAL/-errno with *ret_error (malloc'ed). */
int vfio_fd_devices(const char *sysfs_root, int fd, char ***devices, char **ret_error);
