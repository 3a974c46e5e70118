/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The polkit text agent: pkttyagent, started for pcresetctl's own process
 * so that polkit can ask for a password on the terminal. The agent
 * registers for this process alone, dies with it, and what it prints goes
 * to stderr, never into the JSON on stdout. Nothing here talks to pcresetd.
 */

#include <stdbool.h>
#include <sys/types.h>

#define PKTTYAGENT_PATH "/usr/bin/pkttyagent"

/* Starts pkttyagent as a fallback polkit agent for this very process and
 * waits (bounded) until it has registered, so that the method call that
 * follows can be authenticated on the terminal. *ret_pid is 0 when no agent
 * was started (not installed); that is not an error: polkit then answers
 * without asking and the daemon reports it. Returns 0 or a negative errno. */
int tty_agent_start(pid_t *ret_pid);

/* Terminates and reaps the agent; a no-op for pid 0. */
void tty_agent_stop(pid_t *pid);

/* True while the terminal has echo turned off, i.e. while the agent is
 * reading a password: nothing else may write to the terminal then. */
bool tty_agent_prompting(void);
