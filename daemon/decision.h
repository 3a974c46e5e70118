/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The decision: the ONE place that turns (caller, address, mask, proofs)
 * into what a reset would do and whether it may. GetResetInfo shows it,
 * ResetDevice acts on it, and a queued request makes it again right before
 * its reset runs, so the three can never disagree.
 *
 * A decision is, in this order:
 *  1. the inputs checked (mask, address, the device exists);
 *  2. the plan (planner.h) from the device's reset_method as the admin set
 *     it;
 *  3. every affected device's verdict (ownership.h: owned, idle, busy and
 *     why), with one /proc scan shared by the planner's quiet checks and
 *     the verdicts;
 *  4. what polkit must be asked: the action, its details (device, vendor,
 *     product, scope, mask, affected) and a phrase for messages.
 * It reads sysfs, never /proc itself (the scan it decides on is given:
 * scanner.h), never writes, never replies, and never asks polkit. Loop
 * thread only (it uses the topology).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "holders.h"
#include "util.h"
#include "executor.h"
#include "ownership.h"
#include "planner.h"
#include "topology.h"

typedef struct DecisionContext {
        Topology *topology;
        const OwnershipContext *ownership;
        const Config *config;
        void (*topology_changed)(void *userdata);  /* after a rescan that changed something */
        void *userdata;
} DecisionContext;

typedef struct DecisionInput {
        const char *address;    /* as the caller gave it */
        uint32_t mask;
        uid_t uid;
        char *const *proven;    /* devices the caller proved with VFIO fds, may be NULL */
        Holders *holders;       /* the /proc scan to decide on (scanner.h), may be NULL */
} DecisionInput;

typedef struct Decision {
        /* Refused before a plan existed (bad input, no such device, nothing
         * inside the mask): a D-Bus error name and a message. NULL: planned. */
        const char *error;
        char *message;

        PciDevice *device;
        ResetPlan plan;
        DeviceVerdict verdicts[PLAN_MAX_AFFECTED];  /* one per plan.affected */
        size_t n_verdicts;
        /* The DeviceBusy message naming every blocking device; NULL when
         * every affected device is the caller's or idle. */
        char *busy;

        /* What polkit is asked for this reset. */
        const char *action;
        char **details;         /* key, value, ..., NULL */
        char *what;             /* "reset 0000:01:00.0" */
} Decision;

/* The canonical address ("0000:01:00.0") of what the caller typed: NULL,
 * or the D-Bus error name with *ret_message (malloc'ed). */
const char *decision_parse_address(const char *address, char name[static PCI_ADDRESS_MAX], char **ret_message);
/* The device at address now: NULL with *ret, or an error name with
 * *ret_message (InvalidArgs, NoSuchDevice). */
const char *decision_find_device(const DecisionContext *ctx, const char *address, PciDevice **ret,
                                 char **ret_message);
/* decision_find_device(), and the device is the card at that address now
 * (its vendor/device ids and SR-IOV links as scanned; else a rescan): what
 * a claim is asked and recorded for. */
const char *decision_find_current_device(const DecisionContext *ctx, const char *address, PciDevice **ret,
                                         char **ret_message);

/* 0 with *ret filled (check ret->error, then ret->busy); -EAGAIN when a
 * verdict needs a /proc scan and in->holders is NULL (the caller waits for
 * one and decides again); other <0 only when out of memory. */
int decision_make(const DecisionContext *ctx, const DecisionInput *in, Decision *ret);
void decision_done(Decision *d);

/* The affected devices' addresses, NULL-terminated (NULL on ENOMEM). */
char **decision_affected(const Decision *d);
/* Whether d, made right before a queued reset runs, still describes the
 * reset that was accepted: same scope, mechanism, method and bridge, and
 * the same affected set. false with *ret_why (malloc'ed) naming what
 * changed. */
bool decision_matches(const Decision *d, const ExecRequest *accepted, char **ret_why);

/* The devices' facts (ownership.h) of one ListDevices call: each device's
 * are read at most once, when first needed, and shared by its verdict and
 * by every plan that asks whether it is quiet; freed with the call, never
 * kept longer. They, and reset_method, are read below an fd of the bridge
 * directory holding the device's (held open until the free), the full path
 * when that lookup fails; on a host with at least 4 functions per PCI
 * driver, which driver each function is bound to is read once for the
 * call from the drivers' directories (a function two of them list reads
 * its own link). Made after the call's decision_refresh(): a rescan during
 * its life is a bug (a device it does not know is then asked about on its
 * own). */
typedef struct DecisionFacts DecisionFacts;
DecisionFacts *decision_facts_new(const DecisionContext *ctx);
DecisionFacts *decision_facts_free(DecisionFacts *f);
static inline void decision_facts_freep(DecisionFacts **f) {
        decision_facts_free(*f);
}

/* For ListDevices: one device's verdict for uid, the scope bits it can be
 * reset with now and its reset_method words (NULL if none). facts: the
 * ListDevices call's (may be NULL: each question reads its own). */
int decision_describe_device(const DecisionContext *ctx, PciDevice *d, uid_t uid, Holders *holders,
                             DecisionFacts *facts, DeviceVerdict *ret_verdict, uint32_t *ret_scopes,
                             char ***ret_methods);
/* Without a uevent monitor the device list is read again (one readdir)
 * before each decision and once per ListDevices call. */
void decision_refresh(const DecisionContext *ctx);
