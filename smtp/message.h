/* message - the message from standard input, made ready for DATA */
#ifndef MX_MESSAGE_H
#define MX_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

struct message {
	char *data; /* CRLF line ends, dot-stuffed, ending in ".\r\n"; tag header removed */
	size_t datalen;
	size_t size;	  /* bytes of the message itself (no stuffing, no final dot), for SIZE= */
	bool eightbit;	  /* some byte >= 0x80: BODY=8BITMIME */
	bool header_utf8; /* non-ASCII bytes in the header */
	size_t tags_removed;
	size_t header_len; /* bytes of data before the empty line (or the final dot: no body) */
};

/*
 * What the reader of a message checked already (the LMTP daemon, as it
 * takes the dots out): every line, the last one too, ends in CR LF and
 * none starts with a dot; longest is the longest line's length without
 * its CR LF. message_prepare then copies the body as it is, at once.
 */
struct message_checked {
	bool crlf_nodot;
	size_t longest;
};
int message_read(int fd, size_t max, char **raw, size_t *rawlen, char *err, size_t errlen);
void message_prepare(const char *raw, size_t rawlen, const char *tag_header, unsigned line_limit,
		     struct message *m);
void message_prepare_checked(const char *raw, size_t rawlen, const char *tag_header,
			     unsigned line_limit, const struct message_checked *checked,
			     struct message *m);
void message_free(struct message *m);
bool header_name_is(const char *line, size_t len, const char *name);
void message_add_field(const struct message *m, const char *field, struct message *out);
bool message_has_field(const struct message *m, const char *name, const char *value);

#endif
