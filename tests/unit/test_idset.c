/* test_idset.c - the sweep's id set: exact, distinct, sorted, with spills. */
#include <stdio.h>
#include <string.h>

#include "sync/idset.h"
#include "t.h"

int main(void)
{
    T_PLAN(5);
    diag *d = diag_new();
    /* 20,000 ids (each twice, in a scrambled order) through a 4 KiB memory limit */
    eng_idset *s = eng_idset_new(4096);
    char id[32];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 20000; i++) {
            int k = (i * 7919) % 20000;
            int n = snprintf(id, sizeof id, "doc-%05d", k);
            eng_idset_add(s, id, (size_t)n);
        }
    T_CHECK(eng_idset_spills(s) > 10, "spilled to disk");
    eng_idset_iter *it = eng_idset_iter_new(s, d);
    const char *x;
    size_t xl;
    int count = 0, sorted = 1, expected = 1;
    char prev[32] = "";
    while (eng_idset_iter_next(it, &x, &xl) == 1) {
        char want[32];
        snprintf(want, sizeof want, "doc-%05d", count);
        if (xl != strlen(want) || memcmp(x, want, xl)) expected = 0;
        if (count && eng_idset_cmp(prev, strlen(prev), x, xl) >= 0) sorted = 0;
        memcpy(prev, x, xl);
        prev[xl] = '\0';
        count++;
    }
    T_CHECK(count == 20000, "each id once");
    T_CHECK(sorted && expected, "sorted and exact");
    eng_idset_iter_free(it);
    eng_idset_free(s);

    /* ids with NUL and high bytes, no spill */
    s = eng_idset_new(0);
    eng_idset_add(s, "b\0x", 3);
    eng_idset_add(s, "b", 1);
    eng_idset_add(s, "\xff", 1);
    eng_idset_add(s, "b\0x", 3);
    it = eng_idset_iter_new(s, d);
    int n = 0, ok = 1;
    while (eng_idset_iter_next(it, &x, &xl) == 1) {
        if (n == 0) ok &= xl == 1 && x[0] == 'b';
        if (n == 1) ok &= xl == 3 && !memcmp(x, "b\0x", 3);
        if (n == 2) ok &= xl == 1 && (unsigned char)x[0] == 0xff;
        n++;
    }
    T_CHECK(n == 3 && ok, "binary ids, prefix order, duplicates merged");
    eng_idset_iter_free(it);
    eng_idset_free(s);
    it = eng_idset_iter_new(NULL, d);
    T_CHECK(eng_idset_iter_next(it, &x, &xl) == 0, "NULL set is empty");
    eng_idset_iter_free(it);
    diag_free(d);
    return T_DONE();
}
