/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The polkit text agent: pkttyagent, started for our own process. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"
#include "tty-agent.h"

/* Registration is a couple of bus round trips, but polkitd may have to be
 * activated first; after this we go on and let polkit decide without us. */
#define AGENT_REGISTER_TIMEOUT_MS 10000

/* Field 22 of /proc/self/stat. pkttyagent(1) asks for "pid,start-time":
 * with the pid alone it looks the start time up itself, which races with
 * pid reuse. */
static int read_start_time(unsigned long long *ret) {
        char buf[1024];
        ssize_t n;
        int fd;

        /* any failure is just "unknown": the caller passes the pid alone */
        fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -EIO;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';

        /* comm (field 2) may contain spaces and ')': start after the last one */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        for (int field = 2; field < 22; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EIO;
                p++;
        }
        if (sscanf(p, "%llu", ret) != 1)
                return -EIO;
        return 0;
}

/* pkttyagent closes the notify fd once registered, and exits (closing it
 * too) when it cannot register: either way the read end sees EOF. */
static void wait_for_notify(int fd) {
        uint64_t deadline = now_usec() + AGENT_REGISTER_TIMEOUT_MS * USEC_PER_MSEC;

        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return;

                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, (int) ((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0 && errno == EINTR)
                        continue;
                return;
        }
}

/* --fallback leaves the prompt to an agent the login session already has
 * (a desktop's). But polkit looks a fallback agent up through the subject's
 * login session and gives up when there is none (no logind, a container),
 * so outside a session the agent must register as a plain one to be asked
 * at all. */
static bool in_login_session(void) {
        char *session = NULL;
        int r = sd_pid_get_session(0, &session);

        free(session);
        return r >= 0;
}

static _Noreturn void exec_agent(pid_t parent, int notify_fd, const char *process, bool fallback) {
        char fd_str[16];

        /* don't outlive pcresetctl, even if it is killed */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);

        /* stdout may be JSON read by a program: whatever the agent prints
         * that is not on the terminal goes to stderr instead */
        if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                _exit(EXIT_FAILURE);

        /* the one fd that must survive exec */
        if (fcntl(notify_fd, F_SETFD, 0) < 0)
                _exit(EXIT_FAILURE);
        snprintf(fd_str, sizeof fd_str, "%d", notify_fd);

        if (fallback)
                execl(PKTTYAGENT_PATH, PKTTYAGENT_PATH,
                      "--notify-fd", fd_str, "--fallback", "--process", process, (char *) NULL);
        else
                execl(PKTTYAGENT_PATH, PKTTYAGENT_PATH, "--notify-fd", fd_str, "--process", process, (char *) NULL);
        fprintf(stderr, "pcresetctl: cannot run %s: %s\n", PKTTYAGENT_PATH, strerror(errno));
        _exit(EXIT_FAILURE);
}

int tty_agent_start(pid_t *ret_pid) {
        _cleanup_close_ int read_fd = -1;
        unsigned long long start_time;
        char process[64];
        pid_t parent = getpid(), pid;
        bool fallback = in_login_session();
        int fds[2];

        *ret_pid = 0;
        if (access(PKTTYAGENT_PATH, X_OK) < 0)
                return 0;

        if (read_start_time(&start_time) >= 0)
                snprintf(process, sizeof process, "%d,%llu", (int) parent, start_time);
        else
                snprintf(process, sizeof process, "%d", (int) parent);

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        read_fd = fds[0];

        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(fds[1]);
                return r;
        }
        if (pid == 0)
                exec_agent(parent, fds[1], process, fallback);

        /* only the child may hold the write end, or EOF never comes */
        close(fds[1]);
        wait_for_notify(read_fd);
        *ret_pid = pid;
        return 0;
}

void tty_agent_stop(pid_t *pid) {
        if (*pid <= 0)
                return;

        (void) kill(*pid, SIGTERM);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
        *pid = 0;
}

bool tty_agent_prompting(void) {
        struct termios t;

        if (tcgetattr(STDIN_FILENO, &t) < 0)
                return false;
        return !(t.c_lflag & ECHO);
}
