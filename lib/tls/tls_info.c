/* wr_tls_info(): which wolfSSL is linked and which of its assembly runs on this CPU, decided
 * once per process. The decision also caps wolfSSL itself (WR_TLS_ASM): it must happen before
 * wolfSSL first reads its CPUID cache, so the TLS layer asks for it before wolfSSL_Init. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr_config.h"
#include "wring/tls.h"
#include "tls_ciphers.h"

#if WR_HAVE_TLS
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/cpuid.h>
#endif

static struct {
	pthread_once_t once;
	wr_tls_lib lib;
} info = { .once = PTHREAD_ONCE_INIT };

/* WR_TLS_ASM: unset or "all" keeps what the CPU has; "none", and any value not understood,
 * turns the assembly off (the conservative reading). */
static bool asm_allowed(void)
{
	const char *e = getenv("WR_TLS_ASM");
	return !e || !*e || strcmp(e, "all") == 0;
}

static void detect(void)
{
	wr_tls_lib *l = &info.lib;
	*l = (wr_tls_lib){ .name = "", .version = "", .build = WR_WOLFSSL_BUILD };
#if WR_HAVE_TLS
	l->built = true;
	l->name = "wolfSSL";
	l->version = wolfSSL_lib_version(); /* the library's, not the headers' */
	bool allowed = asm_allowed();
	bool cpu_aes = false, cpu_avx2 = false;
#if WR_HAVE_WOLF_CPUID
	/* Read wolfSSL's own cache, filled now and capped before any key or hash uses it: what
	 * it says is what wolfSSL's AES, ChaCha20, Poly1305 and SHA-256 will do. */
	cpuid_set_flags();
	if (!allowed)
		cpuid_select_flags(0);
	/* wolfSSL 5.5.4's AES-GCM takes its AVX2 or AVX1 code, which is AES-NI code, on the AVX
	 * flags alone: a CPU (or a VM) that shows AVX without AES-NI would run AES-NI
	 * instructions it lacks. Without AES-NI, wolfSSL sees no AVX either (ChaCha20 then
	 * runs in C: slower, but correct). Seen here by capping AES-NI alone: GCM failed. */
	if (!(cpuid_get_flags() & CPUID_AESNI))
		cpuid_clear_flag(CPUID_AVX1 | CPUID_AVX2);
	word32 f = cpuid_get_flags();
	cpu_aes = IS_INTEL_AESNI(f);
	cpu_avx2 = IS_INTEL_AVX2(f);
#elif defined(__x86_64__)
	__builtin_cpu_init();
	cpu_aes = allowed && __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
	cpu_avx2 = cpu_aes && __builtin_cpu_supports("avx2"); /* as above */
#endif
#ifdef WOLFSSL_AESNI
	l->aesni = cpu_aes;
#endif
#ifdef USE_INTEL_SPEEDUP
	l->avx2 = cpu_avx2;
#endif
	(void)cpu_aes;
	(void)cpu_avx2;
	l->cipher13 = wr__tls_cipher13(l->aesni);
#else
	l->cipher13 = "";
#endif
}

wr_tls_lib wr_tls_info(void)
{
	pthread_once(&info.once, detect);
	return info.lib;
}

int wr_tls_describe(char *buf, size_t n)
{
	wr_tls_lib l = wr_tls_info();
	if (!l.built)
		return snprintf(buf, n, "TLS not built");
	return snprintf(buf, n, "%s %s (%s build): AES-NI %s, AVX2 %s, TLS 1.3 prefers %s", l.name,
	                l.version, l.build, l.aesni ? "on" : "off", l.avx2 ? "on" : "off", l.cipher13);
}
