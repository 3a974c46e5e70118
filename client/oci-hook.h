/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The parts of the oci-hook verb, around one Hook: what the runtime gave
 * (oci-input.c: the state on stdin, <bundle>/config.json, the
 * annotations), the proofs of ownership (oci-proofs.c: the container's VFIO
 * nodes, the devices each covers, the host's node opened), the targets and
 * their resets (oci-hook.c), and the report (oci-report.c). Only
 * oci-hook.c talks to the daemon, and only oci-report.c prints, so that
 * every failure is reported once, naming the container and the device.
 * Problems are kept in the Hook, Proof or Target they belong to; the
 * functions return a negative errno only for running out of memory (or, for
 * the input, for input that is not an OCI state at all).
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "details.h"
#include "pcresetctl.h"
#include "vfio-node.h"

#define ANNOTATION_DEVICES  "org.freedesktop.pcreset.devices"
#define ANNOTATION_SCOPE    "org.freedesktop.pcreset.scope"
#define ANNOTATION_REQUIRED "org.freedesktop.pcreset.required"

typedef struct Proof {
        char *container_path;   /* as config.json gives it */
        char *host_path;        /* what we opened */
        VfioNode node;          /* which group or cdev it is */
        char **devices;         /* the PCI functions it covers, sorted */
        int fd;                 /* -1: not usable, see error */
        char *error;
} Proof;

typedef enum TargetResult {
        TARGET_PENDING,
        TARGET_RESET,           /* reset by its own request */
        TARGET_ALONG,           /* reset by the request of another target */
        TARGET_SKIPPED,         /* deliberately not reset (a bridge) */
        TARGET_FAILED,
} TargetResult;

typedef struct Target {
        char address[PCI_ADDRESS_MAX];
        TargetResult result;
        sd_bus_message *reply;          /* holds the details' strings */
        ResetResult reset;              /* TARGET_RESET */
        const char *along_with;         /* TARGET_ALONG: whose reset */
        char *error, *message;          /* TARGET_FAILED, TARGET_SKIPPED */
        int exit_code;
} Target;

typedef struct Hook {
        Context *c;
        json_object *state, *config;
        const char *id, *status, *bundle;
        int64_t pid;
        uint32_t mask;
        bool required;
        bool node_missing;      /* --node names a node the container was not given */
        Proof *proofs;
        size_t n_proofs;
        Target *targets;
        size_t n_targets;
        /* a failure of the hook as a whole: no target was even tried */
        char *error, *message;
        int exit_code;
} Hook;

static inline const char *container_name(const Hook *h) {
        return h->id ?: "?";
}

/* oci-hook.c: keeps the first hook-wide failure. */
void hook_fail(Hook *h, const char *name, int exit_code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* oci-input.c */
/* Reads the state from stdin. Input that is not an OCI state is -EINVAL
 * with the reason in h->message: a usage error. */
int hook_read_state(Hook *h);
/* Reads <bundle>/config.json; a failure is also kept with hook_fail(). */
int hook_read_config(Hook *h);
/* The state's annotation key, else the bundle's; NULL if neither has it. */
const char *hook_annotation(const Hook *h, const char *key);
/* o[key] if o is an object and it has that type; NULL otherwise. */
json_object *json_get(json_object *o, const char *key, json_type type);
const char *json_get_string(json_object *o, const char *key);

/* oci-proofs.c */
/* A proof for every VFIO node in the config's linux.devices. */
int hook_find_proofs(Hook *h);
/* The usable proof that covers address, if any; else any proof that does. */
const Proof *hook_covering_proof(const Hook *h, const char *address);
/* The group of a group node, -1 for a cdev. */
long proof_group(const Proof *p);
void proof_done(Proof *p);

/* oci-report.c: failures on stderr, then the report (text or JSON) on
 * stdout. */
void hook_report(const Hook *h, int exit_code);
