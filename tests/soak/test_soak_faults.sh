#!/bin/sh
# test_soak_faults - the short soak through the LMTP variant with the relay's
# own faults on top of the customer's (SOAK_FAULTS in soak.sh): routes file
# edits good and bad, kill -9 of an LMTP connection process, of the LMTP
# daemon and of the milter (each restarted), the customer's server away and
# back. 600 messages; nothing lost.
SOAK_FAULTS=yes
export SOAK_FAULTS
exec sh "$MXPORT_SRCDIR/tests/soak/soak.sh" "${MXPORT_SOAK_N:-600}" 44 lmtp
