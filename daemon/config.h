/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * pcresetd.conf: an optional INI file (parsed by inih). A missing file means
 * defaults; a malformed one is an error naming the line, so an admin's typo
 * never silently changes which drivers count as stubs.
 */

#include <stdbool.h>

/* Authorizations pending at once, all callers together: together below
 * dbus-daemon's max_replies_per_connection (128 on the system bus), so
 * polkitd can always be asked by the daemon's one connection. Interactive
 * ones (a person typing a password, or an agent that never answers) have
 * their own share: they cannot crowd out the quick non-interactive ones. */
#define POLKIT_MAX_PENDING 96
#define POLKIT_MAX_PENDING_INTERACTIVE 24

typedef struct Config {
        char **stub_drivers;          /* [Ownership] StubDrivers= */
        bool require_reset_on_handover; /* [Ownership] RequireResetOnHandover= (handover.h) */
        unsigned max_queued_per_user; /* [Limits] MaxQueuedPerUser= */
        unsigned max_parallel;        /* [Limits] MaxParallelResets= */
        unsigned max_per_minute;      /* [Limits] MaxResetsPerMinute=, per uid, root exempt */
        unsigned max_wait_sec;        /* [Limits] MaxQueueWaitSec= */
        unsigned polkit_timeout_sec;  /* [Limits] PolkitTimeoutSec= */
        unsigned polkit_interactive_timeout_sec; /* [Limits] PolkitInteractiveTimeoutSec= */
        unsigned max_pending_auth_per_user;      /* [Limits] MaxPendingAuthorizationsPerUser= */
        bool use_reset_subordinate;   /* [Reset] UseResetSubordinate= */
        bool userspace_bus_reset;     /* [Reset] UserspaceBusReset= */
        unsigned ready_timeout_sec;   /* [Reset] DeviceReadyTimeoutSec= */
        bool require_same_link;       /* [Reset] RequireSameLink= */
        char ***retired;              /* stub lists replaced by reloads (workers may still read them) */
} Config;

void config_init(Config *c);
void config_done(Config *c);
/* 0 on success (also when the file does not exist and !must_exist);
 * -EINVAL with *ret_line set to the offending line for a bad file. */
int config_load(Config *c, const char *path, bool must_exist, int *ret_line, char **ret_message);
/* Takes fresh's settings (a reload, on the loop thread; fresh is left
 * empty). Worker threads read only the stub list, which is swapped
 * atomically; the old one lives until config_done(). */
int config_replace(Config *c, Config *fresh);
/* vfio-pci, pci-stub, the configured list, and any "*_vfio_pci" variant. */
bool config_is_stub_driver(const Config *c, const char *driver);
