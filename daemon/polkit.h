/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Asynchronous polkit authorization over sd-bus.
 *
 * A method handler asks polkit_check(); when polkit must be asked, the call
 * goes out asynchronously, the handler returns without replying, and when
 * polkit answers the original message is put back into the bus's read
 * queue: the handler runs again from the top (re-validating everything,
 * since the world may have changed) and its polkit_take() at the start
 * picks up the answer. The loop never waits for polkitd.
 *
 * An answer is bound to what it authorized: polkit_check() uses it only
 * if the handler asks the same action with the same details (rules decide
 * on scope and affected); a different question is asked anew.
 *
 * Subjects are system-bus-name subjects of the caller; uid 0 is authorized
 * without asking (polkit would say yes anyway). Details are given by the
 * daemon only.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "config.h"

typedef struct PolkitRegistry PolkitRegistry;

/* What a handler decided before it asked, kept with the question and given
 * back with the answer, so the second run need not decide again. */
typedef struct PolkitKeep {
        void *data;
        void (*free)(void *data);
} PolkitKeep;

typedef struct PolkitAnswer {
        bool have;          /* an answer for this message was waiting */
        bool authorized;
        bool challenge;     /* polkit wants interactive authentication */
        char *error_name;   /* the check itself failed (polkitd gone, ...) */
        char *error_message;
        char *action;       /* the question it answers */
        char **details;
        PolkitKeep kept;    /* what the handler kept with its question */
} PolkitAnswer;

void polkit_answer_done(PolkitAnswer *a);

/* config (PolkitTimeoutSec, PolkitInteractiveTimeoutSec,
 * MaxPendingAuthorizationsPerUser) is read at each check, so a reload
 * applies: how long polkitd may take before the caller gets an error (a
 * hung polkitd must not hang callers), and how many questions one uid may
 * have pending (LimitsExceeded past that, and past POLKIT_MAX_PENDING for
 * everyone together). */
int polkit_registry_new(const Config *config, PolkitRegistry **ret);
PolkitRegistry *polkit_registry_free(PolkitRegistry *r);

/* Removes and returns the answer waiting for this message, if any. Call it
 * first thing in a handler that may authorize, so no answer is left behind. */
void polkit_take(PolkitRegistry *r, sd_bus_message *call, PolkitAnswer *ret);
/* Gives a taken answer back for the handler's next run, when the call must
 * first wait for something else (a scan). *answer is emptied. */
int polkit_put_back(PolkitRegistry *r, sd_bus_message *call, uid_t uid, PolkitAnswer *answer);

/* 1: authorized; 0: asked, the handler runs again with the answer;
 * <0: refused or failed, with *error set (AccessDenied,
 * InteractiveAuthorizationRequired). details: NULL-terminated key, value
 * pairs. what: "reset 0000:01:00.0", for messages. */
/* uid: the caller's, as the bus daemon vouched for it. keep (may be NULL):
 * taken over when polkit is asked (0), returned in the answer's kept. */
int polkit_check(PolkitRegistry *r, sd_bus_message *call, uid_t uid, const char *action, char *const *details,
                 const char *what, PolkitAnswer *answer, PolkitKeep *keep, sd_bus_error *error);

/* <0 with *error (LimitsExceeded) if a question of uid's would be refused
 * now for the caps above: a handler asks it before deciding anything, so a
 * flood of calls costs little. 0 otherwise (always for root). what: as for
 * polkit_check(). */
int polkit_refuse_if_full(const PolkitRegistry *reg, sd_bus_message *call, uid_t uid, const char *what,
                          sd_bus_error *error);

/* The daemon stops: every caller still waiting for polkit gets error_name
 * (Cancelled) with message. */
void polkit_cancel_pending(PolkitRegistry *r, const char *error_name, const char *message);
/* The caller left the bus: its pending checks are dropped unanswered. */
void polkit_forget_sender(PolkitRegistry *r, const char *sender);
unsigned polkit_n_pending(const PolkitRegistry *r);
