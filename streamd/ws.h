/* streamd's WebSocket listener (S8): browser players get a channel's live
 * MPEG-TS as binary WebSocket messages (RFC 6455) from ws://host/ws/<id>.
 * The web server forwards to one unix socket, server.ws_socket, in one of
 * two ways, told apart by the first bytes of a connection:
 *   Apache (mod_proxy_wstunnel) passes the client's HTTP/1.1 Upgrade
 *   request as it is: streamd does the handshake and speaks frames;
 *   lighttpd (mod_wstunnel) terminates the WebSocket itself and passes the
 *   payload of the client's messages only: the first one must be the
 *   request target on one line ("/ws/12?token=abc\n"), and what streamd
 *   writes is sent as binary messages.
 * A connection is authorised as every media request is (access.h), then
 * relayed from an "attach" on streamd's own control socket, which holds
 * the viewer lease while it lasts.  streamd(8) has the details. */
#ifndef STREAMD_WS_H
#define STREAMD_WS_H

struct config;

/* The most connections served at once; more are closed when accepted. */
#define WS_MAX_CONNECTIONS	1024

/* Binds cfg->server.ws_socket with the control socket's rules (a path
 * longer than sun_path is an error, a stale socket is replaced, one that
 * another streamd listens on is an error; mode and group of
 * control_socket) and starts the listener's thread.  Connections are
 * authorised against the database at path database (one read connection
 * shared under a lock) and attach through cfg->server.control_socket;
 * both paths are copied.  Returns 0, or -1 with *cause (caller frees). */
int	 ws_start(const struct config *cfg, const char *database,
	    char **cause);
/* Stops listening, ends every connection (a WebSocket client gets a close
 * frame 1001), waits for them at most three seconds and removes the
 * socket.  Call before the manager stops: the relays hold attaches. */
void	 ws_stop(void);

#endif
