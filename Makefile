# SPDX-License-Identifier: GPL-2.0
#
# shmdev: `make` builds the module for KDIR (the running kernel by default),
# `make check` runs every test in QEMU on the kernel matrix, `make demo`
# shows two processes sharing a segment. See README.md.

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(shell pwd)

.PHONY: all modules clean check demo examples selftests help

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || true
	$(MAKE) -C selftests clean
	$(MAKE) -C userspace/examples clean
	rm -rf build

selftests:
	$(MAKE) -C selftests

examples:
	$(MAKE) -C userspace/examples

EXAMPLES := userspace/examples

# make demo: in a QEMU VM (nothing touches the running kernel);
# make demo HOST=1: on the running kernel, loading the module if needed.
ifeq ($(HOST),1)
demo: modules examples
	@if [ ! -e /dev/shmdev ]; then insmod module/shmdev.ko; fi
	DEMO_BIN=$(EXAMPLES) scripts/demo.sh
else
demo: examples
	scripts/vm-run.sh -a $(EXAMPLES)/demo-producer:/opt/demo-producer \
		-a $(EXAMPLES)/demo-consumer:/opt/demo-consumer scripts/demo.sh
endif

check:
	scripts/vm-check.sh

help:
	@echo "make [KDIR=...]   build module/shmdev.ko"
	@echo "make check        run all tests in QEMU on Debian's 6.1 and 6.12 kernels"
	@echo "make demo         two processes share a segment (in QEMU; HOST=1 on this kernel)"
