/* What the router knows that the HTTP layer also needs. */
#ifndef SEMB_SERVE_SERVE_ROUTER_H
#define SEMB_SERVE_SERVE_ROUTER_H

/* The metrics' endpoint label of a request path: the route's path ("/v1/embeddings"), or
 * "other" for a path no route has. Static strings. */
const char *serve_endpoint_label(const char *path);

#endif
