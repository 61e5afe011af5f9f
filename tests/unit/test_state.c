/* test_state.c - incremental state file round trip, escapes, corruption. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/state.h"
#include "t.h"

int main(void)
{
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
    unlink(path);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    rmdir(dir);
    return T_DONE();
}
