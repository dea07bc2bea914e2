# SPDX-License-Identifier: GPL-2.0
#
# make [KVER=<release> | KDIR=<headers>]   build build/<release>/espintcp.ko
# make tests                               build the guest test programs
# make test-kmod [KVER=...]                build the guest's test-only modules
# make check                               the test suite in QEMU: every Debian kernel,
#                                          the full suite on Debian 13's and the newest
#                                          7.x, a smoke set on the others
# make check-all                           the full suite on every kernel
# make check-debug                         the guest suite on a KASAN/lockdep/kmemleak kernel
# make run                                 the demo: 6.1 in QEMU, IKE over TCP
# make bench                               IKE latency under load, throughput and CPU per MB
#                                          by encapsulation, 1000 connections; 6.1, then
#                                          upstream on the reference kernel; build/bench/
# make interop                             against upstream espintcp (also in check)
# make fuzz [DURATION=300] [SEED=n] [KVER=] [KIND=reader]  the fuzzer alone, longer than in check
# make lint                                checkpatch --strict and sparse
# make deb                                 build/deb/espintcp-dkms_<version>_all.deb
# make dkms-install / dkms-remove          the module through dkms, from this tree

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := build/$(KVER)
SRCS := Kbuild $(wildcard src/*.c include/*.h)
# the package version: debian/changelog here, a VERSION file in the
# source tree the package installs under /usr/src
VERSION ?= $(shell cat VERSION 2>/dev/null || \
	     sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)

all: module

# Kbuild writes its objects next to the sources; one copy of the tree per
# kernel lets several kernels be built from one checkout. Kbuild tracks
# what needs rebuilding, so it always runs.
module:
	@scripts/kconfig-check.sh $(KDIR)
	@mkdir -p $(BUILD)/generated
	@cp -pu --parents $(SRCS) $(BUILD)/
	@echo '$(VERSION)' > $(BUILD)/generated/version.tmp
	@cmp -s $(BUILD)/generated/version.tmp $(BUILD)/generated/VERSION || \
		mv $(BUILD)/generated/version.tmp $(BUILD)/generated/VERSION
	@scripts/gen-features.sh $(KDIR) > $(BUILD)/generated/features.tmp
	@cmp -s $(BUILD)/generated/features.tmp $(BUILD)/generated/espintcp_features.h || \
		mv $(BUILD)/generated/features.tmp $(BUILD)/generated/espintcp_features.h
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(BUILD) $(if $(W),W=$(W)) $(if $(C),C=$(C)) modules

# test-only modules, for the guest
test-kmod:
	@mkdir -p $(BUILD)/kmod
	@cp -pu tests/kmod/Kbuild tests/kmod/*.c $(BUILD)/kmod/
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(BUILD)/kmod modules

# the programs the guest runs: tests/guest/*.c, and interop's IKE node
TEST_SRCS := $(wildcard tests/guest/*.c tests/interop/*.c)
TEST_BINS := $(addprefix build/tests/,$(basename $(notdir $(TEST_SRCS))))
TEST_LIB := tests/guest/lib
# the C suites: $(TEST_LIB)/harness.c's helpers and suite.c's main()
SUITE_BINS := build/tests/ulp_test build/tests/esp_stream_test
# other programs on the helpers alone
HARNESS_BINS := build/tests/fuzz build/tests/rx_context

tests: $(TEST_BINS)

vpath %.c tests/guest tests/interop

build/tests/%: %.c $(wildcard $(TEST_LIB)/*.h)
	@mkdir -p build/tests
	$(CC) -O2 -g -Wall -Wextra -static -o $@ $<

$(SUITE_BINS): build/tests/%: %.c $(TEST_LIB)/harness.c $(TEST_LIB)/suite.c $(wildcard $(TEST_LIB)/*.h)
	@mkdir -p build/tests
	$(CC) -O2 -g -Wall -Wextra -static -o $@ $< $(TEST_LIB)/harness.c $(TEST_LIB)/suite.c

$(HARNESS_BINS): build/tests/%: %.c $(TEST_LIB)/harness.c $(wildcard $(TEST_LIB)/*.h)
	@mkdir -p build/tests
	$(CC) -O2 -g -Wall -Wextra -static -pthread -o $@ $< $(TEST_LIB)/harness.c

check:
	tests/qemu/check.sh

check-all:
	CHECK_ALL=1 tests/qemu/check.sh

# tests/qemu/debug-kernel.sh builds the kernel on the first run (cached)
check-debug:
	tests/qemu/check-debug.sh

run:
	tests/qemu/run.sh

bench:
	tests/qemu/run.sh bench

interop:
	tests/interop/interop.sh

DURATION ?= 300
FUZZ_KVER = $(if $(filter command line,$(origin KVER)),$(KVER),$(shell head -n 1 build/matrix 2>/dev/null))
fuzz:
	BOOT_ARGS="fuzz_seconds=$(DURATION) script_timeout=$$(($(DURATION) + 180)) $(if $(KIND),fuzz_kind=$(KIND) )fuzz_seed=$(or $(SEED),$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '))" \
	QEMU_TIMEOUT=$$(($(DURATION) + 300)) \
		tests/qemu/run-scripts.sh $(FUZZ_KVER) tests/guest/60-fuzz.sh

lint:
	tests/host/lint.sh

# dpkg-buildpackage writes to the parent directory: build from a copy
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	git ls-files -z | xargs -0 cp --parents -t build/deb/src
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	ls build/deb/*.deb

DKMS_SRC := /usr/src/espintcp-$(VERSION)
# what the DKMS source tree holds besides dkms.conf (debian/rules asks
# make dkms-files for it too)
DKMS_FILES := Makefile Kbuild src include scripts/gen-features.sh \
	      scripts/kconfig-check.sh

dkms-files:
	@echo $(DKMS_FILES)

dkms-install:
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	cp -r --parents $(DKMS_FILES) dkms.conf $(DKMS_SRC)/
	echo '$(VERSION)' > $(DKMS_SRC)/VERSION
	sed -i 's/#MODULE_VERSION#/$(VERSION)/' $(DKMS_SRC)/dkms.conf
	dkms add espintcp/$(VERSION)
	@# every kernel with headers; 77: dkms.conf excludes that kernel
	for k in $$(ls /lib/modules); do \
		[ -e /lib/modules/$$k/build/.config ] || continue; \
		dkms install espintcp/$(VERSION) -k $$k || [ $$? = 77 ] || exit 1; \
	done

dkms-remove:
	dkms remove espintcp/$(VERSION) --all
	rm -rf $(DKMS_SRC)

clean:
	rm -rf build

.PHONY: all module test-kmod tests check check-all check-debug run bench interop fuzz lint deb dkms-files dkms-install dkms-remove clean
