/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl: the command-line client of pcresetd. This file is the
 * command line: options, the verb table and main(); the verbs live in
 * verb-*.c, monitor.c and oci-hook.c. */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "util.h"
#include "pcreset1.h"
#include "pcresetctl.h"
#include "tty-agent.h"
#include "cdi-spec.h"

#define DEFAULT_TIMEOUT_SEC 300

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
               "  claim ADDR           Make ADDR belong to your user; with --reset, reset it\n"
               "                       first (needed when another user had it last)\n"
               "  release ADDR         Drop your claim on ADDR\n"
               "  monitor              Print a line per reset that starts or ends, as\n"
               "                       pcresetd announces them, until interrupted\n"
               "  oci-hook             Run as an OCI runtime hook (prestart, createRuntime,\n"
               "                       poststop): reset the container's VFIO devices\n"
               "  cdi                  Write a CDI spec of the host's VFIO groups and cdevs,\n"
               "                       whose hooks reset each before and after a container\n"
               "  help                 Show this help\n"
               "\n"
               "Options:\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -s --scope=SCOPE     Kinds of reset that are acceptable (info, reset,\n"
               "                       oci-hook, cdi, claim --reset):\n"
               "                       comma-separated names device_specific, flr, pm,\n"
               "                       acpi (the function alone), slot, bus, cxl_bus (the\n"
               "                       whole link), or func, link, any, or a number such\n"
               "                       as 0x27. Default: func, which never touches another\n"
               "                       device\n"
               "     --reset           claim: reset the device, then claim it (the claim\n"
               "                       is granted only if the reset completed)\n"
               "     --timeout=SEC     Wait up to SEC seconds for an answer (default %d;\n"
               "                       resets may be queued behind others); 0: forever\n"
               "     --json            Print JSON on stdout, errors included (monitor: one\n"
               "                       object per line)\n"
               "     --no-ask-password Do not ask for a password; fail if one is needed\n"
               "\n"
               "oci-hook and cdi options (set by the administrator in the hook's\n"
               "configuration; on oci-hook's command line they win over the annotations):\n"
               "     --sysfs-root=DIR  Where sysfs is (default /sys)\n"
               "     --dev-root=DIR    Where the VFIO nodes are: DIR/vfio/N (default /dev)\n"
               "     --required        A failed reset fails the hook (and the container's\n"
               "                       start)\n"
               "     --allow-unproven  oci-hook: also ask for devices the annotation names\n"
               "                       that none of the container's VFIO nodes covers (the\n"
               "                       daemon's ownership rules decide)\n"
               "     --node=PATH       oci-hook: reset only what the container's VFIO node\n"
               "                       PATH (/dev/vfio/N, /dev/vfio/devices/vfioX) covers\n"
               "     --output-dir=DIR  cdi: write DIR/" CDI_SPEC_FILE " (none when there\n"
               "                       is no VFIO node) instead of printing the spec\n"
               "     --watch           cdi: keep running, rewriting the spec whenever\n"
               "                       /dev/vfio changes (needs --output-dir)\n"
               "\n"
               "ADDR is DDDD:BB:DD.F or BB:DD.F in hex, as lspci -D shows it.\n"
               "oci-hook reads the OCI state on stdin and exits non-zero only when the\n"
               "reset is required (--required, or the annotation\n"
               "org.freedesktop.pcreset.required=true) and a reset failed.\n"
               "\n"
               "Exit status:\n"
               "   0  success\n"
               "   1  any other failure\n"
               "   2  bad command line, or an argument the daemon rejected\n"
               "   3  no such device\n"
               "   4  no reset within the scope is possible on this device\n"
               "   5  a device the reset would touch is busy, or claim needs --reset\n"
               "   6  not authorized\n"
               "   7  the reset failed\n"
               "   8  the request was cancelled\n"
               "   9  too many requests\n"
               "  10  the system bus or pcresetd cannot be reached\n",
               PROGRAM, DEFAULT_TIMEOUT_SEC);
        return PCRESETCTL_EXIT_OK;
}

/* The options only some verbs take. */
typedef enum VerbOptions {
        OPT_ROOTS    = 1 << 0,  /* --sysfs-root, --dev-root */
        OPT_REQUIRED = 1 << 1,  /* --required */
        OPT_HOOK     = 1 << 2,  /* --allow-unproven, --node */
        OPT_CDI      = 1 << 3,  /* --output-dir, --watch */
} VerbOptions;

typedef struct Verb {
        const char *name;
        unsigned n_args;        /* 0, or 1 for ADDR */
        bool takes_scope;
        bool needs_bus;
        bool may_ask;           /* polkit may ask for a password */
        VerbOptions options;
        int (*run)(Context *c, const char *address);
} Verb;

static const Verb verbs[] = {
        { "list",     0, false, true,  false, 0, verb_list },
        { "info",     1, true,  true,  false, 0, verb_info },
        { "reset",    1, true,  true,  true,  0, verb_reset },
        { "claim",    1, true,  true,  true,  0, verb_claim },
        { "release",  1, false, true,  true,  0, verb_release },
        { "monitor",  0, false, true,  false, 0, verb_monitor },
        /* connects only when there is something to reset; never asks */
        { "oci-hook", 0, true,  false, false, OPT_ROOTS | OPT_REQUIRED | OPT_HOOK, verb_oci_hook },
        /* reads /dev and sysfs only: the hooks it writes talk to pcresetd */
        { "cdi",      0, true,  false, false, OPT_ROOTS | OPT_REQUIRED | OPT_CDI, verb_cdi },
        { "help",     0, false, false, false, 0, verb_help },
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
        ARG_REQUIRED,
        ARG_NODE,
        ARG_OUTPUT_DIR,
        ARG_WATCH,
        ARG_RESET,
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
        { "required",        no_argument,       NULL, ARG_REQUIRED },
        { "node",            required_argument, NULL, ARG_NODE },
        { "output-dir",      required_argument, NULL, ARG_OUTPUT_DIR },
        { "watch",           no_argument,       NULL, ARG_WATCH },
        { "reset",           no_argument,       NULL, ARG_RESET },
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
                case ARG_REQUIRED:
                        c->required = true;
                        break;
                case ARG_NODE:
                        c->node_arg = optarg;
                        break;
                case ARG_OUTPUT_DIR:
                        c->output_dir = optarg;
                        break;
                case ARG_WATCH:
                        c->watch = true;
                        break;
                case ARG_RESET:
                        c->claim_reset = true;
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

        if (c->claim_reset && verb->run != verb_claim) {
                *ret_exit = usage_error(c, "--reset only applies to claim");
                return NULL;
        }
        if (c->scope_arg && !verb->takes_scope) {
                *ret_exit = usage_error(c, "--scope only applies to info, reset, claim --reset, oci-hook and cdi");
                return NULL;
        }
        if (c->scope_arg && verb->run == verb_claim && !c->claim_reset) {
                *ret_exit = usage_error(c, "--scope applies to claim only with --reset");
                return NULL;
        }
        if ((c->sysfs_root || c->dev_root) && !(verb->options & OPT_ROOTS)) {
                *ret_exit = usage_error(c, "--sysfs-root and --dev-root only apply to oci-hook and cdi");
                return NULL;
        }
        if (c->required && !(verb->options & OPT_REQUIRED)) {
                *ret_exit = usage_error(c, "--required only applies to oci-hook and cdi");
                return NULL;
        }
        if ((c->allow_unproven || c->node_arg) && !(verb->options & OPT_HOOK)) {
                *ret_exit = usage_error(c, "--allow-unproven and --node only apply to oci-hook");
                return NULL;
        }
        if ((c->output_dir || c->watch) && !(verb->options & OPT_CDI)) {
                *ret_exit = usage_error(c, "--output-dir and --watch only apply to cdi");
                return NULL;
        }
        if ((c->sysfs_root && isempty(c->sysfs_root)) || (c->dev_root && isempty(c->dev_root)) ||
            (c->output_dir && isempty(c->output_dir))) {
                *ret_exit = usage_error(c, "--sysfs-root, --dev-root and --output-dir need a directory");
                return NULL;
        }
        if (c->watch && !c->output_dir) {
                *ret_exit = usage_error(c, "--watch needs --output-dir: it rewrites the spec file there");
                return NULL;
        }
        /* the container's path of the node, as CDI specs and config.json name it */
        if (c->node_arg && (!startswith(c->node_arg, "/dev/vfio/") ||
                            vfio_node_from_name(c->node_arg + strlen("/dev/vfio/"), &c->node) < 0 ||
                            (c->node.kind == VFIO_NODE_GROUP && c->node.noiommu))) {
                *ret_exit = usage_error(c, "invalid --node '%s': expected a VFIO group /dev/vfio/N or a VFIO "
                                           "device cdev /dev/vfio/devices/vfioX", c->node_arg);
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
