/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "log.h"
#include "pciaccess.h"
#include "util.h"

__thread jmp_buf *pci_guard_jmp;

__attribute__((format(printf, 1, 2), noreturn))
static void error_cb(char *msg, ...) {
        va_list ap;
        va_start(ap, msg);
        log_fullv(LOG_ERR, msg, ap);
        va_end(ap);
        if (pci_guard_jmp)
                longjmp(*pci_guard_jmp, 1);
        abort();
}

__attribute__((format(printf, 1, 2)))
static void warning_cb(char *msg, ...) {
        va_list ap;
        va_start(ap, msg);
        log_fullv(LOG_DEBUG, msg, ap);
        va_end(ap);
}

__attribute__((format(printf, 1, 2)))
static void debug_cb(char *msg, ...) {
}

struct pci_access *pci_access_new(const char *sysfs_root, bool writeable) {
        _cleanup_free_ char *path = strjoin_printf("%s/bus/pci", sysfs_root);
        struct pci_access *a = path ? pci_alloc() : NULL;
        if (!a)
                return NULL;
        a->error = error_cb;
        a->warning = warning_cb;
        a->debug = debug_cb;
        a->method = PCI_ACCESS_SYS_BUS_PCI;
        a->writeable = writeable;
        /* pci_set_param copies the value */
        pci_set_param(a, "sysfs.path", path);
        return a;
}
