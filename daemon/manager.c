/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

#include "audit.h"
#include "bus.h"
#include "log.h"
#include "manager.h"
#include "pcreset1.h"
#include "reset-method.h"
#include "util.h"

/* ---- bus and device events --------------------------------------------- */

/* A caller left: nothing it asked for may still happen. */
static void on_caller_gone(const char *sender, void *userdata) {
        Manager *m = userdata;

        polkit_forget_sender(m->polkit, sender);
        if (m->tarpit) /* NULL while stopping */
                tarpit_forget_sender(m->tarpit, sender);
        if (m->scanner)
                scanner_forget_sender(m->scanner, sender);
        if (m->requests) /* NULL while stopping */
                request_queue_forget_sender(m->requests, sender);
}

static bool claim_lookup(void *userdata, const char *address, uint16_t *vendor, uint16_t *device);
static bool claim_exists(void *userdata, const char *address, uid_t uid);

/* A claim goes with its device: when a device is gone, or another one (other
 * ids) sits at its address, its claim is dropped then, not at next start. */
static void on_topology_changed(void *userdata) {
        Manager *m = userdata;
        m->topology_generation++;
        claims_prune(m->claims, claim_lookup, m);
        handover_sync(m->handover, claim_exists, m);
}

static int on_uevent(sd_device_monitor *mon, sd_device *device, void *userdata) {
        Manager *m = userdata;

        topology_invalidate(m->topology);
        int r = topology_refresh(m->topology, NULL);
        if (r < 0)
                log_warning_errno(r, "Rescanning PCI devices after a uevent failed: %m");
        else
                on_topology_changed(m);
        return 0;
}

static int setup_monitor(Manager *m) {
        int r;

        /* uevents describe the real /sys only */
        if (!streq(m->sysfs_root, "/sys"))
                return 0;
        r = sd_device_monitor_new(&m->monitor);
        if (r >= 0)
                r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "pci", NULL);
        if (r >= 0)
                r = sd_device_monitor_attach_event(m->monitor, m->event);
        if (r >= 0)
                r = sd_device_monitor_start(m->monitor, on_uevent, m);
        if (r < 0) {
                log_warning_errno(r, "No uevent monitor (%m): the device list is read at each call only");
                m->monitor = sd_device_monitor_unref(m->monitor);
        }
        return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static bool claim_lookup(void *userdata, const char *address, uint16_t *vendor, uint16_t *device) {
        Manager *m = userdata;
        PciAddress a;
        if (pci_address_parse(address, &a) < 0)
                return false;
        PciDevice *d = topology_find(m->topology, &a);
        if (!d)
                return false;
        *vendor = d->vendor_id;
        *device = d->device_id;
        return true;
}

/* A held device whose claim went (with its device, or with the claims
 * file) was let go without a reset. */
static bool claim_exists(void *userdata, const char *address, uid_t uid) {
        Manager *m = userdata;
        uid_t holder;
        return claims_get(m->claims, address, &holder) >= 0 && holder == uid;
}

/* The handover records of <state-dir>/handover, dropped when another boot
 * wrote them. Without a readable boot id they are kept: the state dir on
 * /run is emptied by a reboot anyway. */
static int handover_load(Manager *m) {
        _cleanup_free_ char *boot = NULL;
        int r = handover_read_boot_id(m->proc_root, &boot);
        if (r < 0)
                log_warning_errno(r, "Cannot read this boot's id from %s/sys/kernel/random/boot_id (%m): handover "
                                  "records are kept whatever boot wrote them", m->proc_root);
        r = handover_new(m->state_dir, boot, &m->handover);
        if (r < 0)
                return log_error_errno(r, "Cannot load handover records from %s: %m", m->state_dir);
        return 0;
}

static int check_dir(const char *what, const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return log_error_errno(-errno, "%s %s: %m", what, path);
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(-ENOTDIR, "%s %s is not a directory", what, path);
        return 0;
}

/* The start's check of every bridge for a Secondary Bus Reset left set (a
 * crash in a userspace bus reset, recorded or not): one scheduler link job
 * per bridge, queued before anything else, so a reset below a bridge waits
 * for that bridge's check (and those above it), while the daemon already
 * answers. A read of Bridge Control waits for any reset the kernel runs
 * there meanwhile (someone's VFIO reset, which since Linux 6.10 also locks
 * the bridge above): nobody's call, and no reset elsewhere, waits for it. */
typedef struct BridgeCheck {
        SchedJob job;
        Manager *m;
        char *relpath;       /* the domain: the bridge's own */
        char *bridge[2];     /* its name, for executor_repair_sbr() */
        int result;
        bool queued;
        struct BridgeCheck *next;
} BridgeCheck;

static void bridge_check_free(BridgeCheck *c) {
        for (BridgeCheck **p = &c->m->bridge_checks; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        free(c->relpath);
        free(c->bridge[0]);
        free(c);
}

static BridgeCheck *job_check(SchedJob *j) {
        return (BridgeCheck *) ((char *) j - offsetof(BridgeCheck, job));
}

static void bridge_check_run(SchedJob *j) {
        BridgeCheck *c = job_check(j);
        c->result = executor_repair_sbr(&c->m->exec, c->bridge);
}

static void bridge_check_done(SchedJob *j) {
        BridgeCheck *c = job_check(j);
        if (c->result > 0)
                audit_log(&(AuditRecord) { .event = AUDIT_REPAIRED, .device = "bridge control", .result = "ok",
                                           .detail = "Secondary Bus Reset cleared after an interrupted bus reset" });
        bridge_check_free(c);
}

static int queue_bridge_checks(Manager *m) {
        for (size_t i = 0; i < topology_count(m->topology); i++) {
                const PciDevice *d = topology_get(m->topology, i);
                if (!d->is_bridge)
                        continue;
                BridgeCheck *c = calloc(1, sizeof *c);
                if (!c)
                        return -ENOMEM;
                *c = (BridgeCheck) { .m = m, .relpath = strdup(d->relpath), .bridge = { strdup(d->name) },
                                     .next = m->bridge_checks };
                m->bridge_checks = c;
                if (!c->relpath || !c->bridge[0])
                        return -ENOMEM;
                c->job = (SchedJob) { .domain = c->relpath, .link = true, .run = bridge_check_run,
                                      .done = bridge_check_done };
        }
        /* submitted once all are built: a job may start (and end) at once */
        for (BridgeCheck *c = m->bridge_checks, *next; c; c = next) {
                next = c->next;
                c->queued = true;
                int r = scheduler_submit(m->scheduler, &c->job);
                if (r < 0) {
                        c->queued = false;
                        return r;
                }
        }
        return 0;
}

/* Stopping: the checks not started yet are dropped (the next start does
 * them); running ones finish. */
static void cancel_bridge_checks(Manager *m) {
        for (BridgeCheck *c = m->bridge_checks, *next; c; c = next) {
                next = c->next;
                if (!c->queued || scheduler_cancel(m->scheduler, &c->job) >= 0)
                        bridge_check_free(c);
        }
}

int manager_new(sd_event *e, const ManagerOptions *o, Manager **ret) {
        Manager *m = calloc(1, sizeof *m);
        int r, line;
        _cleanup_free_ char *message = NULL;

        if (!m)
                return -ENOMEM;
        *ret = m;
        m->event = sd_event_ref(e);
        m->exit_idle_usec = o->exit_idle_usec;
        config_init(&m->config);
        m->sysfs_root = strdup(o->sysfs_root);
        m->proc_root = strdup(o->proc_root);
        m->dev_root = strdup(o->dev_root);
        m->state_dir = strdup(o->state_dir);
        m->config_file = strdup(o->config_file);
        m->config_must_exist = o->config_must_exist;
        if (!m->sysfs_root || !m->proc_root || !m->dev_root || !m->state_dir || !m->config_file ||
            !m->config.stub_drivers)
                return -ENOMEM;

        r = config_load(&m->config, o->config_file, o->config_must_exist, &line, &message);
        if (r == -EINVAL)
                return log_error_errno(r, "%s:%d: %s", o->config_file, line, message);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", o->config_file);

        if ((r = check_dir("--sysfs-root", m->sysfs_root)) < 0 || (r = check_dir("--proc-root", m->proc_root)) < 0 ||
            (r = check_dir("--dev-root", m->dev_root)) < 0)
                return r;
        r = mkdir_p(m->state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create state directory %s: %m", m->state_dir);
        /* the state directory is ours alone: never one reached through a
         * symlink or writable by others (claims and repair records in it) */
        struct stat st;
        if (lstat(m->state_dir, &st) < 0)
                return log_error_errno(-errno, "Cannot check state directory %s: %m", m->state_dir);
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
                return log_error_errno(-EPERM, "State directory %s must be a real directory of uid %u that no one "
                                       "else may write to", m->state_dir, (unsigned) geteuid());

        r = claims_new(m->state_dir, &m->claims);
        if (r < 0)
                return log_error_errno(r, "Cannot load claims from %s: %m", m->state_dir);
        m->exec = (ExecContext) {
                .sysfs_root = m->sysfs_root,
                .state_dir = m->state_dir,
                .ready_timeout_usec = (uint64_t) m->config.ready_timeout_sec * USEC_PER_SEC,
                .require_same_link = m->config.require_same_link,
                .ownership = { .sysfs_root = m->sysfs_root, .dev_root = m->dev_root, .proc_root = m->proc_root, .config = &m->config,
                               .claims = m->claims },
        };

        /* before anything can ask for a reset: undo what a crash left */
        r = reset_method_repair(m->sysfs_root, m->state_dir);
        if (r < 0)
                return log_error_errno(r, "Cannot repair interrupted resets in %s: %m", m->state_dir);
        if (r > 0)
                audit_log(&(AuditRecord) { .event = AUDIT_REPAIRED, .device = "reset_method", .result = "ok",
                                           .detail = "restored after an interrupted reset" });

        r = topology_new(m->sysfs_root, &m->topology);
        if (r < 0)
                return log_error_errno(r, "Cannot enumerate PCI devices under %s: %m", m->sysfs_root);
        claims_prune(m->claims, claim_lookup, m);
        r = handover_load(m);
        if (r < 0)
                return r;
        handover_sync(m->handover, claim_exists, m);

        m->decide_ownership = m->exec.ownership;
        m->decide_ownership.no_scan = true;
        m->decide = (DecisionContext) { .topology = m->topology, .ownership = &m->decide_ownership,
                                        .config = &m->config,
                                        .topology_changed = on_topology_changed, .userdata = m };

        r = scanner_new(e, m->proc_root, m->sysfs_root, m->dev_root, &m->scanner);
        if (r >= 0)
                r = scheduler_new(e, m->config.max_parallel, &m->scheduler);
        if (r >= 0)
                r = limits_new(&m->config, &m->limits);
        if (r >= 0)
                r = request_queue_new(e, m->scheduler, m->limits, &m->decide, m->scanner, &m->exec, &m->requests);
        if (r >= 0)
                request_queue_set_handover(m->requests, m->handover);
        if (r >= 0)
                r = polkit_registry_new(&m->config, &m->polkit);
        if (r >= 0)
                r = tarpit_new(e, &m->tarpit);
        /* ...and no bus left held in reset, checked before any reset below */
        if (r >= 0)
                r = queue_bridge_checks(m);
        if (r < 0)
                return r;
        log_info("Found %zu PCI functions under %s", topology_count(m->topology), m->sysfs_root);
        return 0;
}

int manager_reload(Manager *m) {
        _cleanup_free_ char *message = NULL;
        Config fresh;
        int r, line = 0;

        config_init(&fresh);
        r = fresh.stub_drivers ? config_load(&fresh, m->config_file, m->config_must_exist, &line, &message) : -ENOMEM;
        if (r == -EINVAL)
                log_error("Not reloading: %s:%d: %s; the settings stay as they were", m->config_file, line,
                          strempty(message));
        else if (r < 0)
                log_error_errno(r, "Not reloading: cannot read %s: %m; the settings stay as they were",
                                m->config_file);
        else
                r = config_replace(&m->config, &fresh);
        config_done(&fresh);
        if (r < 0)
                return r;
        __atomic_store_n(&m->exec.ready_timeout_usec, (uint64_t) m->config.ready_timeout_sec * USEC_PER_SEC,
                         __ATOMIC_RELAXED);
        __atomic_store_n(&m->exec.require_same_link, m->config.require_same_link, __ATOMIC_RELAXED);
        scheduler_set_max_parallel(m->scheduler, m->config.max_parallel);
        log_info("Reloaded %s", m->config_file);
        return 0;
}

int manager_serve(Manager *m, sd_bus *bus) {
        int r;

        m->bus = sd_bus_ref(bus);
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        /* stopping answers every caller first (manager_free): the bus must
         * outlive the loop */
        (void) sd_bus_set_close_on_exit(m->bus, false);
        r = bus_add_manager_object(m);
        if (r < 0)
                return log_error_errno(r, "Cannot serve %s: %m", PCRESET1_OBJECT_PATH);
        r = caller_registry_new(m->bus, on_caller_gone, m, &m->callers);
        if (r < 0)
                return log_error_errno(r, "Cannot watch callers leaving the bus: %m");
        return setup_monitor(m);
}

/* Leaves when no caller is connected, nothing is queued, running, being
 * authorized or claimed, and no call came for exit_idle_usec. D-Bus
 * activation starts us again. */
static int on_idle_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_usec(), idle_since = caller_registry_last_activity(m->callers);

        if (caller_registry_count(m->callers) == 0 && request_queue_count(m->requests) == 0 &&
            polkit_n_pending(m->polkit) == 0 && tarpit_n_held(m->tarpit) == 0 && scanner_n_waiting(m->scanner) == 0 &&
            claims_count(m->claims) == 0 &&
            now - idle_since >= m->exit_idle_usec) {
                log_info("Idle for %llu s, exiting", (unsigned long long) (m->exit_idle_usec / USEC_PER_SEC));
                /* give up the name first, so new callers activate a new instance */
                (void) sd_bus_release_name(m->bus, PCRESET1_BUS_NAME);
                (void) sd_bus_flush(m->bus);
                return sd_event_exit(m->event, 0);
        }
        (void) sd_event_source_set_time_relative(s, m->exit_idle_usec / 2);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int manager_start(Manager *m) {
        /* only a reference: m->bus keeps the connection open */
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");
        /* a bus restart ends us cleanly; activation brings us back */
        (void) sd_bus_set_exit_on_disconnect(bus, true);
        r = manager_serve(m, bus);
        if (r < 0)
                return r;
        r = sd_bus_request_name(m->bus, PCRESET1_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot own %s on the system bus: %m", PCRESET1_BUS_NAME);
        log_info("Serving %s", PCRESET1_BUS_NAME);
        if (m->exit_idle_usec > 0) {
                r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->exit_idle_usec / 2, 0,
                                               on_idle_check, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up the idle exit: %m");
        }
        return 0;
}

/* While stopping, every call to the Manager is answered Cancelled: the
 * caller calls again and D-Bus activation starts a new instance. */
static int on_call_while_stopping(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        if (!sd_bus_message_is_method_call(msg, PCRESET1_MANAGER_INTERFACE, NULL))
                return 0;
        (void) sd_bus_reply_method_errorf(msg, PCRESET1_ERROR_CANCELLED,
                                          "pcresetd is stopping; nothing was done, call again");
        return 1;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Everyone is answered: callers waiting for polkit or for their
         * credentials and queued ones get Cancelled, running resets finish
         * and are answered as usual, and calls that arrive meanwhile get
         * Cancelled (the bus stays open until then). */
        if (m->bus)
                (void) sd_bus_add_filter(m->bus, NULL, on_call_while_stopping, m);
        if (m->polkit)
                polkit_cancel_pending(m->polkit, PCRESET1_ERROR_CANCELLED,
                                      "pcresetd is stopping; nothing was done, call again");
        if (m->callers)
                caller_registry_cancel_waiting(m->callers, PCRESET1_ERROR_CANCELLED,
                                               "pcresetd is stopping; nothing was done, call again");
        /* held refusals go out now, as they are */
        m->tarpit = tarpit_free(m->tarpit);
        if (m->scheduler)
                cancel_bridge_checks(m);
        m->requests = request_queue_free(m->requests);
        /* calls waiting for a scan come back, and are answered Cancelled */
        m->scanner = scanner_free(m->scanner);
        /* bounded: a caller that keeps calling must not keep us alive */
        for (uint64_t until = now_usec() + 2 * USEC_PER_SEC; m->bus && now_usec() < until;)
                if (sd_bus_process(m->bus, NULL) <= 0)
                        break;
        scheduler_free(m->scheduler);
        limits_free(m->limits);
        polkit_registry_free(m->polkit);
        caller_registry_free(m->callers);
        sd_event_source_disable_unref(m->idle_timer);
        sd_bus_slot_unref(m->vtable_slot);
        sd_device_monitor_unref(m->monitor);
        if (m->bus) {
                sd_bus_flush(m->bus);
                sd_bus_flush_close_unref(m->bus);
        }
        topology_free(m->topology);
        claims_free(m->claims);
        handover_free(m->handover);
        config_done(&m->config);
        free(m->sysfs_root);
        free(m->proc_root);
        free(m->dev_root);
        free(m->state_dir);
        free(m->config_file);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
