/*
 * smtp_cmd - MAIL and RCPT command lines. The addresses come from the MTA,
 * which took them from anyone on the Internet: Postfix's smtpd accepts
 * 2,000-byte addresses and a quoted local part with control characters.
 * So the lines grow with the address (no buffer of a guessed size), and an
 * address with a byte that could end or break a command line is never
 * written at all: the caller refuses that recipient instead.
 */
#include "config.h"

#include "smtp_cmd.h"

/* smtp_addr_sendable - no control character (CR, LF, NUL, ESC ...) and no DEL */
bool smtp_addr_sendable(const char *addr)
{
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* smtp_cmd_mail - append "MAIL FROM:<sender>params" CR LF; false (nothing added) if unsendable */
bool smtp_cmd_mail(struct mx_buf *b, const char *sender, const char *params)
{
	if (!smtp_addr_sendable(sender) || !smtp_addr_sendable(params))
		return false;
	mx_buf_printf(b, "MAIL FROM:<%s>%s\r\n", sender, params);
	return true;
}

/* smtp_cmd_rcpt - append "RCPT TO:<rcpt>" CR LF; false (nothing added) if unsendable */
bool smtp_cmd_rcpt(struct mx_buf *b, const char *rcpt)
{
	if (!smtp_addr_sendable(rcpt))
		return false;
	mx_buf_printf(b, "RCPT TO:<%s>\r\n", rcpt);
	return true;
}
