/* smtp_cmd - SMTP command lines from untrusted addresses: any length, never a stray CR or LF */
#ifndef MX_SMTP_CMD_H
#define MX_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

bool smtp_addr_sendable(const char *addr);
bool smtp_cmd_mail(struct mx_buf *b, const char *sender, const char *params);
bool smtp_cmd_rcpt(struct mx_buf *b, const char *rcpt);

#endif
