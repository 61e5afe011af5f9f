/* yaml.c - the configuration loader: YAML text -> dsl_node tree (node.h).
 *
 * Stage: first stage of the compiler. Reads the file with libyaml's event
 * API and builds the tree iteratively (an explicit frame stack, so hostile
 * nesting cannot overflow the C stack). Every node keeps file:line:col
 * (1-based; columns count characters, as libyaml does). Along the way it
 * expands ${VAR} environment references in values, turns plain dotted keys
 * into nested maps, applies merge keys (<<), expands aliases by sharing the
 * anchored subtree (its expanded size is still counted against max_nodes)
 * and reports duplicate keys.
 *
 * It does not know the configuration language: a top level that is not a
 * map, unknown keys and wrong types are the checker's business (dsl/check.c).
 * All nodes and strings live in the caller's arena; temporary tables are
 * malloc'ed and freed before returning, on every path.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "dsl/node.h"
#include "base/buf.h"

#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_NODES 1000000
#define DEFAULT_MAX_FILE_SIZE ((size_t)16 << 20)
#define SHOW 120 /* longest key text echoed in a message */

/* Load-time flags kept in dsl_node.quoted of DSL_MAP nodes (meaningless for
 * maps otherwise); cleared before the tree is returned. */
#define F_IMPLICIT 1 /* created by a dotted key; an explicit map may merge into it */
#define F_SHARED 2   /* reachable through an alias: copy before changing */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort(); /* same policy as arena_alloc */
    return p;
}

/* ---- growable child arrays ------------------------------------------------
 * Arrays of n children always have the capacity cap_for(n), so no capacity
 * field is needed: a push reallocates exactly when n reaches a power of two
 * (>= 4). Every builder in this file (and dsl_map_put / dsl_seq_push) keeps
 * that rule; nodes built elsewhere must be grown with those two functions. */
static size_t cap_for(size_t n)
{
    if (n == 0) return 0;
    size_t c = 4;
    while (c < n) c *= 2;
    return c;
}

static void grow(arena *a, dsl_node ***arr, size_t n)
{
    if (n == 0) {
        *arr = arena_alloc(a, 4 * sizeof **arr);
    } else if (n >= 4 && (n & (n - 1)) == 0) {
        *arr = arena_realloc(a, *arr, n * sizeof **arr, 2 * n * sizeof **arr);
    }
}

static void push_raw(arena *a, dsl_node *parent, dsl_node *key, dsl_node *item)
{
    if (parent->kind == DSL_MAP) grow(a, &parent->keys, parent->n);
    grow(a, &parent->items, parent->n);
    if (parent->kind == DSL_MAP) parent->keys[parent->n] = key;
    parent->items[parent->n++] = item;
}

/* ---- hash table: (map, key text) -> index, and anchors ------------------- */
typedef struct ent {
    const void *owner; /* the map; NULL for an anchor */
    const char *key;
    size_t klen;
    size_t idx;        /* map: index of the entry; anchor: expanded size */
    size_t height;     /* anchor: nesting depth of the subtree */
    dsl_node *node;    /* anchor: the node */
} ent;

typedef struct table {
    ent *e;
    size_t cap, n;
} table;

static size_t hash(const void *owner, const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)owner;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33; /* murmur3 finalizer: spread the bits for the mask */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

static ent *tab_find(table *t, const void *owner, const char *k, size_t n)
{
    if (!t->cap) return NULL;
    for (size_t i = hash(owner, k, n) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        ent *e = &t->e[i];
        if (!e->key) return NULL;
        if (e->owner == owner && e->klen == n && memcmp(e->key, k, n) == 0) return e;
    }
}

static ent *tab_add(table *t, const void *owner, const char *k, size_t n)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        ent *ne = xmalloc(nc * sizeof *ne);
        memset(ne, 0, nc * sizeof *ne);
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->e[i].key) continue;
            size_t j = hash(t->e[i].owner, t->e[i].key, t->e[i].klen) & (nc - 1);
            while (ne[j].key) j = (j + 1) & (nc - 1);
            ne[j] = t->e[i];
        }
        free(t->e);
        t->e = ne;
        t->cap = nc;
    }
    size_t i = hash(owner, k, n) & (t->cap - 1);
    while (t->e[i].key) i = (i + 1) & (t->cap - 1);
    t->e[i] = (ent){owner, k, n, 0, 0, NULL};
    t->n++;
    return &t->e[i];
}

/* ---- loader context -------------------------------------------------------- */
typedef struct frame {
    dsl_node *node;
    size_t count;    /* nodes in the subtree, aliases expanded */
    size_t height;   /* nesting depth of the subtree (a container is 1) */
    char *anchor;    /* to register when the node is complete */
    dsl_node *key;   /* map: pending key; NULL when a key comes next */
    dsl_node **merges; /* map: merge sources (maps), in order */
    size_t nmerges;
} frame;

typedef struct ctx {
    arena *a;
    diag *d;
    const char *file;  /* arena copy */
    const char *text;
    size_t len;
    dsl_limits lim;
    table keys;        /* (map, key) -> index */
    table anchors;
    frame *st;
    size_t sp, stcap;
    size_t total;      /* nodes created or shared by aliases */
    size_t aliases;
    dsl_node **flagged; /* maps whose quoted field holds F_* flags */
    size_t nflagged, flcap;
    dsl_node *root;
    int fatal;
} ctx;

static src_loc mark_loc(const ctx *c, yaml_mark_t m)
{
    src_loc l = {c->file, (int)(m.line < INT_MAX ? m.line + 1 : INT_MAX),
                 (int)(m.column < INT_MAX ? m.column + 1 : INT_MAX)};
    return l;
}

static void set_flag(ctx *c, dsl_node *m, int f)
{
    if (m->kind != DSL_MAP || (m->quoted & f)) return;
    if (!m->quoted) {
        if (c->nflagged == c->flcap) {
            c->flcap = c->flcap ? c->flcap * 2 : 64;
            dsl_node **nf = xmalloc(c->flcap * sizeof *nf);
            if (c->nflagged) memcpy(nf, c->flagged, c->nflagged * sizeof *nf);
            free(c->flagged);
            c->flagged = nf;
        }
        c->flagged[c->nflagged++] = m;
    }
    m->quoted |= f;
}

/* Count n more nodes; 0, or -1 (fatal, reported) past max_nodes. */
static int count(ctx *c, size_t n, src_loc loc)
{
    c->total = n > SIZE_MAX - c->total ? SIZE_MAX : c->total + n;
    if (c->total <= c->lim.max_nodes) return 0;
    if (c->aliases)
        diag_error(c->d, loc, "alias expansion exceeds %zu nodes (billion laughs?)", c->lim.max_nodes);
    else
        diag_error(c->d, loc, "document has more than %zu nodes", c->lim.max_nodes);
    c->fatal = 1;
    return -1;
}

static dsl_node *new_node(ctx *c, dsl_kind k, src_loc loc)
{
    dsl_node *n = arena_alloc(c->a, sizeof *n);
    n->kind = k;
    n->loc = loc;
    return n;
}

static int is_null_word(const char *s, size_t n)
{
    return (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* Column of byte offset off inside a key that starts at loc (characters). */
static int seg_col(src_loc loc, const char *s, size_t off)
{
    int col = loc.col;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) col++;
    return col;
}

/* ---- environment interpolation ---------------------------------------------
 * In values (plain and quoted; never in keys), as the Elastic connectors do:
 *   ${VAR}  ${VAR:-default}  ${VAR|default}  (default when unset or empty;
 *           the default runs to the first '}')
 *   $VAR  $VAR|default  only when VAR is [A-Z_][A-Z0-9_]* (so $lower, $1 and
 *           regex anchors stay as written); the default runs to a blank
 *   $$      a literal '$'
 * Inside {{ ... }} template expressions only ${...} is expanded: {{ $table }}
 * is a plan variable. An unset variable without default is an error at the
 * scalar. A plain value that expands to nothing is DSL_NULL (`port: ${P:-}`
 * reads as `port:`). */
static int env_name_char(int ch, int upper_only)
{
    if (ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return 1;
    return !upper_only && ch >= 'a' && ch <= 'z';
}

/* Append the value of name (or def) to b. 0, or -1 when undefined (reported). */
static int resolve(ctx *c, buf *b, const char *name, size_t nlen, const char *def, size_t dlen,
                   int has_def, src_loc loc)
{
    char tmp[256];
    if (nlen >= sizeof tmp) {
        diag_error(c->d, loc, "environment variable name too long");
        return -1;
    }
    memcpy(tmp, name, nlen);
    tmp[nlen] = '\0';
    const char *v = getenv(tmp);
    if (v && *v) {
        buf_puts(b, v);
    } else if (has_def) {
        buf_append(b, def, dlen);
    } else if (!v) {
        diag_error(c->d, loc, "undefined environment variable '%s'", tmp);
        diag_hint(c->d, "set it, or give a default: ${%s:-value}", tmp);
        return -1;
    }
    return 0;
}

/* Expand environment references in a value (rules above). Values are
 * never echoed in messages: they may hold secrets. */
static int interpolate(ctx *c, const char *s, size_t n, src_loc loc, char **out, size_t *outn)
{
    if (!memchr(s, '$', n)) {
        *out = arena_strndup(c->a, s, n);
        *outn = n;
        return 0;
    }
    buf b = BUF_INIT;
    int rc = 0, tpl = 0;
    size_t i = 0;
    while (i < n) {
        char ch = s[i];
        if (ch == '{' && i + 1 < n && s[i + 1] == '{') {
            tpl = 1;
            buf_append(&b, "{{", 2);
            i += 2;
            continue;
        }
        if (ch == '}' && tpl && i + 1 < n && s[i + 1] == '}') {
            tpl = 0;
            buf_append(&b, "}}", 2);
            i += 2;
            continue;
        }
        if (ch != '$' || i + 1 == n) {
            buf_append(&b, &ch, 1);
            i++;
            continue;
        }
        char nx = s[i + 1];
        if (nx == '{') { /* ${VAR}, ${VAR:-default}, ${VAR|default} */
            const char *close = memchr(s + i + 2, '}', n - i - 2);
            if (!close) {
                diag_error(c->d, loc, "unterminated '${' in value");
                diag_hint(c->d, "close it with '}', or write $$ for a literal '$'");
                rc = -1;
                break;
            }
            const char *p = s + i + 2, *e = close;
            const char *q = p;
            while (q < e && env_name_char((unsigned char)*q, 0)) q++;
            int has_def = 0;
            const char *def = NULL;
            if (q < e && *q == ':' && q + 1 < e && q[1] == '-') {
                has_def = 1;
                def = q + 2;
            } else if (q < e && *q == '|') {
                has_def = 1;
                def = q + 1;
            }
            if (q == p || (*p >= '0' && *p <= '9') || (q < e && !has_def)) {
                diag_error(c->d, loc, "invalid environment reference '${%.*s}'",
                           (int)(q - p < SHOW ? q - p : SHOW), p);
                diag_hint(c->d, "write ${NAME} or ${NAME:-default}; $$ is a literal '$'");
                rc = -1;
            } else if (resolve(c, &b, p, (size_t)(q - p), def, has_def ? (size_t)(e - def) : 0,
                               has_def, loc) < 0) {
                rc = -1;
            }
            i = (size_t)(close - s) + 1;
            continue;
        }
        if (tpl) { /* {{ $table }} is a plan variable: copied as is */
            buf_append(&b, "$", 1);
            i++;
            continue;
        }
        if (nx == '$') {
            buf_append(&b, "$", 1);
            i += 2;
            continue;
        }
        size_t j = i + 1;
        while (j < n && env_name_char((unsigned char)s[j], 0)) j++;
        int upper = j > i + 1 && !(nx >= '0' && nx <= '9');
        for (size_t k = i + 1; upper && k < j; k++) upper = env_name_char((unsigned char)s[k], 1);
        if (!upper) { /* $lower, $1, a lone $ (regex anchors): literal */
            buf_append(&b, "$", 1);
            i++;
            continue;
        }
        int has_def = j < n && s[j] == '|';
        size_t dstart = j + 1, dend = dstart;
        if (has_def)
            while (dend < n && s[dend] != ' ' && s[dend] != '\t' && s[dend] != '\n') dend++;
        if (resolve(c, &b, s + i + 1, j - i - 1, s + dstart, has_def ? dend - dstart : 0, has_def,
                    loc) < 0)
            rc = -1;
        i = has_def ? dend : j;
    }
    if (b.failed) rc = -1;
    if (rc == 0) {
        *out = arena_strndup(c->a, b.data ? b.data : "", b.len);
        *outn = b.len;
    }
    buf_free(&b);
    return rc;
}

/* ---- maps: dotted keys, duplicates, merges ---------------------------------- */
/* Small maps are searched linearly; a map past SMALL entries gets its keys
 * indexed in c->keys (hostile files may hold a million keys in one map). */
#define SMALL 8

static void add_entry(ctx *c, dsl_node *map, dsl_node *key, dsl_node *val)
{
    push_raw(c->a, map, key, val);
    if (map->n <= SMALL) return;
    for (size_t i = map->n == SMALL + 1 ? 0 : map->n - 1; i < map->n; i++)
        tab_add(&c->keys, map, map->keys[i]->str, map->keys[i]->len)->idx = i;
}

static int find_entry(ctx *c, const dsl_node *map, const char *k, size_t n, size_t *idx)
{
    if (map->n <= SMALL) {
        for (size_t i = 0; i < map->n; i++) {
            if (map->keys[i]->len == n && memcmp(map->keys[i]->str, k, n) == 0) {
                *idx = i;
                return 1;
            }
        }
        return 0;
    }
    ent *e = tab_find(&c->keys, map, k, n);
    if (!e) return 0;
    *idx = e->idx;
    return 1;
}

/* Make map->items[i] (a map) safe to change: copy it when it is shared. */
static dsl_node *own_map(ctx *c, dsl_node *map, size_t i)
{
    dsl_node *m = map->items[i];
    if (!(m->quoted & F_SHARED)) return m;
    if (count(c, m->n + 1, m->loc) < 0) return NULL;
    dsl_node *cp = new_node(c, DSL_MAP, m->loc);
    if (m->quoted & F_IMPLICIT) set_flag(c, cp, F_IMPLICIT);
    for (size_t k = 0; k < m->n; k++) {
        set_flag(c, m->items[k], F_SHARED);
        add_entry(c, cp, m->keys[k], m->items[k]);
    }
    map->items[i] = cp;
    return cp;
}

static void put_entry(ctx *c, dsl_node *map, dsl_node *key, dsl_node *val, const dsl_node *shown);

/* Merge the entries of explicit map src into implicit map dst. */
static void merge_into(ctx *c, dsl_node *dst, const dsl_node *src)
{
    dst->quoted &= ~F_IMPLICIT; /* now explicit: a second explicit map is a duplicate */
    for (size_t k = 0; k < src->n && !c->fatal; k++) {
        if (src->quoted & F_SHARED) set_flag(c, src->items[k], F_SHARED);
        put_entry(c, dst, src->keys[k], src->items[k], src->keys[k]);
    }
}

static void put_entry(ctx *c, dsl_node *map, dsl_node *key, dsl_node *val, const dsl_node *shown)
{
    size_t i;
    if (!find_entry(c, map, key->str, key->len, &i)) {
        add_entry(c, map, key, val);
        return;
    }
    dsl_node *ex = map->items[i];
    if (ex->kind == DSL_MAP && (ex->quoted & F_IMPLICIT) && val->kind == DSL_MAP) {
        dsl_node *m = own_map(c, map, i);
        if (m) merge_into(c, m, val);
        return;
    }
    diag_error(c->d, shown->loc, "duplicate key '%.*s' (first defined at line %d)",
               (int)(shown->len < SHOW ? shown->len : SHOW), shown->str, map->keys[i]->loc.line);
}

/* Insert key: val into map, splitting a plain dotted key. A quoted key is
 * never split: that is how keys that contain dots ("sales.orders",
 * "invoice_*.v2") are written. */
static void map_insert(ctx *c, size_t depth, dsl_node *map, dsl_node *key, dsl_node *val,
                       size_t val_height)
{
    const char *s = key->str;
    size_t n = key->len;
    if (key->quoted || !memchr(s, '.', n)) {
        put_entry(c, map, key, val, key);
        return;
    }
    size_t nseg = 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '.') continue;
        nseg++;
        if (i == 0 || i + 1 == n || s[i + 1] == '.') {
            diag_error(c->d, key->loc, "empty part in dotted key '%.*s'", (int)(n < SHOW ? n : SHOW), s);
            diag_hint(c->d, "quote the key to keep the dots as they are: \"%.*s\"",
                      (int)(n < SHOW ? n : SHOW), s);
            return;
        }
    }
    if (depth + nseg - 1 + val_height > c->lim.max_depth) {
        diag_error(c->d, key->loc, "nesting deeper than %zu levels", c->lim.max_depth);
        c->fatal = 1;
        return;
    }
    dsl_node *cur = map;
    size_t start = 0;
    for (;;) {
        size_t end = start;
        while (end < n && s[end] != '.') end++;
        src_loc sl = key->loc;
        sl.col = seg_col(key->loc, s, start);
        if (end == n) {
            dsl_node *seg = new_node(c, DSL_SCALAR, sl);
            seg->str = arena_strndup(c->a, s + start, end - start);
            seg->len = end - start;
            put_entry(c, cur, seg, val, key);
            return;
        }
        size_t i;
        if (find_entry(c, cur, s + start, end - start, &i)) {
            dsl_node *ex = cur->items[i];
            if (ex->kind != DSL_MAP) {
                diag_error(c->d, key->loc,
                           "key '%.*s' goes through '%.*s', which is not a map (defined at line %d)",
                           (int)(n < SHOW ? n : SHOW), s, (int)(end < SHOW ? end : SHOW), s,
                           cur->keys[i]->loc.line);
                return;
            }
            cur = own_map(c, cur, i);
            if (!cur) return;
        } else {
            if (count(c, 2, sl) < 0) return;
            dsl_node *seg = new_node(c, DSL_SCALAR, sl);
            seg->str = arena_strndup(c->a, s + start, end - start);
            seg->len = end - start;
            dsl_node *m = new_node(c, DSL_MAP, sl);
            set_flag(c, m, F_IMPLICIT);
            add_entry(c, cur, seg, m);
            cur = m;
        }
        start = end + 1;
    }
}

/* Apply the merge keys of a completed map: absent keys are taken from the
 * sources, earlier sources first (YAML merge: earlier wins, explicit keys win). */
static void apply_merges(ctx *c, frame *f)
{
    dsl_node *map = f->node;
    for (size_t s = 0; s < f->nmerges; s++) {
        const dsl_node *src = f->merges[s];
        for (size_t k = 0; k < src->n; k++) {
            size_t i;
            if (find_entry(c, map, src->keys[k]->str, src->keys[k]->len, &i)) continue;
            set_flag(c, src->items[k], F_SHARED);
            add_entry(c, map, src->keys[k], src->items[k]);
        }
    }
}

static void add_merge(ctx *c, frame *f, dsl_node *src)
{
    if (f->nmerges == 0 || (f->nmerges >= 4 && (f->nmerges & (f->nmerges - 1)) == 0)) {
        size_t nc = f->nmerges ? f->nmerges * 2 : 4;
        f->merges = arena_realloc(c->a, f->merges, f->nmerges * sizeof *f->merges, nc * sizeof *f->merges);
    }
    f->merges[f->nmerges++] = src;
}

static int is_merge_key(const dsl_node *k)
{
    return !k->quoted && k->len == 2 && k->str[0] == '<' && k->str[1] == '<';
}

/* A complete node (size nodes after expansion, height levels) goes into the
 * container on top of the stack, or becomes the root. */
static void attach(ctx *c, dsl_node *node, size_t size, size_t height)
{
    if (c->sp + height > c->lim.max_depth) {
        diag_error(c->d, node->loc, "nesting deeper than %zu levels", c->lim.max_depth);
        c->fatal = 1;
        return;
    }
    if (c->sp == 0) {
        c->root = node;
        return;
    }
    frame *f = &c->st[c->sp - 1];
    f->count = size > SIZE_MAX - f->count ? SIZE_MAX : f->count + size;
    if (height + 1 > f->height) f->height = height + 1;
    dsl_node *parent = f->node;
    if (parent->kind == DSL_SEQ) {
        push_raw(c->a, parent, NULL, node);
        return;
    }
    if (!f->key) {
        if (node->kind != DSL_SCALAR) {
            diag_error(c->d, node->loc, "mapping keys must be scalars");
            c->fatal = 1;
            return;
        }
        f->key = node;
        return;
    }
    dsl_node *key = f->key;
    f->key = NULL;
    if (is_merge_key(key)) {
        if (node->kind == DSL_MAP) {
            add_merge(c, f, node);
            return;
        }
        if (node->kind == DSL_SEQ) {
            for (size_t i = 0; i < node->n; i++) {
                if (node->items[i]->kind != DSL_MAP) {
                    diag_error(c->d, node->items[i]->loc, "merge key '<<' takes a map or a list of maps");
                    return;
                }
                add_merge(c, f, node->items[i]);
            }
            return;
        }
        diag_error(c->d, node->loc, "merge key '<<' takes a map or a list of maps");
        diag_hint(c->d, "write '<<: *anchor' or '<<: [*a, *b]', or quote \"<<\" for a key named <<");
        return;
    }
    map_insert(c, c->sp, parent, key, node, height);
}

static void register_anchor(ctx *c, const yaml_char_t *name, dsl_node *node, size_t size, size_t height)
{
    if (!name) return;
    size_t n = strlen((const char *)name);
    ent *e = tab_find(&c->anchors, NULL, (const char *)name, n);
    if (!e) e = tab_add(&c->anchors, NULL, arena_strndup(c->a, (const char *)name, n), n);
    e->node = node;
    e->idx = size;
    e->height = height;
    set_flag(c, node, F_SHARED);
}

/* ---- events ---------------------------------------------------------------- */
/* Where a scalar's NUL is written (the escape \0, \x00, \u0000 or
 * \U00000000 of a double-quoted scalar, on the scalar's first line), else
 * the scalar's start. */
static src_loc nul_loc(const ctx *c, const yaml_event_t *ev, src_loc loc)
{
    static const char *const esc[] = {"\\0", "\\x00", "\\u0000", "\\U00000000", NULL};
    size_t b = ev->start_mark.index, e = ev->end_mark.index;
    if (b >= e || e > c->len) return loc;
    for (size_t i = b, col = (size_t)loc.col; i < e && c->text[i] != '\n'; i++) {
        if (c->text[i] == '\\') {
            for (int k = 0; esc[k]; k++)
                if (strlen(esc[k]) <= e - i && !memcmp(c->text + i, esc[k], strlen(esc[k]))) {
                    loc.col = (int)col;
                    return loc;
                }
            i++; /* an escaped character: "\\0" is a backslash and a 0 */
            col++;
        }
        if (((unsigned char)c->text[i] & 0xC0) != 0x80) col++;
    }
    return loc;
}

static void on_scalar(ctx *c, yaml_event_t *ev)
{
    src_loc loc = mark_loc(c, ev->start_mark);
    if (count(c, 1, loc) < 0) return;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    int quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag && strcmp(tag, YAML_STR_TAG) == 0) quoted = 1; /* !!str 123 */
    int is_key = c->sp > 0 && c->st[c->sp - 1].node->kind == DSL_MAP && !c->st[c->sp - 1].key;
    if (memchr(s, '\0', n)) {
        /* "a\0b": C strings would end at the NUL and silently drop the rest
         * (a rule value, a name, a template): refused */
        diag_error(c->d, nul_loc(c, ev, loc), "%s holds a NUL character (\\0)",
                   is_key ? "a key" : "a value");
        diag_hint(c->d, "NUL cannot be part of a setting, a name or a template; remove it");
        s = "";
        n = 0; /* keep building: report more errors */
    }
    dsl_node *node = new_node(c, DSL_SCALAR, loc);
    node->quoted = quoted;
    if (is_key) { /* keys are taken literally: no interpolation, no null */
        if (!quoted && n == 0) {
            diag_error(c->d, loc, "empty mapping key");
            c->fatal = 1;
            return;
        }
        node->str = arena_strndup(c->a, s, n);
        node->len = n;
    } else if (!quoted && (n == 0 || is_null_word(s, n))) {
        node->kind = DSL_NULL;
        node->str = arena_strndup(c->a, s, n);
        node->len = n;
    } else {
        char *out = NULL;
        size_t outn = 0;
        if (interpolate(c, s, n, loc, &out, &outn) < 0) {
            out = arena_strndup(c->a, "", 0); /* keep building: report more errors */
            outn = 0;
        }
        node->str = out;
        node->len = outn;
        if (!quoted && outn == 0) node->kind = DSL_NULL; /* port: ${PORT:-} */
    }
    if (!is_key && c->sp > 0 && c->st[c->sp - 1].node->kind == DSL_MAP && c->st[c->sp - 1].key) {
        const dsl_node *k = c->st[c->sp - 1].key; /* a secret's value is never shown */
        if (diag_is_secret_name(k->str, k->len))
            diag_hide_source(c->d, c->file, loc.line, loc.col, mark_loc(c, ev->end_mark).line,
                             mark_loc(c, ev->end_mark).col);
    }
    register_anchor(c, ev->data.scalar.anchor, node, 1, 0);
    attach(c, node, 1, 0);
}

static void on_start(ctx *c, yaml_event_t *ev, dsl_kind kind)
{
    src_loc loc = mark_loc(c, ev->start_mark);
    if (c->sp >= c->lim.max_depth) {
        diag_error(c->d, loc, "nesting deeper than %zu levels", c->lim.max_depth);
        c->fatal = 1;
        return;
    }
    if (c->sp > 0 && c->st[c->sp - 1].node->kind == DSL_MAP && !c->st[c->sp - 1].key) {
        diag_error(c->d, loc, "mapping keys must be scalars");
        c->fatal = 1;
        return;
    }
    if (count(c, 1, loc) < 0) return;
    if (c->sp == c->stcap) {
        size_t nc = c->stcap ? c->stcap * 2 : 16;
        frame *ns = xmalloc(nc * sizeof *ns);
        if (c->sp) memcpy(ns, c->st, c->sp * sizeof *ns);
        free(c->st);
        c->st = ns;
        c->stcap = nc;
    }
    frame *f = &c->st[c->sp++];
    memset(f, 0, sizeof *f);
    f->node = new_node(c, kind, loc);
    f->count = 1;
    f->height = 1;
    const yaml_char_t *anchor =
        kind == DSL_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    if (anchor) f->anchor = arena_strdup(c->a, (const char *)anchor);
}

static void on_end(ctx *c)
{
    frame f = c->st[--c->sp];
    if (f.node->kind == DSL_MAP) apply_merges(c, &f);
    register_anchor(c, (const yaml_char_t *)f.anchor, f.node, f.count, f.height);
    attach(c, f.node, f.count, f.height);
}

static void on_alias(ctx *c, yaml_event_t *ev)
{
    src_loc loc = mark_loc(c, ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    size_t n = strlen(name);
    ent *e = tab_find(&c->anchors, NULL, name, n);
    if (!e) {
        diag_error(c->d, loc, "undefined alias '*%.*s'", (int)(n < SHOW ? n : SHOW), name);
        diag_hint(c->d, "define the anchor first with '&%.*s' (anchors must come before their aliases)",
                  (int)(n < SHOW ? n : SHOW), name);
        dsl_node *null = new_node(c, DSL_NULL, loc);
        null->str = "";
        attach(c, null, 1, 0);
        return;
    }
    c->aliases++;
    if (count(c, e->idx, loc) < 0) return;
    attach(c, e->node, e->idx, e->height);
}

/* line:col (1-based, characters) of byte offset off. */
static src_loc offset_loc(const ctx *c, size_t off)
{
    src_loc l = {c->file, 1, 1};
    for (size_t i = 0; i < off && i < c->len; i++) {
        if (c->text[i] == '\n') {
            l.line++;
            l.col = 1;
        } else if (((unsigned char)c->text[i] & 0xC0) != 0x80) {
            l.col++;
        }
    }
    return l;
}

static void report_parser_error(ctx *c, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        diag_error(c->d, (src_loc){c->file, 0, 0}, "out of memory while parsing YAML");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        size_t off = p->problem_offset;
        if (p->problem && (strstr(p->problem, "trailing") || strstr(p->problem, "incomplete"))) {
            /* point at the first byte of the broken sequence */
            while (off > 0 && off <= c->len && ((unsigned char)c->text[off - 1] & 0xC0) == 0x80) off--;
            if (off > 0 && off <= c->len && (unsigned char)c->text[off - 1] >= 0xC0) off--;
        }
        src_loc l = offset_loc(c, off);
        if (p->problem_value != -1)
            diag_error(c->d, l, "%s (byte 0x%02X)", p->problem ? p->problem : "invalid input",
                       (unsigned)p->problem_value & 0xFFu);
        else
            diag_error(c->d, l, "%s", p->problem ? p->problem : "invalid input");
        diag_hint(c->d, "configuration files must be UTF-8 text");
        return;
    }
    src_loc l = mark_loc(c, p->problem_mark);
    if (p->context)
        diag_error(c->d, l, "%s (%s)", p->problem ? p->problem : "syntax error", p->context);
    else
        diag_error(c->d, l, "%s", p->problem ? p->problem : "syntax error");
    /* Tabs are the usual cause of "cannot start any token". */
    size_t line = 1, i = 0;
    while (i < c->len && line < p->problem_mark.line + 1)
        if (c->text[i++] == '\n') line++;
    while (i < c->len && (c->text[i] == ' ' || c->text[i] == '\t')) {
        if (c->text[i++] == '\t') {
            diag_hint(c->d, "tabs are not allowed for indentation in YAML; use spaces");
            break;
        }
    }
}

dsl_node *dsl_load_string(arena *a, diag *d, const char *name, const char *text, size_t len,
                          const dsl_limits *limits)
{
    ctx c;
    memset(&c, 0, sizeof c);
    c.a = a;
    c.d = d;
    c.file = arena_strdup(a, name ? name : "<string>");
    c.text = text;
    c.len = len;
    c.lim.max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    c.lim.max_nodes = limits && limits->max_nodes ? limits->max_nodes : DEFAULT_MAX_NODES;
    c.lim.max_file_size = limits && limits->max_file_size ? limits->max_file_size : DEFAULT_MAX_FILE_SIZE;
    int errors0 = diag_errors(d);
    dsl_node *result = NULL;

    if (len > c.lim.max_file_size) {
        diag_error(d, (src_loc){c.file, 0, 0}, "file is larger than %zu bytes", c.lim.max_file_size);
        return NULL;
    }
    diag_add_source(d, c.file, text ? text : "", len);

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        diag_error(d, (src_loc){c.file, 0, 0}, "out of memory while parsing YAML");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)(text ? text : ""), len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);

    int docs = 0, done = 0;
    while (!done && !c.fatal) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            report_parser_error(&c, &p);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (docs++ > 0) {
                diag_error(d, mark_loc(&c, ev.start_mark), "only one YAML document is allowed per file");
                diag_hint(d, "remove the '---' separator, or split the configuration into files");
                c.fatal = 1;
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_SCALAR_EVENT:
            on_scalar(&c, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            on_start(&c, &ev, DSL_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            on_start(&c, &ev, DSL_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            on_end(&c);
            break;
        case YAML_ALIAS_EVENT:
            on_alias(&c, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);

    for (size_t i = 0; i < c.nflagged; i++) c.flagged[i]->quoted = 0;
    free(c.flagged);
    free(c.st);
    free(c.keys.e);
    free(c.anchors.e);

    if (diag_errors(d) != errors0) return NULL;
    result = c.root;
    /* No document, or an empty one: an empty map. */
    if (!result || (result->kind == DSL_NULL && result->len == 0 && !result->quoted))
        result = new_node(&c, DSL_MAP, result ? result->loc : (src_loc){c.file, 1, 1});
    return result;
}

dsl_node *dsl_load_file(arena *a, diag *d, const char *path, const dsl_limits *limits)
{
    size_t max = limits && limits->max_file_size ? limits->max_file_size : DEFAULT_MAX_FILE_SIZE;
    const char *file = arena_strdup(a, path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, (src_loc){file, 0, 0}, "cannot open: %s", strerror(errno));
        return NULL;
    }
    buf b;
    buf_init(&b, max);
    char chunk[65536];
    size_t got;
    int too_big = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        int arc = buf_append(&b, chunk, got);
        if (arc < 0) {
            too_big = arc == DIAG_ENOMEM ? -1 : 1;
            break;
        }
    }
    int rerr = ferror(f);
    fclose(f);
    dsl_node *root = NULL;
    if (too_big < 0)
        diag_error(d, (src_loc){file, 0, 0}, "out of memory reading the file");
    else if (too_big)
        diag_error(d, (src_loc){file, 0, 0}, "file is larger than %zu bytes", max);
    else if (rerr)
        diag_error(d, (src_loc){file, 0, 0}, "read error");
    else
        root = dsl_load_string(a, d, file, b.data ? b.data : "", b.len, limits);
    buf_free(&b);
    return root;
}

/* ---- lookup, merge, builders ----------------------------------------------- */
dsl_node *dsl_map_get(const dsl_node *map, const char *key)
{
    if (!map || map->kind != DSL_MAP || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->len == n && memcmp(map->keys[i]->str, key, n) == 0) return map->items[i];
    return NULL;
}

static dsl_node *copy_tree(arena *a, const dsl_node *n)
{
    dsl_node *r = arena_alloc(a, sizeof *r);
    *r = *n;
    r->keys = r->items = NULL;
    r->n = 0;
    size_t cap = cap_for(n->n);
    if (cap) {
        if (n->kind == DSL_MAP) r->keys = arena_alloc(a, cap * sizeof *r->keys);
        r->items = arena_alloc(a, cap * sizeof *r->items);
    }
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == DSL_MAP) r->keys[i] = n->keys[i];
        r->items[i] = copy_tree(a, n->items[i]);
    }
    r->n = n->n;
    return r;
}

/* Index of key k in map m, or DSL_NAMES_NONE: hashed (ix) for big maps. */
static size_t key_index(const dsl_node *m, const dsl_names *ix, const dsl_node *k)
{
    if (ix) return dsl_names_find(ix, k->str, k->len);
    for (size_t j = 0; j < m->n; j++)
        if (m->keys[j]->len == k->len && memcmp(m->keys[j]->str, k->str, k->len) == 0) return j;
    return DSL_NAMES_NONE;
}

dsl_node *dsl_merge(arena *a, const dsl_node *base, const dsl_node *overlay)
{
    if (!overlay) return base ? copy_tree(a, base) : NULL;
    if (!base || base->kind != DSL_MAP || overlay->kind != DSL_MAP) return copy_tree(a, overlay);
    dsl_node *r = dsl_new_map(a, overlay->loc);
    const dsl_names *bix = base->n > SMALL ? dsl_names_of_map(a, base) : NULL;
    const dsl_names *oix = overlay->n > SMALL ? dsl_names_of_map(a, overlay) : NULL;
    for (size_t i = 0; i < base->n; i++) {
        const dsl_node *k = base->keys[i];
        size_t j = key_index(overlay, oix, k);
        if (j == DSL_NAMES_NONE)
            push_raw(a, r, (dsl_node *)k, copy_tree(a, base->items[i]));
        else
            push_raw(a, r, overlay->keys[j], dsl_merge(a, base->items[i], overlay->items[j]));
    }
    for (size_t j = 0; j < overlay->n; j++)
        if (key_index(base, bix, overlay->keys[j]) == DSL_NAMES_NONE)
            push_raw(a, r, overlay->keys[j], copy_tree(a, overlay->items[j]));
    return r;
}

dsl_node *dsl_new_scalar(arena *a, const char *s, int quoted, src_loc loc)
{
    dsl_node *n = arena_alloc(a, sizeof *n);
    n->loc = loc;
    n->quoted = quoted;
    if (!s) {
        n->kind = DSL_NULL;
        n->str = "";
        return n;
    }
    n->kind = DSL_SCALAR;
    n->len = strlen(s);
    n->str = arena_strndup(a, s, n->len);
    return n;
}

dsl_node *dsl_new_map(arena *a, src_loc loc)
{
    dsl_node *n = arena_alloc(a, sizeof *n);
    n->kind = DSL_MAP;
    n->loc = loc;
    return n;
}

dsl_node *dsl_new_seq(arena *a, src_loc loc)
{
    dsl_node *n = arena_alloc(a, sizeof *n);
    n->kind = DSL_SEQ;
    n->loc = loc;
    return n;
}

/* Replaces the value when the key is already present, else appends. */
void dsl_map_put(arena *a, dsl_node *map, dsl_node *key, dsl_node *value)
{
    for (size_t i = 0; i < map->n; i++) {
        if (map->keys[i]->len == key->len && memcmp(map->keys[i]->str, key->str, key->len) == 0) {
            map->items[i] = value;
            return;
        }
    }
    push_raw(a, map, key, value);
}

void dsl_map_add(arena *a, dsl_node *map, dsl_node *key, dsl_node *value)
{
    push_raw(a, map, key, value);
}

void dsl_seq_push(arena *a, dsl_node *seq, dsl_node *item)
{
    push_raw(a, seq, NULL, item);
}

/* ---- conversions -------------------------------------------------------------
 * They read the text whatever the quoting (the checker decides whether a
 * quoted "true" is acceptable where a boolean is expected). */
int dsl_as_bool(const dsl_node *n, int *out)
{
    /* YAML 1.2 core true/false, plus YAML 1.1 yes/no/on/off: the Elastic
     * connectors read config.yml with PyYAML (YAML 1.1), where those are
     * booleans, and an existing config.yml must load unchanged. */
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (!n || n->kind != DSL_SCALAR) return DIAG_EINVAL;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if (strlen(t[i]) == n->len && memcmp(t[i], n->str, n->len) == 0) {
            *out = 1;
            return 0;
        }
        if (strlen(f[i]) == n->len && memcmp(f[i], n->str, n->len) == 0) {
            *out = 0;
            return 0;
        }
    }
    return DIAG_EINVAL;
}

/* Decimal with optional sign, 0x hex, 0o octal (YAML 1.2 core; no
 * underscores, no floats); range-checked against long long. */
int dsl_as_int(const dsl_node *n, long long *out)
{
    if (!n || n->kind != DSL_SCALAR || n->len == 0) return DIAG_EINVAL;
    const char *s = n->str, *e = n->str + n->len;
    int neg = 0;
    unsigned base = 10;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    } else if (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        s += 2;
    }
    if (s == e) return DIAG_EINVAL;
    unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; s < e; s++) {
        unsigned dgt;
        if (*s >= '0' && *s <= '9') dgt = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f') dgt = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F') dgt = (unsigned)(*s - 'A' + 10);
        else return DIAG_EINVAL;
        if (dgt >= base) return DIAG_EINVAL;
        if (v > (lim - dgt) / base) return DIAG_EINVAL;
        v = v * base + dgt;
    }
    if (neg) *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    else *out = (long long)v;
    return 0;
}

/* [-+]? (digits [. digits?] | . digits) ([eE] [-+]? digits)?, finite.
 * .inf and .nan are refused: no setting of ours takes them. */
int dsl_as_double(const dsl_node *n, double *out)
{
    if (!n || n->kind != DSL_SCALAR || n->len == 0 || n->len > 400) return DIAG_EINVAL;
    const char *s = n->str, *e = n->str + n->len, *p = s;
    if (*p == '+' || *p == '-') p++;
    size_t ip = 0, fp = 0;
    while (p < e && *p >= '0' && *p <= '9') p++, ip++;
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p >= '0' && *p <= '9') p++, fp++;
    }
    if (ip + fp == 0) return DIAG_EINVAL;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        size_t ep = 0;
        while (p < e && *p >= '0' && *p <= '9') p++, ep++;
        if (!ep) return DIAG_EINVAL;
    }
    if (p != e) return DIAG_EINVAL;
    char tmp[402];
    memcpy(tmp, s, n->len);
    tmp[n->len] = '\0';
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) return DIAG_EINVAL;
    *out = v;
    return 0;
}
