/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl: the command-line client of pcresetd. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "client-util.h"
#include "pcreset1.h"
#include "pcresetctl.h"
#include "tty-agent.h"

#define DEFAULT_TIMEOUT_SEC 300

#define ANSI_GREEN  "\033[0;32m"
#define ANSI_YELLOW "\033[0;33m"
#define ANSI_NORMAL "\033[0m"

/* Reasons and messages can carry text other users control (the process name
 * in "vfio group 12 open by pid 4711 (name)"): it must never reach the
 * terminal as control sequences. JSON output is escaped by json-c. */
void print_text(FILE *f, const char *s) {
        for (; s && *s; s++)
                fputc((unsigned char) *s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

void print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* json-c accepts NULL strings as JSON null, which is what we want for names
 * we cannot give; the helpers keep the builders short. */
void json_add_string(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

void json_add_int(json_object *o, const char *key, int64_t value) {
        json_object_object_add(o, key, json_object_new_int64(value));
}

json_object *json_string_array(char **l) {
        json_object *a = json_object_new_array();

        for (char **i = l; i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

/* ---------------------------------------------------------------------- */
/* Errors and exit codes */

static const struct {
        const char *name;
        int exit_code;
} error_exit_codes[] = {
        { PCRESET1_ERROR_NO_SUCH_DEVICE,                   PCRESETCTL_EXIT_NO_SUCH_DEVICE },
        { PCRESET1_ERROR_NOT_SUPPORTED,                    PCRESETCTL_EXIT_NOT_SUPPORTED },
        { PCRESET1_ERROR_DEVICE_BUSY,                      PCRESETCTL_EXIT_BUSY },
        { PCRESET1_ERROR_RESET_FAILED,                     PCRESETCTL_EXIT_RESET_FAILED },
        { PCRESET1_ERROR_CANCELLED,                        PCRESETCTL_EXIT_CANCELLED },
        { SD_BUS_ERROR_INVALID_ARGS,                       PCRESETCTL_EXIT_USAGE },
        { SD_BUS_ERROR_ACCESS_DENIED,                      PCRESETCTL_EXIT_ACCESS_DENIED },
        { SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, PCRESETCTL_EXIT_ACCESS_DENIED },
        { SD_BUS_ERROR_LIMITS_EXCEEDED,                    PCRESETCTL_EXIT_LIMITS },
        /* everything that means "nobody answered" */
        { SD_BUS_ERROR_SERVICE_UNKNOWN,                    PCRESETCTL_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_NAME_HAS_NO_OWNER,                  PCRESETCTL_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_NO_REPLY,                           PCRESETCTL_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_NO_SERVER,                          PCRESETCTL_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_DISCONNECTED,                       PCRESETCTL_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_TIMEOUT,                            PCRESETCTL_EXIT_NO_DAEMON },
};

/* Bus activation failures (org.freedesktop.DBus.Error.Spawn.ChildExited,
 * ...) leave the daemon just as unreachable as a missing service. */
#define SPAWN_ERROR_PREFIX "org.freedesktop.DBus.Error.Spawn."

int exit_code_from_error(const char *name) {
        if (!name)
                return PCRESETCTL_EXIT_FAILURE;
        for (size_t i = 0; i < ELEMENTSOF(error_exit_codes); i++)
                if (streq(name, error_exit_codes[i].name))
                        return error_exit_codes[i].exit_code;
        if (startswith(name, SPAWN_ERROR_PREFIX))
                return PCRESETCTL_EXIT_NO_DAEMON;
        return PCRESETCTL_EXIT_FAILURE;
}

/* The one place errors reach the user: the message on stderr always, and in
 * JSON mode also as an object on stdout so that a program reading stdout
 * learns what went wrong without parsing stderr. Returns the exit code. */
int report_error(const Context *c, const char *name, const char *message, int exit_code) {
        fputs(PROGRAM ": ", stderr);
        print_text(stderr, message);
        fputc('\n', stderr);
        if (c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "error", name);
                json_add_string(o, "message", message);
                print_json(o);
        }
        return exit_code;
}

int report_bus_error(const Context *c, const sd_bus_error *error, int r) {
        const char *name = error->name, *message = error->message;

        /* a local failure may come without a name or text */
        if (!name)
                name = SD_BUS_ERROR_FAILED;
        if (!message)
                message = strerror(r < 0 ? -r : EIO);
        return report_error(c, name, message, exit_code_from_error(name));
}

static int usage_error(const Context *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const Context *c, const char *fmt, ...) {
        char message[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        report_error(c, SD_BUS_ERROR_INVALID_ARGS, message, PCRESETCTL_EXIT_USAGE);
        if (!c->json)
                fprintf(stderr, "Try '" PROGRAM " --help' for more information.\n");
        return PCRESETCTL_EXIT_USAGE;
}

/* ---------------------------------------------------------------------- */
/* Method calls */

typedef struct PendingCall {
        sd_bus_message *reply;
        bool done;
} PendingCall;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PendingCall *p = userdata;

        p->reply = sd_bus_message_ref(m);
        p->done = true;
        return 0;
}

/* "\r" + erase-line keeps the status on one line that the result replaces. */
static void show_elapsed(const char *what, uint64_t elapsed_usec) {
        unsigned sec = (unsigned) (elapsed_usec / USEC_PER_SEC);

        if (sec < 60)
                fprintf(stderr, "\r\033[K%s... %us", what, sec);
        else
                fprintf(stderr, "\r\033[K%s... %umin %02us", what, sec / 60, sec % 60);
        fflush(stderr);
}

static void clear_elapsed(void) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
}

/* Runs the bus until the reply to our call arrived (sd-bus synthesizes an
 * error reply on timeout or disconnect, so this ends). With a status text,
 * shows the elapsed time on stderr from the first second on, but never while
 * the polkit agent is reading a password on the same terminal. */
static int wait_for_reply(sd_bus *bus, PendingCall *p, const char *status) {
        uint64_t start = now_usec(), next_tick = start + USEC_PER_SEC;
        bool shown = false;
        int r = 0;

        for (;;) {
                r = sd_bus_process(bus, NULL);
                /* a synthesized timeout reply is dispatched with a return
                 * value of 0, "nothing done": look at done before waiting */
                if (r < 0 || p->done)
                        break;
                if (r > 0)
                        continue;

                uint64_t now = now_usec();
                if (status && now >= next_tick) {
                        if (!tty_agent_prompting()) {
                                show_elapsed(status, now - start);
                                shown = true;
                        }
                        next_tick = now + USEC_PER_SEC - (now - start) % USEC_PER_SEC;
                }
                r = sd_bus_wait(bus, status ? next_tick - now : UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        break;
        }
        if (shown)
                clear_elapsed();
        return p->done ? 0 : r;
}

int new_manager_call(Context *c, const char *method, sd_bus_message **ret) {
        return sd_bus_message_new_method_call(c->bus, ret, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH,
                                              PCRESET1_MANAGER_INTERFACE, method);
}

int call_message(Context *c, sd_bus_message *m, const char *status, sd_bus_message **ret_reply,
                 sd_bus_error *error) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        PendingCall p = {};
        int r;

        r = sd_bus_message_set_allow_interactive_authorization(m, c->ask_password);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);

        uint64_t start = now_usec();
        r = sd_bus_call_async(c->bus, &slot, m, on_reply, &p, c->timeout_usec);
        if (r >= 0)
                r = wait_for_reply(c->bus, &p, status);
        if (r < 0)
                /* the connection is gone: nobody will answer any more */
                return sd_bus_error_setf(error, SD_BUS_ERROR_DISCONNECTED,
                                         "Lost the connection to the system bus: %s", strerror(-r));

        if (!sd_bus_message_is_method_error(p.reply, NULL)) {
                *ret_reply = p.reply;
                return 0;
        }

        const sd_bus_error *e = sd_bus_message_get_error(p.reply);
        /* sd-bus's own "Method call timed out" does not say which limit */
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) && now_usec() - start >= c->timeout_usec)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_NO_REPLY,
                                      "No reply from pcresetd within %" PRIu64 " s (see --timeout)",
                                      c->timeout_usec / USEC_PER_SEC);
        else
                r = sd_bus_error_copy(error, e);
        sd_bus_message_unref(p.reply);
        return r < 0 ? r : -EIO;
}

/* Calls a Manager method with the arguments given as for
 * sd_bus_message_append(). Returns 0 or a negative errno with error set. */
static int call_manager(Context *c, const char *method, const char *status,
                        sd_bus_message **ret_reply, sd_bus_error *error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = new_manager_call(c, method, &m);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return sd_bus_error_set_errno(error, r);
        }
        return call_message(c, m, status, ret_reply, error);
}

/* ---------------------------------------------------------------------- */
/* Decoding replies */

typedef struct Device {
        /* strings point into the reply message, which outlives them */
        const char *address, *parent, *name, *driver, *state, *reason, *domain;
        uint16_t vendor, device;
        uint32_t scopes;
        char **methods;

        /* the tree, as indexes into the device array, -1 for none */
        ssize_t parent_index, first_child, last_child, next_sibling;
        bool printed;
} Device;

typedef struct DeviceList {
        Device *devices;
        size_t n;
} DeviceList;

static void device_list_done(DeviceList *l) {
        for (size_t i = 0; i < l->n; i++)
                strv_free(l->devices[i].methods);
        free(l->devices);
        *l = (DeviceList) {};
}

/* One ListDevices entry; returns 0 at the end of the array. */
static int read_device(sd_bus_message *reply, Device *d) {
        int r;

        r = sd_bus_message_enter_container(reply, 'r', "ssqqsssssuas");
        if (r <= 0)
                return r;
        r = sd_bus_message_read(reply, "ssqqsssssu", &d->address, &d->parent, &d->vendor, &d->device, &d->name,
                                &d->driver, &d->state, &d->reason, &d->domain, &d->scopes);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(reply, &d->methods);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        return r < 0 ? r : 1;
}

static int read_device_list(sd_bus_message *reply, DeviceList *ret) {
        DeviceList l = {};
        size_t allocated = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(ssqqsssssuas)");
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
                r = read_device(reply, &l.devices[l.n]);
                if (r <= 0)
                        break;
                l.n++;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0) {
                strv_free(l.devices[l.n].methods);
                device_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

/* ---------------------------------------------------------------------- */
/* list */

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

                if (isempty(d->parent) || streq(d->parent, d->address))
                        continue;
                DeviceIndex key = { .address = d->parent };
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

static const char *state_color(const Context *c, const char *state) {
        if (!c->colors)
                return NULL;
        if (streq(state, "owned"))
                return ANSI_GREEN;
        if (streq(state, "busy"))
                return ANSI_YELLOW;
        return NULL;
}

/* The state word, coloured, padded to width (0: no padding). */
static void print_state(const Context *c, const char *state, int width) {
        const char *color = state_color(c, state);
        int pad = width - (int) strlen(state);

        printf("%s%s%s%*s", color ?: "", state, color ? ANSI_NORMAL : "", pad > 0 ? pad : 0, "");
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
        print_state(c, d->state, 0);
        if (!streq(d->state, "idle") && !isempty(d->reason)) {
                fputs(" (", stdout);
                print_text(stdout, d->reason);
                putchar(')');
        }
        printf("  scopes: %s\n", pcreset_scope_format(d->scopes, scopes, sizeof scopes));
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
        return o;
}

static void print_device_list_json(const DeviceList *l) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, device_json(&l->devices[i]));
        print_json(a);
}

static int verb_list(Context *c, const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(device_list_done) DeviceList l = {};
        int r;

        r = call_manager(c, "ListDevices", NULL, &reply, &error, NULL);
        if (r < 0)
                return report_bus_error(c, &error, r);
        r = read_device_list(reply, &l);
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

/* ---------------------------------------------------------------------- */
/* How a reset is done: the details of ResetDeviceEx and GetResetInfoEx */

static const char **details_string(ResetDetails *d, const char *key) {
        if (streq(key, "mechanism"))
                return &d->mechanism;
        if (streq(key, "method"))
                return &d->method;
        if (streq(key, "bridge"))
                return &d->bridge;
        if (streq(key, "domain"))
                return &d->domain;
        return NULL;
}

/* Keys this client does not know are skipped: the daemon may add more. */
static int read_details_entry(sd_bus_message *reply, ResetDetails *d) {
        const char *key, **str;
        int r;

        r = sd_bus_message_read(reply, "s", &key);
        if (r < 0)
                return r;
        if ((str = details_string(d, key)))
                return sd_bus_message_read(reply, "v", "s", str);
        if (streq(key, "duration_usec")) {
                d->has_duration = true;
                return sd_bus_message_read(reply, "v", "t", &d->duration_usec);
        }
        return sd_bus_message_skip(reply, "v");
}

int read_details(sd_bus_message *reply, ResetDetails *ret) {
        ResetDetails d = {};
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = read_details_entry(reply, &d);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
}

/* "reset-subordinate, bridge 0000:00:07.0" */
void print_mechanism(const ResetDetails *d) {
        fputs(d->mechanism ?: "unknown", stdout);
        if (!isempty(d->method))
                printf(", reset_method %s", d->method);
        if (!isempty(d->bridge))
                printf(", bridge %s", d->bridge);
}

void details_json(json_object *o, const ResetDetails *d) {
        json_add_string(o, "mechanism", d->mechanism);
        json_add_string(o, "method", d->method);
        json_add_string(o, "bridge", d->bridge);
        if (d->domain)
                json_add_string(o, "domain", d->domain);
        if (d->has_duration)
                json_add_int(o, "duration_usec", (int64_t) d->duration_usec);
}

/* ---------------------------------------------------------------------- */
/* info */

typedef struct AffectedDevice {
        const char *address, *state, *reason;   /* point into the reply */
} AffectedDevice;

static int read_affected_info(sd_bus_message *reply, AffectedDevice **ret, size_t *ret_n) {
        _cleanup_free_ AffectedDevice *a = NULL;
        size_t n = 0, allocated = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (;;) {
                AffectedDevice d;

                r = sd_bus_message_read(reply, "(sss)", &d.address, &d.state, &d.reason);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n == allocated) {
                        size_t want = allocated ? allocated * 2 : 8;
                        AffectedDevice *b = reallocarray(a, want, sizeof *b);
                        if (!b)
                                return -ENOMEM;
                        a = b;
                        allocated = want;
                }
                a[n++] = d;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = a;
        a = NULL;
        *ret_n = n;
        return 0;
}

static bool any_busy(const AffectedDevice *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(a[i].state, "busy"))
                        return true;
        return false;
}

const char *scope_bit_label(uint32_t bit) {
        return pcreset_scope_bit_name(bit) ?: "unknown";
}

static void print_info_text(const Context *c, const char *address, uint32_t planned,
                            const AffectedDevice *a, size_t n, const ResetDetails *d) {
        char scope[128];

        printf("Device:    %s\n", address);
        printf("Scope:     %s (0x%02" PRIx32 ")\n", pcreset_scope_format(c->scope, scope, sizeof scope), c->scope);
        printf("Method:    %s (0x%02" PRIx32 ")\n", scope_bit_label(planned), planned);
        fputs("Mechanism: ", stdout);
        print_mechanism(d);
        putchar('\n');
        if (d->domain)
                printf("Queue:     reset domain %s\n", d->domain);
        for (size_t i = 0; i < n; i++) {
                printf("%s %s  ", i == 0 ? "Affected: " : "          ", a[i].address);
                print_state(c, a[i].state, 5);
                fputs("  ", stdout);
                print_text(stdout, a[i].reason);
                putchar('\n');
        }

        if (!any_busy(a, n)) {
                puts("A reset would be allowed (subject to polkit).");
                return;
        }
        fputs("A reset would be refused:", stdout);
        for (size_t i = 0, k = 0; i < n; i++)
                if (streq(a[i].state, "busy")) {
                        printf("%s %s is busy (", k++ ? ";" : "", a[i].address);
                        print_text(stdout, a[i].reason);
                        putchar(')');
                }
        puts(".");
}

static void print_info_json(const char *address, uint32_t planned, const AffectedDevice *a, size_t n,
                            const ResetDetails *details) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *affected = json_object_new_array();

        json_add_string(o, "address", address);
        json_add_int(o, "planned", planned);
        json_add_string(o, "planned_name", pcreset_scope_bit_name(planned));
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_new_object();

                json_add_string(d, "address", a[i].address);
                json_add_string(d, "state", a[i].state);
                json_add_string(d, "reason", a[i].reason);
                json_object_array_add(affected, d);
        }
        json_object_object_add(o, "affected", affected);
        json_object_object_add(o, "allowed", json_object_new_boolean(!any_busy(a, n)));
        details_json(o, details);
        print_json(o);
}

static int verb_info(Context *c, const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ AffectedDevice *affected = NULL;
        ResetDetails details = {};
        size_t n = 0;
        uint32_t planned;
        int r;

        r = call_manager(c, "GetResetInfoEx", NULL, &reply, &error, "su", address, c->scope);
        if (r < 0)
                return report_bus_error(c, &error, r);
        r = sd_bus_message_read(reply, "u", &planned);
        if (r >= 0)
                r = read_affected_info(reply, &affected, &n);
        if (r >= 0)
                r = read_details(reply, &details);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                                    "Cannot understand the reset plan sent by pcresetd", PCRESETCTL_EXIT_FAILURE);

        if (c->json)
                print_info_json(c->address, planned, affected, n, &details);
        else
                print_info_text(c, c->address, planned, affected, n, &details);
        return PCRESETCTL_EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* reset, claim, release */

/* A function reset on a fake host takes microseconds, a bus reset seconds. */
static void print_duration(uint64_t usec) {
        if (usec < 1000)
                printf(", took %" PRIu64 " us", usec);
        else if (usec < USEC_PER_SEC)
                printf(", took %.1f ms", (double) usec / 1000.0);
        else
                printf(", took %.1f s", (double) usec / (double) USEC_PER_SEC);
}

static void print_reset_result(const Context *c, const char *address, uint32_t performed, char **affected,
                               const ResetDetails *d) {
        if (c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "address", address);
                json_add_int(o, "performed", performed);
                json_add_string(o, "performed_name", pcreset_scope_bit_name(performed));
                json_object_object_add(o, "affected", json_string_array(affected));
                details_json(o, d);
                print_json(o);
                return;
        }

        printf("reset %s: performed %s (0x%02" PRIx32 "), affected:", address, scope_bit_label(performed), performed);
        for (char **i = affected; i && *i; i++)
                printf("%s %s", i == affected ? "" : ",", *i);
        fputs("\n  mechanism: ", stdout);
        print_mechanism(d);
        if (d->has_duration)
                print_duration(d->duration_usec);
        putchar('\n');
}

static int verb_reset(Context *c, const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **affected = NULL;
        char status[64 + PCI_ADDRESS_MAX];
        ResetDetails details = {};
        uint32_t performed;
        int r;

        snprintf(status, sizeof status, "Waiting for the reset of %s", c->address);
        r = call_manager(c, "ResetDeviceEx", c->progress ? status : NULL, &reply, &error, "su", address, c->scope);
        if (r < 0)
                return report_bus_error(c, &error, r);
        r = sd_bus_message_read(reply, "u", &performed);
        if (r >= 0)
                r = sd_bus_message_read_strv(reply, &affected);
        if (r >= 0)
                r = read_details(reply, &details);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                                    "The reset ran, but its reply from pcresetd cannot be understood",
                                    PCRESETCTL_EXIT_FAILURE);

        print_reset_result(c, c->address, performed, affected, &details);
        return PCRESETCTL_EXIT_OK;
}

/* Claim and release differ only in the method and the words printed. */
static int claim_or_release(Context *c, const char *address, bool claim) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call_manager(c, claim ? "ClaimDevice" : "ReleaseDevice", NULL, &reply, &error, "s", address);
        if (r < 0)
                return report_bus_error(c, &error, r);

        if (c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "address", c->address);
                json_object_object_add(o, claim ? "claimed" : "released", json_object_new_boolean(true));
                if (claim)
                        json_add_int(o, "uid", geteuid());
                print_json(o);
        } else if (claim)
                printf("claim %s: claimed for uid %u\n", c->address, (unsigned) geteuid());
        else
                printf("release %s: released\n", c->address);
        return PCRESETCTL_EXIT_OK;
}

static int verb_claim(Context *c, const char *address) {
        return claim_or_release(c, address, true);
}

static int verb_release(Context *c, const char *address) {
        return claim_or_release(c, address, false);
}

/* ---------------------------------------------------------------------- */
/* Command line */

static int verb_help(Context *c, const char *address) {
        printf("%s [OPTIONS...] COMMAND [ADDR]\n"
               "\n"
               "Ask pcresetd to reset PCI devices.\n"
               "\n"
               "Commands:\n"
               "  list                 Show all PCI functions as a tree, with driver, state\n"
               "                       and the reset scopes each supports (the default)\n"
               "  info ADDR            Show what a reset of ADDR would do, without doing it\n"
               "  reset ADDR           Reset the PCI function ADDR\n"
               "  claim ADDR           Make ADDR belong to your user\n"
               "  release ADDR         Drop your claim on ADDR\n"
               "  monitor              Print a line per reset that starts or ends, as\n"
               "                       pcresetd announces them, until interrupted\n"
               "  oci-hook             Run as an OCI runtime hook (prestart, createRuntime,\n"
               "                       poststop): reset the container's VFIO devices\n"
               "  help                 Show this help\n"
               "\n"
               "Options:\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -s --scope=SCOPE     Kinds of reset that are acceptable (info, reset):\n"
               "                       comma-separated names device_specific, flr, pm,\n"
               "                       acpi (the function alone), slot, bus, cxl_bus (the\n"
               "                       whole link), or func, link, any, or a number such\n"
               "                       as 0x27. Default: func, which never touches another\n"
               "                       device\n"
               "     --timeout=SEC     Wait up to SEC seconds for an answer (default %d;\n"
               "                       resets may be queued behind others); 0: forever\n"
               "     --json            Print JSON on stdout, errors included (monitor: one\n"
               "                       object per line)\n"
               "     --no-ask-password Do not ask for a password; fail if one is needed\n"
               "\n"
               "oci-hook options (set by the administrator in the hook's configuration):\n"
               "     --sysfs-root=DIR  Where sysfs is (default /sys)\n"
               "     --dev-root=DIR    Where the VFIO nodes are: DIR/vfio/N (default /dev)\n"
               "     --allow-unproven  Also ask for devices the annotation names that none\n"
               "                       of the container's VFIO nodes covers (the daemon's\n"
               "                       ownership rules decide)\n"
               "\n"
               "ADDR is DDDD:BB:DD.F or BB:DD.F in hex, as lspci -D shows it.\n"
               "oci-hook reads the OCI state on stdin and exits non-zero only when the\n"
               "annotation org.freedesktop.pcreset.required=true is set and a reset failed.\n"
               "\n"
               "Exit status:\n"
               "   0  success\n"
               "   1  any other failure\n"
               "   2  bad command line, or an argument the daemon rejected\n"
               "   3  no such device\n"
               "   4  no reset within the scope is possible on this device\n"
               "   5  a device the reset would touch is busy\n"
               "   6  not authorized\n"
               "   7  the reset failed\n"
               "   8  the request was cancelled\n"
               "   9  too many requests\n"
               "  10  the system bus or pcresetd cannot be reached\n",
               PROGRAM, DEFAULT_TIMEOUT_SEC);
        return PCRESETCTL_EXIT_OK;
}

typedef struct Verb {
        const char *name;
        unsigned n_args;        /* 0, or 1 for ADDR */
        bool takes_scope;
        bool needs_bus;
        bool may_ask;           /* polkit may ask for a password */
        bool hook_options;      /* --sysfs-root, --dev-root, --allow-unproven */
        int (*run)(Context *c, const char *address);
} Verb;

static const Verb verbs[] = {
        { "list",     0, false, true,  false, false, verb_list },
        { "info",     1, true,  true,  false, false, verb_info },
        { "reset",    1, true,  true,  true,  false, verb_reset },
        { "claim",    1, false, true,  true,  false, verb_claim },
        { "release",  1, false, true,  true,  false, verb_release },
        { "monitor",  0, false, true,  false, false, verb_monitor },
        /* connects only when there is something to reset; never asks */
        { "oci-hook", 0, false, false, false, true,  verb_oci_hook },
        { "help",     0, false, false, false, false, verb_help },
};

static const Verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static int parse_timeout(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long sec;

        /* strtoull() would take spaces and a sign */
        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        sec = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || sec > UINT64_MAX / USEC_PER_SEC - 1)
                return -EINVAL;
        /* sd-bus reads 0 as "the default" (25 s): forever is UINT64_MAX */
        *ret = sec == 0 ? UINT64_MAX : sec * USEC_PER_SEC;
        return 0;
}

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_TIMEOUT,
        ARG_NO_ASK_PASSWORD,
        ARG_SYSFS_ROOT,
        ARG_DEV_ROOT,
        ARG_ALLOW_UNPROVEN,
};

static const struct option options[] = {
        { "help",            no_argument,       NULL, 'h' },
        { "version",         no_argument,       NULL, ARG_VERSION },
        { "scope",           required_argument, NULL, 's' },
        { "timeout",         required_argument, NULL, ARG_TIMEOUT },
        { "json",            no_argument,       NULL, ARG_JSON },
        { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
        { "sysfs-root",      required_argument, NULL, ARG_SYSFS_ROOT },
        { "dev-root",        required_argument, NULL, ARG_DEV_ROOT },
        { "allow-unproven",  no_argument,       NULL, ARG_ALLOW_UNPROVEN },
        {}
};

/* First pass: options only. Values are checked afterwards, once we know
 * whether errors must be reported as JSON. Returns -1 to go on, else the
 * exit code. */
static int parse_options(Context *c, int argc, char *argv[]) {
        bool no_ask_password = false;
        int opt;

        opterr = 0;     /* our own messages, with our name and exit code */
        while ((opt = getopt_long(argc, argv, ":hs:", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        return verb_help(c, NULL);
                case ARG_VERSION:
                        printf("%s %s\n", PROGRAM, PCRESETD_VERSION);
                        return PCRESETCTL_EXIT_OK;
                case 's':
                        c->scope_arg = optarg;
                        break;
                case ARG_TIMEOUT:
                        c->timeout_arg = optarg;
                        break;
                case ARG_JSON:
                        c->json = true;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        no_ask_password = true;
                        break;
                case ARG_SYSFS_ROOT:
                        c->sysfs_root = optarg;
                        break;
                case ARG_DEV_ROOT:
                        c->dev_root = optarg;
                        break;
                case ARG_ALLOW_UNPROVEN:
                        c->allow_unproven = true;
                        break;
                case ':':
                        return usage_error(c, "option '%s' needs an argument", argv[optind - 1]);
                default:
                        /* optopt names a bad short option even inside "-hx" */
                        if (optopt)
                                return usage_error(c, "unknown option '-%c'", optopt);
                        return usage_error(c, "unknown option '%s'", argv[optind - 1]);
                }

        c->ask_password = !no_ask_password && isatty(STDIN_FILENO);
        c->colors = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !streq_ptr(getenv("TERM"), "dumb");
        c->progress = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
        return -1;
}

/* Second pass: the verb, its arguments and the option values. Returns the
 * verb, or NULL with *ret_exit set. */
static const Verb *parse_arguments(Context *c, int argc, char *argv[], const char **ret_address, int *ret_exit) {
        const char *name = optind < argc ? argv[optind] : "list";
        int n_args = optind < argc ? argc - optind - 1 : 0;
        const Verb *verb = find_verb(name);
        PciAddress a;

        if (!verb) {
                *ret_exit = usage_error(c, "unknown command '%s'", name);
                return NULL;
        }
        if ((unsigned) n_args != verb->n_args) {
                *ret_exit = usage_error(c, verb->n_args ? "'%s' needs exactly one device address" :
                                                          "'%s' takes no arguments", name);
                return NULL;
        }

        if (c->scope_arg && !verb->takes_scope) {
                *ret_exit = usage_error(c, "--scope only applies to info and reset");
                return NULL;
        }
        if ((c->sysfs_root || c->dev_root || c->allow_unproven) && !verb->hook_options) {
                *ret_exit = usage_error(c, "--sysfs-root, --dev-root and --allow-unproven only apply to oci-hook");
                return NULL;
        }
        if ((c->sysfs_root && isempty(c->sysfs_root)) || (c->dev_root && isempty(c->dev_root))) {
                *ret_exit = usage_error(c, "--sysfs-root and --dev-root need a directory");
                return NULL;
        }
        if (!c->sysfs_root)
                c->sysfs_root = "/sys";
        if (!c->dev_root)
                c->dev_root = "/dev";

        c->scope = PCRESET_SCOPE_FUNC;
        if (c->scope_arg && pcreset_scope_parse(c->scope_arg, &c->scope) < 0) {
                *ret_exit = usage_error(c, "invalid scope '%s': use names flr,pm,device_specific,acpi,slot,bus,"
                                           "cxl_bus,func,link,any or a number such as 0x27", c->scope_arg);
                return NULL;
        }

        c->timeout_usec = DEFAULT_TIMEOUT_SEC * USEC_PER_SEC;
        if (c->timeout_arg && parse_timeout(c->timeout_arg, &c->timeout_usec) < 0) {
                *ret_exit = usage_error(c, "invalid timeout '%s': expected a number of seconds", c->timeout_arg);
                return NULL;
        }

        /* The daemon decides, but a typo is better caught here, before
         * polkit possibly asks for a password for it. */
        *ret_address = verb->n_args ? argv[optind + 1] : NULL;
        if (*ret_address) {
                if (pci_address_parse(*ret_address, &a) < 0) {
                        *ret_exit = usage_error(c, "invalid PCI address '%s': expected DDDD:BB:DD.F or BB:DD.F "
                                                   "in hex, e.g. 0000:01:00.0", *ret_address);
                        return NULL;
                }
                pci_address_format(&a, c->address);
        }

        return verb;
}

int connect_bus(Context *c) {
        char message[256];
        int r;

        r = sd_bus_open_system(&c->bus);
        if (r >= 0)
                return -1;
        snprintf(message, sizeof message, "Cannot connect to the system bus: %s", strerror(-r));
        return report_error(c, SD_BUS_ERROR_NO_SERVER, message, PCRESETCTL_EXIT_NO_DAEMON);
}

static int run(Context *c, const Verb *verb, const char *address) {
        _cleanup_(tty_agent_stop) pid_t agent = 0;
        int r;

        if (verb->needs_bus) {
                r = connect_bus(c);
                if (r >= 0)
                        return r;
        }
        /* polkit never asks root, so root needs no agent */
        if (verb->may_ask && c->ask_password && geteuid() != 0) {
                r = tty_agent_start(&agent);
                if (r < 0)
                        fprintf(stderr, PROGRAM ": cannot start the polkit agent, continuing without: %s\n",
                                strerror(-r));
        }
        /* the agent is stopped on return, before main() closes the bus */
        return verb->run(c, address);
}

static void context_done(Context *c) {
        c->bus = sd_bus_flush_close_unref(c->bus);
}

int main(int argc, char *argv[]) {
        _cleanup_(context_done) Context c = {};
        const Verb *verb;
        const char *address = NULL;
        int r;

        r = parse_options(&c, argc, argv);
        if (r >= 0)
                return r;
        verb = parse_arguments(&c, argc, argv, &address, &r);
        if (!verb)
                return r;
        return run(&c, verb, address);
}
