/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Calls to the Manager, and how their errors reach the user. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "output.h"
#include "tty-agent.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* Errors and exit codes */

static const struct {
        const char *name;
        int exit_code;
} error_exit_codes[] = {
        { PCRESET1_ERROR_NO_SUCH_DEVICE,                   PCRESETCTL_EXIT_NO_SUCH_DEVICE },
        { PCRESET1_ERROR_NOT_SUPPORTED,                    PCRESETCTL_EXIT_NOT_SUPPORTED },
        { PCRESET1_ERROR_DEVICE_BUSY,                      PCRESETCTL_EXIT_BUSY },
        { PCRESET1_ERROR_NEEDS_RESET,                      PCRESETCTL_EXIT_BUSY },
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

int connect_bus(Context *c) {
        char message[256];
        int r;

        r = sd_bus_open_system(&c->bus);
        if (r >= 0)
                return -1;
        snprintf(message, sizeof message, "Cannot connect to the system bus: %s", strerror(-r));
        return report_error(c, SD_BUS_ERROR_NO_SERVER, message, PCRESETCTL_EXIT_NO_DAEMON);
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

int call_manager(Context *c, const char *method, const char *status, sd_bus_message **ret_reply,
                 sd_bus_error *error, const char *types, ...) {
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
