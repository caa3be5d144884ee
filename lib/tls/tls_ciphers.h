/* The cipher suites wring's TLS contexts allow, in order of preference: AEAD only, forward-
 * secret key exchange, and the fast cipher of this CPU first. */
#ifndef WR_LIB_TLS_CIPHERS_H
#define WR_LIB_TLS_CIPHERS_H

#include <stdbool.h>

/* wolfSSL cipher list (TLS 1.3 suites, then TLS 1.2 ones). With AES-NI AES-128-GCM leads;
 * without it ChaCha20-Poly1305 does. Static string. */
const char *wr__tls_cipher_list(bool aesni);
/* The TLS 1.3 suite that leads that list. Static string. */
const char *wr__tls_cipher13(bool aesni);

#endif
