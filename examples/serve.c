/* The server examples' start and stop (serve.h). */
#include "serve.h"

#include <signal.h>
#include <stdio.h>

static wr_server *serving; /* for the signal handler */

static void on_signal(int sig)
{
	(void)sig;
	wr_server_stop(serving); /* async-signal-safe */
}

wr_server *example_server_new(const wr_server_config *cfg)
{
	int err;
	wr_server *srv = wr_server_new(cfg, &err);
	if (srv)
		return srv;
	if (cfg && cfg->tls)
		fprintf(stderr, "wr_server_new: %s (%s, %s)\n", wr_strerror(err),
		        cfg->tls->cert_file, cfg->tls->key_file);
	else
		fprintf(stderr, "wr_server_new: %s\n", wr_strerror(err));
	return NULL;
}

int example_start(wr_server *srv, int port)
{
	serving = srv;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	int err = wr_server_start(srv, "0.0.0.0", (uint16_t)port);
	if (err < 0) {
		fprintf(stderr, "listen: %s\n", wr_strerror(err));
		wr_server_free(srv);
		return -1;
	}
	return 0;
}

int example_serve(wr_server *srv, int port, const char *note)
{
	if (example_start(srv, port) < 0)
		return 1;
	printf("Listening on port %u%s...\n", wr_server_port(srv), note);
	fflush(stdout);
	int err = wr_server_wait(srv);
	wr_server_free(srv);
	return err < 0 ? 1 : 0;
}
