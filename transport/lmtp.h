/* lmtp - the transport as an LMTP server: one process for many messages, a reply per recipient */
#ifndef MX_LMTP_H
#define MX_LMTP_H

int lmtp_serve(int in, int out, const char *config_path, const char *queue_id);
int lmtp_listen_and_serve(const char *spec, const char *config_path);

#endif
