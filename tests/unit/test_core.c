/* test_core.c - arena, diag and buf/JSON primitives. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "base/json.h"
#include "t.h"

static int cleaned;
static void on_free(void *p) { cleaned += *(int *)p; }

int main(void)
{
    T_PLAN(32);
    arena *a = arena_new();
    char *s = arena_printf(a, "%s-%d", "x", 42);
    T_STREQ(s, "x-42", "arena_printf");
    void *big = arena_alloc(a, 1 << 20);
    T_CHECK(big != NULL && ((char *)big)[12345] == 0, "arena big block zeroed");
    static int one = 1, two = 2;
    arena_on_free(a, on_free, &one);
    arena_on_free(a, on_free, &two);
    arena_reset(a);
    T_CHECK(cleaned == 3, "cleanups run on reset");
    T_STREQ(arena_strndup(a, "abcdef", 3), "abc", "arena_strndup after reset");
    arena_free(a);
    arena_free(NULL);

    buf b = BUF_INIT;
    size_t rep = 0;
    buf_json_str(&b, "a\"b\\\n\x01\xc3\xa9\xff", 9, &rep);
    T_STREQ(b.data, "\"a\\\"b\\\\\\n\\u0001\xc3\xa9\xef\xbf\xbd\"", "json escape + invalid byte replaced");
    T_CHECK(rep == 1, "one replacement counted");
    buf_reset(&b);
    buf_json_str(&b, "\xed\xa0\x80", 3, &rep); /* surrogate */
    T_CHECK(rep == 4 && utf8_valid(b.data, b.len), "surrogate bytes replaced");
    /* U+10FFFF is the last code point: F4 8F BF BF is valid, F4 90 and any
     * lead byte from F5 on are not */
    T_CHECK(utf8_valid("\xf4\x8f\xbf\xbf", 4), "utf8: U+10FFFF valid");
    T_CHECK(!utf8_valid("\xf5\x80\x80\x80", 4) && !utf8_valid("\xf4\x90\x80\x80", 4),
            "utf8: lead byte F5 and F4 90 invalid");
    buf_reset(&b);
    rep = 0;
    buf_json_str(&b, "\xf5\x80\x80\x80", 4, &rep);
    T_STREQ(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
            "json: F5 80 80 80 is four replaced bytes");
    /* C0 and C1 only ever lead overlong forms (C0 80 is a disguised NUL) */
    buf_reset(&b);
    rep = 0;
    buf_json_str(&b, "\xc0\x80|\xc1\xbf|\xc2\x80", 8, &rep);
    T_CHECK(!utf8_valid("\xc0\x80", 2) && !utf8_valid("\xc1\xbf", 2) && utf8_valid("\xc2\x80", 2) &&
                !strcmp(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xc2\x80\"") && rep == 4,
            "utf8: overlong C0 80 and C1 BF invalid (each byte replaced), C2 80 valid");
    buf_reset(&b);
    buf_json_base64(&b, "hello!?", 7);
    T_STREQ(b.data, "\"aGVsbG8hPw==\"", "base64");
    buf_free(&b);

    buf capped;
    buf_init(&capped, 8);
    T_CHECK(buf_puts(&capped, "12345678") == 0, "cap: fits");
    T_CHECK(buf_puts(&capped, "9") != 0 && capped.failed, "cap: overflow refused and sticky");
    buf_free(&capped);

    T_CHECK(json_is_number("-12.5e+3", 8), "json number ok");
    T_CHECK(!json_is_number("01", 2) && !json_is_number("1.", 2) && !json_is_number("NaN", 3),
            "json number rejects");

    /* \uXXXX escapes decode to 1, 2, 3 and (surrogate pair) 4 UTF-8 bytes */
    buf u8 = BUF_INIT;
    const char *esc = "\"\\u0041\\u00e9\\u07ff\\u0800\\u20ac\\uffff\\ud83d\\ude00\\udbff\\udfff\"";
    T_CHECK(json_unescape(esc, strlen(esc), &u8) == 0 &&
                u8.len == 1 + 2 + 2 + 3 + 3 + 3 + 4 + 4 &&
                memcmp(u8.data, "A\xc3\xa9\xdf\xbf\xe0\xa0\x80\xe2\x82\xac\xef\xbf\xbf"
                                "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", u8.len) == 0,
            "json: \\u escapes of 1 to 4 UTF-8 bytes (U+0041 .. U+10FFFF)");
    buf_reset(&u8);
    esc = "\"\\ud83d\"";
    T_CHECK(json_unescape(esc, strlen(esc), &u8) != 0, "json: a lone high surrogate is invalid");
    esc = "\"\\ude00x\"";
    T_CHECK(json_unescape(esc, strlen(esc), &u8) != 0, "json: a lone low surrogate is invalid");
    esc = "\"\\ud83d\\u0041\"";
    T_CHECK(json_unescape(esc, strlen(esc), &u8) != 0,
            "json: a high surrogate followed by no low surrogate is invalid");
    buf_free(&u8);

    diag *d = diag_new();
    const char *src = "a: 1\nmapings: {}\n";
    diag_add_source(d, "c.yml", src, strlen(src));
    diag_error(d, (src_loc){"c.yml", 2, 1}, "unknown key '%s'", "mapings");
    static const char *const cands[] = {"mappings", "templates", NULL};
    diag_hint(d, "did you mean '%s'?", diag_suggest("mapings", cands));
    for (int i = 0; i < 30; i++) diag_error(d, (src_loc){"c.yml", 1, 1}, "e%d", i);
    char *out = NULL;
    size_t outn = 0;
    FILE *f = open_memstream(&out, &outn);
    diag_print(d, f, 0);
    fclose(f);
    T_CHECK(strstr(out, "c.yml:2:1: error: unknown key 'mapings'\n     2 | mapings: {}\n       | ^\n  hint: did you mean 'mappings'?") != NULL,
            "diag caret and hint");
    T_CHECK(strstr(out, "... and 11 more errors not shown\n31 errors\n") != NULL, "diag cap and count");
    {
        /* warnings are counted, notes are not */
        diag *dw = diag_new();
        diag_warning(dw, (src_loc){0}, "w");
        diag_note(dw, (src_loc){0}, "n");
        diag_note(dw, (src_loc){0}, "n2");
        T_CHECK(diag_warnings(dw) == 1, "diag: one warning and two notes count one warning");
        diag_free(dw);
    }
    {
        /* the shortest text that reads back, up to 17 significant digits;
         * floats up to 9; -0 keeps its sign */
        char t[40];
        int okf = 1;
        static const struct { double v; int single; const char *want; } fs[] = {
            {0.1 + 0.2, 0, "0.30000000000000004"}, {1.0 / 3.0, 0, "0.3333333333333333"},
            {1e300 * 1.2345678901234567, 0, "1.2345678901234567e+300"}, {2.5e-308, 0, "2.5e-308"},
            {-0.0, 0, "-0.0"}, {12.5, 0, "12.5"}, {1e15, 0, "1e+15"}, {(float)0.1, 1, "0.1"},
            {(float)16777217.0, 1, "16777216.0"}, {(float)3.4e38, 1, "3.4e+38"}};
        for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
            json_fmt_double(t, fs[i].v, fs[i].single);
            if (strcmp(t, fs[i].want)) {
                printf("# %.17g: got %s, want %s\n", fs[i].v, t, fs[i].want);
                okf = 0;
            }
        }
        T_CHECK(okf, "doubles and floats: the shortest text that reads back");
    }
    {
        /* the edit distance: a letter more, a letter less, one changed, two
         * swapped; too far: nothing */
        const char *s1 = diag_suggest("mappingss", cands), *s2 = diag_suggest("templtes", cands),
                   *s3 = diag_suggest("mappinga", cands), *s4 = diag_suggest("tempaltes", cands),
                   *s5 = diag_suggest("xyz", cands), *s6 = diag_suggest("mmappings", cands);
        T_CHECK(s1 && !strcmp(s1, "mappings") && s2 && !strcmp(s2, "templates") && s3 &&
                    !strcmp(s3, "mappings") && s4 && !strcmp(s4, "templates") && !s5 && s6 &&
                    !strcmp(s6, "mappings"),
                "suggestions: mappingss, mmappings, templtes, mappinga, tempaltes; none for xyz");
    }
    free(out);
    diag_free(d);

    /* secrets: URL userinfo, secret key names, hidden source text */
    char u[128];
    T_STREQ(diag_redact_url(u, sizeof u, "http://elastic:pa/ss#w?rd@h:9200/x"), "http://elastic:***@h:9200/x",
            "redact: a password with / # ? goes whole (the userinfo ends at the last @)");
    T_STREQ(diag_redact_url(u, sizeof u, "https://tok3n@h"), "https://***@h", "redact: a bare userinfo is a token");
    T_STREQ(diag_redact_url(u, sizeof u, "http://h:9200"), "http://h:9200", "redact: no userinfo, unchanged");
    T_STREQ(diag_redact_url(u, sizeof u, "u:p@h"), "u:***@h", "redact: no scheme");
    T_CHECK(diag_is_secret_name("password", 8) && diag_is_secret_name("pasword", 7) &&
                diag_is_secret_name("api_kye", 7) && diag_is_secret_name("X-Auth-Token", 12) &&
                diag_is_secret_name("Authorization", 13) && diag_is_secret_name("db_passwd", 9),
            "secret key names, also misspelt");
    static const char *const plain_keys[] = {"host", "port", "username", "user", "database", "schema",
                                             "path", "tables", "index", "id", "fields", "ssl_ca",
                                             "ca_certs", "pipeline", "connector_id", "service_type",
                                             "index_name", "max_retries", "where", "order_by", NULL};
    int plain_ok = 1;
    for (int i = 0; plain_keys[i]; i++)
        if (diag_is_secret_name(plain_keys[i], strlen(plain_keys[i]))) plain_ok = 0;
    T_CHECK(plain_ok, "settings that are not secrets are not taken for secrets");
    d = diag_new();
    src = "a: { pasword: hunter2, port: x }\n";
    diag_add_source(d, "c.yml", src, strlen(src));
    diag_hide_source(d, "c.yml", 1, 15, 1, 22);
    diag_hide_source(d, "c.yml", 1, 15, 1, 0); /* a wider estimate of the same value: ignored */
    diag_error(d, (src_loc){"c.yml", 1, 30}, "port: expected an integer");
    out = NULL;
    f = open_memstream(&out, &outn);
    diag_print(d, f, 0);
    fclose(f);
    T_CHECK(strstr(out, "     1 | a: { pasword: ***, port: x }\n       |                          ^\n") &&
                !strstr(out, "hunter2"),
            "hidden source text prints as ***, the caret follows the shown text");
    free(out);
    diag_free(d);
    return T_DONE();
}
