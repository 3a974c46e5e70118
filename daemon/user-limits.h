/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Limits: what one uid may have the daemon do at a time ([Limits] in
 * pcresetd.conf). A reset is admitted while its uid has fewer than
 * MaxQueuedPerUser resets queued or running and, unless it is root (the
 * admin), fewer than MaxResetsPerMinute accepted in the last 60 s; a queued
 * reset waits at most MaxQueueWaitSec. Rate windows expire: a uid that made
 * no reset for a minute costs nothing. Loop thread only; never logs.
 */

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef struct Limits Limits;

/* config must outlive the Limits (a reload changes it in place). */
int limits_new(const Config *config, Limits **ret);
Limits *limits_free(Limits *l);

/* 0 if uid may queue one more reset now (n_queued: its resets queued or
 * running); -EUSERS with *ret_message (malloc'ed, for the caller) if not. */
int limits_admit(Limits *l, uid_t uid, unsigned n_queued, uint64_t now, char **ret_message);
/* Counts an accepted reset against uid's rate window. */
void limits_note_accepted(Limits *l, uid_t uid, uint64_t now);
/* A reset accepted at `when` that never ran (dropped from the queue,
 * its caller gone, refused right before it): it does not count. */
void limits_forget_accepted(Limits *l, uid_t uid, uint64_t when);
uint64_t limits_queue_wait_usec(const Limits *l);
/* uids with a live rate window (for tests: windows must expire). */
unsigned limits_n_windows(Limits *l, uint64_t now);
