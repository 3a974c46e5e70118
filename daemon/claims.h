/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Claims: which uid a device belongs to, by ClaimDevice. Kept in
 * <state-dir>/claims, rewritten atomically on every change, so claims survive
 * a daemon restart (and, with the state dir on /run, not a reboot).
 * A claim remembers the device's vendor:device ids; a claim whose device
 * changed identity is dropped at load. Thread-safe: the executor re-checks
 * ownership from worker threads.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pcreset1.h"

typedef struct Claims Claims;

/* Loads <state_dir>/claims (missing = none). */
int claims_new(const char *state_dir, Claims **ret);
Claims *claims_free(Claims *c);

/* -ENOENT when unclaimed. */
int claims_get(Claims *c, const char *address, uid_t *ret_uid);
/* Adds or keeps (same uid); -EBUSY with *ret_holder when another uid holds it. */
int claims_add(Claims *c, const char *address, uid_t uid, uint16_t vendor, uint16_t device, uid_t *ret_holder);
int claims_remove(Claims *c, const char *address);
unsigned claims_count(Claims *c);
/* Drops claims whose device is gone or has other ids; vendor/device 0 = gone.
 * lookup returns true and fills ids when the address exists. */
void claims_prune(Claims *c, bool (*lookup)(void *userdata, const char *address, uint16_t *vendor, uint16_t *device),
                  void *userdata);
