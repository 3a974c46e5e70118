/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Requests: the life of one accepted reset, from acceptance to reply.
 *
 *   accepted (audit ACCEPTED, counted against the caller's limits, a queue
 *   wait timer armed, handed to the scheduler)
 *     -> queued -> about to start: the decision is made again (decision.h)
 *        and must describe the same reset on the same devices, all the
 *        caller's or idle; otherwise it ends without a reset
 *     -> running (ResetStarted, the executor on a worker thread)
 *     -> answered (audit COMPLETED/FAILED, ResetCompleted, the reply).
 *   A queued request ends early, never half-done, when its caller leaves
 *   the bus (no reply), when it waited MaxQueueWaitSec (LimitsExceeded) or
 *   when the daemon stops (Cancelled). A running reset cannot be taken
 *   back: it finishes and is answered.
 * Loop thread only, except the executor's part.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "caller.h"
#include "decision.h"
#include "executor.h"
#include "handover.h"
#include "user-limits.h"
#include "scanner.h"
#include "scheduler.h"

typedef struct RequestQueue RequestQueue;

int request_queue_new(sd_event *event, Scheduler *scheduler, Limits *limits, const DecisionContext *decide,
                      Scanner *scanner, const ExecContext *exec, RequestQueue **ret);
/* Queued requests are answered Cancelled; running ones finish and are
 * answered (the bus must still be open). */
RequestQueue *request_queue_free(RequestQueue *q);

/* 0 if uid may queue one more reset now, -EUSERS with *ret_message if not. */
int request_queue_admit(RequestQueue *q, uid_t uid, char **ret_message);
/* Accepts the reset d describes for call (the reply comes when it is done);
 * proven: the devices the caller proved with fds. */
int request_queue_submit(RequestQueue *q, sd_bus_message *call, const Caller *caller, uint32_t mask, bool ex,
                         char *const *proven, const Decision *d);
/* Handover (handover.h): a reset that completed cleans every device it
 * touched, and the devices the caller owned without a claim (node, fd)
 * are marked as used by it. */
void request_queue_set_handover(RequestQueue *q, Handover *handover);
/* ClaimDeviceWithReset: as request_queue_submit(), and when the reset
 * completed on every device it touched, the target is claimed for the
 * caller before anything else runs on the loop; a reset that failed claims
 * nothing. The reply is ResetDeviceEx's, or the error why no claim. */
int request_queue_submit_claim(RequestQueue *q, sd_bus_message *call, const Caller *caller, uint32_t mask,
                               const Decision *d);
/* The caller left: its queued requests end unanswered and unrun. */
void request_queue_forget_sender(RequestQueue *q, const char *sender);
/* true while a reset that touches address runs (from its worker's start to
 * its answer): a claim must wait for it (bus.c). */
bool request_queue_resetting(const RequestQueue *q, const char *address);
unsigned request_queue_count(const RequestQueue *q);
