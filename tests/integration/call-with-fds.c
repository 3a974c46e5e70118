/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * call-with-fds ADDRESS SCOPE [FD...]: calls ResetDeviceWithFds passing the
 * given open fds of this process (busctl cannot send fds). An FD of the form
 * open:PATH is PATH opened read-only here, opath:PATH is PATH opened with
 * O_PATH (which needs only search permission on its directory). Prints the
 * reply as "performed affected..." or the error as "NAME: message" on
 * stderr; exits 0 on success, 1 on a D-Bus error, 2 on bad usage.
 */

#include <fcntl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "pcreset1.h"

static void cleanup(sd_bus **bus, sd_bus_message **m, sd_bus_message **reply, sd_bus_error *error) {
        sd_bus_message_unref(*m);
        sd_bus_message_unref(*reply);
        sd_bus_error_free(error);
        sd_bus_flush_close_unref(*bus);
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r, ret = 0;

        if (argc < 3) {
                fprintf(stderr, "usage: call-with-fds ADDRESS SCOPE [FD...]\n");
                return 2;
        }
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, PCRESET1_BUS_NAME, PCRESET1_OBJECT_PATH,
                                                   PCRESET1_MANAGER_INTERFACE, "ResetDeviceWithFds");
        if (r >= 0)
                r = sd_bus_message_append(m, "su", argv[1], (uint32_t) strtoul(argv[2], NULL, 0));
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "h");
        for (int i = 3; r >= 0 && i < argc; i++) {
                int fd = strncmp(argv[i], "open:", 5) == 0 ? open(argv[i] + 5, O_RDONLY | O_CLOEXEC | O_NOCTTY)
                        : strncmp(argv[i], "opath:", 6) == 0 ? open(argv[i] + 6, O_PATH | O_CLOEXEC)
                        : atoi(argv[i]);
                if (fd < 0) {
                        fprintf(stderr, "call-with-fds: %s: %m\n", argv[i]);
                        return 2;
                }
                r = sd_bus_message_append(m, "h", fd);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0) {
                fprintf(stderr, "call-with-fds: %s\n", strerror(-r));
                ret = 2;
        } else if ((r = sd_bus_call(bus, m, 0, &error, &reply)) < 0) {
                fprintf(stderr, "%s: %s\n", error.name, error.message);
                ret = 1;
        } else {
                uint32_t performed;
                char **affected = NULL;
                if (sd_bus_message_read(reply, "u", &performed) < 0 || sd_bus_message_read_strv(reply, &affected) < 0)
                        ret = 2;
                else {
                        printf("%u", performed);
                        for (char **a = affected; a && *a; a++)
                                printf(" %s", *a);
                        printf("\n");
                }
                for (char **a = affected; a && *a; a++)
                        free(*a);
                free(affected);
        }
        cleanup(&bus, &m, &reply, &error);
        return ret;
}
