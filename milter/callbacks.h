/* callbacks - the libmilter callbacks: gate at RCPT, tag at end of message */
#ifndef MX_MILTER_CALLBACKS_H
#define MX_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

extern struct smfiDesc mxport_milter_desc;

#endif
