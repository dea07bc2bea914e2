#!/bin/sh
# ESP that asynchronous crypto finishes goes back to xfrm, not to the TCP
# state's type: the LOCAL_OUT hook must take it, and only it. pcrypt, put
# in front of rfc4106(gcm(aes)) at the highest priority, makes every ESP
# request of new states complete asynchronously, on another CPU; with it,
# 32-divert.sh runs again for the TCP states' ESP (DIVERT_ASYNC=1), its
# results prefixed "async crypto:".
set -eu
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh

pcrypt_on

DIVERT_ASYNC=1 /tests/guest/32-divert.sh > /tmp/async.out 2>&1 && rc=0 || rc=$?
sed -E 's/^((not )?ok - )/\1async crypto: /' /tmp/async.out
check_eq "async crypto: 32-divert.sh exit status" 0 "$rc"

# the states are gone once xfrm's GC has run: then pcrypt can go
pcrypt_off
exit 0
