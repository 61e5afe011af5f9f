/* lock.c - advisory locks between sync runs; see lock.h.
 *
 * POSIX record locks rather than flock: F_GETLK names the holder's pid, and
 * they work on network file systems that support locking. Their one trap -
 * closing any descriptor of a file drops every lock the process holds on it -
 * is avoided by opening each lock file once per holder. Lock files are never
 * removed (removing one while another process waits on it would let two runs
 * hold "the" lock at once). */
#include "sync/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"

struct eng_lock {
    int fd;
    int exclusive;
};

/* Bytes outside [A-Za-z0-9_-] as %XX: '.' separates the parts of a name. */
static void put_name(buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-') {
            buf_putc(b, (char)*p);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[*p >> 4]);
            buf_putc(b, hex[*p & 15]);
        }
    }
}

char *eng_lock_path(const char *state_path, const char *connector, const char *table)
{
    buf b = BUF_INIT;
    buf_puts(&b, state_path);
    buf_puts(&b, ".lock");
    if (connector) {
        buf_putc(&b, '.');
        put_name(&b, connector);
        if (table) {
            buf_putc(&b, '.');
            put_name(&b, table);
        }
    }
    char *p = strdup(b.data ? b.data : "");
    buf_free(&b);
    if (!p) abort();
    return p;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Who holds a lock that conflicts with fl: "pid N (what it wrote)" or "pid N". */
static void describe_holder(int fd, const struct flock *want, char *out, size_t n)
{
    struct flock fl = *want;
    if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK) {
        snprintf(out, n, "another run");
        return;
    }
    char text[256];
    ssize_t r = pread(fd, text, sizeof text - 1, 0);
    text[r > 0 ? r : 0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    /* the file describes its exclusive holder; a stale text (a holder that
     * died, a shared holder now) names another pid and is not shown */
    char prefix[32];
    snprintf(prefix, sizeof prefix, "pid %ld,", (long)fl.l_pid);
    if (!strncmp(text, prefix, strlen(prefix)))
        snprintf(out, n, "%s", text);
    else
        snprintf(out, n, "pid %ld", (long)fl.l_pid);
}

static void write_holder(int fd, const char *holder)
{
    char line[512], when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int len = snprintf(line, sizeof line, "pid %ld, %s, since %s\n", (long)getpid(),
                       holder ? holder : "sql2es", when);
    if (len < 0) return;
    if ((size_t)len >= sizeof line) len = (int)sizeof line - 1;
    /* informative only: a failed write leaves the lock itself intact */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)len, 0) < 0) return;
}

int eng_lock_take(const char *path, int exclusive, double wait_s, const char *what,
                  const char *holder, FILE *note, const volatile sig_atomic_t *stop,
                  eng_lock **out, diag *d)
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        diag_error(d, (src_loc){path, 0, 0}, "cannot open the lock file of %s: %s", what,
                   strerror(errno));
        return DIAG_EIO;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    double deadline = mono_now() + (wait_s > 0 ? wait_s : 0);
    int announced = 0;
    char who[300];
    for (;;) {
        if (fcntl(fd, F_SETLK, &fl) == 0) break;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
            diag_error(d, (src_loc){path, 0, 0}, "cannot lock %s: %s", what, strerror(errno));
            close(fd);
            return DIAG_EIO;
        }
        if (errno == EINTR) continue;
        describe_holder(fd, &fl, who, sizeof who);
        if (stop && *stop) {
            close(fd);
            return DIAG_ECANCEL;
        }
        if (mono_now() >= deadline) {
            diag_error(d, (src_loc){path, 0, 0},
                       "%s is locked by another sync (%s); gave up after %.0f s", what, who,
                       wait_s > 0 ? wait_s : 0);
            diag_hint(d, "overlapping runs of one connector wait for each other: run again "
                         "later, raise --lock-wait, or space out the schedules");
            close(fd);
            return DIAG_ETRANSIENT;
        }
        if (!announced && note) {
            fprintf(note, "sql2es: waiting up to %.0f s for %s, locked by %s\n", wait_s, what, who);
            fflush(note);
        }
        announced = 1;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (exclusive) write_holder(fd, holder);
    eng_lock *l = malloc(sizeof *l);
    if (!l) abort();
    l->fd = fd;
    l->exclusive = exclusive;
    *out = l;
    return 0;
}

void eng_lock_release(eng_lock *l)
{
    if (!l) return;
    if (l->exclusive && ftruncate(l->fd, 0) != 0) {
        /* the text is informative; the lock goes with the descriptor */
    }
    close(l->fd);
    free(l);
}
