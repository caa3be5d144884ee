#!/bin/sh
# Make a self-signed certificate and key for localhost / 127.0.0.1 / ::1 (subjectAltName),
# valid for 30 days: make-cert.sh [DIR] writes DIR/cert.pem and DIR/key.pem (default: here).
# Trust it on the client side with the cert itself as CA (wss_echo_client --ca cert.pem).
set -eu
dir=${1:-.}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
	-subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
echo "wrote $dir/cert.pem and $dir/key.pem"
