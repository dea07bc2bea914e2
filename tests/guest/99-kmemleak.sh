#!/bin/sh
# Last of the suite: on a kernel with kmemleak (the debug kernel of
# tests/qemu/debug-kernel.sh, `make check-debug`), scan for unreferenced
# objects after everything else ran. Fails only on a leak whose allocation
# backtrace has espintcp in it, or a frame in a module that is no longer
# loaded (after the load/unload tests, most likely espintcp itself; kmemleak
# cannot name it any more); every other object found is listed as
# diagnostics. Kernels without kmemleak (Debian's) skip it.
set -eu
. /tests/guest/lib/netns.sh

kml=/sys/kernel/debug/kmemleak
[ -e "$kml" ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
if [ ! -e "$kml" ]; then
	skip "kmemleak finds no espintcp leak" "no $kml: this kernel has no CONFIG_DEBUG_KMEMLEAK"
	exit 0
fi
if ! echo scan > "$kml" 2>/tmp/kml.err; then
	# kmemleak turned itself off (its pool ran out, or kmemleak=off)
	not_ok "kmemleak scans ($(cat /tmp/kml.err); $(dmesg | grep -m1 'kmemleak:.*disabl' || true))"
	exit 0
fi
# an object is reported only once it is older than 5 s and was found
# unreferenced by a scan: a second scan later catches what the first saw
sleep 6
echo scan > "$kml"
cat "$kml" > /tmp/kmemleak.txt
# the scans say "N new suspected memory leaks" in the kernel log, which
# the harness would take for a failure: this script judges them, so it
# takes those lines out of the log (and only those: the rest goes back to
# the harness's check through a message of its own)
others=$(dmesg -c | grep -vE 'kmemleak: [0-9]+ new suspected memory leaks' || true)
if printf '%s\n' "$others" | grep -qE 'WARNING:|BUG:|Oops|KASAN|UBSAN|lockdep|Call Trace'; then
	not_ok "kernel log clean during the kmemleak scans"
	printf '%s\n' "$others" | head -n 40 | sed 's/^/#   /'
fi

# one object per record: "unreferenced object 0x... (size N):" up to the
# next one
awk '
/^unreferenced object/ { if (rec != "") emit(); rec = $0 "\n"; next }
{ rec = rec $0 "\n" }
END { if (rec != "") emit() }
function emit() {
	n++
	# "[<addr>] 0xffffffffc0..." : a frame kmemleak could not name, in
	# module space (0xffffffffa0000000 up)
	if (rec ~ /espintcp/ || rec ~ /\] 0xffffffff[a-f][0-9a-f]+\n/) {
		printf "%s", rec > "/tmp/kml.espintcp"; e++
	} else {
		printf "%s", rec > "/tmp/kml.other"; o++
	}
	rec = ""
}
END { printf "%d %d %d\n", n, e, o > "/tmp/kml.count" }
' /tmp/kmemleak.txt
[ -f /tmp/kml.count ] || echo "0 0 0" > /tmp/kml.count
read -r total esp other < /tmp/kml.count
echo "# kmemleak: $total unreferenced objects ($esp with espintcp or an unloaded module in the backtrace, $other others)"
if [ "$esp" = 0 ]; then
	ok "kmemleak finds no leak with espintcp in its backtrace"
else
	not_ok "kmemleak finds no leak with espintcp in its backtrace ($esp found)"
	head -n 200 /tmp/kml.espintcp | sed 's/^/#   /'
fi
ok "kmemleak: $other other unreferenced objects (not judged; listed below)"
[ "$other" = 0 ] || head -n 150 /tmp/kml.other | sed 's/^/#   /'
