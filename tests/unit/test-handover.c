/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Handover records (handover.h): the state machine, and the state file read
 * as if an attacker had written it. */

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handover.h"
#include "util.h"

#define BOOT_A "0b1d2c3e-1111-4222-8333-444455556666"
#define BOOT_B "9f8e7d6c-aaaa-4bbb-8ccc-ddddeeeeffff"
#define NIC "0000:01:00.0"
#define ALICE 4101
#define BOB 4102

typedef struct Fixture {
        char *dir, *file;
        Handover *h;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        f->dir = g_dir_make_tmp("pcreset-handover-XXXXXX", &error);
        g_assert_no_error(error);
        f->file = g_build_filename(f->dir, "handover", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        handover_free(f->h);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
        g_free(f->file);
}

static void reopen(Fixture *f, const char *boot) {
        f->h = handover_free(f->h);
        g_assert_cmpint(handover_new(f->dir, boot, &f->h), ==, 0);
}

static HandoverState state(Fixture *f, const char *addr, uid_t *uid) {
        return handover_get(f->h, addr, 0x8086, 0x10d3, uid);
}

/* Who may take the NIC over without a reset. */
static int check(Fixture *f, uid_t uid) {
        uid_t owner = (uid_t) -1;
        int r = handover_check(f->h, NIC, 0x8086, 0x10d3, uid, &owner);
        if (r < 0)
                g_assert_cmpuint(owner, !=, uid);
        return r;
}

static void test_lifecycle(Fixture *f, gconstpointer data) {
        uid_t uid = 0;

        reopen(f, BOOT_A);
        /* never owned: anyone */
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_CLEAN);
        g_assert_cmpint(check(f, BOB), ==, 0);
        /* alice claims: held; bob would take it over without a reset */
        g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_HELD);
        g_assert_cmpuint(uid, ==, ALICE);
        g_assert_cmpint(check(f, BOB), ==, -EPERM);
        g_assert_cmpint(check(f, ALICE), ==, 0);
        /* a reset while she holds it does not hand it over */
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, handover_mark(f->h)), ==, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_HELD);
        /* she lets go: dirty, still hers to take back */
        g_assert_cmpint(handover_release(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, ALICE);
        g_assert_cmpint(check(f, BOB), ==, -EPERM);
        g_assert_cmpint(check(f, 0), ==, -EPERM);  /* root too */
        g_assert_cmpint(check(f, ALICE), ==, 0);
        /* a reset of another card at the address (a hot swap) cleans nothing of hers */
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x1521, handover_mark(f->h)), ==, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        /* ...and that other card is not dirty */
        g_assert_cmpint(handover_get(f->h, NIC, 0x8086, 0x1521, NULL), ==, HANDOVER_CLEAN);
        /* a reset of her card: clean, for anyone */
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, handover_mark(f->h)), ==, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_CLEAN);
        g_assert_cmpint(check(f, BOB), ==, 0);
        g_assert_cmpuint(handover_count(f->h), ==, 0);
}

/* A node owner or fd prover used it: dirty by them at once (nobody sees
 * them let go), but their own claim stays held. */
static void test_used(Fixture *f, gconstpointer data) {
        uid_t uid = 0;

        reopen(f, BOOT_A);
        g_assert_cmpint(handover_used(f->h, NIC, 0x8086, 0x10d3, BOB), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, BOB);
        g_assert_cmpint(check(f, ALICE), ==, -EPERM);
        g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, BOB), ==, 0);
        g_assert_cmpint(handover_used(f->h, NIC, 0x8086, 0x10d3, BOB), ==, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_HELD);
}

/* (found by a red-team review) A claim with no record (older than the
 * rule: an upgrade; its record lost) still leaves the card dirty when it
 * ends; a node owner's use while another uid holds the card keeps it
 * held, by several, and its release hands it to neither of them. */
static void test_release_and_several(Fixture *f, gconstpointer data) {
        uid_t uid = 0;

        reopen(f, BOOT_A);
        g_assert_cmpint(handover_release(f->h, NIC, 0x8086, 0x10d3, BOB), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, BOB);
        g_assert_cmpint(check(f, ALICE), ==, -EPERM);
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, handover_mark(f->h)), ==, 0);

        g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, BOB), ==, 0);
        g_assert_cmpint(handover_used(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_HELD);
        g_assert_cmpuint(uid, ==, HANDOVER_UID_SEVERAL);
        g_assert_cmpint(handover_release(f->h, NIC, 0x8086, 0x10d3, BOB), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, HANDOVER_UID_SEVERAL);
        g_assert_cmpint(check(f, ALICE), ==, -EPERM);
        g_assert_cmpint(check(f, BOB), ==, -EPERM);
        /* kept as such across a restart */
        reopen(f, BOOT_A);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, HANDOVER_UID_SEVERAL);
        g_assert_cmpint(check(f, BOB), ==, -EPERM);
}

/* A claim that went away without a release (pruned with its device) is a
 * let go: dirty. One still there stays held. */
static bool only_05(void *userdata, const char *address, uid_t uid) {
        return streq(address, "0000:05:00.0") && uid == ALICE;
}

static void test_sync(Fixture *f, gconstpointer data) {
        reopen(f, BOOT_A);
        g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(handover_hold(f->h, "0000:05:00.0", 0x8086, 0x10d3, ALICE), ==, 0);
        handover_sync(f->h, only_05, NULL);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        g_assert_cmpint(state(f, "0000:05:00.0", NULL), ==, HANDOVER_HELD);
}

/* Restarts keep the records, another boot's are dropped (and the file
 * rewritten); a boot id that cannot be read keeps them. */
static void test_restart_and_reboot(Fixture *f, gconstpointer data) {
        reopen(f, BOOT_A);
        g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(handover_release(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        reopen(f, BOOT_A);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        reopen(f, NULL);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        /* (found by a red-team review) written while the boot id was
         * unknown, read when it is known: kept, not taken for another boot */
        g_assert_cmpint(handover_hold(f->h, "0000:05:00.0", 0x8086, 0x10d3, ALICE), ==, 0);
        reopen(f, BOOT_A);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        g_assert_cmpint(state(f, "0000:05:00.0", NULL), ==, HANDOVER_HELD);
        reopen(f, BOOT_B);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_CLEAN);
        g_autofree char *text = NULL;
        g_assert_true(g_file_get_contents(f->file, &text, NULL, NULL));
        g_assert_nonnull(strstr(text, "boot " BOOT_B "\n"));
        g_assert_null(strstr(text, NIC));
}

static void write_file(Fixture *f, const char *text) {
        g_assert_true(g_file_set_contents(f->file, text, -1, NULL));
}

/* Everything but exact lines is ignored; a file without this boot's line
 * first counts as another boot's. */
static void test_strict_parse(Fixture *f, gconstpointer data) {
        g_autofree char *longline = g_strdup_printf("0000:02:00.0 %0120d 8086 10d3 dirty\n", 4101);
        g_autofree char *text = g_strconcat(
                "# comment\n"
                "boot " BOOT_A "\n"
                "0000:01:00.0 4101 8086 10d3 dirty\n"
                "0000:01:00.0 4102 8086 10d3 held\n"      /* repeated address: the first counts */
                "0000:03:00.0 -1 8086 10d3 dirty\n"       /* sign */
                "0000:04:00.0 4294967295 8086 10d3 dirty\n" /* (uid_t) -1 */
                "0000:06:00.0 4101 8086 10d3 clean\n"     /* no such state in the file */
                "0000:07:00.0 4101 8086 10d3 dirty extra\n"
                "0000:08:00.0 4101 8086 10d dirty\n"
                "../../etc 4101 8086 10d3 dirty\n",
                longline,
                "09:00.0 4101 8086 10D3 held\n",          /* short form and upper case: fine */
                NULL);
        write_file(f, text);
        reopen(f, BOOT_A);
        uid_t uid = 0;
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, ALICE);
        g_assert_cmpint(state(f, "0000:09:00.0", NULL), ==, HANDOVER_HELD);
        g_assert_cmpuint(handover_count(f->h), ==, 2);

        /* a NUL inside a line */
        static const char nul[] = "boot " BOOT_A "\n0000:01:00.0 4101 8086 10d3 dirty\n0000:05:00.0 41\00001 8086 10d3 dirty\n";
        g_assert_true(g_file_set_contents(f->file, nul, sizeof nul - 1, NULL));
        reopen(f, BOOT_A);
        g_assert_cmpuint(handover_count(f->h), ==, 1);

        /* records before the boot line, or no boot line at all: not this boot's */
        write_file(f, "0000:01:00.0 4101 8086 10d3 dirty\nboot " BOOT_A "\n");
        reopen(f, BOOT_A);
        g_assert_cmpuint(handover_count(f->h), ==, 0);
        write_file(f, "boot not-a-boot-id\n0000:01:00.0 4101 8086 10d3 dirty\n");
        reopen(f, NULL);
        g_assert_cmpuint(handover_count(f->h), ==, 0);
}

/* Not through a symlink, not a FIFO or a directory. */
static void test_not_a_file(Fixture *f, gconstpointer data) {
        g_autofree char *target = g_build_filename(f->dir, "elsewhere", NULL);
        g_assert_true(g_file_set_contents(target, "boot " BOOT_A "\n0000:01:00.0 4101 8086 10d3 dirty\n", -1, NULL));
        g_assert_cmpint(symlink(target, f->file), ==, 0);
        g_assert_cmpint(handover_new(f->dir, BOOT_A, &f->h), ==, -ELOOP);
        g_assert_null(f->h);
        g_assert_cmpint(unlink(f->file), ==, 0);
        g_assert_cmpint(mkfifo(f->file, 0600), ==, 0);
        g_assert_cmpint(handover_new(f->dir, BOOT_A, &f->h), ==, -EBADF);
        g_assert_cmpint(unlink(f->file), ==, 0);
}

/* One record per address, HANDOVER_MAX in all: a file cannot make it grow
 * past that, nor can changes. */
static void test_bounded(Fixture *f, gconstpointer data) {
        g_autoptr(GString) s = g_string_new("boot " BOOT_A "\n");
        for (unsigned i = 0; i < HANDOVER_MAX + 10; i++)
                g_string_append_printf(s, "%04x:%02x:%02x.%u 4101 8086 10d3 dirty\n", i >> 8, i & 0xff, 0, 0);
        write_file(f, s->str);
        reopen(f, BOOT_A);
        g_assert_cmpuint(handover_count(f->h), ==, HANDOVER_MAX);
        /* full: a new address is refused, an existing one still changes */
        g_assert_cmpint(handover_hold(f->h, "0100:00:00.1", 0x8086, 0x10d3, ALICE), ==, -ENOSPC);
        g_assert_cmpint(handover_get(f->h, "0100:00:00.1", 0x8086, 0x10d3, NULL), ==, HANDOVER_CLEAN);
        g_assert_cmpint(handover_reset_done(f->h, "0000:00:00.0", 0x8086, 0x10d3, handover_mark(f->h)), ==, 0);
        g_assert_cmpuint(handover_count(f->h), ==, HANDOVER_MAX - 1);
        /* repeating one address never adds a record */
        for (int i = 0; i < 10; i++) {
                g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, ALICE + (i & 1)), ==, 0);
                g_assert_cmpint(handover_release(f->h, NIC, 0x8086, 0x10d3, ALICE + (i & 1)), ==, 0);
        }
        g_assert_cmpuint(handover_count(f->h), ==, HANDOVER_MAX - 1);
}

/* A change that cannot be saved is not made: a dirty mark is not cleared
 * in memory while the file still has it (a restart would bring it back,
 * and the other way round it would be lost). */
static void test_save_fails(Fixture *f, gconstpointer data) {
        reopen(f, BOOT_A);
        g_assert_cmpint(handover_used(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        /* the file's place taken by a directory: rename() fails */
        g_assert_cmpint(unlink(f->file), ==, 0);
        g_assert_cmpint(g_mkdir(f->file, 0700), ==, 0);
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, handover_mark(f->h)), <, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        g_assert_cmpint(handover_hold(f->h, "0000:02:00.0", 0x8086, 0x10d3, BOB), <, 0);
        g_assert_cmpint(state(f, "0000:02:00.0", NULL), ==, HANDOVER_CLEAN);
        g_assert_cmpint(rmdir(f->file), ==, 0);
}

/* Who had it: to root and to that uid only. */
static void test_describe(Fixture *f, gconstpointer data) {
        HandoverState s;
        reopen(f, BOOT_A);
        g_assert_null(handover_describe(f->h, NIC, 0x8086, 0x10d3, BOB, &s));
        g_assert_cmpint(s, ==, HANDOVER_CLEAN);
        g_assert_cmpint(handover_used(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_autofree char *root = handover_describe(f->h, NIC, 0x8086, 0x10d3, 0, &s);
        g_autofree char *alice = handover_describe(f->h, NIC, 0x8086, 0x10d3, ALICE, &s);
        g_autofree char *bob = handover_describe(f->h, NIC, 0x8086, 0x10d3, BOB, &s);
        g_assert_cmpint(s, ==, HANDOVER_DIRTY);
        g_assert_true(g_str_has_prefix(root, "dirty since uid 4101"));
        g_assert_true(g_str_has_prefix(alice, "dirty since uid 4101"));
        g_assert_true(g_str_has_prefix(bob, "dirty since another user released it"));
        g_assert_null(strstr(bob, "4101"));
}

static void test_boot_id(Fixture *f, gconstpointer data) {
        g_autofree char *proc = g_build_filename(f->dir, "proc", NULL);
        g_autofree char *dir = g_build_filename(proc, "sys/kernel/random", NULL);
        g_autofree char *p = g_build_filename(dir, "boot_id", NULL);
        char *id = NULL;
        g_assert_cmpint(handover_read_boot_id(proc, &id), <, 0);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(p, BOOT_A "\n", -1, NULL));
        g_assert_cmpint(handover_read_boot_id(proc, &id), ==, 0);
        g_assert_cmpstr(id, ==, BOOT_A);
        free(id);
        g_assert_true(g_file_set_contents(p, "0b1d2c3e 1111 4222 8333 444455556666\n", -1, NULL));
        g_assert_cmpint(handover_read_boot_id(proc, &id), ==, -EINVAL);
}

/* (found by a red-team review) A reset cleans only what was dirty when it
 * began: a user who lets go of the card while the reset runs (released,
 * or the same mark set again) may have used it after the reset's write,
 * so the card stays dirty; a record loaded from the file is older than
 * any reset of this run. */
static void test_mark_during_reset(Fixture *f, gconstpointer data) {
        uid_t uid = 0;

        reopen(f, BOOT_A);
        g_assert_cmpint(handover_hold(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        uint64_t began = handover_mark(f->h);
        g_assert_cmpint(handover_release(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, began), ==, 0);
        g_assert_cmpint(state(f, NIC, &uid), ==, HANDOVER_DIRTY);
        g_assert_cmpuint(uid, ==, ALICE);
        g_assert_cmpint(check(f, BOB), ==, -EPERM);

        /* the same mark again, during the next reset: still dirty */
        began = handover_mark(f->h);
        g_assert_cmpint(handover_used(f->h, NIC, 0x8086, 0x10d3, ALICE), ==, 0);
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, began), ==, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);

        /* saved, loaded again: a reset of the new run cleans it */
        reopen(f, BOOT_A);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_DIRTY);
        g_assert_cmpint(handover_reset_done(f->h, NIC, 0x8086, 0x10d3, handover_mark(f->h)), ==, 0);
        g_assert_cmpint(state(f, NIC, NULL), ==, HANDOVER_CLEAN);
        g_assert_cmpint(check(f, BOB), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/handover/lifecycle", test_lifecycle);
        ADD("/handover/used", test_used);
        ADD("/handover/mark-during-reset", test_mark_during_reset);
        ADD("/handover/release-and-several", test_release_and_several);
        ADD("/handover/sync", test_sync);
        ADD("/handover/restart-and-reboot", test_restart_and_reboot);
        ADD("/handover/strict-parse", test_strict_parse);
        ADD("/handover/not-a-file", test_not_a_file);
        ADD("/handover/bounded", test_bounded);
        ADD("/handover/save-fails", test_save_fails);
        ADD("/handover/describe", test_describe);
        ADD("/handover/boot-id", test_boot_id);
        return g_test_run();
}
