#!/bin/bash
# make check: build and install the Debian package, which has dkms build
# espintcp.ko for every kernel in build/matrix (tests/host/pkg.sh); then boot
# each kernel in QEMU on a busybox initramfs with the module dkms built, run
# the guest tests, and remove the package. Results are numbered TAP lines
# ("ok N - [KVER] desc").
# The last line is "N passed, N failed"; the exit status is non-zero on any
# failure. Environment knobs: see tests/qemu/lib.sh.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/host/pkg.sh
. "$root/tests/host/pkg.sh"

n=0 passed=0 failed=0 skipped=0
# build/support.md: one row per kernel, from this run (README's table)
support_row() { # RELEASE KVER WHAT PASSED0 FAILED0 T0
	printf '| %s | %s | %s | %s passed, %s failed | %s s |\n' "$1" "$2" "$3" \
		"$((passed - $4))" "$((failed - $5))" "$(($(date +%s) - $6))" >> "$BUILD/support.md"
}

result() { # "ok"|"not ok" KVER DESC...
	local st=$1 k=$2
	shift 2
	n=$((n + 1))
	case "$st $*" in
	"ok "*"# SKIP"*) skipped=$((skipped + 1)) ;;
	"ok "*) passed=$((passed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	echo "$st $n - [$k] $*"
}

diag_tail() { # FILE LINES
	tail -n "$2" "$1" | tr -d '\r' | sed 's/^/#   /'
}

check_kernel() { # KVER
	local k=$1 dir="$BUILD/qemu/$1" initrd t0 ko scripts
	t0=$(date +%s)
	mkdir -p "$dir"
	# the module dkms built; a local build only if the package failed
	ko=$(pkg_module "$k")
	if [ -z "$ko" ] && ! build_module "$k" > "$dir/build.log" 2>&1; then
		result "not ok" "$k" "build espintcp.ko"
		diag_tail "$dir/build.log" 30
		return
	fi
	if ! build_kmod "$k" > "$dir/kmod.log" 2>&1; then
		result "not ok" "$k" "build the test modules (tests/kmod)"
		diag_tail "$dir/kmod.log" 30
	fi
	echo "# [$k] module under test: ${ko:-$BUILD/$k/espintcp.ko}"
	if ! initrd=$(initramfs "$k" "$ko" 2> "$dir/initramfs.log"); then
		result "not ok" "$k" "build initramfs"
		diag_tail "$dir/initramfs.log" 30
		return
	fi
	grep 'mkinitramfs:' "$dir/initramfs.log" | sed 's/^/# /' || true
	if [ "${CHECK_ALL:-0}" = 1 ]; then
		guest_run "$k" "$initrd" test "$k" "$dir/console.log" "$t0"
	else
		# Debian 12's own libreswan runs on its first kernel: the
		# full-suite kernels run their releases' newer ones
		scripts=$SMOKE_SCRIPTS
		[ "$k" != "$(matrix | head -n 1)" ] ||
			scripts=$scripts,50-libreswan.sh,51-libreswan-tcp.sh
		echo "# [$k] smoke set: $scripts (make check-all runs everything)"
		BOOT_ARGS="scripts=$scripts" \
			guest_run "$k" "$initrd" test "$k" "$dir/console.log" "$t0"
	fi
	# the module must load and serve IPv4 on a kernel without IPv6
	BOOT_ARGS="$NOIPV6_BOOT_ARGS" guest_run "$k" "$initrd" noipv6 \
		"$k $NOIPV6_BOOT_ARGS" "$dir/console-noipv6.log" "$(date +%s)"
}

# The second boot of each kernel (tests/guest/noipv6.sh): without IPv6, and
# with SLUB's checks of freed objects (poison, red zones, sanity), for the
# state that outlives its netns
NOIPV6_BOOT_ARGS="ipv6.disable=1 slub_debug=FZP"

# What a kernel that gets the smoke set runs: load, ULP semantics, ESP in
# each family and mode, fail closed (34), and the kernel log after each
# (make check-all, or CHECK_ALL=1, runs every script everywhere)
SMOKE_SCRIPTS=05-kernel.sh,10-load.sh,11-topology.sh,20-ulp.sh,21-esp-stream.sh,22-rx-context.sh,30-esp.sh,34-fail-closed.sh

# the full suite on Debian 13's kernel and on the newest 7.x; the smoke set
# on the others, Debian 12's included (check_kernel)
release_level() { # SUITE KVER
	if [ "${CHECK_ALL:-0}" = 1 ] || [ "$1" = trixie ] ||
		[ "$2" = "$(cut -d' ' -f2 "$BUILD/releases" | grep '^7\.' | sort -V | tail -n 1)" ]; then
		echo full
	else
		echo smoke
	fi
}

release_name() { # SUITE
	case $1 in
	bullseye) echo "Debian 11 bullseye" ;;
	trixie) echo "Debian 13 trixie" ;;
	trixie-backports) echo "Debian 13 trixie-backports" ;;
	sid) echo "Debian sid" ;;
	*) echo "$1" ;;
	esac
}

# A kernel of another Debian release (build/releases): its chroot builds
# the module W=1 with the release's compiler, and the test modules; the
# package goes into the chroot, whose dkms builds the module under test.
# The kernel boots from its unpacked image package.
# make W=1 in the release's chroot, with its compiler: first thing in the
# run (lint_first), so that a warning fails it within minutes
declare -A release_built
release_build() { # SUITE KVER
	local suite=$1 k=$2 dir="$BUILD/qemu/$2" rc=0
	mkdir -p "$dir"
	"$root/tests/host/release-build.sh" "$suite" W=1 > "$dir/build.log" 2>&1 || rc=$?
	check_out "$k" "$suite: make W=1 in the $suite chroot" 0 "$rc"
	[ "$rc" = 0 ] || { diag_tail "$dir/build.log" 30; return 0; }
	check_out "$k" "$suite: make W=1 with $suite's compiler: no warning" "" \
		"$(grep -E 'warning:|error:' "$BUILD/$k.release-build.log" | head -n 5)"
	release_built[$k]=1
}

# make lint (checkpatch, shellcheck, sparse and W=1 on the host's
# kernels), then release_build for every other release
lint_first() {
	local rc=0 suite k
	"$root/tests/host/lint.sh" > "$BUILD/lint.log" 2>&1 || rc=$?
	check_out lint "make lint: checkpatch --strict, shellcheck, sparse and W=1 on $(matrix | tr '\n' ' ' | sed 's/ $//')" 0 "$rc"
	[ "$rc" = 0 ] || diag_tail "$BUILD/lint.log" 30
	while read -r suite k; do
		release_build "$suite" "$k" < /dev/null
	done < <(grep -v '^[[:space:]]*$' "$BUILD/releases" 2>/dev/null)
}

check_release() { # SUITE KVER
	local suite=$1 k=$2 dir="$BUILD/qemu/$2" kdir t0 initrd level ls_suite t boot_args=
	kdir=$RELEASE_CACHE/kernels/$k
	t0=$(date +%s)
	# its W=1 build failed: release_build said so
	[ "${release_built[$k]:-0}" = 1 ] || return 0
	pkg_release_install "$suite" "$k" "$dir" || return 0
	echo "# [$k] $suite: module under test: $release_ko (built by $suite's dkms); build and package $(($(date +%s) - t0))s"
	level=$(release_level "$suite" "$k")
	# the full suite runs the release's own libreswan; the smoke set none
	ls_suite=$suite
	[ "$level" = full ] || ls_suite=none
	if ! initrd=$(MODROOT=$kdir LIBRESWAN_SUITE=$ls_suite initramfs "$k" "$release_ko" \
		2> "$dir/initramfs.log"); then
		result "not ok" "$k" "build initramfs"
		diag_tail "$dir/initramfs.log" 30
		pkg_release_remove "$suite" "$k"
		return
	fi
	grep 'mkinitramfs:\|libreswan' "$dir/initramfs.log" | sed 's/^/# /' || true
	if [ "$suite" = trixie ] && [ "${CHECK_ALL:-0}" != 1 ]; then
		# 140 s that make check spends on 6.1 (module and upstream)
		boot_args="lsw_skip=ikev2-tcp-09-fail-timeout"
		echo "# [$k] ikev2-tcp-09-fail-timeout in make check-all only here"
	fi
	if [ "$level" = smoke ]; then
		boot_args="scripts=$SMOKE_SCRIPTS"
		echo "# [$k] smoke set: $SMOKE_SCRIPTS (make check-all runs everything)"
	elif [ "$suite" != trixie ] && [ "${CHECK_ALL:-0}" != 1 ]; then
		# libreswan's scenarios (6 minutes) with trixie's libreswan
		# once: on trixie's kernel, not on the newest 7.x too
		boot_args=scripts=
		for t in "$root"/tests/guest/[0-9]*.sh; do
			t=${t##*/}
			[ "$t" = 51-libreswan-tcp.sh ] || boot_args=$boot_args$t,
		done
		boot_args=${boot_args%,}
		echo "# [$k] full suite but 51-libreswan-tcp.sh (trixie's kernel runs it; make check-all runs it here too)"
	fi
	KERNEL_IMAGE=$kdir/boot/vmlinuz-$k BOOT_ARGS=$boot_args \
		guest_run "$k" "$initrd" test "$k" "$dir/console.log" "$t0"
	KERNEL_IMAGE=$kdir/boot/vmlinuz-$k BOOT_ARGS="$NOIPV6_BOOT_ARGS" \
		guest_run "$k" "$initrd" noipv6 "$k $NOIPV6_BOOT_ARGS" \
		"$dir/console-noipv6.log" "$(date +%s)"
	pkg_release_remove "$suite" "$k"
}

# guest_run KVER INITRD MODE LABEL CONSOLE_LOG T0: boot, relay results,
# judge the run and the kernel console
guest_run() {
	local k=$1 initrd=$2 label=$4 log=$5 t0=$6 t1 line done=0
	local results=${log%.log}.results
	t1=$(date +%s)
	echo "# [$label] booting (timeout ${QEMU_TIMEOUT}s)"
	: > "$results"
	while IFS= read -r line; do
		echo "$line" >> "$results"
		case ${GUEST_RESULTS:-tests}/$line in
		data/"ok - "* | data/"not ok - "*) echo "# [$label] $line" ;;
		*/"ok - "*) result ok "$label" "${line#ok - }" ;;
		*/"not ok - "*) result "not ok" "$label" "${line#not ok - }" ;;
		*/"# guest-done") done=1 ;;
		*/"#"*) echo "$line" ;;
		*) echo "# (guest) $line" ;;
		esac
	done < <(boot "$k" "$initrd" "$3" "$log")

	if [ "$done" = 1 ]; then
		result ok "$label" "guest ran all tests and powered off"
	else
		result "not ok" "$label" "guest ran all tests and powered off (crash, panic or ${QEMU_TIMEOUT}s timeout)"
		echo "#   last 50 lines of $log:"
		diag_tail "$log" 50
	fi
	if console_trouble "$log" > /dev/null; then
		result "not ok" "$label" "kernel console free of panic/WARN/BUG"
		console_trouble "$log" | head -n 60 | tr -d '\r' | sed 's/^/#   /'
	else
		result ok "$label" "kernel console free of panic/WARN/BUG"
	fi
	echo "# [$label] boot+tests $(($(date +%s) - t1))s wall time (before it: $((t1 - t0))s);" \
		"$(grep -m1 '^# boot: ' "$results" | sed 's/^# boot: //')"
}

# sourced (tests/qemu/check-debug.sh): the functions only
(return 0 2>/dev/null) && return 0
export RELEASES=${RELEASES-bullseye trixie trixie-backports sid}
# sid's Release file on this mirror is past its date (see setup.sh)
export ALLOW_EXPIRED=${ALLOW_EXPIRED:-1}
t0=$(date +%s)
setup
echo "# setup (packages, kernels, release chroots): $(($(date +%s) - t0))s"
echo "# kernels: $(matrix | tr '\n' ' ')$(cut -d' ' -f2 "$BUILD/releases" 2>/dev/null | tr '\n' ' ')"
mkdir -p "$BUILD"
t0=$(date +%s)
lint_first
if ! build_tests > "$BUILD/tests.log" 2>&1; then
	result "not ok" all "make tests"
	diag_tail "$BUILD/tests.log" 30
fi
echo "# lint, W=1 builds and the test programs: $(($(date +%s) - t0))s"
if [ "$failed" != 0 ] && [ "${KEEP_GOING:-0}" != 1 ]; then
	echo "# stopping before any QEMU boot (KEEP_GOING=1 goes on)"
	echo "1..$n"
	echo "$passed passed, $failed failed"
	exit 1
fi
t0=$(date +%s)
pkg_install || true
echo "# package build, lintian and install: $(($(date +%s) - t0))s"
{
	echo "Made by \`make check\` on $(date -u +%Y-%m-%d), module $(cat "$root/VERSION" 2>/dev/null || sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$root/debian/changelog"):"
	echo
	echo "| release | kernel | what ran | result | time |"
	echo "|---|---|---|---|---|"
} > "$BUILD/support.md"
for k in $(matrix); do
	p0=$passed f0=$failed t0=$(date +%s)
	check_kernel "$k"
	if [ "${CHECK_ALL:-0}" = 1 ]; then
		support_row "Debian 12 bookworm" "$k" "full suite, ipv6.disable=1 boot" "$p0" "$f0" "$t0"
	else
		what="smoke set"
		[ "$k" != "$(matrix | head -n 1)" ] || what="smoke set and libreswan"
		support_row "Debian 12 bookworm" "$k" "$what, ipv6.disable=1 boot" "$p0" "$f0" "$t0"
	fi
done
while read -r suite k; do
	p0=$passed f0=$failed t0=$(date +%s)
	check_release "$suite" "$k" < /dev/null
	what="smoke set"
	[ "$(release_level "$suite" "$k")" = smoke ] || what="full suite"
	support_row "$(release_name "$suite")" "$k" \
		"$what, ipv6.disable=1 boot, $suite's dkms" "$p0" "$f0" "$t0"
done < <(grep -v '^[[:space:]]*$' "$BUILD/releases" 2>/dev/null)

# the module against upstream's espintcp, and tshark's reading: against
# the 6.1 reference kernel, and with CHECK_ALL=1 the newest 7.x one too
# (tests/interop/ref-kernel.sh, each built on the first run; the 7.x one takes
# 13 minutes cold). Its lines keep their label: [interop 6.1] ...
k=$(matrix | head -n 1)
t0=$(date +%s)
rc=0
refs=6.1
[ "${CHECK_ALL:-0}" != 1 ] || refs="6.1 7"
NO_SETUP=1 INTEROP_REFS=${INTEROP_REFS:-$refs} INTEROP_KO=$(pkg_module "$k") \
	"$root/tests/interop/interop.sh" \
	> "$BUILD/interop.out" 2> "$BUILD/interop.err" || rc=$?
interop_line() { # "ok"|"not ok" "N - [interop X] DESC"
	local rest=${2#* - }
	case $rest in
	"[interop"*"] "*) rest=${rest#\[}; result "$1" "${rest%%\] *}" "${rest#*\] }" ;;
	*) result "$1" interop "$rest" ;;
	esac
}
while IFS= read -r line; do
	case $line in
	"ok "[0-9]*" - "*) interop_line ok "${line#ok }" ;;
	"not ok "[0-9]*" - "*) interop_line "not ok" "${line#not ok }" ;;
	"#"*) echo "$line" ;;
	esac
done < "$BUILD/interop.out"
if [ "$rc" != 0 ]; then
	result "not ok" interop "tests/interop/interop.sh exit status 0 (got $rc)"
	diag_tail "$BUILD/interop.err" 20
fi
echo "# interop: $(($(date +%s) - t0))s"

# libreswan's ESP-in-TCP scenarios on upstream's espintcp: the 6.1
# reference kernel (interop built it) boots Debian 12's initramfs, with its
# libreswan 4.10, and runs 51-libreswan-tcp.sh as the module's run on Debian
# 12's kernel did. A scenario whose verdict differs is a defect until
# explained. build/libreswan-tcp.md: every scenario in every run (README).
upstream_libreswan() {
	local k ref dir t0 s vm vu ups label="upstream 6.1"
	k=$(matrix | head -n 1)
	dir=$BUILD/qemu/upstream-6.1
	t0=$(date +%s)
	mkdir -p "$dir"
	rm -f "$dir/console.results"
	if ! ref=$("$root/tests/interop/ref-kernel.sh" --cached-only 6.1 2> /dev/null); then
		result "not ok" "$label" "the 6.1 reference kernel is built (interop builds it)"
		return
	fi
	# upstream's own results are what is compared, not tests of ours
	GUEST_RESULTS=data KERNEL_IMAGE=$ref \
		BOOT_ARGS="scripts=51-libreswan-tcp.sh espintcp=upstream" guest_run "$k" "$BUILD/qemu/$k/initramfs.cpio.gz" test "$label" \
		"$dir/console.log" "$t0"
	ups=$("$root/tests/qemu/lsw-table.sh" --verdicts "$dir/console.results")
	while read -r s vm; do
		vu=$(printf '%s\n' "$ups" |
			awk -v s="$s" '$1 == s { $1 = ""; print substr($0, 2) }')
		why=$(lsw_upstream_differs "$s")
		if [ -n "$why" ]; then
			check_out "$label" "$s: upstream ${why%%:*}, as known (${why#*: })" \
				"${why%%:*}" "${vu:-not run}"
		else
			check_out "$label" "$s: the same verdict as the module's on $k" \
				"$vm" "${vu:-not run}"
		fi
	done < <("$root/tests/qemu/lsw-table.sh" --verdicts "$BUILD/qemu/$k/console.results")
}
# The scenarios where upstream's 6.1 does not do what libreswan expects,
# and the module does: "VERDICT: WHY"
lsw_upstream_differs() { # SCENARIO
	case $1 in
	ikev2-tcp-08-fail-eof)
		echo "FAILED: its poll() says readable while part of a message waits in TCP (datagram_poll), so east's pluto reads EAGAIN in a loop, hundreds of log lines; the module's waits for a whole message" ;;
	esac
}
t0=$(date +%s)
upstream_libreswan
echo "# libreswan's scenarios on upstream: $(($(date +%s) - t0))s"
lsw_runs=("module $(matrix | head -n 1)=$BUILD/qemu/$(matrix | head -n 1)/console.results"
	"upstream 6.1=$BUILD/qemu/upstream-6.1/console.results")
while read -r suite k; do
	! grep -q '^ok - ikev2-tcp-' "$BUILD/qemu/$k/console.results" 2> /dev/null ||
		lsw_runs+=("module $k=$BUILD/qemu/$k/console.results")
done < <(grep -v '^[[:space:]]*$' "$BUILD/releases" 2>/dev/null)
"$root/tests/qemu/lsw-table.sh" "${lsw_runs[@]}" > "$BUILD/libreswan-tcp.md"
sed 's/^/# /' "$BUILD/libreswan-tcp.md"
sed 's/^/# /' "$BUILD/support.md"
pkg_remove
echo "1..$n"
[ "$skipped" = 0 ] || echo "# $skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$n" -gt 0 ]
