/* wring: WebSocket and HTTP/1.1 servers and clients on io_uring. The one header to include. */
#ifndef WRING_H
#define WRING_H

#include "wring/common.h"
#include "wring/server.h"
#include "wring/pubsub.h"
#include "wring/client.h"
#include "wring/url.h"
#include "wring/fiber.h"
#include "wring/tls.h"
#include "wring/stats.h"

#define WRING_VERSION "0.1.0"

#endif
