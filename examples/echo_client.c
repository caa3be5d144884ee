/* The seed's echo client: connect, send one text message, print the echo, close.
 * Usage: echo_client [url] (default ws://localhost:8080/ws). */
#include <stdio.h>
#include <wring.h>

int main(int argc, char **argv)
{
	const char *url = argc > 1 ? argv[1] : "ws://localhost:8080/ws";
	wr_client_err err;
	wr_client *client = wr_client_connect(url, NULL, &err);
	if (!client) {
		printf("Connection failed\n");
		fprintf(stderr, "%s: %s", url, wr_strerror(err.code));
		if (err.http_status)
			fprintf(stderr, " (HTTP %d)", err.http_status);
		fprintf(stderr, "\n");
		return 1;
	}

	int rc = wr_client_send_text(client, "Hello, WebSocket!");

	/* The answer: a view valid until the next call on client. */
	wr_msg msg;
	if (rc == 0 && wr_client_read(client, &msg) > 0)
		printf("%.*s\n", (int)msg.len, (const char *)msg.data);

	wr_client_close(client, WR_CLOSE_NORMAL, NULL);
	wr_client_free(client);
	return rc < 0 ? 1 : 0;
}
