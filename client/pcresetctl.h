/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One run of pcresetctl: the context pcresetctl.c builds from the command
 * line, and the verbs it dispatches to. A verb gets the context with its
 * values checked (and the bus connected if the verb table says so), does
 * its one job, reports its own errors (bus.h) and returns the exit code
 * (PCRESETCTL_EXIT_*). No verb parses the command line or exits itself.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "pcreset1.h"
#include "vfio-node.h"

#define PROGRAM "pcresetctl"

typedef struct Context {
        sd_bus *bus;
        bool json;
        bool ask_password;      /* interactive polkit authentication allowed */
        bool colors;
        bool progress;          /* elapsed time while a reset is pending */
        uint64_t timeout_usec;
        uint32_t scope;
        const char *scope_arg;
        const char *timeout_arg;
        bool claim_reset;       /* claim --reset */
        /* ADDR as the daemon replies with it (canonical, lowercase, with the
         * domain) for our own output; the call passes ADDR as given, since
         * the daemon is the authority on addresses */
        char address[PCI_ADDRESS_MAX];

        /* oci-hook and cdi */
        const char *sysfs_root;
        const char *dev_root;
        bool required;          /* --required: a failed reset fails the hook */
        /* oci-hook only */
        bool allow_unproven;
        const char *node_arg;   /* --node: only what this VFIO node covers */
        VfioNode node;          /* ... parsed */
        /* cdi only */
        const char *output_dir;
        bool watch;
} Context;

/* verb-list.c */
int verb_list(Context *c, const char *address);
/* verb-info.c */
int verb_info(Context *c, const char *address);
/* verb-reset.c */
int verb_reset(Context *c, const char *address);
/* method (ResetDeviceEx, ClaimDeviceWithReset: both reply "uasa{sv}")
 * of address with c->scope: PCRESETCTL_EXIT_OK with *ret filled (its
 * strings point into *ret_reply: unref that after), or the exit status
 * after the error was reported. */
typedef struct ResetResult ResetResult;
int call_reset(Context *c, const char *method, const char *address, sd_bus_message **ret_reply, ResetResult *ret);
/* verb-claim.c */
int verb_claim(Context *c, const char *address);
int verb_release(Context *c, const char *address);
/* monitor.c */
int verb_monitor(Context *c, const char *address);
/* oci-hook.c */
int verb_oci_hook(Context *c, const char *address);
/* verb-cdi.c */
int verb_cdi(Context *c, const char *address);
