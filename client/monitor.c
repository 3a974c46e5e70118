/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pcresetctl monitor: ResetStarted and ResetCompleted as they happen. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "bus.h"
#include "details.h"
#include "output.h"
#include "util.h"

typedef struct Monitor {
        Context *c;
        sd_event *event;
} Monitor;

/* "2026-01-31 12:00:00.123", local time, when the signal reached us */
static void format_now(char *buf, size_t size, uint64_t *ret_usec) {
        struct timespec ts;
        struct tm tm;
        char base[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        *ret_usec = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        if (!localtime_r(&ts.tv_sec, &tm) || strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(base, sizeof base, "%lld", (long long) ts.tv_sec);
        snprintf(buf, size, "%s.%03ld", base, ts.tv_nsec / 1000000);
}

static int on_reset_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        _cleanup_strv_free_ char **affected = NULL;
        const char *address, *result, *member = sd_bus_message_get_member(m);
        bool started = streq_ptr(member, "ResetStarted");
        const char *event = started ? "started" : "completed";
        uint32_t performed;
        uint64_t usec;
        char when[64];
        int r;

        r = sd_bus_message_read(m, "su", &address, &performed);
        if (r >= 0)
                r = sd_bus_message_read_strv(m, &affected);
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &result);
        if (r < 0) {
                fprintf(stderr, PROGRAM ": ignoring a %s signal that cannot be understood: %s\n",
                        member ?: "?", strerror(-r));
                return 0;
        }
        format_now(when, sizeof when, &usec);

        if (mon->c->json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_add_string(o, "signal", member);
                json_add_string(o, "event", event);
                json_add_int(o, "time_usec", (int64_t) usec);
                json_add_string(o, "address", address);
                json_add_performed(o, performed, affected);
                json_add_string(o, "result", result);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        } else {
                printf("%s %-9s ", when, event);
                print_text(stdout, address);
                printf(" %s (0x%02" PRIx32 ") affected ", scope_bit_label(performed), performed);
                for (char **i = affected; i && *i; i++) {
                        if (i != affected)
                                putchar(',');
                        print_text(stdout, *i);
                }
                if (!affected || !*affected)
                        fputs("none", stdout);
                fputs(": ", stdout);
                print_text(stdout, result);
                putchar('\n');
        }
        /* one line at a time, also into a pipe */
        if (fflush(stdout) != 0)
                return sd_event_exit(mon->event, PCRESETCTL_EXIT_FAILURE);
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Monitor *mon = userdata;

        report_error(mon->c, SD_BUS_ERROR_DISCONNECTED, "Lost the connection to the system bus",
                     PCRESETCTL_EXIT_NO_DAEMON);
        return sd_event_exit(mon->event, PCRESETCTL_EXIT_NO_DAEMON);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), PCRESETCTL_EXIT_OK);
}

/* The daemon need not run: a match on its well-known name follows whoever
 * owns it, so a monitor started first sees the resets of a daemon that bus
 * activation starts later, and no other connection can fake them. */
int verb_monitor(Context *c, const char *address) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Monitor mon = { .c = c };
        sigset_t mask;
        int r, code;

        r = sd_event_default(&event);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_NO_MEMORY, strerror(-r), PCRESETCTL_EXIT_FAILURE);
        mon.event = event;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
            sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL) < 0 ||
            sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL) < 0)
                return report_error(c, SD_BUS_ERROR_FAILED, "Cannot set up signal handling", PCRESETCTL_EXIT_FAILURE);

        static const char *const members[] = { "ResetStarted", "ResetCompleted" };
        for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                /* synchronous: once this returns, the bus has the match */
                r = sd_bus_match_signal(c->bus, NULL, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH,
                                        PCRESET1_MANAGER_INTERFACE, members[i], on_reset_signal, &mon);
                if (r < 0) {
                        char message[256];
                        snprintf(message, sizeof message, "Cannot subscribe to %s: %s", members[i], strerror(-r));
                        return report_error(c, SD_BUS_ERROR_NO_SERVER, message, PCRESETCTL_EXIT_NO_DAEMON);
                }
        }
        r = sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, &mon);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return report_error(c, SD_BUS_ERROR_FAILED, strerror(-r), PCRESETCTL_EXIT_FAILURE);
        if (isatty(STDERR_FILENO) && !c->json)
                fputs("Monitoring pcresetd resets; press Ctrl-C to stop.\n", stderr);

        r = sd_event_loop(event);
        code = r < 0 ? PCRESETCTL_EXIT_FAILURE : r;
        sd_bus_detach_event(c->bus);
        return code;
}
