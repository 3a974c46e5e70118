/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-holder [--uid UID[:GID]] MODE ARGS: holds a VFIO group (or device)
 * the ways a user who wants to hide it could, for the VM suite
 * (tests/vm/cases). Runs in the test guest only: it opens real VFIO nodes.
 *
 *   open PATH          PATH opened read-write, in the process's fd table
 *   opath PATH         PATH opened with O_PATH (which uses nothing)
 *   thread PATH        a thread unshares its fd table (unshare(CLONE_FILES))
 *                      and opens PATH there: only /proc/PID/task/TID/fd has it
 *   private PATH       a private node with PATH's device number, made with
 *                      mknod in /tmp, opened and unlinked: the fd reads
 *                      "/tmp/... (deleted)"
 *   device PATH ADDR   PATH (a group) opened, set on a container of
 *                      /dev/vfio/vfio with VFIO_TYPE1_IOMMU, the device fd
 *                      of ADDR taken (VFIO_GROUP_GET_DEVICE_FD), then the
 *                      group and container fds closed: only the anonymous
 *                      vfio-device fd is left; its fdinfo is printed
 *   pass PATH UID      PATH opened here and sent over SCM_RIGHTS to a child
 *                      that first dropped to UID; then this copy is closed,
 *                      so only the other uid's process holds it
 *
 * --uid drops this process to UID (GID: UID's number unless given) after it
 * got hold of the node, as if that user's process held it; the process is
 * made dumpable again, like any process the user started.
 *
 * Prints "vfio-holder: ..." lines (what it holds, "holder-pid: N" for the
 * process that holds it), then "ready", and holds until stdin reaches EOF
 * or SIGTERM/SIGINT/SIGHUP arrives. Exit status 0, or 1 with a message if it
 * could not get hold of PATH.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/vfio.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        va_list ap;

        fputs("vfio-holder: ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        int e = errno;
        va_list ap;

        fflush(stdout);
        fputs("vfio-holder: ", stderr);
        va_start(ap, fmt);
        errno = e;
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static void usage(void) __attribute__((noreturn));
static void usage(void) {
        fprintf(stderr, "usage: vfio-holder [--uid UID[:GID]] open|opath|thread|private PATH\n"
                        "       vfio-holder [--uid UID[:GID]] device GROUP-PATH PCI-ADDRESS\n"
                        "       vfio-holder pass PATH UID[:GID]\n");
        exit(2);
}

static void parse_ids(const char *s, uid_t *uid, gid_t *gid) {
        char *end;
        unsigned long u = strtoul(s, &end, 10), g = u;

        if (end == s || (*end && *end != ':'))
                usage();
        if (*end == ':') {
                const char *gs = end + 1;
                g = strtoul(gs, &end, 10);
                if (end == gs || *end)
                        usage();
        }
        *uid = (uid_t) u;
        *gid = (gid_t) g;
}

/* All threads (glibc applies set*id to every thread of the process). */
static void drop_to(uid_t uid, gid_t gid) {
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                die("cannot drop to uid %u gid %u: %m", (unsigned) uid, (unsigned) gid);
        /* a uid change makes the process non-dumpable; one the user
         * started is dumpable */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                die("PR_SET_DUMPABLE: %m");
        say("now uid %u gid %u", (unsigned) getuid(), (unsigned) getgid());
}

/* "fd 3 -> /dev/vfio/12" as /proc/self/fd shows it (of this thread's table) */
static void show_fd(int fd) {
        char link[64], text[512];
        ssize_t n;

        snprintf(link, sizeof link, "/proc/thread-self/fd/%d", fd);
        n = readlink(link, text, sizeof text - 1);
        if (n < 0)
                die("readlink %s: %m", link);
        text[n] = '\0';
        say("fd %d -> %s", fd, text);
}

static void show_fdinfo(int fd) {
        char path[64], line[512];
        FILE *f;

        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        f = fopen(path, "re");
        if (!f)
                die("%s: %m", path);
        say("%s:", path);
        while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\n")] = '\0';
                say("fdinfo: %s", line);
        }
        fclose(f);
}

static int open_or_die(const char *path, int flags) {
        int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                die("open %s: %m", path);
        return fd;
}

/* ---- thread: an fd only another thread's own table has ---------------- */

struct thread_args {
        const char *path;
        int report; /* write end of a pipe: the fd number, or -errno */
};

static void *thread_main(void *p) {
        struct thread_args *a = p;
        int fd = -1, tid = (int) syscall(SYS_gettid);
        char buf[320];

        if (unshare(CLONE_FILES) < 0)
                fd = -errno;
        else {
                fd = open(a->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        fd = -errno;
        }
        if (fd >= 0) {
                char link[64], text[256];
                ssize_t n;
                snprintf(link, sizeof link, "/proc/thread-self/fd/%d", fd);
                n = readlink(link, text, sizeof text - 1);
                text[n < 0 ? 0 : n] = '\0';
                snprintf(buf, sizeof buf, "%d %d %s", fd, tid, text);
        } else
                snprintf(buf, sizeof buf, "%d %d", fd, tid);
        if (write(a->report, buf, strlen(buf) + 1) < 0)
                abort();
        /* the pipe was copied into this table by unshare: close our copy */
        close(a->report);
        for (;;)
                pause();
        return NULL;
}

static void hold_in_thread(const char *path) {
        static struct thread_args a;
        pthread_t t;
        int pfd[2], fd = 0, tid = 0, r;
        char buf[320] = "", text[256] = "";
        ssize_t n;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                die("pipe: %m");
        a = (struct thread_args) { .path = path, .report = pfd[1] };
        r = pthread_create(&t, NULL, thread_main, &a);
        if (r != 0) {
                errno = r;
                die("pthread_create: %m");
        }
        n = read(pfd[0], buf, sizeof buf - 1);
        if (n <= 0)
                die("no word from the thread: %m");
        buf[n] = '\0';
        if (sscanf(buf, "%d %d %255[^\n]", &fd, &tid, text) < 2)
                die("bad word from the thread: %s", buf);
        if (fd < 0) {
                errno = -fd;
                die("thread %d: unshare(CLONE_FILES) + open %s: %m", tid, path);
        }
        close(pfd[0]);
        close(pfd[1]);
        say("thread %d unshared its fd table and holds fd %d -> %s there (the main thread's table has no fd %d)",
            tid, fd, text, fd);
        if (fcntl(fd, F_GETFD) >= 0)
                die("fd %d is in the main thread's table too", fd);
}

/* ---- private: a node of our own, unlinked ------------------------------- */

static void hold_private(const char *path) {
        struct stat st;
        char node[128];
        int fd;

        if (stat(path, &st) < 0)
                die("stat %s: %m", path);
        if (!S_ISCHR(st.st_mode))
                die("%s is not a character device", path);
        snprintf(node, sizeof node, "/tmp/vfio-holder-private-%d", (int) getpid());
        if (mknod(node, S_IFCHR | 0600, st.st_rdev) < 0)
                die("mknod %s: %m", node);
        fd = open(node, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                unlink(node);
                errno = e;
                die("open %s (copy of %s): %m", node, path);
        }
        if (unlink(node) < 0)
                die("unlink %s: %m", node);
        say("private node %s (%u:%u, the device number of %s) opened and unlinked", node, major(st.st_rdev),
            minor(st.st_rdev), path);
        show_fd(fd);
}

/* ---- device: only the anonymous VFIO device fd ---------------------------- */

static void hold_device(const char *path, const char *addr) {
        struct vfio_group_status status = { .argsz = sizeof status };
        int container, group, device, r;

        container = open_or_die("/dev/vfio/vfio", O_RDWR);
        r = ioctl(container, VFIO_GET_API_VERSION);
        if (r != VFIO_API_VERSION)
                die("VFIO API version %d, want %d", r, VFIO_API_VERSION);
        if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0)
                die("the container does not offer VFIO_TYPE1_IOMMU");
        group = open_or_die(path, O_RDWR);
        if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
                die("VFIO_GROUP_GET_STATUS %s: %m", path);
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
                die("group %s is not viable (every device of it must be bound to vfio-pci or unbound)", path);
        if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
                die("VFIO_GROUP_SET_CONTAINER %s: %m", path);
        if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0)
                die("VFIO_SET_IOMMU VFIO_TYPE1_IOMMU: %m");
        device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, addr);
        if (device < 0)
                die("VFIO_GROUP_GET_DEVICE_FD %s on %s: %m", addr, path);
        if (fcntl(device, F_SETFD, FD_CLOEXEC) < 0)
                die("F_SETFD: %m");
        close(group);
        close(container);
        say("device fd of %s taken through %s; group and container fds closed", addr, path);
        show_fd(device);
        show_fdinfo(device);
}

/* ---- pass: the fd travels to another uid's process ---------------------- */

static void send_fd(int sock, int fd) {
        char byte = 'F';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *c;

        memset(&u, 0, sizeof u);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
                die("sendmsg SCM_RIGHTS: %m");
}

static int recv_fd(int sock) {
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *c;
        int fd;

        if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
                die("recvmsg: %m");
        c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
                die("no fd in the message");
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

/* The child: drops to uid, takes the fd, says so, holds until the parent
 * goes (EOF on the socket) or a signal ends it. */
static void pass_child(int sock, uid_t uid, gid_t gid) {
        char ack = 'A', byte;
        sigset_t all;
        int fd;

        /* the parent's SIGTERM ends it */
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        drop_to(uid, gid);
        fd = recv_fd(sock);
        say("child %d (uid %u) received fd %d over SCM_RIGHTS", (int) getpid(), (unsigned) getuid(), fd);
        show_fd(fd);
        if (write(sock, &ack, 1) != 1)
                die("ack: %m");
        while (read(sock, &byte, 1) > 0)
                ;
        _exit(0);
}

static pid_t hold_passed(const char *path, uid_t uid, gid_t gid) {
        int sv[2], fd;
        char ack;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair: %m");
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                close(sv[0]);
                pass_child(sv[1], uid, gid);
        }
        close(sv[1]);
        fd = open_or_die(path, O_RDWR);
        say("parent %d opened %s", (int) getpid(), path);
        show_fd(fd);
        send_fd(sv[0], fd);
        close(fd);
        if (read(sv[0], &ack, 1) != 1)
                die("the child did not take the fd");
        say("parent %d closed its copy: only child %d (uid %u) holds %s", (int) getpid(), (int) pid, (unsigned) uid,
            path);
        /* sv[0] stays open: the child holds until it reads EOF */
        return pid;
}

/* ---- waiting ---------------------------------------------------------- */

static void hold_until_told(int sfd) {
        struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
        char buf[256];

        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %m");
                }
                if (p[1].revents) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof si) == sizeof si)
                                say("signal %u: letting go", si.ssi_signo);
                        return;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
                        if (n <= 0) {
                                say("stdin closed: letting go");
                                return;
                        }
                }
        }
}

int main(int argc, char *argv[]) {
        uid_t uid = 0;
        gid_t gid = 0;
        bool drop = false;
        pid_t child = 0, holder;
        sigset_t mask;
        int sfd, i = 1;

        if (argc > 2 && strcmp(argv[1], "--uid") == 0) {
                parse_ids(argv[2], &uid, &gid);
                drop = true;
                i = 3;
        }
        if (argc - i < 2)
                usage();
        const char *mode = argv[i], *path = argv[i + 1];
        int nargs = argc - i - 1;

        /* signals arrive through a signalfd, in every thread alike */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask: %m");
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0)
                die("signalfd: %m");

        holder = getpid();
        if (strcmp(mode, "open") == 0 && nargs == 1)
                show_fd(open_or_die(path, O_RDWR));
        else if (strcmp(mode, "opath") == 0 && nargs == 1)
                show_fd(open_or_die(path, O_PATH));
        else if (strcmp(mode, "thread") == 0 && nargs == 1)
                hold_in_thread(path);
        else if (strcmp(mode, "private") == 0 && nargs == 1)
                hold_private(path);
        else if (strcmp(mode, "device") == 0 && nargs == 2)
                hold_device(path, argv[i + 2]);
        else if (strcmp(mode, "pass") == 0 && nargs == 2 && !drop) {
                uid_t to;
                gid_t tog;
                parse_ids(argv[i + 2], &to, &tog);
                holder = child = hold_passed(path, to, tog);
        } else
                usage();
        if (drop)
                drop_to(uid, gid);
        say("holder-pid: %d", (int) holder);
        printf("ready\n");
        fflush(stdout);

        hold_until_told(sfd);
        if (child > 0) {
                kill(child, SIGTERM);
                waitpid(child, NULL, 0);
        }
        return 0;
}
