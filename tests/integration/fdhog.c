/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdhog N: holds N open fds (of /dev/null) across as many processes as
 * RLIMIT_NOFILE needs, prints "ready" and sleeps until killed (its helpers
 * die with it): what a stranger can do to make every scan of /proc slow.
 * Bounded: N at most 1,000,000.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static int hold(long n) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (long i = 1; fd >= 0 && i < n; i++)
                if (dup(fd) < 0)
                        return -1;
        return fd < 0 ? -1 : 0;
}

int main(int argc, char *argv[]) {
        long n = argc == 2 ? strtol(argv[1], NULL, 10) : -1;
        struct rlimit rl;
        int ready[2];

        if (n < 1 || n > 1000000) {
                fprintf(stderr, "usage: fdhog N\n");
                return 2;
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < 64 || pipe(ready) < 0)
                return 1;
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        long per = (long) rl.rlim_max - 32, children = 0;
        for (long left = n; left > 0; left -= per, children++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        char c = hold(left < per ? left : per) < 0 ? 'x' : 'y';
                        (void) !write(ready[1], &c, 1);
                        for (;;)
                                pause();
                }
        }
        for (long i = 0; i < children; i++) {
                char c = 0;
                if (read(ready[0], &c, 1) != 1 || c != 'y') {
                        fprintf(stderr, "fdhog: a helper could not open its fds\n");
                        return 1;
                }
        }
        printf("ready %ld fds in %ld processes\n", n, children);
        fflush(stdout);
        for (;;)
                pause();
}
