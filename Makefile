# SPDX-License-Identifier: GPL-2.0
#
# make [KVER=<release> | KDIR=<headers>]   build build/<release>/espintcp.ko
# make tests                               build the guest test programs
# make check                               the test suite, every kernel, in QEMU
# make run                                 the demo: 6.1 in QEMU, IKE over TCP
# make bench                               IKE latency under ESP load, 6.1
# make lint                                checkpatch --strict and sparse

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := build/$(KVER)
SRCS := Kbuild $(wildcard src/*.c include/*.h)

all: module

# Kbuild writes its objects next to the sources; one copy of the tree per
# kernel lets several kernels be built from one checkout. Kbuild tracks
# what needs rebuilding, so it always runs.
module:
	@mkdir -p $(BUILD)/generated
	@cp -pu --parents $(SRCS) $(BUILD)/
	@scripts/gen-features.sh $(KDIR) > $(BUILD)/generated/features.tmp
	@cmp -s $(BUILD)/generated/features.tmp $(BUILD)/generated/espintcp_features.h || \
		mv $(BUILD)/generated/features.tmp $(BUILD)/generated/espintcp_features.h
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(BUILD) $(if $(W),W=$(W)) $(if $(C),C=$(C)) modules

TEST_SRCS := $(wildcard tests/*.c)
TEST_BINS := $(patsubst tests/%.c,build/tests/%,$(TEST_SRCS))

tests: $(TEST_BINS)

build/tests/%: tests/%.c $(wildcard tests/*.h)
	@mkdir -p build/tests
	$(CC) -O2 -g -Wall -Wextra -static -o $@ $<

check:
	tests/qemu/check.sh

run:
	tests/qemu/run.sh

bench:
	tests/qemu/run.sh bench

lint:
	scripts/lint.sh

clean:
	rm -rf build

.PHONY: all module tests check run bench lint clean
