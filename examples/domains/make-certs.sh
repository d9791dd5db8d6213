#!/bin/sh
# A throw-away CA and a certificate for api.example.test and www.example.test (for trying the
# example; in production use your CA's files or `tls: { acme: … }`).
set -e
cd "$(dirname "$0")"
mkdir -p certs && cd certs
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=Example Test CA" -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out api.key
openssl req -new -key api.key -subj "/CN=api.example.test" -out api.csr
printf 'subjectAltName=DNS:api.example.test,DNS:www.example.test\n' > api.ext
openssl x509 -req -in api.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 -extfile api.ext -out api.pem
chmod 600 *.key
echo "certs/api.pem, certs/api.key and the CA certs/ca.pem are ready"
