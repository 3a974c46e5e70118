/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "log.h"
#include "pciaccess.h"
#include "pci-util.h"
#include "topology.h"
#include "util.h"

struct Topology {
        char *sysfs_root;
        char *devices_dir;      /* <sysfs>/devices: the root of relpath */
        PciDevice **devs;       /* sorted by address */
        size_t n_devs;
        PciDevice **store;      /* what the devices' below and vfs point into */
        char **names;           /* sorted entries of bus/pci/devices at last scan */
        char **seen;            /* the same strings, in the order readdir gave them */
        size_t n_names;
        bool invalid;
};

static PciDevice *pci_device_free(PciDevice *d) {
        if (!d)
                return NULL;
        free(d->slot);
        free(d->syspath);
        free(d->relpath);
        free(d->label);
        free(d);
        return NULL;
}

static int address_cmp(const PciAddress *a, const PciAddress *b) {
        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->dev != b->dev)
                return a->dev < b->dev ? -1 : 1;
        if (a->func != b->func)
                return a->func < b->func ? -1 : 1;
        return 0;
}

static int device_ptr_cmp(const void *a, const void *b) {
        return address_cmp(&(*(PciDevice *const *) a)->addr, &(*(PciDevice *const *) b)->addr);
}

static int string_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* 1 when readdir gives exactly the names of the last listing in the same
 * order (no allocation, one strcmp each: what every call without uevents
 * pays); 0 when anything differs, even only the order (the full listing
 * then decides). */
/* <sysfs>/bus/pci/devices, opened. */
static int open_devices_dir(const Topology *t, DIR **ret) {
        _cleanup_free_ char *dir = strjoin_printf("%s/bus/pci/devices", t->sysfs_root);
        if (!dir)
                return -ENOMEM;
        *ret = opendir(dir);
        return *ret ? 0 : -errno;
}

static int names_unchanged(Topology *t) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = open_devices_dir(t, &d);
        if (r < 0)
                return r;
        size_t k = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (k >= t->n_names || !streq(de->d_name, t->seen[k]))
                        return 0;
                k++;
        }
        return k == t->n_names;
}

static int list_device_names(Topology *t, char ***ret, char ***ret_seen) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = open_devices_dir(t, &d);
        if (r < 0)
                return r;
        size_t n = 0, cap = 64;
        char **l = calloc(cap + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n == cap) { /* doubling: this runs at every call without uevents */
                        char **nl = realloc(l, sizeof(char *) * (cap * 2 + 1));
                        if (!nl)
                                return strv_free(l), -ENOMEM;
                        l = nl;
                        cap *= 2;
                }
                if (!(l[n] = strdup(de->d_name)))
                        return strv_free(l), -ENOMEM;
                l[++n] = NULL;
        }
        char **seen = malloc(sizeof(char *) * (n ?: 1));
        if (!seen)
                return strv_free(l), -ENOMEM;
        memcpy(seen, l, sizeof(char *) * n);
        qsort(l, n, sizeof(char *), string_ptr_cmp);
        *ret = l;
        *ret_seen = seen;
        return 0;
}

/* Names from pci.ids only: libpci 3.9 leaks a udev context per hwdb lookup. */
static void label_device(struct pci_access *pacc, PciDevice *d) {
        char vbuf[256], dbuf[256];
        const char *v = pci_lookup_name(pacc, vbuf, sizeof vbuf, PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, d->vendor_id);
        const char *p = pci_lookup_name(pacc, dbuf, sizeof dbuf, PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB,
                                        d->vendor_id, d->device_id);
        if (v && p)
                d->label = strjoin_printf("%s %s", v, p);
        else if (v)
                d->label = strjoin_printf("%s Device %04x", v, d->device_id);
}

/* bus/pci/devices/X links to "../../../devices/<path>" (the kernel writes
 * them so): one readlink instead of realpath's one per component, which was
 * a third of the start-up time on a host with thousands of functions. Any
 * other link text gets realpath(). */
static char *resolve_device_link(const Topology *t, const char *link) {
        _cleanup_free_ char *text = NULL;
        if (readlink_malloc(link, &text) < 0)
                return NULL;
        const char *rel = text;
        while (startswith(rel, "../"))
                rel += 3;
        if (rel - text == 9 && startswith(rel, "devices/") && !strstr(rel, "/../") && !strstr(rel, "/./"))
                return strjoin_printf("%s/%s", t->devices_dir, rel + strlen("devices/"));
        return realpath(link, NULL);
}

static bool address_same_slot(const PciAddress *a, const PciAddress *b) {
        return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev;
}

/* Bit 7 of the header type: 0, or a negative errno. */
static int header_multifunction(const char *syspath, bool *ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/config", syspath);
        uint8_t ht;

        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pread(fd, &ht, 1, 0x0e) != 1)
                return -(errno ?: EIO);
        *ret = ht & 0x80;
        return 0;
}

/* A bridge's secondary bus, from its child bus in sysfs
 * (<bridge>/pci_bus/DDDD:BB): -1 when it has none. */
static int secondary_bus_of(const char *syspath) {
        _cleanup_free_ char *p = strjoin_printf("%s/pci_bus", syspath);
        _cleanup_closedir_ DIR *d = p ? opendir(p) : NULL;
        unsigned dom, bus;
        char end;

        for (struct dirent *de; d && (de = readdir(d));)
                if (sscanf(de->d_name, "%x:%x%c", &dom, &bus, &end) == 2 && bus <= 0xff)
                        return (int) bus;
        return -1;
}

/* What the planner needs to know of a function, from sysfs alone: config
 * space waits while the kernel resets the function, and this runs before
 * the daemon answers anyone, and on the loop for a function first seen.
 * multifunction comes later (derive_multifunction). */
static void read_facts(PciDevice *d) {
        d->is_bridge = pci_sysfs_is_bridge(d->syspath);
        d->secondary_bus = d->is_bridge ? secondary_bus_of(d->syspath) : -1;
}

static int new_device(Topology *t, struct pci_access *pacc, struct pci_dev *pd, PciDevice **ret) {
        PciDevice *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->addr = (PciAddress) { .domain = (uint32_t) pd->domain, .bus = pd->bus, .dev = pd->dev, .func = pd->func };
        pci_address_format(&d->addr, d->name);
        d->vendor_id = pd->vendor_id;
        d->device_id = pd->device_id;

        _cleanup_free_ char *link = strjoin_printf("%s/bus/pci/devices/%s", t->sysfs_root, d->name);
        if (!link || !(d->syspath = resolve_device_link(t, link)) || !startswith(d->syspath, t->devices_dir)) {
                log_warning("%s: cannot resolve its sysfs directory, ignoring it", d->name);
                pci_device_free(d);
                return 0;
        }
        d->relpath = strdup(d->syspath + strlen(t->devices_dir) + 1);
        if (!d->relpath) {
                pci_device_free(d);
                return -ENOMEM;
        }

        _cleanup_free_ char *cls = NULL, *cpath = strjoin_printf("%s/class", d->syspath);
        if (cpath && read_one_line_file(cpath, &cls) >= 0)
                d->class = (uint32_t) strtoul(cls, NULL, 16);
        read_facts(d);

        _cleanup_free_ char *rs = strjoin_printf("%s/reset_subordinate", d->syspath);
        d->has_reset_subordinate = d->is_bridge && rs && access(rs, F_OK) == 0;
        label_device(pacc, d);
        *ret = d;
        return 1;
}

/* Slots: <sysfs>/bus/pci/slots/N/address holds "dddd:bb:dd"; only slots a
 * hotplug driver registered have a "power" attribute. */
static void assign_slots(Topology *t) {
        _cleanup_free_ char *dir = strjoin_printf("%s/bus/pci/slots", t->sysfs_root);
        _cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;

        for (size_t i = 0; i < t->n_devs; i++) {
                PciDevice *p = t->devs[i];
                p->slot = mfree(p->slot);
                p->hotplug_slot = p->hotplug_port = false;
                /* a bridge just added gets its child bus a moment later */
                if (p->is_bridge && p->secondary_bus < 0)
                        p->secondary_bus = secondary_bus_of(p->syspath);
        }
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *a = NULL, *apath = strjoin_printf("%s/%s/address", dir, de->d_name);
                _cleanup_free_ char *ppath = strjoin_printf("%s/%s/power", dir, de->d_name);
                unsigned dom, bus, dev;
                if (!apath || !ppath || read_one_line_file(apath, &a) < 0 ||
                    sscanf(a, "%x:%x:%x", &dom, &bus, &dev) != 3)
                        continue;
                bool hp = access(ppath, F_OK) == 0;
                for (size_t i = 0; i < t->n_devs; i++) {
                        PciDevice *p = t->devs[i];
                        /* the port whose secondary bus the slot is: the
                         * rule for everything below it, whatever function */
                        if (hp && p->is_bridge && p->addr.domain == dom && p->secondary_bus == (int) bus && dev == 0)
                                p->hotplug_port = true;
                        if (p->addr.domain != dom || p->addr.bus != bus || p->addr.dev != dev)
                                continue;
                        free(p->slot);
                        p->slot = strdup(de->d_name);
                        p->hotplug_slot = hp;
                }
        }
}

/* The multi-function flag as the kernel keeps it (pci_scan_slot(),
 * pci_iov_add_virtfn()), which decides whether its slot reset takes the
 * device (pci_dev_reset_slot_function() refuses a multi-function one):
 * never for a VF; always for a function above 0; for function 0, its
 * header's bit 7, which other functions (not VFs) in the same slot
 * imply. Function 0 alone in a hotplug slot, the one place the bit
 * decides anything (planner.c gets_slot_reset), has its header byte read:
 * once, and again while it cannot be read (assumed set meanwhile).
 * Computed afresh on every refresh: VFs and functions come and go. */
static void derive_multifunction(Topology *t) {
        for (size_t i = 0; i < t->n_devs; i++) {
                PciDevice *d = t->devs[i];
                bool siblings = false;
                for (size_t k = i; k-- > 0 && address_same_slot(&t->devs[k]->addr, &d->addr);)
                        siblings = siblings || !t->devs[k]->physfn;
                for (size_t k = i + 1; k < t->n_devs && address_same_slot(&t->devs[k]->addr, &d->addr); k++)
                        siblings = siblings || !t->devs[k]->physfn;
                if (d->physfn)
                        d->multifunction = false;
                else if (d->addr.func > 0 || siblings)
                        d->multifunction = true;
                else if (d->hotplug_slot && !d->is_bridge) {
                        if (!d->header_mf_known)
                                d->header_mf_known = header_multifunction(d->syspath, &d->header_mf) >= 0;
                        d->multifunction = !d->header_mf_known || d->header_mf;
                } else
                        d->multifunction = d->header_mf_known && d->header_mf;
        }
}

static int relpath_cmp(const void *a, const void *b) {
        return strcmp((*(PciDevice *const *) a)->relpath, (*(PciDevice *const *) b)->relpath);
}

#define NO_INDEX SIZE_MAX

/* The index in devs (sorted by address) of the device at a, or NO_INDEX. */
static size_t find_index(PciDevice *const *devs, size_t n, const PciAddress *a) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = address_cmp(&devs[mid]->addr, a);
                if (c == 0)
                        return mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NO_INDEX;
}

/* strcmp() of the first len bytes of key (as a string of its own) with s. */
static int prefix_cmp(const char *key, size_t len, const char *s) {
        int c = strncmp(key, s, len);
        if (c != 0)
                return c;
        return s[len] ? -1 : 0;
}

/* The tree of a scan, computed before the scan replaces the topology: every
 * step that can fail is done here, so a failure leaves the old topology
 * whole (a bridge with a wrong subtree would let a reset touch a device
 * nobody asked about). Indexes are into the scan's sorted devs. */
typedef struct Links {
        size_t *parent;         /* upstream bridge, or NO_INDEX */
        size_t *physfn;         /* an SR-IOV VF's PF, or NO_INDEX */
        size_t *n_below;
        size_t *n_vfs;
        PciDevice **store;      /* every bridge's subtree, then every PF's VFs */
} Links;

static void links_done(Links *l) {
        free(l->parent);
        free(l->physfn);
        free(l->n_below);
        free(l->n_vfs);
        free(l->store);
        *l = (Links) {};
}

/* The device (index into devs) whose relpath is rel's first len bytes, by
 * binary search of sorted; NO_INDEX if none. */
static size_t find_by_relpath(PciDevice *const *sorted, const size_t *byrel, size_t n, const char *rel, size_t len) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = prefix_cmp(rel, len, sorted[mid]->relpath);
                if (c == 0)
                        return byrel[mid];
                if (c > 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NO_INDEX;
}

/* A device's parent is the nearest device its relpath lies below: usually
 * one component up, but also past directories that are no device (a VMD
 * endpoint holds the root bus of the PCI domain it hosts one level down,
 * .../0000:00:0e.0/pci10000:e0/10000:e0:00.0, and resetting it resets that
 * whole domain). One sorted index and a binary search per level, not n^2
 * compares. */
static int find_parents(PciDevice *const *devs, size_t n, size_t *parent) {
        _cleanup_free_ size_t *byrel = malloc(sizeof(size_t) * (n ?: 1));
        _cleanup_free_ PciDevice **sorted = malloc(sizeof(PciDevice *) * (n ?: 1));
        if (!byrel || !sorted)
                return -ENOMEM;
        memcpy(sorted, devs, sizeof(PciDevice *) * n);
        qsort(sorted, n, sizeof(PciDevice *), relpath_cmp);
        for (size_t i = 0; i < n; i++)
                byrel[i] = find_index(devs, n, &sorted[i]->addr);

        for (size_t i = 0; i < n; i++) {
                const char *rel = devs[i]->relpath;
                size_t len = strlen(rel);
                parent[i] = NO_INDEX;
                while (parent[i] == NO_INDEX) {
                        while (len > 0 && rel[len - 1] != '/')
                                len--;
                        if (len-- == 0)
                                break;
                        parent[i] = find_by_relpath(sorted, byrel, n, rel, len);
                }
        }
        return 0;
}

/* SR-IOV: a VF's sysfs directory has a physfn link to its PF. Read on
 * every rescan: VFs come and go with sriov_numvfs. */
static int find_physfns(PciDevice *const *devs, size_t n, size_t *physfn) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *link = strjoin_printf("%s/physfn", devs[i]->syspath), *pf = NULL;
                PciAddress a;
                if (!link)
                        return -ENOMEM;
                physfn[i] = NO_INDEX;
                if (readlink_basename(link, &pf) >= 0 && pci_address_parse(pf, &a) >= 0)
                        physfn[i] = find_index(devs, n, &a);
        }
        return 0;
}

/* Parents, PFs, and for every bridge the list of everything below it (at
 * any depth) in address order: each device, taken in address order, is
 * appended to the list of each of its ancestors. Memory: one pointer per
 * (device, ancestor) pair; time: the same. */
static int compute_links(PciDevice *const *devs, size_t n, Links *l) {
        size_t m = n ?: 1, total = 0;
        int r;

        *l = (Links) {
                .parent = malloc(sizeof(size_t) * m),
                .physfn = malloc(sizeof(size_t) * m),
                .n_below = calloc(m, sizeof(size_t)),
                .n_vfs = calloc(m, sizeof(size_t)),
        };
        if (!l->parent || !l->physfn || !l->n_below || !l->n_vfs)
                return links_done(l), -ENOMEM;
        if ((r = find_parents(devs, n, l->parent)) < 0 || (r = find_physfns(devs, n, l->physfn)) < 0)
                return links_done(l), r;

        /* relpaths are strictly longer than their parents': no cycles */
        for (size_t i = 0; i < n; i++) {
                for (size_t p = l->parent[i]; p != NO_INDEX; p = l->parent[p], total++)
                        l->n_below[p]++;
                if (l->physfn[i] != NO_INDEX) {
                        l->n_vfs[l->physfn[i]]++;
                        total++;
                }
        }
        if (!(l->store = malloc(sizeof(PciDevice *) * (total ?: 1))))
                return links_done(l), -ENOMEM;
        return 0;
}

/* Makes the scan's links the topology's; cannot fail. */
static void apply_links(Topology *t, Links *l) {
        PciDevice **next = l->store;

        for (size_t i = 0; i < t->n_devs; i++) {
                PciDevice *d = t->devs[i];
                d->index = i;
                d->parent = l->parent[i] != NO_INDEX ? t->devs[l->parent[i]] : NULL;
                d->physfn = l->physfn[i] != NO_INDEX ? t->devs[l->physfn[i]] : NULL;
                d->below = next;
                next += l->n_below[i];
                d->vfs = next;
                next += l->n_vfs[i];
                /* counted up again while filled */
                d->n_below = 0;
                d->n_vfs = 0;
        }
        for (size_t i = 0; i < t->n_devs; i++) {
                PciDevice *d = t->devs[i];
                for (PciDevice *p = d->parent; p; p = p->parent)
                        p->below[p->n_below++] = d;
                if (d->physfn)
                        d->physfn->vfs[d->physfn->n_vfs++] = d;
        }
        free(t->store);
        t->store = TAKE_PTR(l->store);
        links_done(l);
}

static size_t copy_list(PciDevice *const *from, size_t n, PciDevice **ret, size_t max) {
        if (n > 0 && max > 0)
                memcpy(ret, from, sizeof(PciDevice *) * (n < max ? n : max));
        return n;
}

size_t topology_below(const Topology *t, const PciDevice *bridge, PciDevice **ret, size_t max) {
        return copy_list(bridge->below, bridge->n_below, ret, max);
}

size_t topology_vfs(const Topology *t, const PciDevice *pf, PciDevice **ret, size_t max) {
        return copy_list(pf->vfs, pf->n_vfs, ret, max);
}

/* A function we already know keeps its struct (and its config-space facts).
 * old is sorted by address. */
static PciDevice *find_known(PciDevice **old, size_t n_old, const PciAddress *a, uint16_t vendor, uint16_t device) {
        if (!old) /* the first scan */
                return NULL;
        size_t i = find_index(old, n_old, a);
        if (i != NO_INDEX && old[i]->vendor_id == vendor && old[i]->device_id == device)
                return old[i];
        return NULL;
}

typedef struct ScanState {
        Topology *t;
        PciDevice **devs;
        size_t n;
        int r;
} ScanState;

/* All libpci work of a rescan; any libpci error longjmps out of here, so it
 * keeps its results in *s (memory), never in locals of the caller. */
static void scan_devices(struct pci_access *pacc, ScanState *s) {
        size_t n = 0;

        pci_init(pacc);
        pci_scan_bus(pacc);

        for (struct pci_dev *pd = pacc->devices; pd; pd = pd->next)
                n++;
        s->devs = calloc(n ?: 1, sizeof(PciDevice *));
        if (!s->devs) {
                s->r = -ENOMEM;
                return;
        }
        for (struct pci_dev *pd = pacc->devices; pd; pd = pd->next) {
                pci_fill_info(pd, PCI_FILL_IDENT);
                PciAddress a = { .domain = (uint32_t) pd->domain, .bus = pd->bus, .dev = pd->dev, .func = pd->func };
                PciDevice *d = find_known(s->t->devs, s->t->n_devs, &a, pd->vendor_id, pd->device_id);
                if (d)
                        d->reused = true;
                else {
                        int r = new_device(s->t, pacc, pd, &d);
                        if (r < 0) {
                                s->r = r;
                                return;
                        }
                        if (r == 0)
                                continue;
                }
                s->devs[s->n++] = d;
        }
        s->r = 0;
}

static int rescan(Topology *t) {
        ScanState s = { .t = t, .r = -EIO };
        jmp_buf jb;

        struct pci_access *pacc = pci_access_new(t->sysfs_root, false);
        if (!pacc)
                return -ENOMEM;

        pci_guard(&jb);
        if (setjmp(jb) == 0)
                scan_devices(pacc, &s);
        else
                s.r = -EIO; /* a broken tree: keep what we had */
        pci_unguard();
        pci_cleanup(pacc);

        Links links = {};
        if (s.r >= 0) {
                qsort(s.devs, s.n, sizeof(PciDevice *), device_ptr_cmp);
                s.r = compute_links(s.devs, s.n, &links);
        }
        if (s.r < 0) {
                for (size_t i = 0; i < s.n; i++)
                        if (!s.devs[i]->reused)
                                pci_device_free(s.devs[i]);
                for (size_t i = 0; i < t->n_devs; i++)
                        t->devs[i]->reused = false;
                free(s.devs);
                return s.r;
        }

        for (size_t i = 0; i < t->n_devs; i++)
                if (!t->devs[i]->reused)
                        pci_device_free(t->devs[i]);
        for (size_t i = 0; i < s.n; i++)
                s.devs[i]->reused = false;
        free(t->devs);
        t->devs = s.devs;
        t->n_devs = s.n;
        apply_links(t, &links);
        assign_slots(t);
        derive_multifunction(t);
        return 0;
}

int topology_new(const char *sysfs_root, Topology **ret) {
        Topology *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->sysfs_root = strdup(sysfs_root);
        _cleanup_free_ char *dd = strjoin_printf("%s/devices", sysfs_root);
        if (!t->sysfs_root || !dd || !(t->devices_dir = realpath(dd, NULL))) {
                int r = t->sysfs_root && dd ? -errno : -ENOMEM;
                topology_free(t);
                return r;
        }
        t->invalid = true;
        int r = topology_refresh(t, NULL);
        if (r < 0) {
                topology_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

Topology *topology_free(Topology *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_devs; i++)
                pci_device_free(t->devs[i]);
        free(t->devs);
        free(t->store);
        strv_free(t->names);
        free(t->seen);
        free(t->sysfs_root);
        free(t->devices_dir);
        free(t);
        return NULL;
}

void topology_invalidate(Topology *t) {
        t->invalid = true;
}

int topology_refresh(Topology *t, bool *ret_changed) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char **seen = NULL;
        bool changed = t->invalid;
        int r;

        if (!changed) {
                r = names_unchanged(t);
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (ret_changed)
                                *ret_changed = false;
                        return 0;
                }
        }
        r = list_device_names(t, &names, &seen);
        if (r < 0)
                return r;
        size_t n = strv_length(names);
        if (!changed) {
                changed = n != t->n_names;
                for (size_t i = 0; !changed && i < n; i++)
                        changed = !streq(names[i], t->names[i]);
        }
        if (changed) {
                r = rescan(t);
                if (r < 0)
                        return r;
                t->invalid = false;
        }
        /* the same names in another order are kept too: the next call's
         * names_unchanged() compares with this order */
        strv_free(t->names);
        free(t->seen);
        t->names = TAKE_PTR(names);
        t->seen = TAKE_PTR(seen);
        t->n_names = n;
        if (ret_changed)
                *ret_changed = changed;
        return 0;
}

size_t topology_count(const Topology *t) {
        return t->n_devs;
}

PciDevice *topology_get(const Topology *t, size_t i) {
        return i < t->n_devs ? t->devs[i] : NULL;
}

PciDevice *topology_find(const Topology *t, const PciAddress *a) {
        size_t lo = 0, hi = t->n_devs;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = address_cmp(&t->devs[mid]->addr, a);
                if (c == 0)
                        return t->devs[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const char *topology_sysfs_root(const Topology *t) {
        return t->sysfs_root;
}

size_t topology_bus_siblings(const Topology *t, const PciDevice *dev, PciDevice **ret, size_t max) {
        /* below a bridge, its subtree holds them all */
        PciDevice *const *from = dev->parent ? dev->parent->below : t->devs;
        size_t n = 0, n_from = dev->parent ? dev->parent->n_below : t->n_devs;
        for (size_t i = 0; i < n_from; i++) {
                PciDevice *o = from[i];
                if (o == dev || o->parent != dev->parent || o->addr.domain != dev->addr.domain ||
                    o->addr.bus != dev->addr.bus)
                        continue;
                if (n < max)
                        ret[n] = o;
                n++;
        }
        return n;
}

bool pci_device_is_below(const PciDevice *dev, const PciDevice *bridge) {
        for (const PciDevice *p = dev->parent; p; p = p->parent)
                if (p == bridge)
                        return true;
        return false;
}

int pci_device_read_driver(const PciDevice *d, char **ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/driver", d->syspath);
        if (!p)
                return -ENOMEM;
        int r = readlink_basename(p, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

int pci_device_read_iommu_group(const PciDevice *d, int *ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/iommu_group", d->syspath), *g = NULL;
        if (!p)
                return -ENOMEM;
        int r = readlink_basename(p, &g);
        if (r < 0)
                return r;
        char *end;
        long v = strtol(g, &end, 10);
        if (*end || v < 0 || v > INT32_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int pci_device_read_vfio_cdev(const PciDevice *d, char **ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/vfio-dev", d->syspath);
        if (!p)
                return -ENOMEM;
        _cleanup_closedir_ DIR *dir = opendir(p);
        if (!dir)
                return -errno;
        struct dirent *de;
        while ((de = readdir(dir)))
                if (startswith(de->d_name, "vfio")) {
                        *ret = strdup(de->d_name);
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}
