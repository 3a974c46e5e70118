/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Handover: who had a device last, and whether a reset completed since.
 * One record per address, of the card there (vendor:device ids): a record
 * of other ids is another card's and leaves this one clean.
 *   clean  no record: never owned since boot, or reset since its owner
 *          let go;
 *   held   a claim of uid holds it (ClaimDevice);
 *   dirty  uid let go (ReleaseDevice, its claim dropped), or used it as a
 *          VFIO node owner or fd prover (the daemon cannot see such an
 *          owner let go: it counts as gone once its reset is done), and no
 *          reset completed since.
 * Only a reset that completed on this card, on every device it touched,
 * makes a dirty device clean; a held one stays held. Another uid must not
 * take a held or dirty device over without a reset (bus.c decides, under
 * [Ownership] RequireResetOnHandover=); the same uid may.
 * Kept in <state-dir>/handover, rewritten atomically on every change and
 * read strictly (statefile.h), at most HANDOVER_MAX records; the file
 * names the boot it was written in (/proc/sys/kernel/random/boot_id), and
 * another boot's records are dropped at load ("unknown", as under the
 * unit's ProcSubset=pid, is kept: the state dir is in /run). A change that cannot be
 * saved is not made. Loop thread only.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HANDOVER_MAX 4096u
/* A record's uid when more than one user had the card since its last reset
 * ("*" in the file): nobody takes it over without a reset. */
#define HANDOVER_UID_SEVERAL ((uid_t) -1)

typedef enum HandoverState {
        HANDOVER_CLEAN,
        HANDOVER_HELD,
        HANDOVER_DIRTY,
} HandoverState;

const char *handover_state_to_string(HandoverState s);

typedef struct Handover Handover;

/* boot_id: this boot's, or NULL when unknown (records are then kept
 * whatever boot wrote them). */
int handover_new(const char *state_dir, const char *boot_id, Handover **ret);
Handover *handover_free(Handover *h);

/* The card's state, and with it the uid of its last owner. */
HandoverState handover_get(const Handover *h, const char *address, uint16_t vendor, uint16_t device,
                           uid_t *ret_uid);
/* 0 when uid may take the card over without a reset (clean, or its own),
 * -EPERM with *ret_owner otherwise. */
int handover_check(const Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid,
                   uid_t *ret_owner);

/* A claim of uid was granted: held by uid (replacing any record). */
int handover_hold(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid);
/* uid's claim of the card ended: dirty by uid (by several if another uid
 * used it too), whatever the record said before. */
int handover_release(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid);
/* Where the records stand now: taken when a reset begins, for
 * handover_reset_done(). */
uint64_t handover_mark(const Handover *h);
/* A reset that began at mark since completed on the card: dirty becomes
 * clean, unless the record was set after since (a user let go of the card
 * while the reset ran: what it did meanwhile was not reset). */
int handover_reset_done(Handover *h, const char *address, uint16_t vendor, uint16_t device, uint64_t since);
/* uid used the card without a claim (node owner, fd prover): dirty by
 * uid; a card held by a claim stays held (by several if not uid's). */
int handover_used(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid);
/* Every held record whose claim is gone (claimed(address, uid) false)
 * becomes dirty: a claim dropped with its device, or lost with the claims
 * file. */
void handover_sync(Handover *h, bool (*claimed)(void *userdata, const char *address, uid_t uid), void *userdata);
unsigned handover_count(const Handover *h);

/* For a person: "dirty since uid 4101 (alice) released it; ...", NULL when
 * clean. Who had it is told to root and to that uid only. */
char *handover_describe(const Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t viewer,
                        HandoverState *ret_state);

/* This boot's id from <proc_root>/sys/kernel/random/boot_id: 0 with *ret
 * (36 characters, lowercase), or <0 when it cannot be read or is not one. */
int handover_read_boot_id(const char *proc_root, char **ret);
