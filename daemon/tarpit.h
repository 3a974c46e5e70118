/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The tarpit: refusals of a uid that floods the daemon are answered late.
 * A flood keeps calls in flight and sends the next as soon as one is
 * answered; refused at once, it spins as fast as the bus daemon, this
 * daemon and the flooder's own CPU allow, and every other caller's
 * messages queue behind it on the same two buses. Held for
 * TARPIT_DELAY_USEC, such a flood sends at most (calls in flight) /
 * TARPIT_DELAY_USEC: only the flooder waits. What is held is a refusal
 * already decided (nothing is decided again when it goes out), and only
 * refusals made before anything was asked for the uid (polkit_refuse_if_full):
 * a caller below its cap is never held.
 *
 * Bounded: TARPIT_MAX_PER_UID held for one uid, TARPIT_MAX in all; past
 * that a refusal is answered at once (the flood then spins as before, for
 * the calls it has in flight beyond those). Loop thread only.
 */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define TARPIT_DELAY_USEC (250 * USEC_PER_MSEC)
#define TARPIT_MAX_PER_UID 256
#define TARPIT_MAX 4096

typedef struct Tarpit Tarpit;

int tarpit_new(sd_event *e, Tarpit **ret);
/* Answers every refusal still held, now. */
Tarpit *tarpit_free(Tarpit *t);

/* Answers call (of uid) with error after TARPIT_DELAY_USEC. 1: held (the
 * handler returns without replying); 0: full, the handler replies now;
 * <0: out of memory. */
int tarpit_hold(Tarpit *t, sd_bus_message *call, uid_t uid, const sd_bus_error *error);
/* The caller left: its held refusals are dropped. */
void tarpit_forget_sender(Tarpit *t, const char *sender);
unsigned tarpit_n_held(const Tarpit *t);
