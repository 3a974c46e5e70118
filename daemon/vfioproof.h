/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Ownership by proof, as VFIO's hot reset takes it: a caller passes open
 * VFIO group (/dev/vfio/N) or VFIO device cdev (/dev/vfio/devices/vfioX)
 * file descriptors, and every device such an fd covers counts as the
 * caller's for that call.
 *
 * An fd is accepted only if fstat() says it is a character device whose
 * major the kernel registered as "vfio" (groups) or "vfio-dev" (cdevs) in
 * <proc>/devices, and <sysfs>/dev/char/MAJ:MIN leads back to a VFIO group
 * (-> every device in <sysfs>/kernel/iommu_groups/N/devices) or to a
 * device's vfio-dev/vfioX (-> that device). Anything else - a pipe, a
 * regular file, /dev/null, the VFIO container - is refused, with a message
 * that says what the fd is.
 */

/* Appends the addresses fd covers to *devices (NULL-terminated). Returns 0,
 * or -EINVAL/-errno with *ret_error (malloc'ed). */
int vfio_fd_devices(const char *sysfs_root, const char *proc_root, int fd, char ***devices, char **ret_error);
