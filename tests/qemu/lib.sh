# Shared by check.sh and run.sh (bash). Sourced, not run.
# shellcheck shell=bash disable=SC2034
#
# Layout of what it builds, per kernel release $k:
#   build/qemu/$k/initramfs.cpio.gz   the guest (tests/qemu/mkinitramfs.sh)
#   build/qemu/$k/console.log         serial port 0: the kernel console
#   build/qemu/$k/console.results     serial port 1: what the guest init reports
#   build/qemu/$k/console-noipv6.*    the same, booted with ipv6.disable=1
#
# Environment knobs:
#   QEMU_ACCEL=kvm|tcg   skip the KVM probe
#   QEMU_TIMEOUT=1800    seconds one boot may take, tests included
#   BUILD=dir            where the module and test binaries are (default build/)
#   NO_BUILD=1           do not run make; use what is already in $BUILD
#   KERNEL_IMAGE=path    boot this kernel instead of /boot/vmlinuz-KVER (a
#                        kernel that is not installed: make check-debug)
#   QEMU_MEM=1024        the guest's memory, MiB
#   BOOT_TRIES=1         boots that may stall before /init (see boot)
#   LIBRESWAN_SUITE=     whose libreswan goes into the guest (see initramfs)
#   BENCH_UPSTREAM=0     make bench without the reference kernel's run

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$root/build}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1800}
# other releases' chroots and kernels (tests/host/release-chroot.sh)
RELEASE_CACHE=${ESPINTCP_CACHE:-/var/cache/espintcp}
MAKE=${MAKE:-make}

say() { printf '%s\n' "$*" >&2; }
die() { say "$(basename "$0"): $*"; exit 1; }

setup() {
	if [ "${NO_SETUP:-0}" != 1 ]; then
		"$root/tests/host/setup.sh" >&2 || die "tests/host/setup.sh failed"
	fi
	[ -s "$BUILD/matrix" ] || die "$BUILD/matrix is missing or empty: run tests/host/setup.sh"
}

matrix() { grep -v '^[[:space:]]*$' "$BUILD/matrix"; }

build_tests() {
	[ "${NO_BUILD:-0}" = 1 ] || "$MAKE" -C "$root" tests >&2
}

build_module() { # KVER
	[ "${NO_BUILD:-0}" = 1 ] || "$MAKE" -C "$root" KVER="$1" >&2
	[ -f "$BUILD/$1/espintcp.ko" ]
}

build_kmod() { # KVER
	[ "${NO_BUILD:-0}" = 1 ] || "$MAKE" -C "$root" test-kmod KVER="$1" >&2
	[ -f "$BUILD/$1/kmod/fake_espintcp.ko" ]
}

# QEMU with KVM hangs or aborts on some of the machines this runs on, so
# KVM is used only when a trivial boot (no initrd: the kernel panics at once
# and -no-reboot exits) finishes quickly under it.
accel_args() { # KVER
	local a=${QEMU_ACCEL:-}
	if [ -z "$a" ]; then
		a=tcg
		if [ -w /dev/kvm ] && probe_kvm "$1"; then a=kvm; fi
		QEMU_ACCEL=$a
		say "qemu: using $a"
	fi
	case $a in
	kvm) echo "-accel kvm -cpu host" ;;
	*) echo "-accel tcg -cpu max" ;;
	esac
}

probe_kvm() { # KVER
	local log rc=0
	log=$(mktemp)
	qemu_lock timeout 10 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults \
		-display none -no-reboot -serial "file:$log" \
		-kernel "${KERNEL_IMAGE:-/boot/vmlinuz-$1}" -append "console=ttyS0 panic=-1" \
		>/dev/null 2>&1 || rc=$?
	grep -q 'Kernel panic' "$log" && [ "$rc" = 0 ] || rc=1
	rm -f "$log"
	return "$rc"
}

# LIBRESWAN_SUITE=SUITE puts that release's libreswan into the guest (the
# host's where it cannot be had), =none none
initramfs() { # KVER [ESPINTCP_KO] -> path of the image
	local out="$BUILD/qemu/$1/initramfs.cpio.gz" ls='' suite=${LIBRESWAN_SUITE:-}
	mkdir -p "$(dirname "$out")"
	if [ -n "$suite" ] && [ "$suite" != none ] &&
		! ls=$("$root/tests/qemu/libreswan.sh" "$suite"); then
		say "no libreswan of $suite: the host's goes into the guest"
	fi
	[ "$suite" = none ] || [ -n "$ls" ] ||
		ls=$("$root/tests/qemu/libreswan.sh" 2>/dev/null) || true
	LIBRESWAN_ROOT=$ls \
		"$root/tests/qemu/mkinitramfs.sh" "$1" "${2:-$BUILD/$1/espintcp.ko}" \
		"$BUILD/tests" "$out" "$BUILD/$1/kmod" >&2
	echo "$out"
}

# One QEMU at a time on this machine (2 cores), whichever checkout runs it.
qemu_lock() { # CMD...
	local lock=/tmp/espintcp-qemu.lock
	if ! flock -n "$lock" true; then
		say "qemu: waiting for another QEMU run to finish ($lock)"
	fi
	flock "$lock" "$@"
}

# Boots KVER with the given initramfs; the guest's report (serial port 1)
# comes out on stdout, the kernel console goes to CONSOLE_LOG. MODE is
# "test" or "demo" (passed to the guest init on the kernel command line);
# BOOT_ARGS adds to the kernel command line.
#
# With BOOT_TRIES=N above 1, a boot whose kernel has not started /init
# BOOT_STALL seconds (default 300) after QEMU started is killed and made
# again, up to N boots in all; the stalled console is kept as
# CONSOLE_LOG.stalled-TRY. Nothing of the guest has run by then. (The
# debug kernel needs it: see check-debug.sh.)
boot() { # KVER INITRD MODE CONSOLE_LOG
	local accel try=1 watch crashed=0
	accel=$(accel_args "$1")
	rm -f "$4".stalled-* "$4".crashed
	while :; do
		# the watcher must not read an earlier boot's console
		rm -f "$4" "$4.stall"
		watch=
		if [ "${BOOT_TRIES:-1}" -gt 1 ]; then
			boot_watch "$4" "${BOOT_STALL:-300}" &
			watch=$!
		fi
		# shellcheck disable=SC2086
		qemu_lock timeout --foreground -k 10 "$QEMU_TIMEOUT" \
			qemu-system-x86_64 $accel -m "${QEMU_MEM:-1024}" -smp 2 \
			-nodefaults -nographic -no-reboot \
			-serial "file:$4" -serial stdio \
			-kernel "${KERNEL_IMAGE:-/boot/vmlinuz-$1}" -initrd "$2" \
			-append "console=ttyS0 panic=-1 panic_on_warn=1 oops=panic softlockup_panic=1 harness=$3 ${BOOT_ARGS:-}" \
			</dev/null | tr -d '\r'
		[ -z "$watch" ] || kill "$watch" 2>/dev/null || true
		# A kernel that died before it started /init ran nothing of
		# the tests' (the module is not in it yet): under TCG, Debian's
		# 6.12 once took an int3 Oops in early boot while patching a
		# static key. It boots again, once; the dead boot's console is
		# kept as CONSOLE_LOG.crashed.
		if [ "$crashed" = 0 ] && died_before_init "$4"; then
			crashed=1
			mv "$4" "$4.crashed"
			echo "# the kernel died before /init ($(grep -a -m1 -E 'Oops|BUG|Kernel panic' "$4.crashed" | tr -d '\r')); booting again"
			continue
		fi
		[ -f "$4.stall" ] && [ "$try" -lt "${BOOT_TRIES:-1}" ] || break
		mv "$4" "$4.stalled-$try"
		echo "# boot $try stalled before /init (last console line: $(tail -n 1 "$4.stalled-$try")); booting again"
		try=$((try + 1))
	done
	rm -f "$4.stall"
}

died_before_init() { # CONSOLE_LOG
	! grep -aq 'Run /init as init process' "$1" &&
		grep -aq 'Kernel panic' "$1"
}

# Kills the QEMU writing CONSOLE_LOG, leaving CONSOLE_LOG.stall, unless its
# kernel starts /init within SECONDS (the wait for the QEMU lock excluded).
boot_watch() { # CONSOLE_LOG SECONDS
	local i=0 pid
	until pid=$(qemu_writing "$1"); do sleep 1; done
	while [ "$i" -lt "$2" ]; do
		grep -aq 'Run /init as init process' "$1" 2>/dev/null && return 0
		sleep 1
		i=$((i + 1))
	done
	touch "$1.stall"
	kill "$pid" 2>/dev/null || true
}

qemu_writing() { # CONSOLE_LOG: the pid of the QEMU whose console it is
	local pid
	for pid in $(pgrep -x qemu-system-x86); do
		tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null |
			grep -qF -- "file:$1 " && echo "$pid" && return 0
	done
	return 1
}

# Kernel console lines that mean trouble. Only kernel messages (they carry
# a timestamp) count: the guest init echoes test output to the console too.
bad_console_line='^\[ *[0-9]+\.[0-9]+\] .*(Kernel panic|WARNING:|BUG:|BUG [^ ]+ \(|Oops|general protection|Call Trace|UBSAN|KASAN|refcount_t|possible circular|lockdep|leak)'
# Lines that match it but are not trouble: kmemleak's own notes (its
# findings are judged by tests/guest/99-kmemleak.sh), lockdep's note that
# RCU is checked too (debug kernels), the kernel echoing its command line
# (which may name 99-kmemleak.sh).
benign_console_line='kmemleak: (Kernel memory leak detector initialized|[0-9]+ new suspected memory leaks)|RCU lockdep checking is enabled|(Kernel command line|Command line): |Unknown kernel command line parameters'

# The kernel console's trouble, with some context; fails if there is none.
console_trouble() { # CONSOLE_LOG
	grep -aE "$bad_console_line" "$1" | grep -aqvE "$benign_console_line" || return 1
	grep -aE -B2 -A10 "$bad_console_line" "$1" | grep -avE "$benign_console_line"
}
