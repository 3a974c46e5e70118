/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The manager: owns every part of the daemon and their life cycle. It
 * loads the config, repairs what a crash left (reset_method), scans the
 * topology and loads claims before anything can ask for a reset; connects
 * the parts (bus face, callers, decision, requests, scheduler, polkit);
 * watches uevents; leaves when idle; and on stop answers every caller
 * before the bus closes. It decides nothing itself.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>

#include "caller.h"
#include "claims.h"
#include "config.h"
#include "decision.h"
#include "handover.h"
#include "executor.h"
#include "user-limits.h"
#include "polkit.h"
#include "request.h"
#include "scanner.h"
#include "scheduler.h"
#include "tarpit.h"
#include "topology.h"

typedef struct ManagerOptions {
        const char *sysfs_root;
        const char *proc_root;
        const char *dev_root;
        const char *state_dir;
        const char *config_file;
        bool config_must_exist;
        uint64_t exit_idle_usec;   /* 0: never; else leave the bus after this long with nothing to do */
} ManagerOptions;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_bus_slot *vtable_slot;
        sd_device_monitor *monitor;

        char *sysfs_root, *proc_root, *dev_root, *state_dir;
        char *config_file;
        bool config_must_exist;
        Config config;
        Topology *topology;
        Claims *claims;
        Handover *handover;
        Scheduler *scheduler;
        Limits *limits;
        PolkitRegistry *polkit;
        Tarpit *tarpit;            /* refusals of a flooding uid, answered late */
        CallerRegistry *callers;
        RequestQueue *requests;
        ExecContext exec;
        DecisionContext decide;
        Scanner *scanner;
        OwnershipContext decide_ownership;  /* the loop's: never scans (no_scan) */
        /* Counts topology rescans that may have freed a PciDevice: what was
         * decided before one must be decided again. */
        uint64_t topology_generation;

        struct BridgeCheck *bridge_checks;  /* the start's Bridge Control checks not done yet */

        uint64_t exit_idle_usec;
        sd_event_source *idle_timer;
} Manager;

/* Loads config, repairs state left by a crash, scans the topology. */
int manager_new(sd_event *e, const ManagerOptions *o, Manager **ret);
/* SIGHUP: reads the config file again; a file that does not parse changes
 * nothing and says why. Requests already accepted keep their plans. */
int manager_reload(Manager *m);
/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured), serves
 * the object and takes the name. */
int manager_start(Manager *m);
/* Serves the object on an already connected bus, without taking a name:
 * manager_start()'s second half, also used by tests and fuzzers that bring
 * their own connection. */
int manager_serve(Manager *m, sd_bus *bus);
Manager *manager_free(Manager *m);
