#!/usr/bin/env bash
# tls.sh DIR - a throwaway certificate authority for the TLS tests, made with
# the openssl command line tool (idempotent):
#   DIR/ca.pem, DIR/ca.key           the test CA
#   DIR/server.pem, DIR/server.key   a server certificate it signed, for
#                                    127.0.0.1 and localhost (both as subject
#                                    alternative names)
#   DIR/other-ca.pem                 an unrelated CA (verification must fail)
set -euo pipefail
dir=${1:?usage: tls.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -s server.pem ] && [ -s other-ca.pem ] && exit 0
command -v openssl >/dev/null || { echo "tls.sh: the openssl tool is missing (apt-get install openssl)" >&2; exit 1; }
umask 077
q() { openssl "$@" >/dev/null 2>>openssl.log; }
q req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sql2es test CA" \
    -keyout ca.key -out ca.pem
q req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sql2es other CA" \
    -keyout other-ca.key -out other-ca.pem
q req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n' >server.ext
q x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile server.ext -out server.pem
chmod 644 ca.pem other-ca.pem server.pem
rm -f server.csr server.ext other-ca.key
