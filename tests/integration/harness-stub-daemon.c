/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A stand-in for pcresetd, used only by test-harness so the harness is
 * tested on its own: takes the daemon's command line, owns
 * org.freedesktop.pcreset1 on the system bus and runs until SIGTERM.
 *
 *   --delay-ms N    wait before taking the name (the harness must wait too)
 *   --exit-early N  print a message and exit N at once
 *
 * Each start increments STATE-DIR/starts, so the test can see that the
 * state dir survives restarts.
 */
#include <glib-unix.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "pcreset1.h"

static GMainLoop *loop;
static int exit_code;

static void on_lost(GDBusConnection *c, const char *name, gpointer data)
{
        fprintf(stderr, "stub: lost or could not own %s\n", name);
        exit_code = 1;
        g_main_loop_quit(loop);
}

static gboolean on_term(gpointer data)
{
        printf("stub: terminated\n");
        g_main_loop_quit(loop);
        return G_SOURCE_REMOVE;
}

static gboolean count_start(const char *state_dir, GError **error)
{
        g_autofree char *path = g_build_filename(state_dir, "starts", NULL);
        g_autofree char *text = NULL;
        g_autofree char *next = NULL;
        guint64 n = 0;

        if (g_file_get_contents(path, &text, NULL, NULL))
                n = g_ascii_strtoull(text, NULL, 10);
        next = g_strdup_printf("%" G_GUINT64_FORMAT "\n", n + 1);
        return g_file_set_contents(path, next, -1, error);
}

int main(int argc, char **argv)
{
        g_autofree char *sysfs_root = NULL, *proc_root = NULL, *dev_root = NULL, *state_dir = NULL;
        int delay_ms = 0, exit_early = -1;
        GOptionEntry options[] = {
                { "sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &sysfs_root, "", NULL },
                { "proc-root", 0, 0, G_OPTION_ARG_FILENAME, &proc_root, "", NULL },
                { "dev-root", 0, 0, G_OPTION_ARG_FILENAME, &dev_root, "", NULL },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "", NULL },
                { "delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "", NULL },
                { "exit-early", 0, 0, G_OPTION_ARG_INT, &exit_early, "", NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        g_autofree char *cmdline = g_strjoinv(" ", argv);

        /* Line-buffered: the harness reads this file while we run. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("stub: started as: %s\n", cmdline);

        g_option_context_add_main_entries(ctx, options, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "stub: %s\n", error->message);
                return 2;
        }
        if (exit_early >= 0) {
                fprintf(stderr, "stub: failing on purpose with %d\n", exit_early);
                return exit_early;
        }
        if (!sysfs_root || !proc_root || !dev_root || !state_dir) {
                fprintf(stderr, "stub: --sysfs-root, --proc-root, --dev-root and --state-dir are required\n");
                return 2;
        }
        if (!count_start(state_dir, &error)) {
                fprintf(stderr, "stub: %s\n", error->message);
                return 1;
        }
        g_usleep((gulong) delay_ms * 1000);

        loop = g_main_loop_new(NULL, FALSE);
        bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        if (!bus) {
                fprintf(stderr, "stub: %s\n", error->message);
                return 1;
        }
        g_bus_own_name_on_connection(bus, PCRESET1_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, NULL,
                                     on_lost, NULL, NULL);
        g_unix_signal_add(SIGTERM, on_term, NULL);
        g_main_loop_run(loop);
        g_main_loop_unref(loop);
        return exit_code;
}
