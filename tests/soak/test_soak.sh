#!/bin/sh
# test_soak - the short soak for make check: 300 messages, faults on 20%.
exec sh "$MXPORT_SRCDIR/tests/soak/soak.sh" "${MXPORT_SOAK_N:-300}" 42
