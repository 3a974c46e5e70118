/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The bus face: org.freedesktop.pcreset1.Manager on the system bus. Decodes
 * and validates calls, asks the planner, the ownership rules and polkit,
 * hands accepted resets to the scheduler, replies when they finish, and
 * writes the audit trail. The only part of the daemon that knows D-Bus.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct ManagerOptions {
        const char *sysfs_root;
        const char *proc_root;
        const char *dev_root;
        const char *state_dir;
        const char *config_file;
        bool config_must_exist;
        uint64_t exit_idle_usec;   /* 0: never; else leave the bus after this long with nothing to do */
} ManagerOptions;

typedef struct Manager Manager;

/* Loads config, repairs state left by a crash, scans the topology. */
int manager_new(sd_event *e, const ManagerOptions *o, Manager **ret);
/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured), serves
 * the object and takes the name. */
int manager_start(Manager *m);
/* Serves the object on an already connected bus, without taking a name:
 * manager_start()'s second half, also used by tests and fuzzers that bring
 * their own connection. */
int manager_serve(Manager *m, sd_bus *bus);
Manager *manager_free(Manager *m);
