/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libpci glue shared by the topology (loop thread) and config access
 * (worker threads): a pci_access pointed at <sysfs-root>, whose error
 * callback never exit()s the daemon.
 *
 * libpci's error callback must not return, so ours longjmp()s to the guard
 * the calling thread set with pci_guard(); a libpci error outside a guard
 * is a bug of ours and aborts. Each thread has its own guard, as it has its
 * own pci_access (libpci's caches are not thread safe).
 */

#include <pci/pci.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

extern __thread jmp_buf *pci_guard_jmp;

/* The pattern, with setjmp() as the whole controlling expression, the one
 * place C11 (7.13.1.1) lets it stand:
 *
 *         pci_guard(&jb);
 *         if (setjmp(jb) == 0)
 *                 { libpci calls }
 *         else
 *                 { a libpci error happened }
 *         pci_unguard();
 *
 * Keep results in memory that outlives the jump (or volatile locals),
 * never in plain locals modified inside the guarded block. */
static inline void pci_guard(jmp_buf *jb) {
        pci_guard_jmp = jb;
}
static inline void pci_unguard(void) {
        pci_guard_jmp = NULL;
}

/* pci_alloc() with our callbacks and the sysfs method on <sysfs_root>;
 * not yet pci_init()ed (do that under a guard). NULL on ENOMEM. */
struct pci_access *pci_access_new(const char *sysfs_root, bool writeable);
