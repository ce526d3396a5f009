/* smtp_reply - parse SMTP replies, single and multiline, from untrusted peers */
#ifndef MX_SMTP_REPLY_H
#define MX_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LINE_MAX	 2048 /* longer reply lines are a protocol error */
#define SMTP_REPLY_LINES 200  /* more lines in one reply are a protocol error */
#define SMTP_REPLY_TEXT	 4096 /* text kept for DSNs and logs */

struct smtp_reply {
	int code;		    /* 200..599 */
	char enh[16];		    /* enhanced status code of the first line, "" when none */
	char text[SMTP_REPLY_TEXT]; /* lines joined with '\n', code prefixes kept, printable */
	size_t lines;
	bool done;
};

void smtp_reply_init(struct smtp_reply *r);
int smtp_reply_add_line(struct smtp_reply *r, const char *line, size_t len, char *err,
			size_t errlen);
const char *smtp_reply_line(const struct smtp_reply *r, size_t n, size_t *len);
bool smtp_reply_has_keyword(const struct smtp_reply *r, const char *keyword, const char **args);
void smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen);
void smtp_reply_text(const struct smtp_reply *r, char *out, size_t outlen);

#endif
