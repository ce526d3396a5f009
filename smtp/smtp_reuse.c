/*
 * smtp_reuse - the session kept open after a delivery for the next message
 * to the same address with the same settings (as Postfix's smtp_reuse.c):
 * what must be equal for a kept session to serve, taking it back when the
 * server has not spoken meanwhile, keeping it, and closing it.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "smtp_conn.h"
#include "smtp_session_int.h"

/* cache_key - what must be equal for a kept session to serve a request */
static bool cache_key(const struct smtp_request *req, char *key, size_t keylen)
{
	if (req->cache == NULL || req->dane != NULL || req->salen > sizeof(struct sockaddr_storage))
		return false;
	int n = snprintf(key, keylen, "%s|%d|%d|%d|%s|%s", req->host, req->tls_mode,
			 req->implicit_tls, req->plain_fallback, req->helo_name,
			 req->auth_user ? req->auth_user : "");
	/* A key cut short could match another user's session: such a session is not kept. */
	return n >= 0 && (size_t)n < keylen;
}

/*
 * smtp_reuse_take - the kept session, when it serves this request and the server
 * has not spoken since (a 421 or a close while idle): then it is the
 * session's. Otherwise a kept session that cannot serve is closed.
 */
bool smtp_reuse_take(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_cache *c = req->cache;
	char key[sizeof(c->key)];
	struct pollfd pfd;

	if (c == NULL || !c->open)
		return false;
	if (!cache_key(req, key, sizeof(key)) || strcmp(key, c->key) != 0 ||
	    c->tls_ctx != req->tls_ctx || c->salen != req->salen ||
	    memcmp(&c->sa, req->sa, req->salen) != 0) {
		smtp_cache_close(c);
		return false;
	}
	pfd.fd = c->conn.fd;
	pfd.events = POLLIN;
	if (conn_has_buffered(&c->conn) || poll(&pfd, 1, 0) != 0) {
		c->open = false; /* it spoke or hung up: no QUIT, just close */
		conn_close(&c->conn);
		return false;
	}
	/* The session works on the cache's connection and EHLO reply in place. */
	s->conn = &c->conn;
	s->conn->limit_ms = req->limit_ms;
	s->conn->hit_limit = false;
	s->ehlo = &c->ehlo;
	s->esmtp = c->esmtp;
	s->res->tls_used = c->tls_used;
	s->res->tls = c->tls;
	s->res->conn_use = ++c->uses;
	c->open = false;
	return true;
}

/*
 * smtp_reuse_put - keep the session of a delivery that went well; false
 * when it cannot be kept: no cache, a server in trouble (a deferral at DATA
 * or the dot), settings that make no safe key, or a connection older than
 * SMTP_REUSE_TIME_MS
 */
bool smtp_reuse_put(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_cache *c = req->cache;
	char key[sizeof(c->key)];
	long long born;

	/* With a cache, the session's connection is the cache's (smtp_deliver): nothing to copy. */
	if (c == NULL || s->conn != &c->conn || c->open || s->conn->fd < 0 || s->troubled ||
	    !cache_key(req, key, sizeof(key)))
		return false;
	born = s->res->conn_use <= 1 ? mx_now_ms() : c->born_ms;
	if (mx_now_ms() - born > SMTP_REUSE_TIME_MS)
		return false; /* old enough: a new connection next, as Postfix's reuse time limit */
	memcpy(c->key, key, sizeof(key));
	c->born_ms = born;
	c->esmtp = s->esmtp;
	c->tls_used = s->res->tls_used;
	c->tls = s->res->tls;
	memcpy(&c->sa, req->sa, req->salen);
	c->salen = req->salen;
	c->tls_ctx = req->tls_ctx;
	c->uses = s->res->conn_use;
	c->open = true;
	return true;
}

/* smtp_cache_close - QUIT the kept session, if there is one, and close it */
void smtp_cache_close(struct smtp_cache *cache)
{
	/* quit() needs a session: one with no request of its own, two seconds to live. */
	struct smtp_request req = {.command_timeout_ms = 1000};
	struct smtp_result res;
	struct session s = {.req = &req, .res = &res};

	if (cache == NULL || !cache->open)
		return;
	cache->open = false;
	session_result_reset(&res);
	s.conn = &cache->conn;
	s.ehlo = &cache->ehlo;
	s.conn->limit_ms = mx_now_ms() + 2000;
	session_quit(&s);
	conn_close(s.conn);
}
