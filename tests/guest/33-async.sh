#!/bin/sh
# ESP that asynchronous crypto finishes goes back to xfrm, not to the TCP
# state's type: the LOCAL_OUT hook must take it, and only it. pcrypt, put
# in front of rfc4106(gcm(aes)) at the highest priority, makes every ESP
# request of new states complete asynchronously, on another CPU; with it,
# 32-divert.sh runs again for the TCP states' ESP (DIVERT_ASYNC=1), its
# results prefixed "async crypto:".
set -eu
. /tests/guest/lib/netns.sh

modprobe crypto_user
modprobe pcrypt
# asked by name, the kernel answers ENOENT even as it makes the instance
/tests/bin/crypto_alg add 'pcrypt(rfc4106(gcm(aes)))' >/dev/null 2>&1 || true
drv=$(awk '$1 == "driver" && $3 ~ /^pcrypt\(/ { print $3; exit }' /proc/crypto)
check "pcrypt instantiated for rfc4106(gcm(aes)) (${drv:-none})" test -n "$drv"
check_eq "pcrypt given the highest priority" ok \
	"$(/tests/bin/crypto_alg prio "$drv" 1000 2>&1)"
top=$(awk '$1 == "name" { n = $3 } $1 == "driver" { d = $3 }
	$1 == "priority" && n == "rfc4106(gcm(aes))" && $3 > p { p = $3; t = d }
	END { print t }' /proc/crypto)
check_eq "new rfc4106(gcm(aes)) states get pcrypt" "$drv" "$top"

DIVERT_ASYNC=1 /tests/guest/32-divert.sh > /tmp/async.out 2>&1 && rc=0 || rc=$?
sed -E 's/^((not )?ok - )/\1async crypto: /' /tmp/async.out
check_eq "async crypto: 32-divert.sh exit status" 0 "$rc"

# the states are gone once xfrm's GC has run: then pcrypt can go
pcrypt_del() { /tests/bin/crypto_alg del "$drv"; }
check_poll "pcrypt removed again" ok pcrypt_del
exit 0
