/* What every server example does around its routes: make the server (saying why not), then
 * listen, print the port and serve until SIGINT or SIGTERM. cpp-httplib's examples end with
 * svr.listen("0.0.0.0", 8080), and wr_server_listen() is that call; the examples add the line
 * "Listening on port N" that scripts wait for (the port may be 0: any free one) and a clean
 * stop on a signal. Example code, not part of libwring. */
#ifndef WR_EXAMPLES_SERVE_H
#define WR_EXAMPLES_SERVE_H

#include <wring.h>

/* wr_server_new(cfg) (NULL: defaults), or NULL after printing why to stderr (with the
 * certificate and key files when cfg asks for TLS). */
wr_server *example_server_new(const wr_server_config *cfg);
/* Stop srv on SIGINT or SIGTERM from now on, and start it on 0.0.0.0:port. 0, or -1 after
 * printing why and freeing srv. */
int example_start(wr_server *srv, int port);
/* example_start, print "Listening on port N<note>..." (note: "" or a few words), and serve
 * until stopped; takes ownership of srv (freed before returning). Returns the process's exit
 * status: 0, or 1 when listening or serving failed. */
int example_serve(wr_server *srv, int port, const char *note);

#endif
