/* pg_helpers.h - for the unit tests that compile sources/postgresql.c into
 * themselves: build one pgoutput message in M (mn bytes) field by field
 * (mval writes a column value: NULL as 'n', "(u)" as unchanged TOAST 'u',
 * anything else as text 't'); dt gives conv_datetime's text of one value. */
#ifndef SQL2ES_TEST_PG_HELPERS_H
#define SQL2ES_TEST_PG_HELPERS_H

static unsigned char M[512];
static size_t mn;
static void m8(int v) { M[mn++] = (unsigned char)v; }
static void m16(int v) { m8(v >> 8); m8(v); }
static void m32(uint32_t v) { m16((int)(v >> 16)); m16((int)(v & 0xffff)); }
static void m64(uint64_t v) { m32((uint32_t)(v >> 32)); m32((uint32_t)v); }
static void mstr(const char *z) { memcpy(M + mn, z, strlen(z) + 1); mn += strlen(z) + 1; }
static void mval(const char *v)
{
    if (!v) { m8('n'); return; }
    if (!strcmp(v, "(u)")) { m8('u'); return; }
    m8('t');
    m32((uint32_t)strlen(v));
    memcpy(M + mn, v, strlen(v));
    mn += strlen(v);
}

static char out[128];

/* conv_datetime of s into out (at most cap bytes), or what it refused */
static const char *dt(conv_kind cv, const char *s, size_t cap)
{
    int n = conv_datetime(cv, s, strlen(s), out, cap);
    if (n == -1) return "(infinity)";
    if (n < 0) return "(not understood)";
    out[n] = '\0';
    return out;
}

#endif
