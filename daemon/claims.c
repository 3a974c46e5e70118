/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>

#include "claims.h"
#include "log.h"
#include "statefile.h"
#include "util.h"

#define CLAIMS_MAX      4096u   /* PCI functions a host can have, and then some */
#define CLAIMS_LINE_MAX 128u

typedef struct Claim {
        char address[PCI_ADDRESS_MAX];
        uid_t uid;
        uint16_t vendor, device;
} Claim;

struct Claims {
        pthread_mutex_t lock;
        char *path;
        Claim *items;
        size_t n, allocated;
};

static Claim *find_locked(Claims *c, const char *address) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->items[i].address, address))
                        return &c->items[i];
        return NULL;
}

/* Append one claim; the array grows geometrically (a file of CLAIMS_MAX
 * lines would otherwise copy it once per line). */
static int append_locked(Claims *c, const Claim *cl) {
        if (c->n == c->allocated) {
                /* callers stop at CLAIMS_MAX, so want > n */
                size_t want = c->allocated ? c->allocated * 2 : 16;
                if (want > CLAIMS_MAX)
                        want = CLAIMS_MAX;
                Claim *items = reallocarray(c->items, want, sizeof(Claim));
                if (!items)
                        return -ENOMEM;
                c->items = items;
                c->allocated = want;
        }
        c->items[c->n++] = *cl;
        return 0;
}

static int save_locked(Claims *c) {
        size_t size = 64 + c->n * 64;
        _cleanup_free_ char *buf = malloc(size);
        size_t used = 0;

        if (!buf)
                return -ENOMEM;
        used += (size_t) snprintf(buf, size, "# pcresetd claims: address uid vendor device\n");
        for (size_t i = 0; i < c->n; i++)
                used += (size_t) snprintf(buf + used, size - used, "%s %u %04x %04x\n", c->items[i].address,
                                          (unsigned) c->items[i].uid, c->items[i].vendor, c->items[i].device);
        return write_file_atomic(c->path, buf);
}

/* One line "ADDRESS UID VENDOR DEVICE", nothing more, nothing less. */
static int parse_line(const char *line, Claim *ret) {
        char addr[PCI_ADDRESS_MAX + 1], uid[16], vendor[8], device[8], extra[2];
        PciAddress a;

        if (sscanf(line, "%24s %15s %7s %7s %1s", addr, uid, vendor, device, extra) != 4 ||
            pci_address_parse(addr, &a) < 0 || state_file_parse_uid(uid, &ret->uid) < 0 ||
            state_file_parse_id(vendor, &ret->vendor) < 0 || state_file_parse_id(device, &ret->device) < 0)
                return -EINVAL;
        pci_address_format(&a, ret->address);
        return 0;
}

static int load_line(void *userdata, const char *line, unsigned lineno) {
        Claims *c = userdata;
        Claim cl;

        if (parse_line(line, &cl) < 0 || find_locked(c, cl.address))
                return -EINVAL;
        if (c->n >= CLAIMS_MAX) {
                log_warning("%s: more than %u claims; ignoring the rest from line %u", c->path, CLAIMS_MAX, lineno);
                return 1;
        }
        return append_locked(c, &cl);
}

/* The file is ours, but read as if it were not (statefile.h). */
static int load(Claims *c) {
        unsigned bad = 0;
        int r = state_file_read(c->path, 2 * CLAIMS_MAX, CLAIMS_LINE_MAX, load_line, c, &bad);
        if (r < 0)
                return r;
        if (bad > 0)
                log_warning("%s: ignored %u malformed or repeated claim lines", c->path, bad);
        return 0;
}

int claims_new(const char *state_dir, Claims **ret) {
        Claims *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        c->path = strjoin_printf("%s/claims", state_dir);
        int r = c->path ? load(c) : -ENOMEM;
        if (r < 0) {
                claims_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Claims *claims_free(Claims *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->lock);
        free(c->items);
        free(c->path);
        free(c);
        return NULL;
}

int claims_get(Claims *c, const char *address, uid_t *ret_uid) {
        pthread_mutex_lock(&c->lock);
        Claim *cl = find_locked(c, address);
        if (cl)
                *ret_uid = cl->uid;
        pthread_mutex_unlock(&c->lock);
        return cl ? 0 : -ENOENT;
}

int claims_add(Claims *c, const char *address, uid_t uid, uint16_t vendor, uint16_t device, uid_t *ret_holder) {
        int r = 0;

        pthread_mutex_lock(&c->lock);
        Claim *cl = find_locked(c, address);
        if (cl) {
                if (cl->uid != uid) {
                        *ret_holder = cl->uid;
                        r = -EBUSY;
                }
                goto out;
        }
        if (c->n >= CLAIMS_MAX) {
                r = -ENOSPC;
                goto out;
        }
        Claim fresh = { .uid = uid, .vendor = vendor, .device = device };
        snprintf(fresh.address, sizeof fresh.address, "%s", address);
        r = append_locked(c, &fresh);
        if (r < 0)
                goto out;
        r = save_locked(c);
        if (r < 0)
                c->n--; /* not persisted: not a claim */
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

int claims_remove(Claims *c, const char *address) {
        int r;

        pthread_mutex_lock(&c->lock);
        Claim *cl = find_locked(c, address);
        if (!cl) {
                r = -ENOENT;
                goto out;
        }
        Claim saved = *cl;
        size_t i = (size_t) (cl - c->items);
        memmove(cl, cl + 1, sizeof(Claim) * (c->n - i - 1));
        c->n--;
        r = save_locked(c);
        if (r < 0) { /* keep memory and disk in agreement */
                memmove(c->items + i + 1, c->items + i, sizeof(Claim) * (c->n - i));
                c->items[i] = saved;
                c->n++;
        }
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

unsigned claims_count(Claims *c) {
        pthread_mutex_lock(&c->lock);
        unsigned n = (unsigned) c->n;
        pthread_mutex_unlock(&c->lock);
        return n;
}

void claims_prune(Claims *c, bool (*lookup)(void *userdata, const char *address, uint16_t *vendor, uint16_t *device),
                  void *userdata) {
        bool changed = false;

        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->n;) {
                uint16_t v = 0, d = 0;
                Claim *cl = &c->items[i];
                if (lookup(userdata, cl->address, &v, &d) && v == cl->vendor && d == cl->device) {
                        i++;
                        continue;
                }
                log_notice("Dropping the claim of uid %u on %s: the device is gone or changed identity",
                           (unsigned) cl->uid, cl->address);
                memmove(cl, cl + 1, sizeof(Claim) * (c->n - i - 1));
                c->n--;
                changed = true;
        }
        if (changed && save_locked(c) < 0)
                log_warning("Could not save %s", c->path);
        pthread_mutex_unlock(&c->lock);
}
