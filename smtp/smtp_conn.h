/* smtp_conn - one TCP (or TLS) connection with deadlines, read by lines */
#ifndef MX_SMTP_CONN_H
#define MX_SMTP_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct smtp_conn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t pos, len;
	long long limit_ms; /* absolute: the whole run's deadline (delivery_time_limit) */
	bool hit_limit;	    /* the last failure was the run's own time limit */
};

long long mx_now_ms(void);
void conn_init(struct smtp_conn *c);
int conn_connect(struct smtp_conn *c, const struct sockaddr *sa, socklen_t salen,
		 unsigned timeout_ms, long long limit_ms, char *err, size_t errlen);
int conn_read_piece(struct smtp_conn *c, char *out, size_t max, size_t *len, bool *eol,
		    unsigned timeout_ms, char *err, size_t errlen);
int conn_read_line(struct smtp_conn *c, char *line, size_t max, size_t *len, unsigned timeout_ms,
		   char *err, size_t errlen);
int conn_write(struct smtp_conn *c, const void *data, size_t len, unsigned timeout_ms, char *err,
	       size_t errlen);
int conn_wait(struct smtp_conn *c, short events, long long until);
bool conn_has_buffered(const struct smtp_conn *c);
const char *conn_peek(const struct smtp_conn *c, size_t *avail);
void conn_take(struct smtp_conn *c, size_t n);
int conn_more(struct smtp_conn *c, unsigned timeout_ms, char *err, size_t errlen);
void conn_close(struct smtp_conn *c);

#endif
