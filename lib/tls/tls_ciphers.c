/* Cipher preference by CPU. With AES-NI and PCLMULQDQ, AES-128-GCM is the fastest AEAD
 * wolfSSL has. Without them AES runs from tables in C, several times slower than ChaCha20 and
 * open to cache-timing attacks: ChaCha20-Poly1305 goes first. A wolfSSL server picks by its own
 * order, so the server's CPU decides; a wring client offers its own CPU's order. AES-256-GCM
 * follows AES-128-GCM (40% more rounds for a margin nobody here needs) and stays for peers
 * that insist on it. */
#include "tls_ciphers.h"

#define AES13 "TLS13-AES128-GCM-SHA256"
#define CHACHA13 "TLS13-CHACHA20-POLY1305-SHA256"
#define AES256_13 "TLS13-AES256-GCM-SHA384"
#define AES12 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define CHACHA12 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define AES256_12 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"

const char *wr__tls_cipher_list(bool aesni)
{
	return aesni ? AES13 ":" AES256_13 ":" CHACHA13 ":" AES12 ":" AES256_12 ":" CHACHA12
	             : CHACHA13 ":" AES13 ":" AES256_13 ":" CHACHA12 ":" AES12 ":" AES256_12;
}

const char *wr__tls_cipher13(bool aesni)
{
	return aesni ? AES13 : CHACHA13;
}
