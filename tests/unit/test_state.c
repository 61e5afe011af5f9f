/* test_state.c - incremental state file round trip, escapes, corruption;
 * runs sharing the file keep each other's watermarks; the locks between
 * runs name the holder and time out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/lock.h"
#include "sync/state.h"
#include "t.h"

/* Two runs that loaded the file before either saved (two --table runs). */
static void shared_file(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/shared", dir);
    diag *d = diag_new();
    eng_state *a = eng_state_load(path, d), *b = eng_state_load(path, d);
    const char *va[] = {"10"}, *vb[] = {"20"};
    eng_state_set(a, "c", "t0", va, 1);
    eng_state_set(b, "c", "t1", vb, 1);
    T_CHECK(eng_state_save(a, d) == 0 && eng_state_save(b, d) == 0, "two runs save");
    eng_state_free(a);
    eng_state_free(b);
    eng_state *s = eng_state_load(path, d);
    const char *const *got;
    int n0, n1;
    eng_state_get(s, "c", "t0", &got, &n0);
    eng_state_get(s, "c", "t1", &got, &n1);
    T_CHECK(n0 == 1 && n1 == 1, "the second save keeps the first run's watermark");
    eng_state_free(s);

    /* processes saving their own tables at once: every save succeeds (no
     * shared temp name) and every last watermark is in the file */
    enum { KIDS = 4, SAVES = 40 };
    pid_t kids[KIDS];
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            diag *cd = diag_new();
            eng_state *cs = eng_state_load(path, cd);
            char table[16], val[16];
            snprintf(table, sizeof table, "k%d", k);
            int bad = cs == NULL;
            for (int i = 1; i <= SAVES && !bad; i++) {
                snprintf(val, sizeof val, "%d", i);
                const char *v[] = {val};
                eng_state_set(cs, "c", table, v, 1);
                bad = eng_state_save(cs, cd) != 0;
            }
            if (bad && diag_count(cd)) fprintf(stderr, "child %d: %s\n", k, diag_last(cd));
            eng_state_free(cs);
            diag_free(cd);
            _exit(bad);
        }
    }
    int all_ok = 1;
    for (int k = 0; k < KIDS; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    T_CHECK(all_ok, "concurrent saves of one state file all succeed");
    s = eng_state_load(path, d);
    int found = 0;
    for (int k = 0; k < KIDS && s; k++) {
        char table[16];
        snprintf(table, sizeof table, "k%d", k);
        eng_state_get(s, "c", table, &got, &n0);
        found += n0 == 1 && !strcmp(got[0], "40");
    }
    T_CHECK(found == KIDS, "concurrent saves: every process's last watermark is kept");
    eng_state_get(s, "c", "t1", &got, &n1);
    T_CHECK(n1 == 1 && !strcmp(got[0], "20"), "concurrent saves: older entries are kept");
    eng_state_free(s);
    diag_free(d);
}

/* A lock held by another process: waited for, then a clear error naming it. */
static void locks(const char *dir)
{
    char state[256];
    snprintf(state, sizeof state, "%s/st", dir);
    char *p = eng_lock_path(state, "my conn", "a.b");
    char want[300];
    snprintf(want, sizeof want, "%s.lock.my%%20conn.a%%2Eb", state);
    T_STREQ(p, want, "lock file name: beside the state file, parts percent-encoded");
    int go[2], done[2];
    if (pipe(go) || pipe(done)) return;
    pid_t kid = fork();
    if (kid == 0) {
        diag *cd = diag_new();
        eng_lock *l = NULL;
        int rc = eng_lock_take(p, 1, 0, "table 't'", "sync --full", NULL, NULL, &l, cd);
        char c = rc == 0 ? 'y' : 'n';
        if (write(go[1], &c, 1) != 1) _exit(1);
        if (read(done[0], &c, 1) != 1) _exit(1);
        eng_lock_release(l);
        diag_free(cd);
        _exit(0);
    }
    char c = 0;
    T_CHECK(read(go[0], &c, 1) == 1 && c == 'y', "another process holds the lock");
    diag *d = diag_new();
    eng_lock *l = NULL;
    int rc = eng_lock_take(p, 0, 0.3, "table 't'", "sync", NULL, NULL, &l, d);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld, sync --full", (long)kid);
    T_CHECK(rc == DIAG_ETRANSIENT && l == NULL, "a held lock: the wait runs out");
    T_CHECK(diag_count(d) && strstr(diag_last(d), pid) != NULL, "the message names the holder's pid and run");
    if (diag_count(d) && !strstr(diag_last(d), pid)) printf("#   %s\n", diag_last(d));
    c = 'x';
    if (write(done[1], &c, 1) != 1) return;
    diag_clear(d);
    rc = eng_lock_take(p, 1, 10, "table 't'", "sync", NULL, NULL, &l, d);
    T_CHECK(rc == 0 && l != NULL, "released by the holder: taken after a wait");
    eng_lock *l2 = NULL;
    eng_lock_release(l);
    rc = eng_lock_take(p, 0, 0, "table 't'", "sync", NULL, NULL, &l, d);
    T_CHECK(rc == 0 && eng_lock_take(p, 0, 0, "table 't'", "sync", NULL, NULL, &l2, d) == 0,
            "shared locks go together");
    eng_lock_release(l);
    eng_lock_release(l2);
    waitpid(kid, NULL, 0);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
    free(p);
    diag_free(d);
}

int main(void)
{
    T_PLAN(19);
    char dir[] = "/tmp/sql2es-state-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/state", dir);
    diag *d = diag_new();
    eng_state *s = eng_state_load(path, d);
    T_CHECK(s != NULL, "missing file is an empty state");
    const char *vals[] = {"2024-01-02T03:04:05.000001Z", "a\tb\\c\nd", NULL};
    eng_state_set(s, "shop", "orders", vals, 3);
    const char *v2[] = {"7"};
    eng_state_set(s, "shop", "items", v2, 1);
    T_CHECK(eng_state_save(s, d) == 0, "save");
    eng_state_free(s);
    s = eng_state_load(path, d);
    const char *const *got;
    int n;
    eng_state_get(s, "shop", "orders", &got, &n);
    T_CHECK(n == 3, "three values back");
    if (n == 3) {
        T_STREQ(got[0], vals[0], "timestamp value");
        T_STREQ(got[1], vals[1], "escaped tab/backslash/newline");
        T_CHECK(got[2] == NULL, "NULL value kept");
    }
    eng_state_get(s, "shop", "nope", &got, &n);
    T_CHECK(n == 0 && got == NULL, "unknown table has no watermark");
    eng_state_free(s);
    FILE *f = fopen(path, "w");
    fputs("shop\torders\t5\tx\n", f);
    fclose(f);
    s = eng_state_load(path, d);
    T_CHECK(s == NULL && diag_errors(d) == 1 && strstr(diag_last(d), "corrupt"), "corrupt line reported");
    diag_free(d);
    shared_file(dir);
    locks(dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return T_DONE();
}
