/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fusehold FUSEDEV MNT NFDS NMOUNTS: what an unprivileged user can do to
 * the /proc scan without any privilege: in a new user and mount namespace,
 * NMOUNTS bind mounts (so its mountinfo is long), then a FUSE file system
 * on MNT (no server: nothing is ever asked of it) and NFDS O_PATH fds on
 * its root, which root is denied to stat. Prints "ready PID" and sleeps
 * until killed. FUSEDEV stands for a stock host's /dev/fuse (0666). Bounded: NFDS and NMOUNTS at most 100,000.
 */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t) strlen(text) ? 0 : -1;
}

int main(int argc, char *argv[]) {
        long nfds = argc == 5 ? strtol(argv[3], NULL, 10) : -1, nmounts = argc == 5 ? strtol(argv[4], NULL, 10) : -1;
        char map[64], opts[128];
        struct rlimit rl;

        if (nfds < 1 || nfds > 100000 || nmounts < 0 || nmounts > 100000) {
                fprintf(stderr, "usage: fusehold FUSEDEV MNT NFDS NMOUNTS\n");
                return 2;
        }
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
                perror("fusehold: unshare");
                return 1;
        }
        snprintf(map, sizeof map, "0 %u 1", (unsigned) uid);
        if (write_file("/proc/self/setgroups", "deny") < 0 || write_file("/proc/self/uid_map", map) < 0)
                return perror("fusehold: uid_map"), 1;
        snprintf(map, sizeof map, "0 %u 1", (unsigned) gid);
        if (write_file("/proc/self/gid_map", map) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return perror("fusehold: gid_map or private mounts"), 1;
        for (long i = 0; i < nmounts; i++)
                if (mount(argv[2], argv[2], NULL, MS_BIND, NULL) < 0)
                        return perror("fusehold: bind mount"), 1;
        /* opened in the new namespace: FUSE wants the device's opener
         * there */
        int fuse = open(argv[1], O_RDWR | O_CLOEXEC);
        if (fuse < 0)
                return perror("fusehold: open"), 1;
        snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse);
        if (mount("fusehold", argv[2], "fuse", 0, opts) < 0)
                return perror("fusehold: mount fuse"), 1;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        int fd = open(argv[2], O_PATH | O_CLOEXEC);
        for (long i = 1; fd >= 0 && i < nfds; i++)
                if (dup(fd) < 0)
                        return perror("fusehold: dup"), 1;
        if (fd < 0)
                return perror("fusehold: open"), 1;
        printf("ready %d\n", (int) getpid());
        fflush(stdout);
        for (;;)
                pause();
}
