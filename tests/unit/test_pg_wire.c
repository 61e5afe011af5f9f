/* test_pg_wire.c - the PostgreSQL driver's session set-up and change
 * stream against a scripted server on loopback that speaks the frontend/
 * backend protocol (simple queries and replication's copy-both mode): what
 * a real server answers only under conditions a test cannot easily make
 * (wal_level not logical, a slot of another plugin, a publication lacking a
 * table, a replica identity not FULL, an error while streaming, a keepalive
 * asking for a reply). Each case checks the queries the driver sent, its
 * return code and its message. The driver file is compiled into this test
 * (its functions are static). */
#include "sources/postgresql.c"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t.h"

/* ------------------------------------------------------------ the server */

typedef struct srv srv;
typedef void (*script_fn)(srv *v);
struct srv {
    int lfd, fd, port;
    script_fn script;
    pthread_t th;
    char log[16][512]; /* the queries received, in order */
    int nlog;
    int status_updates; /* standby status updates received in copy mode */
    int copy_done;      /* the client ended the copy */
};

static int rd_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

static void wr(srv *v, const void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        /* MSG_NOSIGNAL: a client gone is no SIGPIPE */
        ssize_t k = send(v->fd, (const char *)p + done, n - done, MSG_NOSIGNAL);
        if (k <= 0) return;
        done += (size_t)k;
    }
}

/* an outgoing message */
static unsigned char ob[4096];
static size_t on;
static void o_begin(int type) { ob[0] = (unsigned char)type; on = 5; }
static void o8(int x) { ob[on++] = (unsigned char)x; }
static void o16(int x) { o8(x >> 8); o8(x); }
static void o32(uint32_t x) { o16((int)(x >> 16)); o16((int)(x & 0xffff)); }
static void o64(uint64_t x) { o32((uint32_t)(x >> 32)); o32((uint32_t)x); }
static void obytes(const void *p, size_t n) { memcpy(ob + on, p, n); on += n; }
static void ostr(const char *z) { obytes(z, strlen(z) + 1); }
static void o_end(srv *v)
{
    uint32_t len = (uint32_t)(on - 1);
    ob[1] = (unsigned char)(len >> 24); ob[2] = (unsigned char)(len >> 16);
    ob[3] = (unsigned char)(len >> 8); ob[4] = (unsigned char)len;
    wr(v, ob, on);
}

static void ready(srv *v) { o_begin('Z'); o8('I'); o_end(v); }
static void complete(srv *v, const char *tag) { o_begin('C'); ostr(tag); o_end(v); }
static void error(srv *v, const char *state, const char *msg)
{
    o_begin('E');
    o8('S'); ostr("ERROR"); o8('V'); ostr("ERROR"); o8('C'); ostr(state); o8('M'); ostr(msg);
    o8(0);
    o_end(v);
}
/* A result of ncols text columns and nrows rows; vals row by row, NULL a NULL. */
static void rows(srv *v, int ncols, int nrows, const char *const *vals)
{
    o_begin('T');
    o16(ncols);
    for (int i = 0; i < ncols; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "c%d", i);
        ostr(nm); o32(0); o16(0); o32(25); o16(-1); o32(0xffffffffu); o16(0);
    }
    o_end(v);
    for (int r = 0; r < nrows; r++) {
        o_begin('D');
        o16(ncols);
        for (int i = 0; i < ncols; i++) {
            const char *x = vals[r * ncols + i];
            if (!x) { o32(0xffffffffu); continue; }
            o32((uint32_t)strlen(x));
            obytes(x, strlen(x));
        }
        o_end(v);
    }
    char tag[32];
    snprintf(tag, sizeof tag, "SELECT %d", nrows);
    complete(v, tag);
    ready(v);
}
static void one(srv *v, const char *val) { rows(v, 1, 1, &val); }
static void fail_with(srv *v, const char *state, const char *msg) { error(v, state, msg); ready(v); }
static void ok(srv *v, const char *tag) { complete(v, tag); ready(v); }

/* The next query (status updates and other messages read on the way), or
 * NULL when the client went away. */
static const char *query(srv *v)
{
    for (;;) {
        unsigned char h[5];
        if (rd_full(v->fd, h, 5) < 0) return NULL;
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        if (len < 4 || len > 1 << 20) return NULL;
        char *body = malloc(len - 4 + 1);
        if (rd_full(v->fd, body, len - 4) < 0) { free(body); return NULL; }
        body[len - 4] = 0;
        int type = h[0];
        if (type == 'Q' && v->nlog < 16) {
            snprintf(v->log[v->nlog], sizeof v->log[0], "%s", body);
            free(body);
            return v->log[v->nlog++];
        }
        if (type == 'd' && len - 4 >= 1 && body[0] == 'r') v->status_updates++;
        if (type == 'c') v->copy_done = 1;
        free(body);
        if (type == 'X') return NULL;
    }
}

/* ---- the extended protocol (PQexecParams, pipeline mode): each command's
 * Parse asks the case's answer function; an error skips to the Sync. */
typedef struct reply {
    char kind;             /* 'r' rows, 'c' command complete, 'e' error */
    const char *tag;       /* 'c' */
    int ncols, nrows;      /* 'r' */
    const char *const *vals;
    const uint32_t *types; /* 'r': column types (NULL: text) */
    const char *state, *msg; /* 'e' */
} reply;
/* sql with its parameters (the Bind's; none for a simple query) */
typedef reply (*answer_fn)(srv *v, const char *sql, const char *const *params, int nparams);

static void ext_loop(srv *v, answer_fn fn)
{
    static char sqlbuf[2048];
    reply r = {0};
    int skipping = 0;
    for (;;) {
        unsigned char h[5];
        if (rd_full(v->fd, h, 5) < 0) return;
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        if (len < 4 || len > 1 << 20) return;
        char *body = malloc(len - 4 + 1);
        if (rd_full(v->fd, body, len - 4) < 0) { free(body); return; }
        body[len - 4] = 0;
        int type = h[0];
        if (type == 'X') { free(body); return; }
        if (type == 'S') {
            skipping = 0;
            ready(v);
        } else if (type == 'P' && !skipping) {
            const char *q = body + strlen(body) + 1;
            snprintf(sqlbuf, sizeof sqlbuf, "%s", q);
            if (v->nlog < 16) snprintf(v->log[v->nlog], sizeof v->log[0], "%s", q);
            v->nlog++;
            o_begin('1'); o_end(v);
        } else if (type == 'B' && !skipping) {
            /* portal, statement, formats, then the parameters */
            const unsigned char *b = (const unsigned char *)body;
            size_t k = strlen(body) + 1;
            k += strlen(body + k) + 1;
            int nf = b[k] << 8 | b[k + 1];
            k += 2 + 2 * (size_t)nf;
            int np = b[k] << 8 | b[k + 1];
            k += 2;
            static char pv[4][128];
            const char *pp[4] = {NULL, NULL, NULL, NULL};
            for (int i = 0; i < np; i++) {
                int32_t pl = (int32_t)((uint32_t)b[k] << 24 | (uint32_t)b[k + 1] << 16 | (uint32_t)b[k + 2] << 8 | b[k + 3]);
                k += 4;
                if (i < 4 && pl >= 0) {
                    snprintf(pv[i], sizeof pv[i], "%.*s", (int)pl, body + k);
                    pp[i] = pv[i];
                }
                if (pl > 0) k += (size_t)pl;
            }
            r = fn(v, sqlbuf, pp, np);
            if (r.kind == 'e') {
                error(v, r.state, r.msg);
                skipping = 1;
            } else {
                o_begin('2'); o_end(v);
            }
        } else if (type == 'Q') {
            if (v->nlog < 16) snprintf(v->log[v->nlog], sizeof v->log[0], "%s", body);
            v->nlog++;
            r = fn(v, body, NULL, 0);
            if (r.kind == 'e') {
                fail_with(v, r.state, r.msg);
            } else if (r.kind == 'c') {
                ok(v, r.tag);
            } else {
                rows(v, r.ncols, r.nrows, r.vals);
            }
        } else if (skipping) {
            /* after an error: up to the Sync */
        } else if (type == 'D') {
            if (r.kind == 'r') {
                o_begin('T');
                o16(r.ncols);
                for (int i = 0; i < r.ncols; i++) {
                    char nm[16];
                    snprintf(nm, sizeof nm, "c%d", i);
                    ostr(nm); o32(0); o16(0); o32(r.types ? r.types[i] : 25); o16(-1); o32(0xffffffffu); o16(0);
                }
                o_end(v);
            } else {
                o_begin('n'); o_end(v);
            }
        } else if (type == 'E') {
            if (r.kind == 'r') {
                for (int k = 0; k < r.nrows; k++) {
                    o_begin('D');
                    o16(r.ncols);
                    for (int i = 0; i < r.ncols; i++) {
                        const char *x = r.vals[k * r.ncols + i];
                        if (!x) { o32(0xffffffffu); continue; }
                        o32((uint32_t)strlen(x));
                        obytes(x, strlen(x));
                    }
                    o_end(v);
                }
                char tag[32];
                snprintf(tag, sizeof tag, "SELECT %d", r.nrows);
                complete(v, tag);
            } else {
                complete(v, r.tag ? r.tag : "OK");
            }
        }
        free(body);
    }
}

/* Reads until the client is gone. */
static void drain(srv *v) { while (query(v)) ; }

static void *serve(void *arg)
{
    srv *v = arg;
    v->fd = accept(v->lfd, NULL, NULL);
    if (v->fd < 0) return NULL;
    for (;;) { /* SSLRequest / GSSENCRequest: 'N', then the startup message */
        unsigned char h[8];
        if (rd_full(v->fd, h, 8) < 0) goto out;
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        uint32_t code = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        if (code == 80877103u || code == 80877104u) {
            wr(v, "N", 1);
            continue;
        }
        char rest[1024];
        if (len < 8 || len - 8 > sizeof rest || rd_full(v->fd, rest, len - 8) < 0) goto out;
        break;
    }
    o_begin('R'); o32(0); o_end(v);
    static const char *const params[][2] = {{"server_version", "15.4"}, {"client_encoding", "UTF8"},
        {"standard_conforming_strings", "on"}, {"integer_datetimes", "on"}, {"DateStyle", "ISO, MDY"}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        o_begin('S'); ostr(params[i][0]); ostr(params[i][1]); o_end(v);
    }
    o_begin('K'); o32(4242); o32(99); o_end(v);
    ready(v);
    v->script(v);
out:
    close(v->fd);
    return NULL;
}

static srv *srv_start(script_fn fn)
{
    srv *v = calloc(1, sizeof *v);
    v->script = fn;
    v->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (v->lfd < 0 || bind(v->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(v->lfd, 4) != 0 ||
        getsockname(v->lfd, (struct sockaddr *)&a, &n) != 0) {
        perror("srv_start");
        exit(1);
    }
    v->port = ntohs(a.sin_port);
    pthread_create(&v->th, NULL, serve, v);
    return v;
}

/* Waits for the script to end (the client gone); srv_free then. */
static void srv_stop(srv *v)
{
    pthread_join(v->th, NULL);
    close(v->lfd);
}

static void srv_free(srv *v) { free(v); }

/* The session set-up every connection sends first. */
static int setup(srv *v)
{
    const char *q = query(v);
    if (!q || strncmp(q, "SET DateStyle = ISO;", 20) != 0) return -1;
    ok(v, "SET");
    return 0;
}

/* ------------------------------------------------------------ the cases */

static src_config cfg_for(const srv *v)
{
    src_config c = {0};
    c.host = "127.0.0.1";
    c.port = v->port;
    c.username = "bob";
    c.password = "s3cret-pw";
    c.database = "shop";
    c.fetch_size = 100;
    c.connect_timeout = 10;
    return c;
}

static char want[1024];

/* The last message of any level. */
static const char *last_msg(const diag *d)
{
    size_t n = diag_count(d);
    return n ? diag_get(d, n - 1)->text : "";
}

static void sc_setup_fails(srv *v)
{
    if (query(v)) fail_with(v, "42704", "unrecognized configuration parameter \"lc_monetary\"");
    drain(v);
}

static void sc_ping(srv *v)
{
    if (setup(v)) return;
    const char *q = query(v);
    if (q && !strcmp(q, "SELECT 1")) one(v, "1");
    q = query(v);
    if (q && !strcmp(q, "SELECT 1")) fail_with(v, "57P01", "terminating connection due to administrator command");
    drain(v);
}

static void test_session(void)
{
    diag *d = diag_new();
    srv *v = srv_start(sc_setup_fails);
    src_config cfg = cfg_for(v);
    src_conn *c = (src_conn *)1;
    int rc = pg_connect(&cfg, NULL, &c, d);
    snprintf(want, sizeof want, "postgresql: cannot set up the session on 127.0.0.1:%d as bob: 42704 "
             "unrecognized configuration parameter \"lc_monetary\"", v->port);
    srv_stop(v);
    srv_free(v);
    T_CHECK(rc == DIAG_EIO && !c && !strcmp(diag_last(d), want),
            "connect: the session set-up refused: the server's SQLSTATE and message, not transient");

    v = srv_start(sc_ping);
    cfg = cfg_for(v);
    rc = pg_open(&cfg, &c, d);
    char label[64];
    snprintf(label, sizeof label, "127.0.0.1:%d as bob", v->port);
    T_CHECK(rc == 0 && c && !strcmp(c->label, label), "connect: a session set up, labelled host:port as user");
    int p1 = rc ? -99 : pg_ping(c, d);
    int p2 = rc ? -99 : pg_ping(c, d);
    snprintf(want, sizeof want, "postgresql: ping failed on 127.0.0.1:%d as bob: connection lost: 57P01 "
             "terminating connection due to administrator command", v->port);
    T_CHECK(p1 == 0 && p2 == DIAG_ETRANSIENT && !strcmp(diag_last(d), want),
            "ping: answered; then a shutdown's 57P01 is a lost connection, retried");
    if (!rc) pg_close(c);
    srv_stop(v);
    srv_free(v);
    diag_free(d);
}

/* ---- stream_open */
static const char *const pub_rows_orders[] = {"orders", NULL};

/* The session set-up and a stream open's first three answers, as a server
 * ready to stream: wal_level logical, a publication holding orders, a
 * pgoutput slot (active "t" or "f"). 0 when the set-up failed. */
static int ready_slot(srv *v, const char *active)
{
    if (setup(v)) return 0;
    const char *const slot[] = {"0", "pgoutput", active};
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 2, pub_rows_orders);
    if (query(v)) rows(v, 3, 1, slot);
    return 1;
}

static void sc_wal_replica(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "replica");
    drain(v);
}

static void sc_wal_denied(srv *v)
{
    if (setup(v)) return;
    if (query(v)) fail_with(v, "42501", "permission denied to read wal_level");
    drain(v);
}

static void sc_no_pub(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 0, NULL);
    drain(v);
}

static void sc_create_pub_fails(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 0, NULL);
    if (query(v)) fail_with(v, "42P01", "relation \"sales.items\" does not exist");
    drain(v);
}

/* the publication has orders, not items; items's identity is not FULL; a
 * slot of another plugin */
static void sc_other_plugin(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 2, pub_rows_orders);
    if (query(v)) one(v, "d"); /* relreplident of items */
    static const char *const slot[] = {"0", "test_decoding", "f"};
    if (query(v)) rows(v, 3, 1, slot);
    drain(v);
}

/* own publication lacking items: ALTER fails */
static void sc_alter_fails(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 2, pub_rows_orders);
    if (query(v)) fail_with(v, "42501", "must be owner of publication sql2es_pub");
    drain(v);
}

/* everything present; the slot exists and holds 3 GB; then streams */
static void sc_existing_slot(srv *v)
{
    if (setup(v)) return;
    static const char *const pub[] = {"orders", "items", NULL};
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 3, pub);
    static const char *const slot[] = {"3221225472", "pgoutput", "f"};
    if (query(v)) rows(v, 3, 1, slot);
    drain(v);
}

/* fresh: the existing slot dropped, a new one made with an exported
 * snapshot; the publication created for the tables; then it streams */
static void sc_fresh(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 0, NULL);
    if (query(v)) ok(v, "CREATE PUBLICATION");
    static const char *const slot[] = {NULL, "pgoutput", "f"};
    if (query(v)) rows(v, 3, 1, slot);
    if (query(v)) one(v, "");
    static const char *const made[] = {"sql2es_slot", "0/100", "00000003-0000001B-1", "pgoutput"};
    if (query(v)) rows(v, 4, 1, made);
    /* START_REPLICATION */
    if (!query(v)) return;
    o_begin('W'); o8(0); o16(0); o_end(v);
    /* a keepalive asking for a reply */
    o_begin('d'); o8('k'); o64(0x2000); o64(0); o8(1); o_end(v);
    /* Begin, Relation, Insert, Commit in XLogData */
    unsigned char m[256];
    size_t mn;
#define W_START() (o_begin('d'), o8('w'), o64(0x3000), o64(0x3100), o64(0))
    W_START(); o8('B'); o64(0x3100); o64(0); o32(7); o_end(v);
    W_START(); o8('R'); o32(16384); ostr("sales"); ostr("orders"); o8('d'); o16(1);
    o8(1); ostr("id"); o32(23); o32(0xffffffffu); o_end(v);
    W_START(); o8('I'); o32(16384); o8('N'); o16(1); o8('t'); o32(2); obytes("42", 2); o_end(v);
    W_START(); o8('C'); o8(0); o64(0x3000); o64(0x3100); o64(0); o_end(v);
    /* a keepalive at the end of what was sent, no reply asked: nothing new */
    o_begin('d'); o8('k'); o64(0x3100); o64(0); o8(0); o_end(v);
    /* an XLogData too short to hold its header, and a malformed message */
    o_begin('d'); o8('w'); o64(1); o_end(v);
    W_START(); o8('C'); o8(0); o64(1); o_end(v);
    (void)m;
    (void)mn;
    drain(v);
}

/* streaming, then the server ends the copy with an error */
static void sc_stream_error(srv *v)
{
    if (!ready_slot(v, "f")) return;
    if (!query(v)) return;
    o_begin('W'); o8(0); o16(0); o_end(v);
    o_begin('d'); o8('k'); o64(0x5000); o64(0); o8(0); o_end(v);
    /* wait for the acknowledgement's status update, then fail */
    while (v->status_updates < 1) {
        unsigned char h[5];
        if (rd_full(v->fd, h, 5) < 0) return;
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        char body[256];
        if (len - 4 > sizeof body || rd_full(v->fd, body, len - 4) < 0) return;
        if (h[0] == 'd' && body[0] == 'r') v->status_updates++;
    }
    error(v, "57P01", "terminating connection due to administrator command");
    drain(v);
}

/* the START_REPLICATION refused */
static void sc_start_refused(srv *v)
{
    if (!ready_slot(v, "t")) return;
    if (query(v)) fail_with(v, "55006", "replication slot \"sql2es_slot\" is active for PID 77");
    drain(v);
}

/* streaming, then the server closes the connection */
static void sc_stream_cut(srv *v)
{
    if (!ready_slot(v, "f")) return;
    if (!query(v)) return;
    o_begin('W'); o8(0); o16(0); o_end(v);
    /* a Begin with no Commit: the keepalive after it is no idle point */
    o_begin('d'); o8('w'); o64(0x6000); o64(0x6100); o64(0); o8('B'); o64(0x6100); o64(0); o32(9); o_end(v);
    o_begin('d'); o8('k'); o64(0x6200); o64(0); o8(0); o_end(v);
    shutdown(v->fd, SHUT_RDWR);
}

/* the slot dropped; the publication dropped */
static void sc_drop(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "");
    if (query(v)) ok(v, "DROP PUBLICATION");
    drain(v);
}

/* no such slot; the publication's drop refused */
static void sc_drop_none(srv *v)
{
    if (setup(v)) return;
    if (query(v)) rows(v, 1, 0, NULL);
    if (query(v)) fail_with(v, "2BP01", "cannot drop publication because other objects depend on it");
    drain(v);
}

/* the slot in use */
static void sc_drop_active(srv *v)
{
    if (setup(v)) return;
    if (query(v)) fail_with(v, "55006", "replication slot \"sql2es_slot\" is active for PID 77");
    drain(v);
}

/* the catalog reads refused one after the other */
static void sc_pub_read_fails(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) fail_with(v, "42501", "permission denied for table pg_publication");
    drain(v);
}

/* SHOW wal_level answered with no row; then a slots query answered with
 * two columns (answers no server gives: refused, never read past) */
static void sc_wal_no_row(srv *v)
{
    if (setup(v)) return;
    if (query(v)) rows(v, 1, 0, NULL);
    drain(v);
}

static void sc_slots_short(srv *v)
{
    if (setup(v)) return;
    static const char *const pub[] = {"orders", "items", NULL};
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 3, pub);
    static const char *const slot[] = {"0", "pgoutput"};
    if (query(v)) rows(v, 2, 1, slot);
    drain(v);
}

static void sc_identity_fails_slots_fail(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 2, pub_rows_orders);
    if (query(v)) one(v, "f");                                   /* orders: FULL */
    if (query(v)) fail_with(v, "42501", "permission denied");    /* items' identity */
    if (query(v)) fail_with(v, "42501", "permission denied for view pg_replication_slots");
    drain(v);
}

static void sc_create_slot_fails(srv *v)
{
    if (!ready_slot(v, "f")) return;
    if (query(v)) fail_with(v, "55006", "replication slot \"sql2es_slot\" is active for PID 77");
    drain(v);
}

static void sc_slot_limit(srv *v)
{
    if (setup(v)) return;
    if (query(v)) one(v, "logical");
    if (query(v)) rows(v, 1, 2, pub_rows_orders);
    if (query(v)) rows(v, 3, 0, NULL);
    if (query(v)) fail_with(v, "53400", "all replication slots are in use");
    drain(v);
}

static src_stream *open_stream(srv *v, src_stream_opts *o, char *snap, size_t sn, diag *d, int *rc)
{
    src_config cfg = cfg_for(v);
    static src_config keep; /* the stream keeps a pointer to it */
    keep = cfg;
    src_stream *s = (src_stream *)1;
    *rc = pg_stream_open(&keep, o, &s, snap, sn, d);
    return s;
}

static void test_stream_open(void)
{
    diag *d = diag_new();
    static const char *const tables[] = {"orders", "items"};
    static const char *const full[] = {"items"};
    src_stream_opts o = {0};
    o.slot = "sql2es_slot";
    o.publication = "sql2es_pub";
    o.tables = tables;
    o.ntables = 2;
    char snap[64];
    int rc;

    srv *v = srv_start(sc_wal_replica);
    src_stream *s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    snprintf(want, sizeof want, "postgresql: wal_level is 'replica' on 127.0.0.1:%d as bob: following changes "
             "needs logical decoding (wal_level = logical in postgresql.conf, then restart the server)", v->port);
    srv_stop(v);
    srv_free(v);
    T_CHECK(rc == DIAG_EINVAL && !s && !strcmp(diag_last(d), want), "stream_open: wal_level replica: refused, the fix named");

    v = srv_start(sc_wal_denied);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    snprintf(want, sizeof want, "postgresql: cannot read wal_level on 127.0.0.1:%d as bob: 42501 permission "
             "denied to read wal_level", v->port);
    srv_stop(v);
    srv_free(v);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want), "stream_open: wal_level unreadable: the server's error");

    v = srv_start(sc_wal_no_row);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    snprintf(want, sizeof want, "postgresql: SHOW wal_level on 127.0.0.1:%d as bob answered 0 rows of 1 "
             "columns, not one value", v->port);
    srv_stop(v);
    srv_free(v);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want), "stream_open: SHOW wal_level without a row: refused");
    v = srv_start(sc_slots_short);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    snprintf(want, sizeof want, "postgresql: the replication slots query on 127.0.0.1:%d as bob answered 2 "
             "columns, not 3", v->port);
    srv_stop(v);
    srv_free(v);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want), "stream_open: a slots answer of 2 columns: refused");

    v = srv_start(sc_no_pub);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    srv_stop(v);
    T_CHECK(rc == DIAG_EINVAL && !s && !strcmp(v->log[1], "SHOW wal_level") &&
                strstr(v->log[2], "WHERE pubname = 'sql2es_pub' UNION ALL SELECT NULL FROM pg_publication WHERE pubname = 'sql2es_pub'") &&
                !strcmp(diag_last(d), "postgresql: publication 'sql2es_pub' does not exist: create it (CREATE "
                                      "PUBLICATION sql2es_pub FOR TABLE ...) or leave `publication` out to let sql2es create one"),
            "stream_open: a publication that is not there and not sql2es's: refused, how to make it said");
    srv_free(v);

    o.own_publication = 1;
    static src_config sch;
    v = srv_start(sc_create_pub_fails);
    sch = cfg_for(v);
    sch.schema = "sales";
    s = (src_stream *)1;
    rc = pg_stream_open(&sch, &o, &s, snap, sizeof snap, d);
    snprintf(want, sizeof want, "postgresql: cannot create the publication on 127.0.0.1:%d as bob: 42P01 "
             "relation \"sales.items\" does not exist", v->port);
    srv_stop(v);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(v->log[3], "CREATE PUBLICATION sql2es_pub FOR TABLE \"sales\".\"orders\", \"sales\".\"items\""),
            "stream_open: the publication made for the tables in the configured schema");
    T_CHECK(!strcmp(diag_last(d), want), "stream_open: its creation refused: the server's error");
    srv_free(v);

    v = srv_start(sc_alter_fails);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot add a table to the publication on 127.0.0.1:%d as bob: "
             "42501 must be owner of publication sql2es_pub", v->port);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(v->log[3], "ALTER PUBLICATION sql2es_pub ADD TABLE \"items\"") &&
                !strcmp(diag_last(d), want),
            "stream_open: sql2es's publication lacking a table: ALTER ... ADD TABLE, its refusal named");
    srv_free(v);

    o.own_publication = 0;
    o.full_identity = full;
    o.nfull = 1;
    v = srv_start(sc_other_plugin);
    diag_clear(d);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    srv_stop(v);
    T_CHECK(rc == DIAG_EINVAL && !s &&
                !strcmp(diag_last(d), "postgresql: slot 'sql2es_slot' exists with plugin 'test_decoding', not "
                                      "pgoutput: drop it or name another slot"),
            "stream_open: a slot of another plugin: refused");
    T_CHECK(diag_warnings(d) == 2 && strstr(v->log[3], "c.relname = 'items' AND n.nspname = current_schema()") &&
                !strcmp(diag_get(d, 0)->text, "postgresql: publication 'sql2es_pub' does not publish table "
                                              "'items': its changes are not followed (ALTER PUBLICATION "
                                              "sql2es_pub ADD TABLE ...)") &&
                !strncmp(diag_get(d, 1)->text, "postgresql: table 'items' is nested in documents and its "
                                               "REPLICA IDENTITY is not FULL: ", 87),
            "stream_open: a publication lacking a table and a nested table's identity not FULL: two warnings");
    srv_free(v);
    o.nfull = 0;

    o.retained_warn = 1u << 30;
    v = srv_start(sc_existing_slot);
    diag_clear(d);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    T_CHECK(rc == 0 && s && !snap[0] && diag_warnings(d) == 1 &&
                !strcmp(last_msg(d), "postgresql: slot 'sql2es_slot' retains 3072 MB of WAL on the server (it "
                                      "keeps everything not yet acknowledged; a slot nobody follows fills the "
                                      "disk: sql2es sync --follow --drop-slot removes it)") &&
                v->nlog == 4,
            "stream_open: an existing slot kept (no snapshot), the WAL it holds warned of, nothing created");
    stream_free(s);
    srv_stop(v);
    srv_free(v);
    diag_free(d);
}

static void test_stream(void)
{
    diag *d = diag_new();
    static const char *const tables[] = {"orders"};
    src_stream_opts o = {0};
    o.slot = "sql2es_slot";
    o.publication = "sql2es_pub";
    o.own_publication = 1;
    o.tables = tables;
    o.ntables = 1;
    o.fresh = 1;
    char snap[64];
    int rc;
    srv *v = srv_start(sc_fresh);
    src_stream *s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    T_CHECK(rc == 0 && s && !strcmp(snap, "00000003-0000001B-1") && s->flushed == 0x100 &&
                !strcmp(v->log[3], "CREATE PUBLICATION sql2es_pub FOR TABLE \"orders\"") &&
                !strcmp(v->log[5], "SELECT pg_drop_replication_slot('sql2es_slot')") &&
                !strcmp(v->log[6], "CREATE_REPLICATION_SLOT sql2es_slot LOGICAL pgoutput (SNAPSHOT 'export')"),
            "stream_open fresh: the publication made, the old slot dropped, a new one with its snapshot and position");
    if (rc) { srv_stop(v); srv_free(v); diag_free(d); return; }
    rc = pg_stream_start(s, "0/80", d);
    T_CHECK(rc == 0 && s->started && s->flushed == 0x100 &&
                !strcmp(v->log[7], "START_REPLICATION SLOT sql2es_slot LOGICAL 0/80 (proto_version '1', "
                                   "publication_names '\"sql2es_pub\"')"),
            "stream_start: from the position given; the slot's later position kept as acknowledged");
    src_change c;
    rc = pg_stream_next(s, 5000, &c, d);
    T_CHECK(rc == 1 && c.kind == SRC_CHANGE_IDLE && !strcmp(c.pos, "0/2000") && s->received == 0x2000,
            "stream_next: a keepalive outside a transaction is an idle point at its position");
    rc = pg_stream_next(s, 5000, &c, d);
    T_CHECK(rc == 1 && c.kind == SRC_CHANGE_RELATION && !strcmp(c.table, "orders") && s->received == 0x3100,
            "stream_next: the Begin taken, the Relation handed out");
    rc = pg_stream_next(s, 5000, &c, d);
    T_CHECK(rc == 1 && c.kind == SRC_CHANGE_INSERT && c.row[0].n == 2 && !memcmp(c.row[0].p, "42", 2),
            "stream_next: the Insert");
    rc = pg_stream_next(s, 5000, &c, d);
    T_CHECK(rc == 1 && c.kind == SRC_CHANGE_COMMIT && !strcmp(c.pos, "0/3100"), "stream_next: the Commit");
    rc = pg_stream_next(s, 5000, &c, d);
    T_CHECK(rc == 1 && c.kind == SRC_CHANGE_IDLE && !strcmp(c.pos, "0/3100"),
            "stream_next: a keepalive at the commit's end: idle there");
    rc = pg_stream_next(s, 5000, &c, d);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), "postgresql: a malformed replication message ('C', 10 bytes)"),
            "stream_next: a short XLogData skipped, then a malformed Commit refused");
    rc = pg_stream_next(s, 100, &c, d);
    T_CHECK(rc == 0, "stream_next: nothing within the timeout: 0");
    T_CHECK(pg_stream_ack(s, "0/80", d) == 0 && s->flushed == 0x100,
            "stream_ack: a position before the acknowledged one changes nothing");
    T_CHECK(pg_stream_ack(s, "bogus", d) == DIAG_EINVAL && !strcmp(diag_last(d), "postgresql: 'bogus' is not a WAL position"),
            "stream_ack: not a position: refused");
    T_CHECK(pg_stream_ack(s, "1/0", d) == 0 && s->flushed == 0x100000000ULL, "stream_ack: a later position acknowledged");
    stream_free(s);
    srv_stop(v);
    /* the keepalive's reply, the acknowledgement, and the last one on closing */
    T_CHECK(v->status_updates == 3 && v->copy_done, "stream: status updates sent when asked, on an "
                                                     "acknowledgement and on closing; the copy ended");
    srv_free(v);
    diag_free(d);
}

static void test_stream_ends(void)
{
    diag *d = diag_new();
    static const char *const tables[] = {"orders"};
    src_stream_opts o = {0};
    o.slot = "sql2es_slot";
    o.publication = "sql2es_pub";
    o.tables = tables;
    o.ntables = 1;
    char snap[64];
    int rc;
    src_change c;

    srv *v = srv_start(sc_start_refused);
    src_stream *s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    int st = rc ? -99 : pg_stream_start(s, "not-a-position", d);
    snprintf(want, sizeof want, "postgresql: cannot start replication on 127.0.0.1:%d as bob: 55006 "
             "replication slot \"sql2es_slot\" is active for PID 77", v->port);
    T_CHECK(rc == 0 && st == DIAG_EIO && !strcmp(diag_last(d), want) && !s->started &&
                strstr(v->log[4], "LOGICAL 0/0 ("),
            "stream_start: a position not understood starts at the slot's; the slot in use: refused, named");
    stream_free(s);
    srv_stop(v);
    srv_free(v);

    v = srv_start(sc_stream_error);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    st = rc ? -99 : pg_stream_start(s, NULL, d);
    int n1 = st ? -99 : pg_stream_next(s, 5000, &c, d);
    T_CHECK(n1 == 1 && c.kind == SRC_CHANGE_IDLE && !strcmp(c.pos, "0/5000"), "stream_next: an idle point");
    int ack = n1 == 1 ? pg_stream_ack(s, c.pos, d) : -99;
    int n2 = ack ? -99 : pg_stream_next(s, 5000, &c, d);
    snprintf(want, sizeof want, "postgresql: replication ended on 127.0.0.1:%d as bob: connection lost: 57P01 "
             "terminating connection due to administrator command", v->port);
    T_CHECK(ack == 0 && n2 == DIAG_ETRANSIENT && !strcmp(diag_last(d), want),
            "stream_next: the server ending the stream with an error: its SQLSTATE and message, retried");
    stream_free(s);
    srv_stop(v);
    srv_free(v);

    v = srv_start(sc_stream_cut);
    s = open_stream(v, &o, snap, sizeof snap, d, &rc);
    st = rc ? -99 : pg_stream_start(s, NULL, d);
    n1 = st ? -99 : pg_stream_next(s, 5000, &c, d);
    snprintf(want, sizeof want, "postgresql: replication on 127.0.0.1:%d as bob: connection lost: server "
             "closed the connection unexpectedly", v->port);
    T_CHECK(n1 == DIAG_ETRANSIENT && s->in_txn && s->received == 0x6200 && !strcmp(diag_last(d), want),
            "stream_next: a keepalive inside a transaction is no idle point; the connection closed: lost, retried");
    stream_free(s);
    srv_stop(v);
    srv_free(v);
    diag_free(d);
}

static void test_stream_drop_and_reads(void)
{
    diag *d = diag_new();
    static const char *const tables[] = {"orders"};
    static const char *const full[] = {"orders", "items"};
    src_stream_opts o = {0};
    o.slot = "sql2es_slot";
    o.publication = "sql2es_pub";
    o.own_publication = 1;
    o.tables = tables;
    o.ntables = 1;
    static src_config cfg;
    char snap[64];
    int rc;

    srv *v = srv_start(sc_drop);
    cfg = cfg_for(v);
    rc = pg_stream_drop(&cfg, &o, d);
    srv_stop(v);
    T_CHECK(rc == 0 && v->nlog == 3 &&
                !strcmp(v->log[1], "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                   "WHERE slot_name = 'sql2es_slot'") &&
                !strcmp(v->log[2], "DROP PUBLICATION IF EXISTS sql2es_pub"),
            "stream_drop: the slot and sql2es's publication dropped");
    srv_free(v);

    v = srv_start(sc_drop_none);
    cfg = cfg_for(v);
    rc = pg_stream_drop(&cfg, &o, d);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot drop the publication on 127.0.0.1:%d as bob: 2BP01 cannot "
             "drop publication because other objects depend on it", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want),
            "stream_drop: no such slot, then the publication's drop refused: that error wins");
    srv_free(v);

    o.own_publication = 0;
    v = srv_start(sc_drop_none);
    cfg = cfg_for(v);
    diag_clear(d);
    rc = pg_stream_drop(&cfg, &o, d);
    srv_stop(v);
    T_CHECK(rc == DIAG_ENOTFOUND && diag_count(d) == 0 && v->nlog == 2,
            "stream_drop: no such slot and a publication not sql2es's: not found, nothing said, nothing dropped");
    srv_free(v);

    o.own_publication = 1;
    v = srv_start(sc_drop_active);
    cfg = cfg_for(v);
    rc = pg_stream_drop(&cfg, &o, d);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot drop the slot on 127.0.0.1:%d as bob: 55006 replication "
             "slot \"sql2es_slot\" is active for PID 77", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want) && v->nlog == 2,
            "stream_drop: the slot in use: refused, named; the publication kept");
    srv_free(v);

    src_stream *s;
    v = srv_start(sc_pub_read_fails);
    cfg = cfg_for(v);
    s = (src_stream *)1;
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot read the publications on 127.0.0.1:%d as bob: 42501 "
             "permission denied for table pg_publication", v->port);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want), "stream_open: the publications unreadable: named");
    srv_free(v);

    o.full_identity = full;
    o.nfull = 2;
    v = srv_start(sc_identity_fails_slots_fail);
    cfg = cfg_for(v);
    cfg.schema = "sales";
    diag_clear(d);
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot read the replication slots on 127.0.0.1:%d as bob: 42501 "
             "permission denied for view pg_replication_slots", v->port);
    char warned[300];
    snprintf(warned, sizeof warned, "postgresql: cannot read the replica identity on 127.0.0.1:%d as bob: 42501 "
             "permission denied (table 'items': whether its old rows come whole is not checked)", v->port);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want) && diag_warnings(d) == 1 && diag_errors(d) == 1 &&
                diag_count(d) == 2 && diag_get(d, 0)->level == DIAG_WARNING && !strcmp(diag_get(d, 0)->text, warned) &&
                strstr(v->log[3], "c.relname = 'orders' AND n.nspname = 'sales'"),
            "stream_open: a FULL identity not warned of, an unreadable one a warning; the slots unreadable: named");
    srv_free(v);
    o.nfull = 0;

    v = srv_start(sc_create_slot_fails);
    cfg = cfg_for(v);
    o.fresh = 0;
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    T_CHECK(rc == 0 && s && v->nlog == 4, "stream_open: an existing pgoutput slot, no WAL warning asked: kept");
    stream_free(s);
    srv_stop(v);
    srv_free(v);
    o.fresh = 1;

    v = srv_start(sc_create_slot_fails);
    cfg = cfg_for(v);
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot drop the old slot on 127.0.0.1:%d as bob: 55006 replication "
             "slot \"sql2es_slot\" is active for PID 77", v->port);
    T_CHECK(rc == DIAG_EIO && !s && !strcmp(diag_last(d), want), "stream_open fresh: the old slot in use: refused, named");
    srv_free(v);

    v = srv_start(sc_slot_limit);
    cfg = cfg_for(v);
    rc = pg_stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    srv_stop(v);
    snprintf(want, sizeof want, "postgresql: cannot create the replication slot on 127.0.0.1:%d as bob: "
             "53400 all replication slots are in use", v->port);
    T_CHECK(rc == DIAG_EIO && !s && !snap[0] && !strcmp(diag_last(d), want),
            "stream_open: no free slot (53400, a configuration limit): refused, not retried");
    srv_free(v);
    diag_free(d);
}


/* ------------------------------------------------------------ catalog and scans */

#define A_OK(t) ((reply){'c', (t), 0, 0, NULL, NULL, NULL, NULL})
#define A_ERR(st, m) ((reply){'e', NULL, 0, 0, NULL, NULL, (st), (m)})
#define A_ROWS(nc, nr, v, ty) ((reply){'r', NULL, (nc), (nr), (v), (ty), NULL, NULL})

/* FETCHes of each cursor answered so far (a scan's FETCHes still on the
 * wire when it ends are answered while the next scan runs); the server's
 * thread alone counts */
static int fetched[64];
static int fetch_no(const char *sql)
{
    const char *c = strstr(sql, "sql2es_c");
    unsigned n = c ? (unsigned)strtoul(c + 8, NULL, 10) : 0;
    return n < 64 ? fetched[n]++ : 0;
}
static const char *fail_on; /* the case's failing statement (a prefix) */

static reply ans_catalog(srv *v, const char *sql, const char *const *p, int np)
{
    (void)v;
    (void)np;
    if (!strncmp(sql, "SET DateStyle", 13)) return A_OK("SET");
    if (fail_on && !strncmp(sql, fail_on, strlen(fail_on)))
        return A_ERR("42501", "permission denied for table pg_class");
    if (strstr(sql, "c.relname = $2")) {
        static const char *const one_rel[] = {"16400", "r", "1234", "sales"};
        if (!strcmp(p[1], "nope")) return A_ROWS(4, 0, NULL, NULL);
        return A_ROWS(4, 1, one_rel, NULL);
    }
    if (strstr(sql, "FROM pg_catalog.pg_attribute")) {
        static const char *const cols[] = {
            "id", "integer", "t", "23", "-1", "1",
            "code", "character varying(10)", "f", "1043", "14", "0",
            "price", "price_d", "f", "70000", "-1", "0",
            "prices", "price_d[]", "f", "70001", "-1", "0",
            "mood", "mood", "f", "70002", "-1", "2",
            "odd", "odd", "f", "70003", "-1", "0",
            "deep", "deep", "f", "70010", "-1", "0",
            "nest", "nest[]", "f", "70040", "-1", "0",
            "denied", "denied", "f", "70030", "-1", "0",
        };
        return A_ROWS(6, fail_on && !strcmp(fail_on, "-types") ? 9 : 8, cols, NULL);
    }
    if (strstr(sql, "FROM pg_catalog.pg_type WHERE oid")) {
        unsigned long oid = strtoul(p[0], NULL, 10);
        static char row[6][16];
        static const char *rp[6];
        for (int i = 0; i < 6; i++) rp[i] = row[i];
        const char *t = "b", *base = "0", *elem = "0", *mod = "-1", *cat = "U";
        char nb[16];
        if (oid == 70000) { t = "d"; base = "1700"; mod = "655366"; cat = "N"; }
        else if (oid == 70001) { elem = "70000"; cat = "A"; }
        else if (oid == 70002) { t = "e"; cat = "E"; }
        else if (oid == 70003) return A_ROWS(6, 0, NULL, NULL);
        else if (oid >= 70010 && oid < 70030) { t = "d"; snprintf(nb, sizeof nb, "%lu", oid + 1); base = nb; }
        else if (oid == 70030) return A_ERR("42501", "permission denied for table pg_type");
        else if (oid == 70040) { elem = "70041"; cat = "A"; }
        else if (oid == 70041) { t = "d"; base = "1007"; cat = "A"; }
        snprintf(row[0], 16, "%s", t); snprintf(row[1], 16, "%s", base); snprintf(row[2], 16, "%s", elem);
        snprintf(row[3], 16, ","); snprintf(row[4], 16, "%s", mod); snprintf(row[5], 16, "%s", cat);
        return A_ROWS(6, 1, rp, NULL);
    }
    if (strstr(sql, "SELECT c.relname FROM")) {
        static const char *const names[] = {"items", "orders"};
        return A_ROWS(1, 2, names, NULL);
    }
    return A_ERR("XX000", "unexpected");
}

static void sc_catalog(srv *v) { ext_loop(v, ans_catalog); }

static src_conn *connect_to(srv *v, const char *snapshot)
{
    src_config cfg = cfg_for(v);
    cfg.snapshot = snapshot;
    src_conn *c = NULL;
    diag *d = diag_new();
    if (pg_connect(&cfg, NULL, &c, d) != 0) printf("# connect: %s\n", diag_last(d));
    diag_free(d);
    return c;
}

static void test_catalog(void)
{
    diag *d = diag_new();
    fail_on = NULL;
    srv *v = srv_start(sc_catalog);
    src_conn *c = connect_to(v, NULL);
    arena *a = arena_new();
    src_table t;
    int rc = c ? pg_describe(c, "sales", "items", a, &t, d) : -99;
    const char *es[8];
    for (int i = 0; i < 8; i++) es[i] = rc == 0 && i < t.ncols ? t.cols[i].es_type : "?";
    T_CHECK(rc == 0 && t.ncols == 8 && !strcmp(t.schema, "sales") && t.row_estimate == 1234 && !t.is_view &&
                !t.cols[0].nullable && t.cols[1].nullable && !strcmp(t.cols[1].sql_type, "character varying(10)") &&
                t.npk == 2 && t.pk[0] == 0 && t.pk[1] == 4,
            "describe: the columns, the estimate, the primary key in its order");
    T_CHECK(rc == 0 && !strcmp(es[0], "integer") && !strcmp(es[1], "text") && !strcmp(es[2], "scaled_float") &&
                !strcmp(es[3], "scaled_float") && !strcmp(es[4], "keyword") && !strcmp(es[5], "keyword") &&
                !strcmp(es[6], "keyword") && !strcmp(es[7], "keyword"),
            "describe: a domain over numeric(10,2) and an array of it are scaled_float; an enum, an unknown "
            "type, a chain of domains deeper than 8 and an array of a domain over an array are keyword");
    int lookups = v->nlog;
    rc = c ? pg_describe(c, "sales", "items", a, &t, d) : -99;
    T_CHECK(rc == 0 && v->nlog == lookups + 2, "describe again: the types come from the connection's cache");
    c->schema = NULL;
    rc = c ? pg_describe(c, NULL, "nope", a, &t, d) : -99;
    T_CHECK(rc == DIAG_ENOTFOUND && !strcmp(diag_last(d), "postgresql: table \"(current schema)\".\"nope\" not found"),
            "describe: a table not there: not found, in the current schema");
    const char **names = NULL;
    int n = 0;
    rc = c ? pg_list_tables(c, NULL, a, &names, &n, d) : -99;
    T_CHECK(rc == 0 && n == 2 && !strcmp(names[0], "items") && !strcmp(names[1], "orders"), "list_tables: the names");
    fail_on = "SELECT c.relname FROM";
    rc = c ? pg_list_tables(c, "sales", a, &names, &n, d) : -99;
    snprintf(want, sizeof want, "postgresql: cannot list tables on 127.0.0.1:%d as bob: 42501 permission denied "
             "for table pg_class", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "list_tables: refused: the server's error");
    fail_on = "SELECT c.oid, c.relkind";
    rc = c ? pg_describe(c, "sales", "items", a, &t, d) : -99;
    snprintf(want, sizeof want, "postgresql: cannot describe table on 127.0.0.1:%d as bob: 42501 permission "
             "denied for table pg_class", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "describe: the catalog refused: the server's error");
    fail_on = "SELECT a.attname";
    rc = c ? pg_describe(c, "sales", "items", a, &t, d) : -99;
    snprintf(want, sizeof want, "postgresql: cannot describe table on 127.0.0.1:%d as bob: 42501 permission "
             "denied for table pg_class", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "describe: the columns refused: the server's error");
    fail_on = "-types";
    rc = c ? pg_describe(c, "sales", "items", a, &t, d) : -99;
    snprintf(want, sizeof want, "postgresql: type lookup failed on 127.0.0.1:%d as bob: 42501 permission "
             "denied for table pg_type", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "describe: a type's lookup refused: the server's error");
    fail_on = NULL;
    pg_close(c);
    arena_free(a);
    srv_stop(v);
    srv_free(v);
    diag_free(d);
}

/* scans: BEGIN, DECLARE, FETCHes (2 rows, 1 row, then none) */
static reply ans_scan(srv *v, const char *sql, const char *const *p, int np)
{
    (void)v;
    (void)p;
    (void)np;
    static const uint32_t types[] = {23, 25};
    static const char *const b1[] = {"1", "a", "2", "b"};
    static const char *const b2[] = {"3", NULL};
    if (!strncmp(sql, "SET DateStyle", 13)) return A_OK("SET");
    if (fail_on && !strncmp(sql, fail_on, strlen(fail_on))) {
        if (!strncmp(fail_on, "FETCH", 5) && fetch_no(sql) == 0) return A_ROWS(2, 2, b1, types);
        if (!strncmp(fail_on, "FETCH", 5)) return A_ERR("40001", "could not serialize access due to concurrent update");
        if (!strncmp(fail_on, "SELECT 23", 9)) return A_ERR("57014", "canceling statement due to user request");
        return A_ERR("42601", "syntax error at or near \"FORM\"");
    }
    if (!strncmp(sql, "BEGIN", 5)) return A_OK("BEGIN");
    if (!strncmp(sql, "SET TRANSACTION SNAPSHOT", 24)) return A_OK("SET");
    if (!strncmp(sql, "DECLARE", 7)) return A_OK("DECLARE CURSOR");
    if (!strncmp(sql, "FETCH", 5)) {
        int k = fetch_no(sql);
        return k == 0 ? A_ROWS(2, 2, b1, types) : k == 1 ? A_ROWS(2, 1, b2, types) : A_ROWS(2, 0, NULL, types);
    }
    if (!strncmp(sql, "SELECT 23, -1, pg_catalog.format_type(23, -1), 25, -1", 53)) {
        static const char *const nm[] = {"23", "-1", "integer", "25", "-1", "text"};
        return A_ROWS(6, 1, nm, NULL);
    }
    if (!strncmp(sql, "COMMIT", 6) || !strncmp(sql, "ROLLBACK", 8) || !strncmp(sql, "CLOSE", 5)) return A_OK("OK");
    return A_ERR("XX000", "unexpected");
}

static void sc_scan(srv *v) { ext_loop(v, ans_scan); }

static const char *val_text(const src_value *x)
{
    static char t[2][32];
    static int k;
    k ^= 1;
    if (x->kind == SRC_NULL) return "null";
    snprintf(t[k], sizeof t[k], "%.*s", (int)x->n, x->p);
    return t[k];
}

static void test_scan(void)
{
    diag *d = diag_new();
    fail_on = NULL;
    srv *v = srv_start(sc_scan);
    src_conn *c = connect_to(v, "00000003-0000001B-1");
    src_query q = {0};
    q.sql = "SELECT id, name FROM t ;  ";
    q.fetch_size = 2;
    src_scan *s = NULL;
    int rc = c ? pg_begin_scan(c, &q, &s, d) : -99;
    const src_column *cols = NULL;
    int nc = 0;
    if (!rc) pg_scan_columns(s, &cols, &nc);
    T_CHECK(rc == 0 && nc == 2 && !strcmp(cols[0].sql_type, "integer") && !strcmp(cols[1].sql_type, "text") &&
                !strcmp(cols[0].es_type, "integer") && !strcmp(cols[1].es_type, "text") &&
                !strcmp(v->log[1], "BEGIN ISOLATION LEVEL REPEATABLE READ") &&
                !strcmp(v->log[2], "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'") &&
                !strcmp(v->log[3], "DECLARE sql2es_c1 NO SCROLL CURSOR FOR SELECT id, name FROM t"),
            "scan: BEGIN, the snapshot, the cursor over the query without its ';'; the columns' types named once");
    char got[128] = "";
    const src_value *row;
    int r;
    while (!rc && (r = pg_next(s, &row, d)) == 1) {
        char one[40];
        snprintf(one, sizeof one, "%s%s/%s", got[0] ? " " : "", val_text(&row[0]), val_text(&row[1]));
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    T_STREQ(got, "1/a 2/b 3/null", "scan: the rows of both batches, then the end");
    T_CHECK(!rc && pg_stats(s)->rows == 3, "scan: three rows counted");
    if (!rc) pg_end_scan(s);
    /* the same query again: as many FETCHes as last time sent at once */
    rc = c ? pg_begin_scan(c, &q, &s, d) : -99;
    T_CHECK(rc == 0 && s->expect >= 3 && s->nsent >= 3, "scan again: the FETCHes the query took last time sent at once");
    got[0] = 0;
    while (!rc && (r = pg_next(s, &row, d)) == 1) {
        char one[40];
        snprintf(one, sizeof one, "%s%s/%s", got[0] ? " " : "", val_text(&row[0]), val_text(&row[1]));
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    T_STREQ(got, "1/a 2/b 3/null", "scan again: the same rows");
    if (!rc) pg_end_scan(s);

    q.sql = "SELECT 1 FORM t";
    fail_on = "DECLARE";
    rc = c ? pg_begin_scan(c, &q, &s, d) : -99;
    snprintf(want, sizeof want, "postgresql: query failed on 127.0.0.1:%d as bob: 42601 syntax error at or near "
             "\"FORM\" (query: SELECT 1 FORM t)", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "scan: the cursor refused: the server's error and the query");
    fail_on = "FETCH";
    q.sql = "SELECT id, name FROM t";
    rc = c ? pg_begin_scan(c, &q, &s, d) : -99;
    int r1 = rc ? -99 : pg_next(s, &row, d);
    int r2 = rc ? -99 : pg_next(s, &row, d);
    int r3 = rc ? -99 : pg_next(s, &row, d);
    int r4 = rc ? -99 : pg_next(s, &row, d);
    snprintf(want, sizeof want, "postgresql: read failed on 127.0.0.1:%d as bob: connection lost: 40001 could not "
             "serialize access due to concurrent update (query: SELECT id, name FROM t)", v->port);
    T_CHECK(rc == 0 && r1 == 1 && r2 == 1 && r3 == DIAG_ETRANSIENT && r4 == DIAG_EIO && !strcmp(diag_last(d), want),
            "scan: a serialization failure on the second batch: retried, named; the scan stays failed");
    if (!rc) pg_end_scan(s);
    fail_on = "SELECT 23";
    pg_close(c); /* a new connection: the type names are not cached */
    srv_stop(v);
    srv_free(v);
    memset(fetched, 0, sizeof fetched); /* its cursors are numbered from 1 again */
    v = srv_start(sc_scan);
    c = connect_to(v, NULL);
    rc = c ? pg_begin_scan(c, &q, &s, d) : -99;
    snprintf(want, sizeof want, "postgresql: type lookup failed on 127.0.0.1:%d as bob: 57014 canceling statement "
             "due to user request (query: SELECT id, name FROM t)", v->port);
    T_CHECK(rc == DIAG_EIO && !strcmp(diag_last(d), want), "scan: the type names refused: the server's error and the query");
    fail_on = NULL;
    rc = c ? pg_begin_scan(c, &q, &s, d) : -99;
    got[0] = 0;
    while (!rc && (r = pg_next(s, &row, d)) == 1) { /* to the end: no cancel to send */
        char one[40];
        snprintf(one, sizeof one, "%s%s/%s", got[0] ? " " : "", val_text(&row[0]), val_text(&row[1]));
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    T_CHECK(rc == 0 && !strcmp(got, "1/a 2/b 3/null"), "scan: after the failed one the connection serves the next scan");
    if (!rc) pg_end_scan(s);
    pg_close(c);
    srv_stop(v);
    srv_free(v);
    diag_free(d);
}

int main(void)
{
    T_PLAN(58);
    alarm(120); /* a case that hangs fails instead of stopping the run */
    test_session();
    test_stream_open();
    test_stream();
    test_stream_ends();
    test_stream_drop_and_reads();
    test_catalog();
    test_scan();
    return T_DONE();
}
