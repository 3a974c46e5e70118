/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oci-hook's report: failures on stderr, the outcome per device as text or
 * as one JSON object on stdout. */

#include <inttypes.h>
#include <stdio.h>

#include "oci-hook.h"
#include "output.h"
#include "util.h"

static const char *const target_result_names[] = {
        [TARGET_PENDING] = "pending",
        [TARGET_RESET] = "reset",
        [TARGET_ALONG] = "reset-along",
        [TARGET_SKIPPED] = "skipped",
        [TARGET_FAILED] = "failed",
};

static json_object *proof_json(const Proof *p) {
        json_object *o = json_object_new_object();

        json_add_string(o, "path", p->container_path);
        json_add_string(o, "host_path", p->host_path);
        json_object_object_add(o, "group", proof_group(p) >= 0 ? json_object_new_int64(proof_group(p)) : NULL);
        json_add_string(o, "cdev", p->node.kind == VFIO_NODE_CDEV ? p->node.cdev : NULL);
        json_object_object_add(o, "devices", json_string_array(p->devices));
        json_object_object_add(o, "proof", json_object_new_boolean(p->fd >= 0));
        json_add_string(o, "error", p->error);
        return o;
}

static json_object *target_json(const Target *t) {
        json_object *o = json_object_new_object();

        json_add_string(o, "address", t->address);
        json_add_string(o, "result", target_result_names[t->result]);
        if (t->result == TARGET_RESET) {
                reset_result_json(o, &t->reset);
        }
        if (t->result == TARGET_ALONG)
                json_add_string(o, "along_with", t->along_with);
        if (t->result == TARGET_FAILED) {
                json_add_string(o, "error", t->error);
                json_add_int(o, "exit_code", t->exit_code);
        }
        if (t->message)
                json_add_string(o, "message", t->message);
        return o;
}

/* The mask as the annotation would say it: "func", "func,link", "flr". */
static const char *scope_name(uint32_t mask, char *buf, size_t size) {
        switch (mask) {
        case 0:
                return NULL;
        case PCRESET_SCOPE_FUNC:
                return "func";
        case PCRESET_SCOPE_LINK:
                return "link";
        case PCRESET_SCOPE_FUNC | PCRESET_SCOPE_LINK:
                return "func,link";
        default:
                return pcreset_scope_format(mask, buf, size);
        }
}

static void print_report_json(const Hook *h, int exit_code) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *nodes = json_object_new_array(), *devices = json_object_new_array();
        char scope[128];

        json_add_string(o, "container", h->id);
        json_add_string(o, "status", h->status);
        json_add_string(o, "bundle", h->bundle);
        if (h->pid > 0)
                json_add_int(o, "pid", h->pid);
        json_add_int(o, "scope", h->mask);
        json_add_string(o, "scope_name", scope_name(h->mask, scope, sizeof scope));
        json_object_object_add(o, "required", json_object_new_boolean(h->required));
        for (size_t i = 0; i < h->n_proofs; i++)
                json_object_array_add(nodes, proof_json(&h->proofs[i]));
        json_object_object_add(o, "nodes", nodes);
        for (size_t i = 0; i < h->n_targets; i++)
                json_object_array_add(devices, target_json(&h->targets[i]));
        json_object_object_add(o, "devices", devices);
        if (h->error) {
                json_add_string(o, "error", h->error);
                json_add_string(o, "message", h->message);
        }
        json_add_int(o, "exit_code", exit_code);
        print_json(o);
}

static void print_target_text(const Hook *h, const Target *t) {
        switch (t->result) {
        case TARGET_RESET:
                printf("oci-hook %s: reset %s: ", container_name(h), t->address);
                print_performed(&t->reset);
                fputs(" (", stdout);
                print_mechanism(&t->reset.details);
                puts(")");
                break;
        case TARGET_ALONG:
                printf("oci-hook %s: reset %s along with %s\n", container_name(h), t->address, t->along_with);
                break;
        case TARGET_SKIPPED:
                printf("oci-hook %s: skipped %s: ", container_name(h), t->address);
                print_text(stdout, t->message);
                putchar('\n');
                break;
        default:
                break;
        }
}

/* Failures always go to stderr, naming the container, the device and the
 * reason, whatever else is printed. */
static void print_failures(const Hook *h) {
        if (h->error) {
                fprintf(stderr, PROGRAM " oci-hook: container ");
                print_text(stderr, container_name(h));
                fputs(": ", stderr);
                print_text(stderr, h->message);
                fputs("; no device was reset\n", stderr);
        }
        for (size_t i = 0; i < h->n_targets; i++) {
                const Target *t = &h->targets[i];
                if (t->result != TARGET_FAILED)
                        continue;
                fprintf(stderr, PROGRAM " oci-hook: container ");
                print_text(stderr, container_name(h));
                fputs(": ", stderr);
                print_text(stderr, t->address);
                fputs(" not reset: ", stderr);
                print_text(stderr, t->message);
                fputc('\n', stderr);
        }
}

void hook_report(const Hook *h, int exit_code) {
        size_t n_failed = 0, n_reset = 0;

        for (size_t i = 0; i < h->n_targets; i++)
                if (h->targets[i].result == TARGET_FAILED)
                        n_failed++;
                else if (h->targets[i].result == TARGET_RESET || h->targets[i].result == TARGET_ALONG)
                        n_reset++;

        print_failures(h);
        if (h->error || n_failed > 0)
                fprintf(stderr, PROGRAM " oci-hook: container %s: %zu of %zu devices reset; the reset is %s (%s), "
                        "exit code %d\n", container_name(h), n_reset, h->n_targets,
                        h->required ? "required" : "not required", ANNOTATION_REQUIRED, exit_code);

        if (h->c->json)
                print_report_json(h, exit_code);
        else {
                for (size_t i = 0; i < h->n_targets; i++)
                        print_target_text(h, &h->targets[i]);
                if (h->n_targets == 0 && !h->error)
                        printf("oci-hook %s: nothing to reset: no VFIO devices in linux.devices and no "
                               ANNOTATION_DEVICES " annotation\n", container_name(h));
        }
        fflush(stdout);
}
