/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "holders.h"
#include "util.h"
#include "worker-thread.h"

/* A second thread joins the scan once this many processes were met. */
#define HOLDERS_SPLIT_MIN 256

/* What a character device number is, asked of sysfs once per scan. */
typedef struct RdevCache {
        dev_t rdev;
        bool vfio;
        VfioNode node;
} RdevCache;

/* The mounts of one process that serve no device node, read once per
 * process and scan however many of its fds we are denied: a user may hold
 * thousands of such fds and make thousands of mounts. */
typedef struct NoDevMounts {
        pid_t pid;                 /* 0: not read */
        unsigned long *ids;        /* sorted */
        size_t n;
} NoDevMounts;

struct Holders {
        Holder *items;
        size_t n;
        unsigned n_tables;
        bool real_proc;            /* <proc> is procfs: pids are real (kcmp, our own pid) */
        int procfd;                /* <proc>: every file of the scan is opened below it, one
                                    * lookup of "PID/..." instead of the whole path each time */
        const char *sysfs_root;
        RdevCache *cache;
        size_t n_cache;
        NoDevMounts nodev;
        const bool *cancel;        /* NULL, or: give up once set (another thread sets it) */
};

/* A directory read with getdents64 straight into a buffer: a scan reads
 * one or two directories per process, and opendir() would add an fstat,
 * fdopendir() also two fcntl, to each (a tenth of a scan's syscalls). */
typedef struct DirReader {
        int fd;
        size_t pos, len;
        _Alignas(struct dirent64) char buf[8192];
} DirReader;

static void dir_reader_done(DirReader *d) {
        if (d->fd >= 0)
                close(d->fd);
}

static int dir_reader_open(DirReader *d, int dirfd, const char *path) {
        d->pos = d->len = 0;
        d->fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
        return d->fd < 0 ? -errno : 0;
}

/* The next entry, or NULL: at the end with errno 0, else errno set. */
static const struct dirent64 *dir_reader_next(DirReader *d) {
        if (d->pos >= d->len) {
                ssize_t n = getdents64(d->fd, d->buf, sizeof d->buf);
                if (n <= 0) {
                        errno = n < 0 ? errno : 0;
                        return NULL;
                }
                d->pos = 0;
                d->len = (size_t) n;
        }
        const struct dirent64 *de = (const struct dirent64 *) (d->buf + d->pos);
        d->pos += de->d_reclen;
        return de;
}

static bool cancelled(const Holders *h) {
        return h->cancel && __atomic_load_n(h->cancel, __ATOMIC_RELAXED);
}


Holders *holders_free(Holders *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n; i++)
                free(h->items[i].device);
        free(h->items);
        free(h->cache);
        free(h->nodev.ids);
        free(h);
        return NULL;
}

bool holders_any_node(const Holders *h) {
        for (size_t i = 0; h && i < h->n; i++)
                if (h->items[i].kind == HOLDER_NODE)
                        return true;
        return false;
}

unsigned holders_n_tables(const Holders *h) {
        return h ? h->n_tables : 0;
}

size_t holders_n(const Holders *h) {
        return h ? h->n : 0;
}

static bool is_number(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static int identify(Holders *h, dev_t rdev, const VfioNode **ret) {
        for (size_t i = 0; i < h->n_cache; i++)
                if (h->cache[i].rdev == rdev) {
                        *ret = h->cache[i].vfio ? &h->cache[i].node : NULL;
                        return 0;
                }
        RdevCache *c = reallocarray(h->cache, h->n_cache + 1, sizeof(RdevCache));
        if (!c)
                return -ENOMEM;
        h->cache = c;
        RdevCache *e = &c[h->n_cache++];
        *e = (RdevCache) { .rdev = rdev };
        int r = vfio_node_from_devnum(h->sysfs_root, major(rdev), minor(rdev), &e->node);
        if (r == -ENOMEM)
                return r;
        e->vfio = r >= 0;
        *ret = e->vfio ? &e->node : NULL;
        return 0;
}

/* The VFIO node a statx()ed file is (*ret NULL: none, not even a char device). */
static int node_of(Holders *h, const struct statx *stx, const VfioNode **ret) {
        *ret = NULL;
        if (!S_ISCHR(stx->stx_mode))
                return 0;
        return identify(h, makedev(stx->stx_rdev_major, stx->stx_rdev_minor), ret);
}

static int add(Holders *h, Holder x) {
        /* threads sharing one fd table report the same holder once */
        for (size_t i = 0; i < h->n; i++) {
                Holder *y = &h->items[i];
                if (y->pid == x.pid && y->kind == x.kind && streq_ptr(y->device, x.device) &&
                    (x.kind != HOLDER_NODE ||
                     (y->node.kind == x.node.kind && y->node.group == x.node.group && streq(y->node.cdev, x.node.cdev)))) {
                        free(x.device);
                        return 0;
                }
        }
        Holder *items = reallocarray(h->items, h->n + 1, sizeof(Holder));
        if (!items) {
                free(x.device);
                return -ENOMEM;
        }
        h->items = items;
        h->items[h->n++] = x;
        return 0;
}

/* A table's fdinfo directory, opened when an fd first needs it: most
 * tables hold no fd that does (no device node, no VFIO device fd). */
typedef struct FdInfoDir {
        int procfd;
        const char *path;          /* below procfd */
        int fd;                    /* -2: not opened yet; -1: cannot be */
} FdInfoDir;

static void fdinfo_dir_done(FdInfoDir *d) {
        if (d->fd >= 0)
                close(d->fd);
}

static int fdinfo_dir(FdInfoDir *d) {
        if (d->fd == -2)
                d->fd = openat(d->procfd, d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return d->fd;
}

/* One key of <fdinfo>/<fd>: "flags:\t0100002" -> "0100002". */
static int read_fdinfo(FdInfoDir *info, const char *fd, const char *key, char **ret) {
        char buf[4096];
        ssize_t n;

        *ret = NULL;
        int infofd = fdinfo_dir(info);
        if (infofd < 0)
                return -ENOENT;
        _cleanup_close_ int f = openat(infofd, fd, O_RDONLY | O_CLOEXEC);
        if (f < 0)
                return -(errno ?: EIO);
        n = read(f, buf, sizeof buf - 1);
        if (n < 0)
                return -(errno ?: EIO);
        buf[n] = '\0';
        size_t k = strlen(key);
        for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, key, k) == 0 && line[k] == ':') {
                        line += k + 1;
                        line += strspn(line, " \t");
                        *ret = strndup(line, strcspn(line, "\n"));
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

static int cmp_ulong(const void *a, const void *b) {
        unsigned long x = *(const unsigned long *) a, y = *(const unsigned long *) b;
        return x < y ? -1 : x > y;
}

/* The ids of the mounts in pid's mountinfo on which no device node can be
 * opened: nodev ones, and FUSE ones. A FUSE mount that denies us (root) its
 * files was made by fusermount for a user (always nodev) or inside a user
 * namespace (its user_id= then reads 0, relative to that namespace, and
 * the kernel makes every such superblock nodev without saying so here);
 * only a FUSE mount that denies us is asked about. */
static int read_nodev_mounts(int procfd, const char *pid, NoDevMounts *m) {
        _cleanup_free_ char *p = strjoin_printf("%s/mountinfo", pid), *line = NULL;
        size_t size = 0;

        free(m->ids);
        *m = (NoDevMounts) { .pid = atoi(pid) };
        if (!p)
                return -ENOMEM;
        _cleanup_fclose_ FILE *f = fopen_at(procfd, p);
        if (!f)
                return 0;   /* gone, or a fake /proc without one: nothing is nodev */
        while (getline(&line, &size, f) > 0) {
                unsigned long id;
                char opts[1024], fstype[64];
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS */
                if (sscanf(line, "%lu %*u %*s %*s %*s %1023s", &id, opts) != 2)
                        continue;
                const char *sep = strstr(line, " - ");
                bool fuse = sep && sscanf(sep, " - %63s", fstype) == 1 && startswith(fstype, "fuse");
                if (!fuse && !strstr(opts, "nodev"))
                        continue;
                if (m->n % 64 == 0) {
                        unsigned long *ids = reallocarray(m->ids, m->n + 64, sizeof *ids);
                        if (!ids)
                                return -ENOMEM;
                        m->ids = ids;
                }
                m->ids[m->n++] = id;
        }
        if (m->n > 0)
                qsort(m->ids, m->n, sizeof *m->ids, cmp_ulong);
        return 0;
}

/* Whether the fd lives on a mount that serves no device node (its mount
 * id from fdinfo): an fd there holds no device. A user's FUSE mount denies
 * us its files: that must not make every device look held (fail closed is
 * for what we cannot tell, and this we can). */
static bool on_nodev_mount(Holders *h, const char *pid, FdInfoDir *info, const char *fd) {
        _cleanup_free_ char *mnt = NULL;

        /* what cannot be read (even for want of memory) is not nodev: the
         * caller fails closed */
        if (read_fdinfo(info, fd, "mnt_id", &mnt) < 0 || !mnt)
                return false;
        if (h->nodev.pid != atoi(pid) && read_nodev_mounts(h->procfd, pid, &h->nodev) < 0)
                return false;
        unsigned long want = strtoul(mnt, NULL, 10);
        return h->nodev.n > 0 && bsearch(&want, h->nodev.ids, h->nodev.n, sizeof want, cmp_ulong);
}

/* O_PATH fds cannot use a device. Unknown flags count as a real open. */
static bool is_o_path(FdInfoDir *info, const char *fd) {
        _cleanup_free_ char *flags = NULL;
        if (read_fdinfo(info, fd, "flags", &flags) < 0 || !flags)
                return false;
        return (strtoul(flags, NULL, 8) & O_PATH) != 0;
}

static int process_status_at(int procfd, pid_t pid, char **ret_name, uid_t *ret_uid) {
        char p[32], line[256];
        unsigned real, effective;

        if (ret_name)
                *ret_name = NULL;
        *ret_uid = (uid_t) -1;
        snprintf(p, sizeof p, "%d/status", (int) pid);
        _cleanup_fclose_ FILE *f = fopen_at(procfd, p);
        if (!f)
                return -errno;
        /* Name comes before Uid */
        while (fgets(line, sizeof line, f)) {
                if (ret_name && !*ret_name && startswith(line, "Name:\t")) {
                        line[strcspn(line, "\n")] = '\0';
                        if (!(*ret_name = strdup(line + strlen("Name:\t"))))
                                return -ENOMEM;
                } else if (sscanf(line, "Uid: %u %u", &real, &effective) == 2) {
                        *ret_uid = (uid_t) effective;
                        return 0;
                }
        }
        return 0;
}

int holders_process_status(const char *proc_root, pid_t pid, char **ret_name, uid_t *ret_uid) {
        _cleanup_close_ int procfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0) {
                if (ret_name)
                        *ret_name = NULL;
                *ret_uid = (uid_t) -1;
                return -errno;
        }
        return process_status_at(procfd, pid, ret_name, ret_uid);
}

static uid_t process_uid(const Holders *h, const char *pid) {
        uid_t uid;
        (void) process_status_at(h->procfd, atoi(pid), NULL, &uid);
        return uid;
}

static int add_unreadable(Holders *h, const char *pid, int error) {
        return add(h, (Holder) { .kind = HOLDER_UNREADABLE, .pid = atoi(pid), .uid = process_uid(h, pid),
                                 .error = error });
}

/* One fd table: fddir and its fdinfo, below <proc>. */
static int scan_table(Holders *h, const char *pid, const char *fddir, const char *infodir) {
        _cleanup_(dir_reader_done) DirReader d;
        int r = dir_reader_open(&d, h->procfd, fddir);
        if (r < 0)
                /* gone meanwhile; anything else: we cannot tell, so it may hold anything */
                return r == -ENOENT || r == -ESRCH ? 0 : add_unreadable(h, pid, -r);
        _cleanup_(fdinfo_dir_done) FdInfoDir info = { .procfd = h->procfd, .path = infodir, .fd = -2 };
        uid_t uid = (uid_t) -2; /* not read yet */
        int dfd = d.fd;

        h->n_tables++;
        unsigned n_fds = 0;
        for (const struct dirent64 *de; (de = dir_reader_next(&d));) {
                char text[256];
                if (de->d_name[0] == '.')
                        continue;
                /* one process may hold a million fds */
                if (++n_fds % 4096 == 0 && cancelled(h))
                        return -ECANCELED;
                ssize_t n = readlinkat(dfd, de->d_name, text, sizeof text - 1);
                if (n < 0) {
                        if (errno == ENOENT)
                                continue; /* closed meanwhile */
                        return add_unreadable(h, pid, errno);
                }
                text[n] = '\0';

                Holder x = { .pid = atoi(pid) };
                if (streq(text, "anon_inode:[vfio-device]")) {
                        _cleanup_free_ char *syspath = NULL;
                        if (read_fdinfo(&info, de->d_name, "vfio-device-syspath", &syspath) >= 0 && syspath) {
                                const char *slash = strrchr(syspath, '/');
                                x.kind = HOLDER_DEVICE_FD;
                                x.device = strdup(slash ? slash + 1 : syspath);
                                if (!x.device)
                                        return -ENOMEM;
                        } else
                                x.kind = HOLDER_DEVICE_FD_UNNAMED;
                } else if (text[0] == '/') {
                        /* a path: perhaps a device node, under any name */
                        struct statx stx;
                        const VfioNode *node = NULL;
                        if (statx(dfd, de->d_name, AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0) {
                                int e = errno;
                                if (e == ENOENT || ((e == EACCES || e == EPERM) &&
                                                    on_nodev_mount(h, pid, &info, de->d_name)))
                                        continue;
                                return add_unreadable(h, pid, e);
                        }
                        r = node_of(h, &stx, &node);
                        if (r < 0)
                                return r;
                        if (!node || is_o_path(&info, de->d_name))
                                continue;
                        x.kind = HOLDER_NODE;
                        x.node = *node;
                } else
                        continue; /* sockets, pipes, other anon inodes */

                if (uid == (uid_t) -2)
                        uid = process_uid(h, pid);
                x.uid = uid;
                if ((r = add(h, x)) < 0)
                        return r;
        }
        return errno == 0 ? 0 : add_unreadable(h, pid, errno);
}

/* A VFIO device region mapped and its fd closed: the mapping keeps the
 * device open. /proc/PID/maps names it by the device's anon inode when the
 * fd came from a group, and by the cdev's path (any path: a bind mount, a
 * private mknod) when it came from /dev/vfio/devices/vfioX; such a mapping
 * is known by what it maps, statx() of its map_files entry, as fds are.
 * VFIO regions are mapped shared only (vfio-pci refuses a private mmap), so
 * only shared file mappings cost a statx: one per mapping, as one per fd. */
static int scan_maps(Holders *h, const char *pid) {
        _cleanup_free_ char *p = strjoin_printf("%s/maps", pid), *line = NULL;
        _cleanup_fclose_ FILE *f = p ? fopen_at(h->procfd, p) : NULL;
        uid_t uid = (uid_t) -2; /* not read yet */
        unsigned n_lines = 0;
        size_t size = 0;
        ssize_t n;
        int r;

        if (!p)
                return -ENOMEM;
        if (!f)
                return 0; /* a fake /proc has none; a real one that cannot be read was caught by its fd table */
        /* ADDR PERMS OFFSET DEV INODE PATHNAME: the pathname column, whole
         * and exactly. A file's path begins with '/' and may contain
         * spaces and anything else (the kernel escapes only newlines), so
         * a file named "x anon_inode:[vfio-device]" must not match. */
        while ((n = getline(&line, &size, f)) > 0) {
                char range[64], perms[8];
                int col = 0;
                if (++n_lines % 4096 == 0 && cancelled(h))
                        return -ECANCELED;
                if (line[n - 1] == '\n')
                        line[n - 1] = '\0';
                if (sscanf(line, "%63s %7s %*s %*s %*s %n", range, perms, &col) < 2 || col == 0)
                        continue;
                Holder x = { .pid = atoi(pid) };
                if (streq(line + col, "anon_inode:[vfio-device]"))
                        x.kind = HOLDER_DEVICE_FD_UNNAMED;
                else if (line[col] == '/' && perms[3] == 's') {
                        _cleanup_free_ char *mf = strjoin_printf("%s/map_files/%s", pid, range);
                        const VfioNode *node = NULL;
                        struct statx stx;
                        if (!mf)
                                return -ENOMEM;
                        if (statx(h->procfd, mf, AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0) {
                                int e = errno;
                                /* gone meanwhile (or a fake /proc without
                                 * map_files); EACCES/EPERM: a FUSE-like
                                 * file system refusing us, which cannot
                                 * serve a device node to map */
                                if (e == ENOENT || e == ESRCH || e == EACCES || e == EPERM)
                                        continue;
                                return add_unreadable(h, pid, e);
                        }
                        r = node_of(h, &stx, &node);
                        if (r < 0)
                                return r;
                        if (!node)
                                continue;
                        x.kind = HOLDER_NODE;
                        x.node = *node;
                } else
                        continue;
                if (uid == (uid_t) -2)
                        uid = process_uid(h, pid);
                x.uid = uid;
                if ((r = add(h, x)) < 0)
                        return r;
        }
        /* the maps broke off: what was not read may map a device */
        if (ferror(f))
                return add_unreadable(h, pid, errno ?: EIO);
        return 0;
}

static int scan_pid(Holders *h, const char *pid) {
        _cleanup_free_ char *taskdir = strjoin_printf("%s/task", pid);
        int r;

        if (!taskdir)
                return -ENOMEM;
        r = scan_maps(h, pid);
        if (r < 0)
                return r;
        _cleanup_(dir_reader_done) DirReader d;
        int k = dir_reader_open(&d, h->procfd, taskdir);
        if (k < 0) {
                if (k == -ENOENT) {
                        /* no task directory: a process that just left, or a
                         * fake /proc: its own table */
                        _cleanup_free_ char *fd = strjoin_printf("%s/fd", pid);
                        _cleanup_free_ char *info = strjoin_printf("%s/fdinfo", pid);
                        return fd && info ? scan_table(h, pid, fd, info) : -ENOMEM;
                }
                return k == -ESRCH ? 0 : add_unreadable(h, pid, -k);
        }
        pid_t leader = atoi(pid);
        for (const struct dirent64 *de; r >= 0 && (de = dir_reader_next(&d));) {
                if (!is_number(de->d_name))
                        continue;
                /* threads share their process' fd table unless they
                 * unshared it: read each table once, not once per thread */
                pid_t tid = atoi(de->d_name);
                if (h->real_proc && tid != leader &&
                    syscall(SYS_kcmp, leader, tid, KCMP_FILES, 0, 0) == 0)
                        continue;
                _cleanup_free_ char *fd = strjoin_printf("%s/%s/fd", taskdir, de->d_name);
                _cleanup_free_ char *info = strjoin_printf("%s/%s/fdinfo", taskdir, de->d_name);
                r = fd && info ? scan_table(h, pid, fd, info) : -ENOMEM;
        }
        /* the list of threads broke off (dir_reader_next's errno): the
         * tables of those not read may hold anything, unless it is gone */
        if (r >= 0 && errno != 0 && errno != ENOENT && errno != ESRCH)
                return add_unreadable(h, pid, errno);
        return r;
}


/* <proc>'s process directories, handed out one at a time to the scanning
 * threads. The directory is read as the scan goes, never listed first:
 * procfs lists by pid and a process forked during the scan gets a higher
 * pid, so a holder that hands its fd to a new child and closes its own
 * copy is still met in the child, unless the listing had already ended
 * (docs/security.md). */
typedef struct PidStream {
        pthread_mutex_t lock;
        DIR *dir;
        const char *self;        /* our own pid on the real /proc, else "" */
        unsigned long taken;
        int error;               /* a failed read of <proc>, or a failed scan: no more */
        bool end;
} PidStream;

/* The next process' directory name into name, and how many were taken
 * with it, or false: at the end, or once a thread failed. */
static bool pid_stream_next(PidStream *ps, char *name, size_t size, unsigned long *ret_taken) {
        bool found = false;

        pthread_mutex_lock(&ps->lock);
        while (!ps->end && ps->error == 0) {
                errno = 0;
                struct dirent *de = readdir(ps->dir);
                if (!de) {
                        ps->error = errno > 0 ? -errno : 0;
                        ps->end = true;
                } else if (is_number(de->d_name) && !streq(de->d_name, ps->self)) {
                        size_t len = strlen(de->d_name);
                        if (len >= size)
                                ps->error = -ENAMETOOLONG; /* no process of ours: fail closed */
                        else {
                                memcpy(name, de->d_name, len + 1);
                                *ret_taken = ++ps->taken;
                                found = true;
                        }
                        break;
                }
        }
        pthread_mutex_unlock(&ps->lock);
        return found;
}

static void pid_stream_fail(PidStream *ps, int r) {
        pthread_mutex_lock(&ps->lock);
        if (ps->error == 0)
                ps->error = r;
        pthread_mutex_unlock(&ps->lock);
}

/* The CPUs this thread may run on (affinity, a cpuset), not those online. */
static int cpus_we_may_use(void) {
        cpu_set_t set;
        return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

typedef struct ScanPart {
        Holders *h;
        PidStream *stream;
        /* the first thread: starts the second once the host proves big
         * (asked once: NULL after) */
        struct ScanPart *helper;
        WorkerThread *helper_thread;
        bool helped;
} ScanPart;

static void *scan_part(void *p) {
        ScanPart *part = p;
        unsigned long taken;
        char name[32];

        while (pid_stream_next(part->stream, name, sizeof name, &taken)) {
                /* A scan is a walk of the kernel's tables, a syscall per
                 * fd: with a second CPU, a second thread takes every other
                 * process. Not worth a thread for a small host. */
                if (part->helper && taken >= HOLDERS_SPLIT_MIN) {
                        part->helped = cpus_we_may_use() > 1 &&
                                       worker_thread_start(part->helper_thread, scan_part, part->helper) >= 0;
                        part->helper = NULL;
                }
                int r = cancelled(part->h) ? -ECANCELED : scan_pid(part->h, name);
                if (r < 0) {
                        pid_stream_fail(part->stream, r);
                        break;
                }
        }
        return NULL;
}

/* The second thread's holders join the first's: their pids differ, so
 * nothing is there twice. */
static int merge(Holders *into, Holders *from) {
        if (from->n > 0) {
                Holder *items = reallocarray(into->items, into->n + from->n, sizeof(Holder));
                if (!items)
                        return -ENOMEM;
                into->items = items;
                memcpy(into->items + into->n, from->items, from->n * sizeof(Holder));
                into->n += from->n;
                from->n = 0;   /* the devices' names are into's now */
        }
        into->n_tables += from->n_tables;
        return 0;
}

static int scan(const char *proc_root, const char *sysfs_root, const bool *cancel, bool two_threads, Holders **ret) {
        _cleanup_(holders_freep) Holders *h = calloc(1, sizeof *h);
        _cleanup_(holders_freep) Holders *h2 = calloc(1, sizeof *h2);
        char self[32] = "";
        struct statfs sfs;
        int r;

        if (!h || !h2)
                return -ENOMEM;
        DIR *d = opendir(proc_root);
        if (!d)
                return -errno;
        /* on the real /proc we are in it: the fds a caller passed as proof
         * sit in our own table while we decide, and hold nothing for us */
        bool real_proc = fstatfs(dirfd(d), &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
        if (real_proc)
                snprintf(self, sizeof self, "%d", (int) getpid());
        /* each thread its own caches; the fd of <proc> is shared, read only */
        *h = (Holders) { .procfd = dirfd(d), .real_proc = real_proc, .sysfs_root = sysfs_root, .cancel = cancel };
        *h2 = *h;

        PidStream stream = { .lock = PTHREAD_MUTEX_INITIALIZER, .dir = d, .self = self };
        WorkerThread helper_thread = {};
        ScanPart second = { .h = h2, .stream = &stream };
        ScanPart first = { .h = h, .stream = &stream, .helper = two_threads ? &second : NULL,
                           .helper_thread = &helper_thread };
        scan_part(&first);
        if (first.helped)
                worker_thread_join(&helper_thread);
        closedir(d);
        h->procfd = h2->procfd = -1;
        r = stream.error;
        if (r >= 0)
                r = merge(h, h2);
        if (r < 0)
                return r;
        h->sysfs_root = NULL; /* only borrowed for the scan */
        h->cancel = NULL;
        *ret = TAKE_PTR(h);
        return 0;
}

int holders_scan(const char *proc_root, const char *sysfs_root, Holders **ret) {
        return scan(proc_root, sysfs_root, NULL, false, ret);
}

int holders_scan_cancellable(const char *proc_root, const char *sysfs_root, const bool *cancel, Holders **ret) {
        return scan(proc_root, sysfs_root, cancel, true, ret);
}

static bool holds(const Holder *x, const char *name, long group, const char *cdev, bool stub_bound) {
        switch (x->kind) {
        case HOLDER_NODE:
                return x->node.kind == VFIO_NODE_GROUP ? x->node.group == group
                                                       : cdev && streq(x->node.cdev, cdev);
        case HOLDER_DEVICE_FD:
                return streq(x->device, name);
        default:
                /* a VFIO device fd or an unreadable table may be any device
                 * VFIO can hand out: one bound to a stub driver */
                return stub_bound;
        }
}

const Holder *holders_find(const Holders *h, const char *name, long group, const char *cdev, bool stub_bound,
                           uid_t except_uid) {
        const Holder *best = NULL;

        /* the most specific first: HolderKind is in that order */
        for (size_t i = 0; h && i < h->n; i++) {
                const Holder *x = &h->items[i];
                if ((except_uid != (uid_t) -1 && x->uid == except_uid) || !holds(x, name, group, cdev, stub_bound))
                        continue;
                if (!best || x->kind < best->kind)
                        best = x;
        }
        return best;
}
