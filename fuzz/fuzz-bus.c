/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus face: real sd-bus method calls with arbitrary arguments to every
 * Manager method (and the Properties, Introspectable and Peer interfaces
 * sd-bus serves beside them), answered by the real handlers of a Manager
 * on a small fake host. This is what anyone on the system bus can send.
 *
 * Set up once: a fake host and a state dir in a temp dir, the daemon's
 * default settings, manager_new(), and a socketpair: one end a server
 * sd_bus handed to manager_serve(), the other a client sd_bus, both on one
 * sd_event loop. No bus daemon is needed: on a direct
 * connection sd_bus_query_sender_creds() falls back to the socket peer's
 * SO_PEERCRED, which is the fuzzer itself (uid 0, so polkit is never asked
 * and the runs stay deterministic).
 *
 * Input: up to MAX_CALLS calls, each
 *   op     u8: bits 0-3 the call (enum Call), bit 4 allow interactive
 *          authorization, bits 5-7 a variant (see each call)
 *   args   per call: a string is a length byte and that many bytes, a u32
 *          is 4 bytes little-endian
 * A string that is not valid UTF-8 is refused by the client library (the
 * bus would never deliver it); that call is skipped.
 *
 * Checks, per call: a reply arrives within REPLY_TIMEOUT_USEC; an error is
 * one the contract documents; a performed or planned scope is one bit of the
 * mask asked for. Per input: every reset_method is as it was (the daemon
 * always puts it back), no inflight record is left, and every claim the
 * input made can be released again (which also keeps inputs independent).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "faketree.h"
#include "fuzz-util.h"
#include "log.h"
#include "manager.h"
#include "pcreset1.h"
#include "util.h"

#define MAX_CALLS 8
#define REPLY_TIMEOUT_USEC (10ULL * 1000000ULL) /* the slowest reset here takes 0.1 s */

/* Every kind of function the rules know: host-driver busy, vfio idle, vfio
 * open (busy), driverless (idle); alone below a plain port (BUS), in a
 * hotplug slot (SLOT), several below a reset_subordinate port, several in a
 * hotplug slot (never), two quiet ones below a plain port (the userspace
 * bus reset through libpci: it waits 100 ms, as the kernel does, so inputs
 * that reach it are slow), a root-bus device (no link reset), no
 * reset_method. */
static const char host_desc[] =
        "00:1f.2 vendor=8086 device=2922 class=010601 driver=ahci methods=\"pm\"\n"
        "00:1f.3 vendor=8086 device=2930 class=0c0500 methods=none\n"
        "00:01.0 bridge=root-port hotplug slot=1 secondary=01 driver=pcieport reset_subordinate\n"
        "01:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=12 methods=\"flr bus\"\n"
        "01:00.1 vendor=10de device=10f8 class=040300 driver=snd_hda_intel group=12 methods=\"flr\"\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=144d device=a808 class=010802 methods=\"flr pm bus\"\n"
        "00:03.0 bridge=root-port secondary=03 driver=pcieport reset_subordinate\n"
        "03:00.0 vendor=8086 device=1521 class=020000 methods=\"flr bus\"\n"
        "03:00.1 vendor=8086 device=1521 class=020000 driver=vfio-pci group=31 cdev=vfio3 methods=\"flr\"\n"
        "00:04.0 bridge=root-port hotplug slot=4 secondary=04 driver=pcieport\n"
        "04:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=40 open-by=4242 methods=\"pm bus\"\n"
        "00:05.0 bridge=root-port secondary=05 driver=pcieport\n"
        "05:00.0 vendor=1b36 device=0010 class=010802 methods=\"bus\"\n"
        "05:00.1 vendor=1b36 device=0010 class=010802 driver=vfio-pci group=51 methods=\"flr\"\n";

enum Call {
        CALL_RESET_DEVICE,        /* su; variant bit 0 (also for the next four): to another object path */
        CALL_RESET_DEVICE_EX,     /* su */
        CALL_GET_RESET_INFO,      /* su */
        CALL_GET_RESET_INFO_EX,   /* su */
        CALL_CLAIM_DEVICE,        /* s */
        CALL_RELEASE_DEVICE,      /* s */
        CALL_LIST_DEVICES,        /* - */
        CALL_RESET_WITH_FDS,      /* su, then variant >> 1 fds (0-3), each picked by a u8 (open_proof_fds) */
        CALL_PROPERTY_GET,        /* ss: interface, property */
        CALL_PROPERTY_GET_ALL,    /* s: interface */
        CALL_PROPERTY_SET,        /* ss, then a string variant */
        CALL_INTROSPECT,          /* - */
        CALL_PING,                /* - */
        CALL_GET_MACHINE_ID,      /* - */
        CALL_ANY_MEMBER,          /* s: a Manager member name, then su */
        CALL_WRONG_SIGNATURE,     /* a Manager method (variant) with the arguments of another */
        CALL_LIST_DEVICES_EX,     /* - */
        _CALL_MAX,
};

static const char *const manager_methods[] = {
        "ResetDevice", "ResetDeviceEx", "GetResetInfo", "GetResetInfoEx",
        "ClaimDevice", "ReleaseDevice", "ListDevices",  "ResetDeviceWithFds",
        "ListDevicesEx",
};

/* What the contract (README, interface XML) lets a caller see, plus what
 * sd-bus itself answers for unknown members, objects and bad signatures. */
static const char *const documented_errors[] = {
        PCRESET1_ERROR_NO_SUCH_DEVICE,
        PCRESET1_ERROR_NOT_SUPPORTED,
        PCRESET1_ERROR_DEVICE_BUSY,
        PCRESET1_ERROR_RESET_FAILED,
        PCRESET1_ERROR_CANCELLED,
        SD_BUS_ERROR_INVALID_ARGS,
        SD_BUS_ERROR_ACCESS_DENIED,
        SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
        SD_BUS_ERROR_LIMITS_EXCEEDED,
        SD_BUS_ERROR_UNKNOWN_METHOD,
        SD_BUS_ERROR_UNKNOWN_OBJECT,
        SD_BUS_ERROR_UNKNOWN_INTERFACE,
        SD_BUS_ERROR_UNKNOWN_PROPERTY,
        SD_BUS_ERROR_PROPERTY_READ_ONLY,
};

static bool trace; /* $PCRESET_FUZZ_TRACE: print each call and its answer */
static sd_event *event;
static Manager *manager; /* lives until exit, as the daemon's does */
static sd_bus *client;
static char *host_root, *inflight_dir;
static int proof_fds[7];

/* reset_method of every device, as the fake host was built */
#define MAX_DEVICES 32
static struct {
        char *path;
        char *text;
} methods_before[MAX_DEVICES];
static size_t n_methods_before;

static void snapshot_reset_methods(const char *sys) {
        char *dir;
        if (asprintf(&dir, "%s/bus/pci/devices", sys) < 0)
                abort();
        DIR *d = opendir(dir);
        FUZZ_CHECK(d, "%s: %s", dir, strerror(errno));
        for (struct dirent *de; (de = readdir(d));) {
                char *path, *text = NULL;
                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&path, "%s/%s/reset_method", dir, de->d_name) < 0)
                        abort();
                if (read_one_line_file(path, &text) < 0 || n_methods_before >= MAX_DEVICES) {
                        free(path);
                        continue;
                }
                methods_before[n_methods_before].path = path;
                methods_before[n_methods_before++].text = text;
        }
        closedir(d);
        free(dir);
}

/* fds a caller may pass to ResetDeviceWithFds. Real VFIO nodes cannot be
 * made here, so the fake host declares some ordinary character devices as
 * VFIO ones, as the kernel's /proc/devices and /sys/dev/char would: the
 * daemon follows them exactly as it would real ones. */
static void open_proof_fds(const char *sys, const char *proc, const char *regular) {
        static const struct {
                const char *node, *link; /* link: NULL for "not described in sysfs" */
        } nodes[] = {
                { "/dev/null", "../../devices/virtual/vfio/12" },  /* group 12: 01:00.0 + 01:00.1 */
                { "/dev/zero", "../../devices/virtual/vfio/40" },  /* group 40: 04:00.0, held open */
                { "/dev/full", "../../devices/virtual/misc/vfio" }, /* the container: no group */
                { "/dev/ptmx", "../../devices/pci0000:00/0000:00:03.0/0000:03:00.1/vfio-dev/vfio3" }, /* a cdev */
                { "/dev/random", NULL },                            /* vfio major, unknown minor */
        };
        static const char devices[] = "Character devices:\n  1 vfio\n  5 vfio-dev\n  10 misc\nBlock devices:\n  8 sd\n";
        char *path;
        struct stat st;
        size_t n = 0;

        if (asprintf(&path, "%s/devices", proc) < 0)
                abort();
        fuzz_write_file(path, devices, sizeof devices - 1);
        free(path);
        if (asprintf(&path, "%s/dev/char", sys) < 0 || mkdir_p(path, 0755) < 0)
                abort();
        free(path);

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                int fd = open(nodes[i].node, O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0) /* not in this container: one fd less */
                        continue;
                if (nodes[i].link) {
                        if (asprintf(&path, "%s/dev/char/%u:%u", sys, major(st.st_rdev), minor(st.st_rdev)) < 0)
                                abort();
                        FUZZ_CHECK(symlink(nodes[i].link, path) == 0, "%s: %s", path, strerror(errno));
                        free(path);
                }
                proof_fds[n++] = fd;
        }
        int pipe_fds[2];
        fuzz_write_file(regular, "", 0);
        FUZZ_CHECK(pipe2(pipe_fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
        proof_fds[n++] = open(regular, O_RDONLY | O_CLOEXEC);
        proof_fds[n++] = pipe_fds[0];
        while (n < ELEMENTSOF(proof_fds))
                proof_fds[n++] = eventfd(0, EFD_CLOEXEC);
        for (size_t i = 0; i < ELEMENTSOF(proof_fds); i++)
                FUZZ_CHECK(proof_fds[i] >= 0, "proof fd %zu: %s", i, strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *root = fuzz_make_tmpdir("pcreset-fuzz-bus"), *sys, *proc, *dev, *state, *conf, *regular;
        GError *error = NULL;
        sd_bus *server;
        int pair[2], r;

        /* every log line is formatted (that is code too); run with
         * -close_fd_mask=2 to keep them off the terminal */
        log_set_max_level(LOG_DEBUG);
        trace = getenv("PCRESET_FUZZ_TRACE");

        if (asprintf(&host_root, "%s/host", root) < 0 || asprintf(&sys, "%s/sys", host_root) < 0 ||
            asprintf(&proc, "%s/proc", host_root) < 0 || asprintf(&dev, "%s/dev", host_root) < 0 ||
            asprintf(&state, "%s/state", root) < 0 || asprintf(&inflight_dir, "%s/inflight", state) < 0 ||
            asprintf(&conf, "%s/pcresetd.conf", root) < 0 || asprintf(&regular, "%s/regular", root) < 0)
                abort();
        if (faketree_build_from_string(host_desc, host_root, &error) < 0) {
                fuzz_report("faketree: %s\n", error->message);
                abort();
        }
        static const char config[] = "# the defaults\n";
        fuzz_write_file(conf, config, sizeof config - 1);
        snapshot_reset_methods(sys);

        r = sd_event_new(&event);
        FUZZ_CHECK(r >= 0, "sd_event_new: %s", strerror(-r));
        const ManagerOptions o = {
                .sysfs_root = sys, .proc_root = proc, .dev_root = dev, .state_dir = state,
                .config_file = conf, .config_must_exist = true,
        };
        r = manager_new(event, &o, &manager);
        FUZZ_CHECK(r >= 0, "manager_new: %s", strerror(-r));

        /* A direct connection: the server end needs a server id and does
         * the authentication, the client end talks to it as to a peer. */
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) == 0, "socketpair: %s",
                   strerror(errno));
        sd_id128_t id;
        r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_new(&server);
        if (r >= 0)
                r = sd_bus_set_fd(server, pair[0], pair[0]);
        if (r >= 0)
                r = sd_bus_set_server(server, 1, id);
        if (r >= 0)
                r = sd_bus_negotiate_fds(server, 1);
        if (r >= 0)
                r = sd_bus_start(server);
        FUZZ_CHECK(r >= 0, "server bus: %s", strerror(-r));
        r = manager_serve(manager, server);
        FUZZ_CHECK(r >= 0, "manager_serve: %s", strerror(-r));
        sd_bus_unref(server); /* the manager holds it */

        r = sd_bus_new(&client);
        if (r >= 0)
                r = sd_bus_set_fd(client, pair[1], pair[1]);
        if (r >= 0)
                r = sd_bus_negotiate_fds(client, 1);
        if (r >= 0)
                r = sd_bus_start(client);
        if (r >= 0)
                r = sd_bus_attach_event(client, event, SD_EVENT_PRIORITY_NORMAL);
        FUZZ_CHECK(r >= 0, "client bus: %s", strerror(-r));

        /* Authenticate now: sending fds asks whether they were negotiated,
         * and sd-bus would wait for that answer without running the server
         * end, which lives in this very thread. */
        for (uint64_t deadline = now_usec() + REPLY_TIMEOUT_USEC; sd_bus_is_ready(client) <= 0;) {
                FUZZ_CHECK(now_usec() < deadline, "the client connection never got ready");
                r = sd_event_run(event, 100000);
                FUZZ_CHECK(r >= 0, "event loop: %s", strerror(-r));
        }
        FUZZ_CHECK(sd_bus_can_send(client, SD_BUS_TYPE_UNIX_FD) > 0, "no fd passing on the socketpair");

        open_proof_fds(sys, proc, regular);
        free(sys), free(proc), free(dev), free(state), free(conf), free(regular);
        return 0;
}

typedef struct Pending {
        sd_bus_message *reply;
} Pending;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        ((Pending *) userdata)->reply = sd_bus_message_ref(reply);
        return 0;
}

/* Sends m and runs the loop until its reply is in; aborts on a hang. */
static sd_bus_message *call(sd_bus_message *m, const char *what) {
        Pending p = {};
        sd_bus_slot *slot = NULL;

        int r = sd_bus_call_async(client, &slot, m, on_reply, &p, 0);
        FUZZ_CHECK(r >= 0, "%s: cannot send: %s", what, strerror(-r));
        for (uint64_t deadline = now_usec() + REPLY_TIMEOUT_USEC; !p.reply;) {
                FUZZ_CHECK(now_usec() < deadline, "%s: no reply within %llu s", what,
                           (unsigned long long) (REPLY_TIMEOUT_USEC / 1000000));
                r = sd_event_run(event, 100000);
                FUZZ_CHECK(r >= 0, "%s: event loop: %s", what, strerror(-r));
        }
        sd_bus_slot_unref(slot);
        return p.reply;
}

static bool documented(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(documented_errors); i++)
                if (strcmp(name, documented_errors[i]) == 0)
                        return true;
        /* only where the daemon itself could not do its job (I/O errors) */
        return strcmp(name, SD_BUS_ERROR_FAILED) == 0;
}

/* The next string argument; NULL if it is no valid D-Bus string (embedded
 * NUL: the client would send a shorter one, which the fuzzer can do too). */
static char *next_string(FuzzInput *in) {
        size_t len;
        char *s = fuzz_bytes(in, fuzz_u8(in), &len);
        if (strlen(s) != len) {
                free(s);
                return NULL;
        }
        return s;
}

/* The claims an input holds at its end (canonical addresses), released
 * after it. */
typedef struct Claimed {
        char address[MAX_CALLS][PCI_ADDRESS_MAX];
        size_t n;
} Claimed;

static void claimed_update(Claimed *claimed, const char *address, bool claim) {
        PciAddress a;
        char name[PCI_ADDRESS_MAX];

        FUZZ_CHECK(pci_address_parse(address, &a) == 0, "'%s' was %s, but it is no address", address,
                   claim ? "claimed" : "released");
        pci_address_format(&a, name);
        for (size_t i = 0; i < claimed->n; i++)
                if (strcmp(claimed->address[i], name) == 0) {
                        if (!claim)
                                memcpy(claimed->address[i], claimed->address[--claimed->n], PCI_ADDRESS_MAX);
                        return;
                }
        if (claim)
                memcpy(claimed->address[claimed->n++], name, PCI_ADDRESS_MAX);
}

static void check_reply(sd_bus_message *reply, enum Call c, const char *member, uint32_t mask, const char *address,
                        Claimed *claimed) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (trace)
                fuzz_report("%s('%s', 0x%x) -> %s: %s\n", member, strempty(address), mask, e ? e->name : "ok",
                            e ? strempty(e->message) : sd_bus_message_get_signature(reply, true));
        if (e) {
                FUZZ_CHECK(documented(e->name), "%s: undocumented error %s: %s", member, e->name,
                           strempty(e->message));
                return;
        }
        switch (c) {
        case CALL_RESET_DEVICE:
        case CALL_RESET_DEVICE_EX:
        case CALL_GET_RESET_INFO:
        case CALL_GET_RESET_INFO_EX:
        case CALL_RESET_WITH_FDS: {
                uint32_t bit;
                int r = sd_bus_message_read(reply, "u", &bit);
                FUZZ_CHECK(r > 0, "%s: reply without a scope: %s", member, strerror(-r));
                FUZZ_CHECK(pcreset_scope_mask_valid(mask), "%s: mask 0x%x accepted", member, mask);
                FUZZ_CHECK(bit && !(bit & (bit - 1)) && (bit & mask) && pcreset_scope_bit_name(bit),
                           "%s %s 0x%x: did scope 0x%x", member, address, mask, bit);
                break;
        }
        case CALL_CLAIM_DEVICE:
        case CALL_RELEASE_DEVICE:
                claimed_update(claimed, address, c == CALL_CLAIM_DEVICE);
                break;
        default:
                break;
        }
}

/* Builds and sends one call from the input; false when the input ran out. */
static bool one_call(FuzzInput *in, Claimed *claimed) {
        sd_bus_message *m = NULL, *reply = NULL;
        char *s1 = NULL, *s2 = NULL, *s3 = NULL;
        uint32_t u = 0;
        const char *path = PCRESET1_OBJECT_PATH, *iface = PCRESET1_MANAGER_INTERFACE, *member = NULL;
        int r = 0;

        if (in->size == 0)
                return false;
        uint8_t op = fuzz_u8(in);
        enum Call c = op & 0x0f;
        bool interactive = op & 0x10;
        unsigned variant = op >> 5;

        switch (c) {
        case CALL_RESET_DEVICE ... CALL_GET_RESET_INFO_EX:
        case CALL_RESET_WITH_FDS:
                member = manager_methods[c];
                s1 = next_string(in);
                u = fuzz_u32(in);
                if (variant & 1)
                        path = PCRESET1_OBJECT_PATH "/other";
                break;
        case CALL_CLAIM_DEVICE:
        case CALL_RELEASE_DEVICE:
                member = manager_methods[c];
                s1 = next_string(in);
                break;
        case CALL_LIST_DEVICES:
                member = manager_methods[c];
                break;
        case CALL_LIST_DEVICES_EX:
                member = "ListDevicesEx";
                break;
        case CALL_PROPERTY_GET:
        case CALL_PROPERTY_GET_ALL:
        case CALL_PROPERTY_SET:
                iface = "org.freedesktop.DBus.Properties";
                member = c == CALL_PROPERTY_GET ? "Get" : c == CALL_PROPERTY_SET ? "Set" : "GetAll";
                s1 = next_string(in);                   /* interface */
                if (c != CALL_PROPERTY_GET_ALL)
                        s2 = next_string(in);           /* property */
                if (c == CALL_PROPERTY_SET)
                        s3 = next_string(in);           /* value */
                break;
        case CALL_INTROSPECT:
                iface = "org.freedesktop.DBus.Introspectable";
                member = "Introspect";
                break;
        case CALL_PING:
        case CALL_GET_MACHINE_ID:
                iface = "org.freedesktop.DBus.Peer";
                member = c == CALL_PING ? "Ping" : "GetMachineId";
                break;
        case CALL_ANY_MEMBER:
                s2 = next_string(in);
                member = s2;
                s1 = next_string(in);
                u = fuzz_u32(in);
                break;
        case CALL_WRONG_SIGNATURE:
                member = manager_methods[variant % ELEMENTSOF(manager_methods)];
                s1 = next_string(in);
                u = fuzz_u32(in);
                break;
        default:
                break;
        }
        /* a string argument with a NUL in it: skip the call */
        if (!member || (c != CALL_LIST_DEVICES && c < CALL_INTROSPECT && !s1) ||
            ((c == CALL_PROPERTY_GET || c == CALL_PROPERTY_SET) && !s2) || (c == CALL_PROPERTY_SET && !s3) ||
            (c >= CALL_ANY_MEMBER && !s1))
                goto skip;

        /* invalid member or interface names are refused here, by the client
         * library, as a bus daemon would refuse them: nothing to send */
        if (sd_bus_message_new_method_call(client, &m, NULL, path, iface, member) < 0)
                goto skip;
        (void) sd_bus_message_set_allow_interactive_authorization(m, interactive);

        switch (c) {
        case CALL_RESET_DEVICE ... CALL_GET_RESET_INFO_EX:
        case CALL_ANY_MEMBER:
                r = sd_bus_message_append(m, "su", s1, u);
                break;
        case CALL_CLAIM_DEVICE:
        case CALL_RELEASE_DEVICE:
                r = sd_bus_message_append(m, "s", s1);
                break;
        case CALL_RESET_WITH_FDS:
                r = sd_bus_message_append(m, "su", s1, u);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "h");
                for (unsigned i = 0; r >= 0 && i < variant >> 1; i++)
                        r = sd_bus_message_append(m, "h", proof_fds[fuzz_u8(in) % ELEMENTSOF(proof_fds)]);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                break;
        case CALL_PROPERTY_GET:
                r = sd_bus_message_append(m, "ss", s1, s2);
                break;
        case CALL_PROPERTY_SET:
                r = sd_bus_message_append(m, "ssv", s1, s2, "s", s3);
                break;
        case CALL_PROPERTY_GET_ALL:
                r = sd_bus_message_append(m, "s", s1);
                break;
        case CALL_WRONG_SIGNATURE:
                /* the argument lists the methods do not take */
                switch (u % 5) {
                case 0: break;
                case 1: r = sd_bus_message_append(m, "u", u); break;
                case 2: r = sd_bus_message_append(m, "us", u, s1); break;
                case 3: r = sd_bus_message_append(m, "sus", s1, u, s1); break;
                case 4: r = sd_bus_message_append(m, "ss", s1, s1); break;
                }
                break;
        default:
                break;
        }
        if (r < 0) /* not UTF-8: the client refuses to send it */
                goto skip;

        reply = call(m, member);
        check_reply(reply, c, member, u, s1, claimed);
skip:
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        free(s1);
        free(s2);
        free(s3);
        return true;
}

static void release(const char *address) {
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(client, &m, NULL, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                               "ReleaseDevice");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", address);
        FUZZ_CHECK(r >= 0, "ReleaseDevice: %s", strerror(-r));
        sd_bus_message *reply = call(m, "ReleaseDevice");
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        FUZZ_CHECK(!e, "root cannot release its claim of '%s': %s: %s", address, e->name, strempty(e->message));
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
}

static void check_host_restored(void) {
        for (size_t i = 0; i < n_methods_before; i++) {
                char *now = NULL;
                int r = read_one_line_file(methods_before[i].path, &now);
                FUZZ_CHECK(r >= 0 && strcmp(now, methods_before[i].text) == 0,
                           "%s is '%s' after the calls, was '%s'", methods_before[i].path, now ?: strerror(-r),
                           methods_before[i].text);
                free(now);
        }
        DIR *d = opendir(inflight_dir);
        for (struct dirent *de; d && (de = readdir(d));)
                FUZZ_CHECK(de->d_name[0] == '.', "inflight record %s left behind", de->d_name);
        if (d)
                closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        Claimed claimed = {};

        for (size_t i = 0; i < MAX_CALLS && one_call(&in, &claimed); i++)
                ;
        for (size_t i = 0; i < claimed.n; i++)
                release(claimed.address[i]);
        check_host_restored();
        return 0;
}
