/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcresetctl oci-hook: an OCI runtime hook that resets a container's VFIO
 * devices before it runs (prestart, createRuntime) and after it stopped
 * (poststop).
 *
 * Input: the container state on stdin (id, status, pid, bundle,
 * annotations) and <bundle>/config.json. The devices: every PCI function
 * behind the container's VFIO nodes (linux.devices under /dev/vfio/: group
 * nodes /dev/vfio/N, device cdevs /dev/vfio/devices/vfioX), or, when the
 * annotation org.freedesktop.pcreset.devices lists addresses, exactly those.
 * Each is reset with ResetDeviceWithFds, passing the host's nodes of those
 * groups and cdevs, opened here, as proof that the devices are the
 * container's: the daemon counts every device they cover as owned by the
 * caller, even while bound to a host driver.
 *
 * The hook runs with the runtime's privileges (usually root, whom polkit
 * always allows), and the annotations come from whoever wrote the container
 * spec: so an address in the annotation that none of the container's nodes
 * covers is refused here, without asking the daemon, unless the
 * administrator passed --allow-unproven in the hook's configuration.
 *
 * Annotations:
 *   org.freedesktop.pcreset.devices   addresses, comma-separated
 *   org.freedesktop.pcreset.scope     a scope as --scope takes it; default
 *                                     func. "func,link": a function reset,
 *                                     or a link reset where none is possible
 *                                     (the daemon always picks the least
 *                                     invasive method inside the mask)
 *   org.freedesktop.pcreset.required  true: a failed reset fails the hook
 *                                     (and so the container's start)
 *
 * Command line (the hook's configuration: the administrator's, so it wins
 * over the annotations, which whoever wrote the container spec set):
 *   --scope=SCOPE   instead of the scope annotation
 *   --required      a failed reset fails the hook, whatever the annotation
 *   --node=PATH     only the functions the container's VFIO node PATH covers
 *                   (the devices annotation is not read): the hook of one CDI
 *                   device (pcresetctl cdi), so that a container given several
 *                   resets each once. The container must have been given
 *                   that node, or nothing is reset and the hook fails.
 *
 * Exit code: 0, unless the reset is required and a device was not reset:
 * then the exit code of the first failure's error class (as for reset).
 * Input that is not an OCI state at all is a usage error (2).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "util.h"
#include "oci-hook.h"
#include "pci-util.h"

static void hook_done(Hook *h) {
        for (size_t i = 0; i < h->n_proofs; i++)
                proof_done(&h->proofs[i]);
        free(h->proofs);
        for (size_t i = 0; i < h->n_targets; i++) {
                Target *t = &h->targets[i];
                sd_bus_message_unref(t->reply);
                reset_result_done(&t->reset);
                free(t->error);
                free(t->message);
        }
        free(h->targets);
        if (h->state)
                json_object_put(h->state);
        if (h->config)
                json_object_put(h->config);
        free(h->error);
        free(h->message);
}

void hook_fail(Hook *h, const char *name, int exit_code, const char *fmt, ...) {
        va_list ap;

        if (h->error)
                return;
        h->error = strdup(name);
        h->exit_code = exit_code;
        va_start(ap, fmt);
        set_errorv(&h->message, 0, fmt, ap);
        va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void target_fail(Target *t, const char *name, int exit_code, const char *fmt, ...) {
        va_list ap;

        t->result = TARGET_FAILED;
        free(t->error);
        t->error = strdup(name);
        t->exit_code = exit_code;
        va_start(ap, fmt);
        set_errorv(&t->message, 0, fmt, ap);
        va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* What to reset */

static Target *add_target(Hook *h, const char *address) {
        for (size_t i = 0; i < h->n_targets; i++)
                if (streq(h->targets[i].address, address))
                        return NULL;    /* listed twice: once is enough */
        Target *l = reallocarray(h->targets, h->n_targets + 1, sizeof(Target));
        if (!l)
                return NULL;
        h->targets = l;
        Target *t = &h->targets[h->n_targets++];
        *t = (Target) {};
        snprintf(t->address, sizeof t->address, "%s", address);
        return t;
}

/* The daemon's rule (common/pci-util.h): the kernel's pci_is_bridge(). */
static bool is_bridge(const Context *c, const char *address) {
        _cleanup_free_ char *devdir = strjoin_printf("%s/bus/pci/devices/%s", c->sysfs_root, address);

        return devdir && pci_sysfs_is_bridge(devdir);
}

static int find_targets(Hook *h) {
        const VfioNode *only = h->c->node_arg ? &h->c->node : NULL;
        const char *listed = only ? NULL : hook_annotation(h, ANNOTATION_DEVICES);
        bool given = false;

        if (!isempty(listed)) {
                _cleanup_free_ char *copy = strdup(listed);
                char *save = NULL;

                if (!copy)
                        return -ENOMEM;
                for (char *w = strtok_r(copy, ", \t\n", &save); w; w = strtok_r(NULL, ", \t\n", &save)) {
                        PciAddress a;
                        char name[PCI_ADDRESS_MAX];

                        if (pci_address_parse(w, &a) < 0) {
                                /* shown as given, so the spec's author finds it */
                                Target *t = add_target(h, w);
                                if (t)
                                        target_fail(t, SD_BUS_ERROR_INVALID_ARGS, PCRESETCTL_EXIT_USAGE,
                                                    "invalid PCI address in the annotation " ANNOTATION_DEVICES
                                                    ": expected DDDD:BB:DD.F or BB:DD.F in hex");
                                continue;
                        }
                        pci_address_format(&a, name);
                        add_target(h, name);
                }
                return 0;
        }

        /* everything behind the container's nodes, or behind the one --node names */
        for (size_t i = 0; i < h->n_proofs; i++) {
                if (only && !vfio_node_equal(&h->proofs[i].node, only))
                        continue;
                given = true;
                for (char **d = h->proofs[i].devices; d && *d; d++) {
                        Target *t = add_target(h, *d);
                        if (t && is_bridge(h->c, *d)) {
                                t->result = TARGET_SKIPPED;
                                set_errorf(&t->message, 0, "a bridge in IOMMU group %ld: bridges are not reset",
                                           proof_group(&h->proofs[i]));
                        }
                }
        }
        /* a CDI device's hook without the CDI device's node: the engine did
         * not apply the spec's edits, or the spec is stale */
        if (only && !given) {
                hook_fail(h, PCRESET1_ERROR_NO_SUCH_DEVICE, PCRESETCTL_EXIT_NO_SUCH_DEVICE,
                          "the container was not given the VFIO node %s (--node): nothing to reset",
                          h->c->node_arg);
                /* whatever the policy: the container would run with a
                 * device other than the one its spec's hook was for */
                h->node_missing = true;
        }
        return 0;
}

/* ---------------------------------------------------------------------- */
/* Resetting */

static void reset_target(Hook *h, Target *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = new_manager_call(h->c, "ResetDeviceWithFds", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "su", t->address, h->mask);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "h");
        for (size_t i = 0; r >= 0 && i < h->n_proofs; i++)
                if (h->proofs[i].fd >= 0)
                        r = sd_bus_message_append_basic(m, 'h', &h->proofs[i].fd);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0) {
                target_fail(t, SD_BUS_ERROR_NO_MEMORY, PCRESETCTL_EXIT_FAILURE, "cannot build the request: %s",
                            strerror(-r));
                return;
        }

        r = call_message(h->c, m, NULL, &t->reply, &error);
        if (r < 0) {
                target_fail(t, error.name ?: SD_BUS_ERROR_FAILED, exit_code_from_error(error.name), "%s",
                            error.message ?: strerror(-r));
                return;
        }

        r = read_reset_result(t->reply, &t->reset);
        if (r < 0) {
                target_fail(t, SD_BUS_ERROR_INCONSISTENT_MESSAGE, PCRESETCTL_EXIT_FAILURE,
                            "the reset ran, but its reply from pcresetd cannot be understood");
                return;
        }
        t->result = TARGET_RESET;
}

static void run_targets(Hook *h) {
        bool connected = h->c->bus != NULL;

        for (size_t i = 0; i < h->n_targets; i++) {
                Target *t = &h->targets[i];
                if (t->result != TARGET_PENDING)
                        continue;

                const Proof *p = hook_covering_proof(h, t->address);
                if (!p && !h->c->allow_unproven) {
                        target_fail(t, PCRESET1_ERROR_DEVICE_BUSY, PCRESETCTL_EXIT_BUSY,
                                    "not given to the container: none of its VFIO nodes covers it, and this hook "
                                    "resets only the container's own devices");
                        continue;
                }
                if (p && p->fd < 0) {
                        target_fail(t, SD_BUS_ERROR_FAILED, PCRESETCTL_EXIT_FAILURE, "no proof of ownership: %s",
                                    p->error ?: "unknown error");
                        continue;
                }

                if (!connected) {
                        int r = sd_bus_open_system(&h->c->bus);
                        if (r < 0) {
                                h->c->bus = NULL;
                                target_fail(t, SD_BUS_ERROR_NO_SERVER, PCRESETCTL_EXIT_NO_DAEMON,
                                            "cannot connect to the system bus: %s", strerror(-r));
                                continue;
                        }
                        connected = true;
                }
                reset_target(h, t);
                if (t->result != TARGET_RESET)
                        continue;
                /* a link reset took others of the list along */
                for (size_t k = i + 1; k < h->n_targets; k++)
                        if (h->targets[k].result == TARGET_PENDING && strv_contains(t->reset.affected, h->targets[k].address)) {
                                h->targets[k].result = TARGET_ALONG;
                                h->targets[k].along_with = t->address;
                        }
        }
}

/* ---------------------------------------------------------------------- */
/* The hook */

static int hook_run(Hook *h) {
        const char *v;
        int r, config_r;

        /* the bundle's annotations count too; a failure is kept in h->error,
         * and the state's annotations still say whether it matters */
        config_r = hook_read_config(h);

        /* required first: it decides the exit code of everything after */
        h->required = h->c->required;
        v = h->required ? NULL : hook_annotation(h, ANNOTATION_REQUIRED);
        if (v && parse_boolean(v, &h->required) < 0) {
                /* a typo in a safety switch must not turn it off */
                h->required = true;
                fprintf(stderr, PROGRAM " oci-hook: container %s: " ANNOTATION_REQUIRED "=%s is not a boolean "
                        "(true/false); taking it as true\n", container_name(h), v);
        }

        h->mask = h->c->scope_arg ? h->c->scope : PCRESET_SCOPE_FUNC;
        v = h->c->scope_arg ? NULL : hook_annotation(h, ANNOTATION_SCOPE);
        if (v && pcreset_scope_parse(v, &h->mask) < 0) {
                h->mask = 0;
                hook_fail(h, SD_BUS_ERROR_INVALID_ARGS, PCRESETCTL_EXIT_USAGE,
                          "invalid " ANNOTATION_SCOPE " '%s': use names flr,pm,device_specific,acpi,slot,bus,"
                          "cxl_bus,func,link,any or a number such as 0x27", v);
                return 0;
        }

        /* Only before the container runs or after it stopped: in between its
         * devices are in use, and the proof would let us reset them anyway. */
        if (h->status && !streq(h->status, "creating") && !streq(h->status, "created") &&
            !streq(h->status, "stopped")) {
                hook_fail(h, SD_BUS_ERROR_NOT_SUPPORTED, PCRESETCTL_EXIT_USAGE,
                          "the container is %s: the hook resets devices only before a container runs (prestart, "
                          "createRuntime) or after it stopped (poststop)", h->status);
                return 0;
        }

        if (config_r < 0)
                return 0;
        r = hook_find_proofs(h);
        if (r >= 0)
                r = find_targets(h);
        if (r < 0)
                return r;
        run_targets(h);
        return 0;
}

/* The first failure decides the exit code, if the reset is required. */
static int hook_exit_code(const Hook *h) {
        int first_failure = h->error ? h->exit_code : 0;

        for (size_t i = 0; !first_failure && i < h->n_targets; i++)
                if (h->targets[i].result == TARGET_FAILED)
                        first_failure = h->targets[i].exit_code;
        return h->required || h->node_missing ? first_failure : PCRESETCTL_EXIT_OK;
}

int verb_oci_hook(Context *c, const char *address) {
        _cleanup_(hook_done) Hook h = { .c = c };
        int r, exit_code;

        r = hook_read_state(&h);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INVALID_ARGS, h.message ?: strerror(-r), PCRESETCTL_EXIT_USAGE);
        r = hook_run(&h);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_NO_MEMORY, strerror(-r), PCRESETCTL_EXIT_FAILURE);

        exit_code = hook_exit_code(&h);
        hook_report(&h, exit_code);
        return exit_code;
}
