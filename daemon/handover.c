/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "handover.h"
#include "log.h"
#include "ownership.h"
#include "pcreset1.h"
#include "statefile.h"
#include "util.h"

#define HANDOVER_LINE_MAX 128u
#define BOOT_ID_LEN 36

typedef struct Record {
        char address[PCI_ADDRESS_MAX];
        uid_t uid;
        uint16_t vendor, device;
        HandoverState state;    /* held or dirty: a clean card has no record */
        uint64_t seq;           /* when it was last set (Handover.seq; 0: loaded), in memory only */
} Record;

struct Handover {
        char *path;
        char boot[BOOT_ID_LEN + 1];     /* "" when unknown */
        bool file_boot_seen, file_boot_other, file_boot_unknown;
        Record *items;
        size_t n, allocated;
        uint64_t seq;           /* counts every set() since start */
};

const char *handover_state_to_string(HandoverState s) {
        switch (s) {
        case HANDOVER_HELD:  return "held";
        case HANDOVER_DIRTY: return "dirty";
        default:             return "clean";
        }
}

/* 36 characters: lowercase hex digits and dashes where a UUID has them. */
static bool boot_id_valid(const char *s) {
        if (strlen(s) != BOOT_ID_LEN)
                return false;
        for (size_t i = 0; i < BOOT_ID_LEN; i++)
                if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
                        return false;
        return true;
}

int handover_read_boot_id(const char *proc_root, char **ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/sys/kernel/random/boot_id", proc_root), *line = NULL;
        if (!p)
                return -ENOMEM;
        int r = read_one_line_file(p, &line);
        if (r < 0)
                return r;
        if (!boot_id_valid(line))
                return -EINVAL;
        *ret = TAKE_PTR(line);
        return 0;
}

static Record *find(const Handover *h, const char *address) {
        for (size_t i = 0; i < h->n; i++)
                if (streq(h->items[i].address, address))
                        return &h->items[i];
        return NULL;
}

static int append(Handover *h, const Record *x) {
        if (h->n >= HANDOVER_MAX)
                return -ENOSPC;
        if (h->n == h->allocated) {
                size_t want = h->allocated ? h->allocated * 2 : 16;
                if (want > HANDOVER_MAX)
                        want = HANDOVER_MAX;
                Record *items = reallocarray(h->items, want, sizeof(Record));
                if (!items)
                        return -ENOMEM;
                h->items = items;
                h->allocated = want;
        }
        h->items[h->n++] = *x;
        return 0;
}

static void drop(Handover *h, Record *x) {
        size_t i = (size_t) (x - h->items);
        memmove(x, x + 1, sizeof(Record) * (h->n - i - 1));
        h->n--;
}

static int save(Handover *h) {
        size_t size = 128 + h->n * 80;
        _cleanup_free_ char *buf = malloc(size);
        size_t used = 0;

        if (!buf)
                return -ENOMEM;
        used += (size_t) snprintf(buf, size, "# pcresetd handover: address uid vendor device held|dirty\nboot %s\n",
                                  h->boot[0] ? h->boot : "unknown");
        for (size_t i = 0; i < h->n; i++) {
                char uid[16] = "*";
                if (h->items[i].uid != HANDOVER_UID_SEVERAL)
                        snprintf(uid, sizeof uid, "%u", (unsigned) h->items[i].uid);
                used += (size_t) snprintf(buf + used, size - used, "%s %s %04x %04x %s\n", h->items[i].address, uid,
                                          h->items[i].vendor, h->items[i].device,
                                          handover_state_to_string(h->items[i].state));
        }
        return write_file_atomic(h->path, buf);
}

/* A change: saved, or undone (memory and disk agree, and a mark that
 * cannot be written down is not cleared either). */
static int commit(Handover *h, Record *saved, size_t saved_n) {
        int r = save(h);
        if (r < 0) {
                log_warning_errno(r, "Cannot save %s: %m", h->path);
                memcpy(h->items, saved, sizeof(Record) * saved_n);
                h->n = saved_n;
        }
        free(saved);
        return r;
}

/* A copy of the table before a change, for commit(). */
static Record *snapshot(const Handover *h) {
        Record *s = malloc(sizeof(Record) * (h->allocated ?: 1));
        if (s && h->n)
                memcpy(s, h->items, sizeof(Record) * h->n);
        return s;
}

/* "ADDRESS UID VENDOR DEVICE STATE", nothing more, nothing less. */
static int parse_record(const char *line, Record *ret) {
        char addr[PCI_ADDRESS_MAX + 1], uid[16], vendor[8], device[8], state[8], extra[2];
        PciAddress a;

        if (sscanf(line, "%24s %15s %7s %7s %7s %1s", addr, uid, vendor, device, state, extra) != 5 ||
            pci_address_parse(addr, &a) < 0 ||
            (streq(uid, "*") ? (ret->uid = HANDOVER_UID_SEVERAL, 0) : state_file_parse_uid(uid, &ret->uid)) < 0 ||
            state_file_parse_id(vendor, &ret->vendor) < 0 || state_file_parse_id(device, &ret->device) < 0)
                return -EINVAL;
        if (streq(state, "held"))
                ret->state = HANDOVER_HELD;
        else if (streq(state, "dirty"))
                ret->state = HANDOVER_DIRTY;
        else
                return -EINVAL;
        pci_address_format(&a, ret->address);
        return 0;
}

static int load_line(void *userdata, const char *line, unsigned lineno) {
        Handover *h = userdata;
        Record x = {};

        /* the boot line comes first, once */
        if (!h->file_boot_seen) {
                char boot[BOOT_ID_LEN + 2], extra[2];
                h->file_boot_seen = true;
                if (sscanf(line, "boot %37s %1s", boot, extra) != 1 ||
                    (!boot_id_valid(boot) && !streq(boot, "unknown"))) {
                        h->file_boot_other = true; /* not ours, or not readable as ours: another boot's */
                        return 1;
                }
                /* "unknown" (a sandbox without /proc/sys: the shipped unit's
                 * ProcSubset=pid) cannot be told from ours: kept, as /run
                 * empties on reboot anyway */
                h->file_boot_unknown = streq(boot, "unknown");
                h->file_boot_other = h->boot[0] && !h->file_boot_unknown && !streq(boot, h->boot);
                return h->file_boot_other ? 1 : 0;
        }
        if (parse_record(line, &x) < 0 || find(h, x.address))
                return -EINVAL;
        if (h->n >= HANDOVER_MAX) {
                log_warning("%s: more than %u records; ignoring the rest from line %u", h->path, HANDOVER_MAX, lineno);
                return 1;
        }
        return append(h, &x);
}

static int load(Handover *h) {
        unsigned bad = 0;
        int r = state_file_read(h->path, 2 * HANDOVER_MAX, HANDOVER_LINE_MAX, load_line, h, &bad);
        if (r < 0)
                return r;
        if (bad > 0)
                log_warning("%s: ignored %u malformed or repeated lines", h->path, bad);
        if (h->file_boot_other) {
                log_notice("%s is from another boot: dropping its records", h->path);
                h->n = 0;
                return save(h);
        }
        /* ours now: a later boot must drop them */
        if (h->file_boot_unknown && h->boot[0])
                return save(h);
        return 0;
}

int handover_new(const char *state_dir, const char *boot_id, Handover **ret) {
        Handover *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        if (boot_id && boot_id_valid(boot_id))
                memcpy(h->boot, boot_id, BOOT_ID_LEN + 1);
        h->path = strjoin_printf("%s/handover", state_dir);
        int r = h->path ? load(h) : -ENOMEM;
        if (r < 0) {
                handover_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

Handover *handover_free(Handover *h) {
        if (!h)
                return NULL;
        free(h->items);
        free(h->path);
        free(h);
        return NULL;
}

/* The record of this card: NULL when none, or when it is another card's. */
static Record *find_card(const Handover *h, const char *address, uint16_t vendor, uint16_t device) {
        Record *x = find(h, address);
        return x && x->vendor == vendor && x->device == device ? x : NULL;
}

HandoverState handover_get(const Handover *h, const char *address, uint16_t vendor, uint16_t device,
                           uid_t *ret_uid) {
        const Record *x = find_card(h, address, vendor, device);
        if (!x)
                return HANDOVER_CLEAN;
        if (ret_uid)
                *ret_uid = x->uid;
        return x->state;
}

int handover_check(const Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid,
                   uid_t *ret_owner) {
        uid_t owner;
        if (handover_get(h, address, vendor, device, &owner) == HANDOVER_CLEAN || owner == uid)
                return 0;
        *ret_owner = owner;
        return -EPERM;
}

/* Sets address' record to (ids, uid, state): replaces what is there. */
static int set(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid, HandoverState state) {
        Record *x = find(h, address);
        /* the same mark again is still a new event: a reset that began
         * before it must not clear it (handover_reset_done) */
        if (x && x->vendor == vendor && x->device == device && x->uid == uid && x->state == state) {
                x->seq = ++h->seq;
                return 0;
        }
        Record *saved = snapshot(h);
        size_t saved_n = h->n;
        int r;

        if (!saved)
                return -ENOMEM;
        /* address may point into the record being replaced */
        Record fresh = { .uid = uid, .vendor = vendor, .device = device, .state = state, .seq = ++h->seq };
        snprintf(fresh.address, sizeof fresh.address, "%s", address);
        if (x)
                *x = fresh;
        else {
                r = append(h, &fresh);
                if (r < 0) {
                        free(saved);
                        return r;
                }
        }
        return commit(h, saved, saved_n);
}

int handover_hold(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid) {
        return set(h, address, vendor, device, uid, HANDOVER_HELD);
}

/* The uid a record names once uid used the card too: one user's, or several. */
static uid_t add_user(const Record *x, uid_t uid) {
        return !x || x->uid == uid ? uid : HANDOVER_UID_SEVERAL;
}

int handover_release(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid) {
        /* whatever the record said (none: a claim older than it, or whose
         * record could not be written), the claim's end leaves the card
         * dirty: by uid, or by several when someone else used it too */
        const Record *x = find_card(h, address, vendor, device);
        return set(h, address, vendor, device, add_user(x, uid), HANDOVER_DIRTY);
}

uint64_t handover_mark(const Handover *h) {
        return h->seq;
}

int handover_reset_done(Handover *h, const char *address, uint16_t vendor, uint16_t device, uint64_t since) {
        Record *x = find_card(h, address, vendor, device);
        /* a mark set after the reset began tells of a use the reset did
         * not clean up after */
        if (!x || x->state != HANDOVER_DIRTY || x->seq > since)
                return 0;
        Record *saved = snapshot(h);
        size_t saved_n = h->n;
        if (!saved)
                return -ENOMEM;
        drop(h, x);
        return commit(h, saved, saved_n);
}

int handover_used(Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t uid) {
        const Record *x = find_card(h, address, vendor, device);
        /* another uid's claim stays held, now by several: its release must
         * not hand the card back to either of them unreset */
        if (x && x->state == HANDOVER_HELD)
                return set(h, address, vendor, device, add_user(x, uid), HANDOVER_HELD);
        return set(h, address, vendor, device, add_user(x, uid), HANDOVER_DIRTY);
}

void handover_sync(Handover *h, bool (*claimed)(void *userdata, const char *address, uid_t uid), void *userdata) {
        for (size_t i = 0; i < h->n; i++) {
                Record *x = &h->items[i];
                if (x->state != HANDOVER_HELD || claimed(userdata, x->address, x->uid))
                        continue;
                log_info("%s: the claim of uid %u is gone; the device stays dirty until it is reset", x->address,
                         (unsigned) x->uid);
                (void) set(h, x->address, x->vendor, x->device, x->uid, HANDOVER_DIRTY);
        }
}

unsigned handover_count(const Handover *h) {
        return (unsigned) h->n;
}

char *handover_describe(const Handover *h, const char *address, uint16_t vendor, uint16_t device, uid_t viewer,
                        HandoverState *ret_state) {
        uid_t uid = 0;
        HandoverState s = handover_get(h, address, vendor, device, &uid);

        *ret_state = s;
        if (s == HANDOVER_CLEAN)
                return NULL;
        _cleanup_free_ char *who = uid == HANDOVER_UID_SEVERAL ? strdup("several users")
                                   : ownership_may_see(viewer, uid) ? ownership_describe_uid(uid) : NULL;
        if (s == HANDOVER_HELD)
                return strjoin_printf("held by %s: another user takes it over only with a reset",
                                      who ?: "another user");
        return strjoin_printf("dirty since %s released it: not reset since; another user takes it over only with a "
                              "reset", who ?: "another user");
}
