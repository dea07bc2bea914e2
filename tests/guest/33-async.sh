#!/bin/sh
# ESP that asynchronous crypto finishes goes back to xfrm, not to the TCP
# state's type: the LOCAL_OUT hook must take it, and only it. pcrypt makes
# every rfc4106(gcm(aes)) request asynchronous (it completes on another
# CPU); with it in front, 32-divert.sh runs again, its results prefixed
# "async crypto:".
set -eu
. /tests/netns.sh

pcrypt='pcrypt(rfc4106(gcm(aes)))'
modprobe crypto_user
modprobe pcrypt
check_eq "pcrypt instantiated for rfc4106(gcm(aes))" ok \
	"$(/tests/bin/crypto_alg add "$pcrypt" 2>&1)"
drv=$(awk '$1 == "driver" && $3 ~ /^pcrypt\(/ { print $3 }' /proc/crypto | head -n 1)
check "it is the rfc4106(gcm(aes)) new states get (/proc/crypto: $drv)" test -n "$drv"

set -o pipefail
rc=0
/tests/guest/32-divert.sh 2>&1 | sed -E 's/^((not )?ok - )/\1async crypto: /' || rc=$?
check_eq "async crypto: 32-divert.sh exit status" 0 "$rc"

# the states are gone once xfrm's GC has run: then pcrypt can go
pcrypt_del() { /tests/bin/crypto_alg del "$drv"; }
check_poll "pcrypt removed again" ok pcrypt_del
exit 0
