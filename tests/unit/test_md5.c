/* test_md5.c - MD5 against the RFC 1321 test suite (appendix A.5), plus
 * streaming in odd pieces and the padding boundaries. */
#include <string.h>

#include "base/md5.h"
#include "t.h"

int main(void)
{
    T_PLAN(10);
    static const char *const v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    char hex[33];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        eng_md5_hex(v[i][0], strlen(v[i][0]), hex);
        T_STREQ(hex, v[i][1], v[i][0][0] ? v[i][0] : "(empty)");
    }
    /* streaming in pieces of 1..7 bytes gives the same digest */
    const char *s = v[6][0];
    size_t n = strlen(s);
    eng_md5 m;
    unsigned char d[16];
    eng_md5_init(&m);
    for (size_t i = 0, k = 1; i < n; i += k, k = k % 7 + 1)
        eng_md5_update(&m, s + i, i + k > n ? n - i : k);
    eng_md5_final(&m, d);
    static const char h[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = h[d[i] >> 4];
        hex[2 * i + 1] = h[d[i] & 15];
    }
    T_STREQ(hex, v[6][1], "streamed in pieces");
    /* lengths 55, 56, 63, 64 (padding edges): compare one-shot vs byte-wise */
    char big[130];
    memset(big, 'x', sizeof big);
    int same = 1;
    for (size_t len = 50; len <= 130; len++) {
        char a[33], b[33];
        eng_md5_hex(big, len, a);
        eng_md5_init(&m);
        for (size_t i = 0; i < len; i++) eng_md5_update(&m, big + i, 1);
        eng_md5_final(&m, d);
        for (int i = 0; i < 16; i++) {
            b[2 * i] = h[d[i] >> 4];
            b[2 * i + 1] = h[d[i] & 15];
        }
        b[32] = 0;
        if (strcmp(a, b)) same = 0;
    }
    T_CHECK(same, "padding boundaries 50..130: one-shot equals byte-wise");
    eng_md5_hex(big, 64, hex);
    /* printf 'x%.0s' {1..64} | md5sum */
    T_STREQ(hex, "c1bb4f81d892b2d57947682aeb252456", "64 x");
    return T_DONE();
}
