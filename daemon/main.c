/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetd: command line, signals, the event loop. */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "log.h"
#include "manager.h"
#include "util.h"

static void help(void) {
        printf("Usage: pcresetd [OPTIONS]\n\n"
               "Owns PCI device resets on this host and offers them on the system bus as\n"
               "org.freedesktop.pcreset1.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --sysfs-root DIR    Where sysfs is (default /sys)\n"
               "     --proc-root DIR     Where procfs is, for open-handle checks (default /proc)\n"
               "     --dev-root DIR      Where /dev is, for VFIO nodes (default /dev)\n"
               "     --state-dir DIR     Claims and in-flight records (default /run/pcresetd)\n"
               "     --config FILE       Configuration (default %s; optional unless given)\n"
               "     --exit-idle SEC     Leave the bus after SEC seconds with nothing to do\n"
               "                         (no requests, claims or authorizations); 0 = never\n"
               "     --debug             Log debug messages\n",
               PCRESETD_CONFIG_FILE);
}

/* Every call may bring fds (up to 16 on the system bus, whatever its
 * signature says), and sd-bus keeps a message's fds open while it sits
 * in the read queue - which fills while a call waits synchronously. The
 * soft limit a service gets (1024) is the select() era's; raise it to the
 * hard one (systemd's default: 512 Ki) so that a burst of fd-carrying calls
 * cannot make the bus connection fail for everyone. */
static void bump_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(-errno, "Cannot raise the open file limit: %m");
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading pcresetd.conf");
        (void) manager_reload(userdata);
        (void) sd_notify(false, "READY=1\nSTATUS=Serving PCI resets");
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_SYSFS, ARG_PROC, ARG_DEV, ARG_STATE, ARG_CONFIG, ARG_DEBUG, ARG_EXIT_IDLE };
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "version",    no_argument,       NULL, ARG_VERSION },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS },
                { "proc-root",  required_argument, NULL, ARG_PROC },
                { "dev-root",   required_argument, NULL, ARG_DEV },
                { "state-dir",  required_argument, NULL, ARG_STATE },
                { "config",     required_argument, NULL, ARG_CONFIG },
                { "debug",      no_argument,       NULL, ARG_DEBUG },
                { "exit-idle",  required_argument, NULL, ARG_EXIT_IDLE },
                {}
        };
        ManagerOptions o = {
                .sysfs_root = "/sys",
                .proc_root = "/proc",
                .dev_root = "/dev",
                .state_dir = "/run/pcresetd",
                .config_file = PCRESETD_CONFIG_FILE,
        };
        int c, r;

        log_open();
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("pcresetd %s\n", PCRESETD_VERSION);
                        return 0;
                case ARG_SYSFS:  o.sysfs_root = optarg; break;
                case ARG_PROC:   o.proc_root = optarg; break;
                case ARG_DEV:    o.dev_root = optarg; break;
                case ARG_STATE:  o.state_dir = optarg; break;
                case ARG_CONFIG:
                        o.config_file = optarg;
                        o.config_must_exist = true;
                        break;
                case ARG_DEBUG:
                        log_set_max_level(LOG_DEBUG);
                        break;
                case ARG_EXIT_IDLE: {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (*optarg == '\0' || *end || optarg[0] == '-' || v > 86400) {
                                fprintf(stderr, "pcresetd: --exit-idle takes seconds from 0 to 86400, not '%s'\n", optarg);
                                return 2;
                        }
                        o.exit_idle_usec = v * 1000000ULL;
                        break;
                }
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "pcresetd: unexpected argument '%s'; see --help\n", argv[optind]);
                return 2;
        }

        bump_fd_limit();
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        r = sd_event_default(&e);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m"), 1;

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        /* workers inherit the mask: signals reach the loop only */
        if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
            sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL) < 0 ||
            sd_event_add_signal(e, NULL, SIGINT, NULL, NULL) < 0)
                return log_error_errno(-EIO, "Cannot set up signal handling"), 1;
        /* a vanished client must not kill us with SIGPIPE */
        signal(SIGPIPE, SIG_IGN);

        /* pings systemd's watchdog when WatchdogSec= asks for it */
        (void) sd_event_set_watchdog(e, true);

        Manager *m = NULL;
        r = manager_new(e, &o, &m);
        /* SIGHUP reloads pcresetd.conf, the systemd way (ExecReload=) */
        if (r >= 0 && sd_event_add_signal(e, NULL, SIGHUP, on_sighup, m) < 0)
                r = log_error_errno(-EIO, "Cannot set up signal handling");
        if (r >= 0)
                r = manager_start(m);
        if (r >= 0) {
                (void) sd_notify(false, "READY=1\nSTATUS=Serving PCI resets");
                r = sd_event_loop(e);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
                else
                        log_info("Exiting");
                (void) sd_notify(false, "STOPPING=1");
        }
        manager_free(m);
        return r < 0 ? 1 : 0;
}
