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
 * Exit code: 0, unless the reset is required and a device was not reset:
 * then the exit code of the first failure's error class (as for reset).
 * Input that is not an OCI state at all is a usage error (2).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bus.h"
#include "client-util.h"
#include "details.h"
#include "output.h"
#include "pci-util.h"
#include "vfio-node.h"

#define ANNOTATION_DEVICES  "org.freedesktop.pcreset.devices"
#define ANNOTATION_SCOPE    "org.freedesktop.pcreset.scope"
#define ANNOTATION_REQUIRED "org.freedesktop.pcreset.required"

#define STATE_MAX  ((size_t) 1 << 20)   /* the state is a few hundred bytes */
#define CONFIG_MAX ((size_t) 16 << 20)  /* config.json: kilobytes, seldom more */

#define DEV_VFIO "/dev/vfio/"

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

static const char *const target_result_names[] = {
        [TARGET_PENDING] = "pending",
        [TARGET_RESET] = "reset",
        [TARGET_ALONG] = "reset-along",
        [TARGET_SKIPPED] = "skipped",
        [TARGET_FAILED] = "failed",
};

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
        Proof *proofs;
        size_t n_proofs;
        Target *targets;
        size_t n_targets;
        /* a failure of the hook as a whole: no target was even tried */
        char *error, *message;
        int exit_code;
} Hook;

static void hook_done(Hook *h) {
        for (size_t i = 0; i < h->n_proofs; i++) {
                Proof *p = &h->proofs[i];
                free(p->container_path);
                free(p->host_path);
                strv_free(p->devices);
                closep(&p->fd);
                free(p->error);
        }
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

/* Keeps the first hook-wide failure. */
__attribute__((format(printf, 4, 5)))
static void hook_fail(Hook *h, const char *name, int exit_code, const char *fmt, ...) {
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
/* Input */

/* Reads fd to the end, at most max bytes; NUL-terminated. */
static int read_all(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                if (allocated - size < 4096) {
                        size_t want = allocated ? allocated * 2 : 16384;
                        char *b = realloc(buf, want + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = want;
                }
                ssize_t n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = '\0';
        *ret = buf;
        buf = NULL;
        *ret_size = size;
        return 0;
}

/* Parses text as one JSON object (nothing after it but white space). */
static json_object *parse_json_object(const char *text, size_t size, const char **ret_error) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (!tok || !text) {
                if (tok)
                        json_tokener_free(tok);
                *ret_error = strerror(ENOMEM);
                return NULL;
        }
        if (memchr(text, '\0', size)) {
                json_tokener_free(tok);
                *ret_error = "it contains a NUL byte";
                return NULL;
        }
        o = json_tokener_parse_ex(tok, text, (int) size);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || e != json_tokener_success) {
                /* json_tokener_continue: the text ended inside a value */
                *ret_error = e == json_tokener_continue ? "it ends in the middle of a JSON value"
                                                        : json_tokener_error_desc(e);
                if (o)
                        json_object_put(o);
                return NULL;
        }
        for (size_t i = used; i < size; i++)
                if (!strchr(" \t\r\n", text[i])) {
                        json_object_put(o);
                        *ret_error = "there is more after the JSON value";
                        return NULL;
                }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                *ret_error = "it is not a JSON object";
                return NULL;
        }
        return o;
}

static const char *json_get_string(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *json_get(json_object *o, const char *key, json_type type) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

/* The state's annotations first (what the runtime says now), then the
 * bundle's. */
static const char *annotation(const Hook *h, const char *key) {
        const char *v = json_get_string(json_get(h->state, "annotations", json_type_object), key);

        return v ?: json_get_string(json_get(h->config, "annotations", json_type_object), key);
}

/* Bad input is a usage error: the runtime (or whoever ran us) did not give
 * us an OCI state. Keeps the message in h->message; returns -EINVAL. */
__attribute__((format(printf, 2, 3)))
static int usage_fail(Hook *h, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        set_errorv(&h->message, -EINVAL, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int read_state(Hook *h) {
        _cleanup_free_ char *text = NULL;
        const char *why = NULL;
        size_t size = 0;
        int r;

        r = read_all(STDIN_FILENO, STATE_MAX, &text, &size);
        if (r < 0)
                return usage_fail(h, "cannot read the container state from stdin: %s",
                                  r == -EFBIG ? "it is larger than 1 MiB" : strerror(-r));
        h->state = parse_json_object(text, size, &why);
        if (!h->state)
                return usage_fail(h, "stdin is not an OCI container state: %s", why);
        h->id = json_get_string(h->state, "id");
        h->bundle = json_get_string(h->state, "bundle");
        h->status = json_get_string(h->state, "status");
        json_object *pid = json_get(h->state, "pid", json_type_int);
        h->pid = pid ? json_object_get_int64(pid) : 0;
        if (isempty(h->id) || isempty(h->bundle))
                return usage_fail(h, "stdin is not an OCI container state: it has no %s",
                                  isempty(h->id) ? "\"id\"" : "\"bundle\"");
        if (h->bundle[0] != '/')
                return usage_fail(h, "the container state's bundle '%s' is not an absolute path", h->bundle);
        return 0;
}

static int read_config(Hook *h) {
        _cleanup_free_ char *path = strjoin_printf("%s/config.json", h->bundle), *text = NULL;
        _cleanup_close_ int fd = -1;
        const char *why = NULL;
        size_t size = 0;
        int r;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                hook_fail(h, SD_BUS_ERROR_FILE_NOT_FOUND, PCRESETCTL_EXIT_FAILURE, "cannot open %s: %s", path,
                          strerror(-r));
                return r;
        }
        r = read_all(fd, CONFIG_MAX, &text, &size);
        if (r < 0) {
                hook_fail(h, SD_BUS_ERROR_IO_ERROR, PCRESETCTL_EXIT_FAILURE, "cannot read %s: %s", path,
                          r == -EFBIG ? "it is larger than 16 MiB" : strerror(-r));
                return r;
        }
        h->config = parse_json_object(text, size, &why);
        if (!h->config) {
                hook_fail(h, SD_BUS_ERROR_INVALID_ARGS, PCRESETCTL_EXIT_FAILURE,
                          "%s is not an OCI runtime configuration: %s", path, why);
                return -EINVAL;
        }
        return 0;
}

/* ---------------------------------------------------------------------- */
/* The container's VFIO nodes */

/* The group of a group node, -1 for a cdev. */
static long proof_group(const Proof *p) {
        return p->node.kind == VFIO_NODE_GROUP ? p->node.group : -1;
}

static bool same_node(const VfioNode *a, const VfioNode *b) {
        if (a->kind != b->kind)
                return false;
        return a->kind == VFIO_NODE_GROUP ? a->group == b->group && a->noiommu == b->noiommu : streq(a->cdev, b->cdev);
}

/* Which VFIO node a linux.devices entry is: by its device number where
 * sysfs knows it (the container may see the node under another name), else
 * by its path (common/vfio-node.h, the mapping the daemon's fd proof uses).
 * Returns 1 with *ret set, 0 for anything else: the container node
 * /dev/vfio/vfio, an unknown name, and a noiommu group, which has no IOMMU
 * to isolate it and so proves nothing. */
static int identify_node(const Context *c, const char *path, bool has_devnum, int64_t major_nr, int64_t minor_nr,
                         VfioNode *ret) {
        int r = -ENOENT;

        if (has_devnum)
                r = vfio_node_from_devnum(c->sysfs_root, (unsigned) major_nr, (unsigned) minor_nr, ret);
        if (r == -ENOENT)
                r = vfio_node_from_name(path + strlen(DEV_VFIO), ret);
        if (r == -ENOMEM)
                return r;
        return r >= 0 && !(ret->kind == VFIO_NODE_GROUP && ret->noiommu);
}

/* Opens the host's node: the proof. It must be a character device, and the
 * one the container was given. */
static void open_proof(const Context *c, Proof *p, bool has_devnum, int64_t major_nr, int64_t minor_nr) {
        struct stat st;

        if (p->node.kind == VFIO_NODE_GROUP)
                p->host_path = strjoin_printf("%s/vfio/%ld", c->dev_root, p->node.group);
        else
                p->host_path = strjoin_printf("%s/vfio/devices/%s", c->dev_root, p->node.cdev);
        if (!p->host_path) {
                p->error = strdup(strerror(ENOMEM));
                return;
        }
        /* O_RDONLY is enough: the daemon only fstat()s the fd. The container
         * does not run yet (or any more), so the group is free to open. */
        p->fd = open(p->host_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (p->fd < 0) {
                int e = errno;
                set_errorf(&p->error, 0, "cannot open %s: %s%s", p->host_path, strerror(e),
                           e == EBUSY ? " (another process has the VFIO group open)" : "");
                return;
        }
        if (fstat(p->fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
                set_errorf(&p->error, 0, "%s is not a character device", p->host_path);
                closep(&p->fd);
                p->fd = -1;
                return;
        }
        if (has_devnum && (major(st.st_rdev) != major_nr || minor(st.st_rdev) != minor_nr)) {
                set_errorf(&p->error, 0, "%s is device %u:%u, but the container was given %" PRId64 ":%" PRId64,
                           p->host_path, major(st.st_rdev), minor(st.st_rdev), major_nr, minor_nr);
                closep(&p->fd);
                p->fd = -1;
        }
}

static int add_proof(Hook *h, json_object *entry) {
        const char *path = json_get_string(entry, "path");
        json_object *maj = json_get(entry, "major", json_type_int), *min = json_get(entry, "minor", json_type_int);
        bool has_devnum = maj && min;
        int64_t major_nr = maj ? json_object_get_int64(maj) : -1, minor_nr = min ? json_object_get_int64(min) : -1;
        VfioNode node;
        int r;

        if (!path || !startswith(path, DEV_VFIO))
                return 0;
        if (has_devnum && (major_nr < 0 || major_nr > 0xfff || minor_nr < 0 || minor_nr > 0xfffff))
                has_devnum = false;
        r = identify_node(h->c, path, has_devnum, major_nr, minor_nr, &node);
        if (r <= 0)
                return r;
        /* the same node twice is one proof */
        for (size_t i = 0; i < h->n_proofs; i++)
                if (same_node(&h->proofs[i].node, &node))
                        return 0;

        Proof *l = reallocarray(h->proofs, h->n_proofs + 1, sizeof(Proof));
        if (!l)
                return -ENOMEM;
        h->proofs = l;
        Proof *p = &h->proofs[h->n_proofs++];
        *p = (Proof) { .node = node, .fd = -1, .container_path = strdup(path) };
        if (!p->container_path)
                return -ENOMEM;

        r = vfio_node_devices(h->c->sysfs_root, &p->node, &p->devices);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !p->devices || !p->devices[0]) {
                if (p->node.kind == VFIO_NODE_GROUP)
                        return set_errorf(&p->error, 0, "IOMMU group %ld has no PCI devices in %s/kernel/iommu_groups%s%s",
                                          p->node.group, h->c->sysfs_root, r < 0 ? ": " : "",
                                          r < 0 ? strerror(-r) : "");
                return set_errorf(&p->error, 0, "no PCI device in %s/bus/pci/devices has the VFIO device %s",
                                  h->c->sysfs_root, p->node.cdev);
        }
        open_proof(h->c, p, has_devnum, major_nr, minor_nr);
        return 0;
}

static int find_proofs(Hook *h) {
        json_object *devices = json_get(json_get(h->config, "linux", json_type_object), "devices", json_type_array);
        int r;

        for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
                json_object *e = json_object_array_get_idx(devices, i);
                if (json_object_is_type(e, json_type_object) && (r = add_proof(h, e)) < 0)
                        return r;
        }
        return 0;
}

/* The usable proof that covers address, if any; else any proof that does. */
static const Proof *covering_proof(const Hook *h, const char *address) {
        const Proof *found = NULL;

        for (size_t i = 0; i < h->n_proofs; i++)
                if (strv_contains(h->proofs[i].devices, address)) {
                        if (h->proofs[i].fd >= 0)
                                return &h->proofs[i];
                        found = found ?: &h->proofs[i];
                }
        return found;
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

/* The daemon's rule (common/pci-util.h): a type 1 configuration header. */
static bool is_bridge(const Context *c, const char *address) {
        _cleanup_free_ char *devdir = strjoin_printf("%s/bus/pci/devices/%s", c->sysfs_root, address);

        return devdir && pci_sysfs_is_bridge(devdir);
}

static int find_targets(Hook *h) {
        const char *listed = annotation(h, ANNOTATION_DEVICES);

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

        /* everything behind the container's nodes */
        for (size_t i = 0; i < h->n_proofs; i++)
                for (char **d = h->proofs[i].devices; d && *d; d++) {
                        Target *t = add_target(h, *d);
                        if (t && is_bridge(h->c, *d)) {
                                t->result = TARGET_SKIPPED;
                                set_errorf(&t->message, 0, "a bridge in IOMMU group %ld: bridges are not reset",
                                           proof_group(&h->proofs[i]));
                        }
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

                const Proof *p = covering_proof(h, t->address);
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
/* Report */

static const char *container_name(const Hook *h) {
        return h->id ?: "?";
}

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

/* ---------------------------------------------------------------------- */

static int hook_run(Hook *h) {
        const char *v;
        int r, config_r;

        /* the bundle's annotations count too; a failure is kept in h->error,
         * and the state's annotations still say whether it matters */
        config_r = read_config(h);

        /* required first: it decides the exit code of everything after */
        v = annotation(h, ANNOTATION_REQUIRED);
        if (v && parse_boolean(v, &h->required) < 0) {
                /* a typo in a safety switch must not turn it off */
                h->required = true;
                fprintf(stderr, PROGRAM " oci-hook: container %s: " ANNOTATION_REQUIRED "=%s is not a boolean "
                        "(true/false); taking it as true\n", container_name(h), v);
        }

        h->mask = PCRESET_SCOPE_FUNC;
        v = annotation(h, ANNOTATION_SCOPE);
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
        r = find_proofs(h);
        if (r >= 0)
                r = find_targets(h);
        if (r < 0)
                return r;
        run_targets(h);
        return 0;
}

int verb_oci_hook(Context *c, const char *address) {
        _cleanup_(hook_done) Hook h = { .c = c };
        int r, exit_code = PCRESETCTL_EXIT_OK;

        r = read_state(&h);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INVALID_ARGS, h.message ?: strerror(-r), PCRESETCTL_EXIT_USAGE);
        r = hook_run(&h);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_NO_MEMORY, strerror(-r), PCRESETCTL_EXIT_FAILURE);

        /* the first failure decides the exit code, if the reset is required */
        int first_failure = h.error ? h.exit_code : 0;
        size_t n_failed = 0, n_reset = 0;
        for (size_t i = 0; i < h.n_targets; i++) {
                if (h.targets[i].result == TARGET_FAILED) {
                        n_failed++;
                        if (!first_failure)
                                first_failure = h.targets[i].exit_code;
                } else if (h.targets[i].result == TARGET_RESET || h.targets[i].result == TARGET_ALONG)
                        n_reset++;
        }
        if (h.required && first_failure)
                exit_code = first_failure;

        print_failures(&h);
        if (h.error || n_failed > 0)
                fprintf(stderr, PROGRAM " oci-hook: container %s: %zu of %zu devices reset; the reset is %s (%s), "
                        "exit code %d\n", container_name(&h), n_reset, h.n_targets,
                        h.required ? "required" : "not required", ANNOTATION_REQUIRED, exit_code);

        if (c->json)
                print_report_json(&h, exit_code);
        else {
                for (size_t i = 0; i < h.n_targets; i++)
                        print_target_text(&h, &h.targets[i]);
                if (h.n_targets == 0 && !h.error)
                        printf("oci-hook %s: nothing to reset: no VFIO devices in linux.devices and no "
                               ANNOTATION_DEVICES " annotation\n", container_name(&h));
        }
        fflush(stdout);
        return exit_code;
}
