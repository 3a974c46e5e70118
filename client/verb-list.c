/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl list: every PCI function as a tree, or as a JSON array. An
 * SR-IOV VF hangs below its PF (ListDevicesEx; a daemon without it gets
 * ListDevices and the plain tree). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "util.h"
#include "output.h"

typedef struct Device {
        /* strings point into the reply message, which outlives them */
        const char *address, *parent, *name, *driver, *state, *reason, *domain;
        uint16_t vendor, device;
        uint32_t scopes;
        char **methods;
        const char *physfn;     /* "" when not a VF (or unknown) */
        const char *handover, *handover_reason; /* "" when the daemon did not say */
        char **vfs;

        /* the tree, as indexes into the device array, -1 for none */
        ssize_t parent_index, first_child, last_child, next_sibling;
        bool printed;
} Device;

typedef struct DeviceList {
        Device *devices;
        size_t n;
} DeviceList;

static void device_list_done(DeviceList *l) {
        for (size_t i = 0; i < l->n; i++) {
                strv_free(l->devices[i].methods);
                strv_free(l->devices[i].vfs);
        }
        free(l->devices);
        *l = (DeviceList) {};
}

/* ListDevicesEx's details: "physfn" s, "vfs" as, "handover" s,
 * "handover_reason" s; others are skipped. */
static int read_device_details(sd_bus_message *reply, Device *d) {
        int r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && streq(key, "physfn"))
                        r = sd_bus_message_read(reply, "v", "s", &d->physfn);
                else if (r >= 0 && streq(key, "handover"))
                        r = sd_bus_message_read(reply, "v", "s", &d->handover);
                else if (r >= 0 && streq(key, "handover_reason"))
                        r = sd_bus_message_read(reply, "v", "s", &d->handover_reason);
                else if (r >= 0 && streq(key, "vfs")) {
                        r = sd_bus_message_enter_container(reply, 'v', "as");
                        if (r >= 0)
                                r = sd_bus_message_read_strv(reply, &d->vfs);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(reply);
}

/* One ListDevices(Ex) entry; returns 0 at the end of the array. */
static int read_device(sd_bus_message *reply, bool ex, Device *d) {
        int r;

        d->physfn = d->handover = d->handover_reason = "";
        r = sd_bus_message_enter_container(reply, 'r', ex ? "ssqqsssssuasa{sv}" : "ssqqsssssuas");
        if (r <= 0)
                return r;
        r = sd_bus_message_read(reply, "ssqqsssssu", &d->address, &d->parent, &d->vendor, &d->device, &d->name,
                                &d->driver, &d->state, &d->reason, &d->domain, &d->scopes);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(reply, &d->methods);
        if (r >= 0 && ex)
                r = read_device_details(reply, d);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        return r < 0 ? r : 1;
}

static int read_device_list(sd_bus_message *reply, bool ex, DeviceList *ret) {
        DeviceList l = {};
        size_t allocated = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', ex ? "(ssqqsssssuasa{sv})" : "(ssqqsssssuas)");
        if (r < 0)
                return r;
        for (;;) {
                if (l.n == allocated) {
                        size_t want = allocated ? allocated * 2 : 64;
                        Device *d = reallocarray(l.devices, want, sizeof *d);
                        if (!d) {
                                device_list_done(&l);
                                return -ENOMEM;
                        }
                        l.devices = d;
                        allocated = want;
                }
                l.devices[l.n] = (Device) {};
                r = read_device(reply, ex, &l.devices[l.n]);
                if (r <= 0)
                        break;
                l.n++;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0) {
                strv_free(l.devices[l.n].methods);
                strv_free(l.devices[l.n].vfs);
                device_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

/* The devices sorted by address, to find a parent by bsearch(). */
typedef struct DeviceIndex {
        const char *address;
        size_t position;        /* in DeviceList.devices */
} DeviceIndex;

static int compare_device_index(const void *a, const void *b) {
        return strcmp(((const DeviceIndex *) a)->address, ((const DeviceIndex *) b)->address);
}

/* Links every device to its parent, keeping the daemon's (address) order
 * among siblings. A parent that is not in the list makes a root, so that no
 * device is ever left out of the tree. */
static int build_tree(DeviceList *l) {
        _cleanup_free_ DeviceIndex *index = calloc(l->n ?: 1, sizeof(DeviceIndex));

        if (!index)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                Device *d = &l->devices[i];

                d->first_child = d->last_child = d->next_sibling = d->parent_index = -1;
                index[i] = (DeviceIndex) { .address = d->address, .position = i };
        }
        qsort(index, l->n, sizeof(DeviceIndex), compare_device_index);

        for (size_t i = 0; i < l->n; i++) {
                Device *d = &l->devices[i];

                /* a VF is shown below its PF, not beside it */
                const char *up = isempty(d->physfn) ? d->parent : d->physfn;
                if (isempty(up) || streq(up, d->address))
                        continue;
                DeviceIndex key = { .address = up };
                const DeviceIndex *hit = bsearch(&key, index, l->n, sizeof(DeviceIndex), compare_device_index);
                if (!hit)
                        continue;

                Device *parent = &l->devices[hit->position];
                d->parent_index = (ssize_t) hit->position;
                if (parent->last_child < 0)
                        parent->first_child = (ssize_t) i;
                else
                        l->devices[parent->last_child].next_sibling = (ssize_t) i;
                parent->last_child = (ssize_t) i;
        }
        return 0;
}

static void print_device_line(const Context *c, const Device *d, const char *prefix, const char *connector) {
        char ids[16], scopes[128];
        const char *name = d->name;

        if (isempty(name)) {
                snprintf(ids, sizeof ids, "%04x:%04x", d->vendor, d->device);
                name = ids;
        }
        printf("%s%s%s  ", prefix, connector, d->address);
        print_text(stdout, name);
        fputs("  [", stdout);
        print_text(stdout, isempty(d->driver) ? "no driver" : d->driver);
        fputs("]  ", stdout);
        print_state(c->colors, d->state, 0);
        if (!streq(d->state, "idle") && !isempty(d->reason)) {
                fputs(" (", stdout);
                print_text(stdout, d->reason);
                putchar(')');
        }
        printf("  scopes: %s", pcreset_scope_format(d->scopes, scopes, sizeof scopes));
        if (!isempty(d->physfn))
                fputs("  SR-IOV VF", stdout);
        else if (d->vfs && d->vfs[0])
                printf("  SR-IOV PF, %zu VF%s", strv_length(d->vfs), d->vfs[1] ? "s" : "");
        /* another user needs a reset to take it over (a held one is
         * claimed, which its state says already) */
        if (streq_ptr(d->handover, "dirty") && !isempty(d->handover_reason)) {
                fputs("  ", stdout);
                print_text(stdout, d->handover_reason);
        }
        putchar('\n');
}

/* 3 characters per level; PCIe hierarchies are a handful of levels deep,
 * anything deeper (or a loop in the parent links) is printed as a root. */
#define TREE_PREFIX_MAX (3 * 32 + 1)

static void print_subtree(const Context *c, DeviceList *l, ssize_t index, char *prefix, const char *connector,
                          const char *continuation) {
        Device *d = &l->devices[index];
        size_t len = strlen(prefix);

        d->printed = true;
        print_device_line(c, d, prefix, connector);
        if (len + strlen(continuation) + 1 > TREE_PREFIX_MAX)
                return;

        snprintf(prefix + len, TREE_PREFIX_MAX - len, "%s", continuation);
        for (ssize_t i = d->first_child; i >= 0; i = l->devices[i].next_sibling) {
                if (l->devices[i].printed)
                        continue;
                bool last = l->devices[i].next_sibling < 0;
                print_subtree(c, l, i, prefix, last ? "\\- " : "+- ", last ? "   " : "|  ");
        }
        prefix[len] = '\0';
}

static void print_tree(const Context *c, DeviceList *l) {
        char prefix[TREE_PREFIX_MAX] = "";

        for (size_t i = 0; i < l->n; i++)
                if (l->devices[i].parent_index < 0)
                        print_subtree(c, l, (ssize_t) i, prefix, "", "");
        /* whatever hangs off a loop or below the depth limit */
        for (size_t i = 0; i < l->n; i++)
                if (!l->devices[i].printed)
                        print_subtree(c, l, (ssize_t) i, prefix, "", "");
}

static json_object *scope_names_json(uint32_t mask) {
        json_object *a = json_object_new_array();

        for (uint32_t bit = 1; bit & PCRESET_SCOPE_KNOWN; bit <<= 1)
                if (mask & bit)
                        json_object_array_add(a, json_object_new_string(pcreset_scope_bit_name(bit)));
        return a;
}

static json_object *device_json(const Device *d) {
        json_object *o = json_object_new_object();

        json_add_string(o, "address", d->address);
        json_add_string(o, "parent", d->parent);
        json_add_int(o, "vendor", d->vendor);
        json_add_int(o, "device", d->device);
        json_add_string(o, "name", d->name);
        json_add_string(o, "driver", d->driver);
        json_add_string(o, "state", d->state);
        json_add_string(o, "reason", d->reason);
        json_add_string(o, "domain", d->domain);
        json_add_int(o, "scopes", d->scopes);
        json_object_object_add(o, "scope_names", scope_names_json(d->scopes));
        json_object_object_add(o, "methods", json_string_array(d->methods));
        json_add_string(o, "physfn", d->physfn);
        json_object_object_add(o, "vfs", json_string_array(d->vfs));
        if (!isempty(d->handover)) {
                json_add_string(o, "handover", d->handover);
                json_add_string(o, "handover_reason", d->handover_reason);
        }
        return o;
}

static void print_device_list_json(const DeviceList *l) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, device_json(&l->devices[i]));
        print_json(a);
}

int verb_list(Context *c, const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(device_list_done) DeviceList l = {};
        int r;

        bool ex = true;
        r = call_manager(c, "ListDevicesEx", NULL, &reply, &error, NULL);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                /* an older daemon */
                sd_bus_error_free(&error);
                ex = false;
                r = call_manager(c, "ListDevices", NULL, &reply, &error, NULL);
        }
        if (r < 0)
                return report_bus_error(c, &error, r);
        r = read_device_list(reply, ex, &l);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                                    "Cannot understand the device list sent by pcresetd", PCRESETCTL_EXIT_FAILURE);

        if (c->json)
                print_device_list_json(&l);
        else if (build_tree(&l) < 0)
                return report_error(c, SD_BUS_ERROR_NO_MEMORY, strerror(ENOMEM), PCRESETCTL_EXIT_FAILURE);
        else
                print_tree(c, &l);
        return PCRESETCTL_EXIT_OK;
}
