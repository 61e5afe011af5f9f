/* md5.h - MD5 message digest (RFC 1321), used for document ids longer than
 * 512 bytes (the connectors' rule: such an _id becomes its lowercase MD5 hex).
 * Interpreter stage; not a security primitive. */
#ifndef SQL2ES_MD5_H
#define SQL2ES_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct eng_md5 {
    uint32_t st[4];
    uint64_t len;          /* bytes hashed so far */
    unsigned char blk[64]; /* pending partial block */
} eng_md5;

void eng_md5_init(eng_md5 *m);
void eng_md5_update(eng_md5 *m, const void *p, size_t n);
/* Finish and write the 16-byte digest; m must be re-initialised to reuse. */
void eng_md5_final(eng_md5 *m, unsigned char out[16]);
/* Digest of p[0..n) as 32 lowercase hex characters plus a NUL in hex[33]. */
void eng_md5_hex(const void *p, size_t n, char hex[33]);

#endif
