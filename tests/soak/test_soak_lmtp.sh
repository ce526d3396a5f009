#!/bin/sh
# test_soak_lmtp - the short soak through the LMTP variant: 300 messages,
# faults on 20% of the peer's connections, sessions kept between messages.
exec sh "$MXPORT_SRCDIR/tests/soak/soak.sh" "${MXPORT_SOAK_N:-300}" 43 lmtp
