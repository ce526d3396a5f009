/* msg - logging in the MTA's own way: syslog facility mail or Postfix's postlogd, plus stderr or a
 * file */
#ifndef MX_MSG_H
#define MX_MSG_H

#include <stdbool.h>
#include <stddef.h>

#define MSG_TO_SYSLOG 1
#define MSG_TO_STDERR 2

void msg_init(const char *ident, int where);
bool msg_set_file(const char *path, bool check_only, char *err, size_t errlen);
bool msg_set_postlog(const char *path, const char *relay, const char *host, bool check_only,
		     char *err, size_t errlen);
bool msg_postlog_forward(const char *line, size_t n);
void msg_sanitize(char *text);
void msg_catch_crashes(void);
bool msg_uses_fd(int fd);
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
