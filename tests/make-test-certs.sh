#!/usr/bin/env bash
# Usage: tests/make-test-certs.sh DIR
#
# Makes a throwaway PKI for the TLS tests in DIR (created if missing, mode 0755):
#   ca.crt, ca.key          test CA; signed the two certificates below
#   server.crt, server.key  CN=localhost, SAN DNS:localhost + IP:127.0.0.1, serverAuth
#   client.crt, client.key  CN=pgmq_cert, clientAuth
#   other-ca.crt            an unrelated CA that signed nothing (for "wrong CA" tests)
# Keys are EC P-256 in PKCS#8 PEM, mode 0600, owned by the caller (chown the server
# key to the server's user yourself); signatures ecdsa-with-SHA256; valid 2 days.
#
# The extensions are what a strict verifier (rustls/webpki) insists on and openssl
# does not add by itself: v3 certificates only, a CA needs basicConstraints
# (critical CA:TRUE) + keyCertSign, a leaf needs CA:FALSE, an EKU for its role and a
# subjectAltName (webpki ignores the CN). Every section is spelled out in our own
# config file so the system openssl.cnf cannot add or duplicate extensions.
set -uo pipefail

[ $# = 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
OPENSSL=${OPENSSL:-openssl}

die() { echo "make-test-certs: $*" >&2; exit 1; }
command -v "$OPENSSL" >/dev/null || die "openssl not found"
mkdir -p "$DIR" && chmod 755 "$DIR" || die "cannot create $DIR"
cd "$DIR" || die "cannot cd to $DIR"
umask 077  # keys are born 0600; certificates are chmod'ed 0644 below

cat >openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

key() { "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
# Positive serial of at most 16 bytes (webpki rejects serials over 20 bytes).
serial() { echo "0x7$("$OPENSSL" rand -hex 15)"; }
# self-signed CA: NAME CN
ca() {
  key "$1" &&
    "$OPENSSL" req -new -x509 -config openssl.cnf -extensions ca -key "$1.key" \
      -subj "/CN=$2" -days 2 -sha256 -set_serial "$(serial)" -out "$1.crt"
}
# leaf signed by ca: NAME CN SECTION
leaf() {
  key "$1" &&
    "$OPENSSL" req -new -config openssl.cnf -key "$1.key" -subj "/CN=$2" -out "$1.csr" &&
    "$OPENSSL" x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "$(serial)" \
      -days 2 -sha256 -extfile openssl.cnf -extensions "$3" -out "$1.crt" &&
    rm -f "$1.csr"
}

ca ca "pgmq test CA" || die "CA failed"
leaf server localhost server || die "server certificate failed"
leaf client pgmq_cert client || die "client certificate failed"
ca other-ca "pgmq unrelated test CA" || die "other CA failed"
# other-ca signed nothing and nobody needs its key.
rm -f other-ca.key openssl.cnf
chmod 644 ./*.crt || die "chmod failed"
"$OPENSSL" verify -CAfile ca.crt server.crt client.crt >/dev/null || die "certificates do not verify"
