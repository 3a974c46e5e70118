/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>

#include "claims.h"
#include "log.h"
#include "util.h"

typedef struct Claim {
        char address[PCI_ADDRESS_MAX];
        uid_t uid;
        uint16_t vendor, device;
} Claim;

struct Claims {
        pthread_mutex_t lock;
        char *path;
        Claim *items;
        size_t n;
};

static Claim *find_locked(Claims *c, const char *address) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->items[i].address, address))
                        return &c->items[i];
        return NULL;
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

static int load(Claims *c) {
        _cleanup_fclose_ FILE *f = fopen(c->path, "re");
        char line[256];

        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof line, f)) {
                char addr[64];
                unsigned uid, vendor, device;
                PciAddress a;

                if (line[0] == '#' || line[0] == '\n')
                        continue;
                if (sscanf(line, "%63s %u %x %x", addr, &uid, &vendor, &device) != 4 ||
                    pci_address_parse(addr, &a) < 0 || vendor > 0xffff || device > 0xffff) {
                        log_warning("%s: ignoring malformed line: %s", c->path, line);
                        continue;
                }
                Claim *n = realloc(c->items, sizeof(Claim) * (c->n + 1));
                if (!n)
                        return -ENOMEM;
                c->items = n;
                Claim *cl = &c->items[c->n++];
                pci_address_format(&a, cl->address);
                cl->uid = uid;
                cl->vendor = (uint16_t) vendor;
                cl->device = (uint16_t) device;
        }
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
        Claim *n = realloc(c->items, sizeof(Claim) * (c->n + 1));
        if (!n) {
                r = -ENOMEM;
                goto out;
        }
        c->items = n;
        cl = &c->items[c->n++];
        *cl = (Claim) { .uid = uid, .vendor = vendor, .device = device };
        snprintf(cl->address, sizeof cl->address, "%s", address);
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
