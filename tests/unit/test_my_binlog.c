/* test_my_binlog.c - the MariaDB driver's binlog helpers that need no
 * server: the statements of QUERY events (transaction control, DDL and
 * statement-logged changes of the followed tables, in this database or
 * another), the words and table names found in them, length-encoded
 * integers, and the binary DECIMAL. The driver file is compiled into this
 * test (these functions are static); nothing here talks to a server. */
#include "sources/mysql.c"

#include "t.h"
#include "tests/unit/my_query.h"


static const char *dec(const unsigned char *p, int prec, int scale)
{
    static char out[80];
    buf b = BUF_INIT;
    decimal_text(&b, p, prec, scale);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "(none)");
    buf_free(&b);
    return out;
}

int main(void)
{
    T_PLAN(20);
    /* words and names */
    T_CHECK(word_is("  begin", 7, "BEGIN") && word_is("\tCOMMIT;", 8, "COMMIT") &&
                !word_is("BEGINNING", 9, "BEGIN") && !word_is("BEG", 3, "BEGIN") && !word_is("", 0, "XA"),
            "word_is: the first word, any case, after blanks; not a longer word");
    T_CHECK(mentions("ALTER TABLE `orders` ADD x INT", 30, "orders") &&
                mentions("update shop.ORDERS set a=1", 26, "orders") && mentions("TRUNCATE orders", 15, "orders") &&
                !mentions("ALTER TABLE orders_old ADD x", 28, "orders") &&
                !mentions("DROP TABLE xorders", 18, "orders") && !mentions("DROP TABLE orders$1", 19, "orders") &&
                !mentions("DROP TABLE orders\xc3\xa9", 19, "orders") && !mentions("DROP", 4, "orders"),
            "mentions: a name between non-name bytes (quotes, dots, blanks), never part of a longer name");

    /* length-encoded integers */
    const unsigned char l1[] = {250}, l2[] = {252, 0x34, 0x12}, l3[] = {253, 1, 2, 3},
                        l8[] = {254, 1, 0, 0, 0, 0, 0, 0, 0x80}, lnull[] = {251}, lbad[] = {255},
                        lcut[] = {253, 1};
    const unsigned char *p;
    uint64_t v1 = 0, v2 = 0, v3 = 0, v8 = 0, x;
    int ok = (p = l1, lenenc(&p, l1 + 1, &v1) == 0 && p == l1 + 1) &&
             (p = l2, lenenc(&p, l2 + 3, &v2) == 0) && (p = l3, lenenc(&p, l3 + 4, &v3) == 0) &&
             (p = l8, lenenc(&p, l8 + 9, &v8) == 0);
    T_CHECK(ok && v1 == 250 && v2 == 0x1234 && v3 == 0x030201 && v8 == 0x8000000000000001ULL,
            "lenenc: 1, 3, 4 and 9-byte forms");
    T_CHECK((p = lnull, lenenc(&p, lnull + 1, &x)) < 0 && (p = lbad, lenenc(&p, lbad + 1, &x)) < 0 &&
                (p = lcut, lenenc(&p, lcut + 2, &x)) < 0 && (p = l1, lenenc(&p, l1, &x)) < 0,
            "lenenc: the NULL marker, 255, a value cut short, nothing: refused");

    /* binary DECIMAL (the sign in the first bit, negatives inverted) */
    const unsigned char d1[] = {0x80, 0x00, 0x04, 0xd2, 0x38};          /* DECIMAL(10,2) 1234.56 */
    const unsigned char d2[] = {0x7f, 0xff, 0xfb, 0x2d, 0xc7};          /* -1234.56 */
    const unsigned char d3[] = {0x80, 0x00, 0x00, 0x00, 0x00};          /* 0.00 */
    const unsigned char d4[] = {0x80, 0x00, 0x00, 0x00, 0x05};          /* 0.05 */
    const unsigned char d5[] = {0x81, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03}; /* (19,9) */
    T_STREQ(dec(d1, 10, 2), "1234.56", "decimal(10,2) 1234.56");
    T_STREQ(dec(d2, 10, 2), "-1234.56", "decimal(10,2) -1234.56");
    T_STREQ(dec(d3, 10, 2), "0.00", "decimal(10,2) 0.00");
    T_STREQ(dec(d4, 10, 2), "0.05", "decimal(10,2) 0.05");
    T_STREQ(dec(d5, 19, 9), "1000000002.000000003", "decimal(19,9): a lead digit, then 9-digit groups on both sides");
    T_STREQ(dec(d3, 5, 0), "0", "decimal(5,0) 0");

    /* value sizes by the table map's type and metadata */
    {
        unsigned char types[] = {MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_BLOB, MYSQL_TYPE_BLOB,
                                 MYSQL_TYPE_VARCHAR, MYSQL_TYPE_VARCHAR, MYSQL_TYPE_STRING, MYSQL_TYPE_STRING,
                                 MYSQL_TYPE_STRING, MYSQL_TYPE_BIT, MYSQL_TYPE_TIME2, MYSQL_TYPE_GEOMETRY, 250,
                                 MYSQL_TYPE_NULL};
        unsigned char meta[][2] = {{10, 2}, {2, 10}, {0, 0}, {3, 0}, {0x2c, 0x01}, {10, 0},
                                   {MYSQL_TYPE_STRING, 10}, {0xce, 0x2c} /* CHAR(300): the length's high bits */,
                                   {MYSQL_TYPE_ENUM, 2}, {3, 1}, {4, 0}, {4, 0}, {0, 0}, {0, 0}};
        rpl_map m = {0};
        m.types = types;
        m.meta = meta;
        m.ncols = (int)sizeof types;
        const unsigned char two[] = {0x05, 0x01, 0, 0}, one[] = {0x07};
        /* the bytes each column's value starts with, and how many are left:
         * column 4 has a 2-byte length with 1 byte left, column 11 a 4-byte
         * one with 1 byte left */
        static const int left[14] = {4, 4, 4, 4, 1, 1, 1, 4, 4, 4, 4, 1, 4, 4};
        long sz[14];
        for (int i = 0; i < 14; i++) {
            const unsigned char *at = i >= 4 && i <= 6 ? one : two;
            sz[i] = value_size(&m, i, at, at + left[i]);
        }
        T_CHECK(sz[0] == 5 && sz[1] == -1 && sz[2] == -1 && sz[3] == 3 + 0x105 && sz[4] == -1 &&
                    sz[5] == 1 + 7 && sz[6] == 1 + 7 && sz[7] == 2 + 0x105 && sz[8] == 2 && sz[9] == 2 &&
                    sz[10] == 5 && sz[11] == -1 && sz[12] == -1 && sz[13] == 0,
                "value sizes: decimal, bad decimal metadata, blob length bytes 0 and 3, varchar and char "
                "lengths (one or two bytes, cut short), enum, bit, time(4), an unknown type");
    }

    /* statements of QUERY events */
    src_stream s;
    memset(&s, 0, sizeof s);
    s.cfg.database = "shop";
    rpl_table tables[2];
    memset(tables, 0, sizeof tables);
    static char orders[] = "orders", items[] = "items";
    tables[0].name = orders;
    tables[1].name = items;
    s.tables = tables;
    s.ntables = 2;
    int commit;
    T_CHECK(query(&s, "shop", "BEGIN", &commit) == 0 && s.in_trx && !commit && s.nq == 0,
            "BEGIN opens a transaction");
    T_CHECK(query(&s, "shop", "SAVEPOINT a", &commit) == 0 && !commit &&
                query(&s, "shop", "ROLLBACK TO a", &commit) == 0 && !commit && s.in_trx,
            "SAVEPOINT and ROLLBACK TO stay in the transaction");
    T_CHECK(query(&s, "shop", "COMMIT", &commit) == 0 && commit, "COMMIT ends it");
    s.in_trx = 0;
    T_CHECK(query(&s, "shop", "XA START 'x'", &commit) == 0 && s.in_trx && !commit &&
                query(&s, "shop", "XA COMMIT 'x'", &commit) == 0 && commit,
            "XA START opens, XA COMMIT ends");
    s.in_trx = 0;
    T_CHECK(query(&s, "shop", "ROLLBACK", &commit) == 0 && commit, "ROLLBACK ends a transaction");
    s.nq = s.qhead = 0;
    T_CHECK(query(&s, "shop", "TRUNCATE TABLE orders", &commit) == 0 && commit && s.nq == 1 &&
                s.q[0].kind == SRC_CHANGE_TRUNCATE && s.q[0].t == &tables[0],
            "TRUNCATE of a followed table in this database: a truncate, a transaction of its own");
    s.nq = s.qhead = 0;
    T_CHECK(query(&s, "shop", "DELETE FROM items WHERE 1", &commit) == 0 && s.nq == 1 &&
                s.q[0].kind == SRC_CHANGE_TRUNCATE && s.q[0].t == &tables[1],
            "a statement-logged DELETE of a followed table: read again in full");
    s.nq = s.qhead = 0;
    T_CHECK(query(&s, "other", "TRUNCATE TABLE orders", &commit) == 0 && commit && s.nq == 0 &&
                query(&s, "other", "TRUNCATE TABLE shop.orders", &commit) == 0 && s.nq == 1,
            "another database's orders: not ours, unless the statement names this database");
    s.nq = s.qhead = 0;
    T_CHECK(query(&s, "shop", "CREATE TABLE audit (id INT)", &commit) == 0 && commit && s.nq == 0,
            "DDL of a table not followed: nothing");
    free(s.q);
    return T_DONE();
}
