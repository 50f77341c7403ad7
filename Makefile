# SPDX-License-Identifier: GPL-2.0
#
# shmdev: `make` builds the module for KDIR (the running kernel by default),
# `make check` runs every test in QEMU on the kernel matrix, `make demo`
# runs the examples (a message ring, a robust-mutex table, fd passing, rings
# in epoll and io_uring event loops), `make bench` the benchmarks (QEMU, each
# kernel of the matrix). See README.md.

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(shell pwd)

# The one version of module, library, tool, dkms.conf and Debian packages.
VERSION := $(strip $(shell cat '$(PWD)/VERSION'))

.PHONY: all modules clean check demo examples selftests bench soak help

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
# The programs scripts/demo.sh runs.
DEMO_PROGS := ring-producer ring-consumer table-writer table-reader fdpass-demo \
	ring-epoll ring-uring

# make demo: in a QEMU VM (nothing touches the running kernel);
# make demo HOST=1: on the running kernel, loading the module if needed.
ifeq ($(HOST),1)
demo: modules examples
	@if [ ! -e /dev/shmdev ]; then insmod module/shmdev.ko; fi
	DEMO_BIN=$(EXAMPLES) scripts/demo.sh
else
demo: examples
	scripts/vm-run.sh $(foreach p,$(DEMO_PROGS),-a $(EXAMPLES)/$(p):/opt/$(p)) \
		scripts/demo.sh
endif

check:
	scripts/vm-check.sh

# make bench: shmdev_bench in QEMU on each kernel of the matrix, a report
# against the baselines in bench/results/ (which it then updates).
# BENCH_FLAGS passes options to scripts/bench.sh: -q (quick), -r N (rounds),
# -n (keep the baselines), -b PATH (another baseline).
bench:
	scripts/bench.sh $(BENCH_FLAGS)

# make soak: the stress program and the fuzzer in turns, in QEMU, for
# SOAK_SECS on SOAK_KERNEL (an entry of the matrix), with a summary line.
# Not part of make check.
SOAK_KERNEL ?= sid
SOAK_SECS ?= 1800
soak:
	scripts/soak.sh -k $(SOAK_KERNEL) -t $(SOAK_SECS)

help:
	@echo "make [KDIR=...]   build module/shmdev.ko"
	@echo "make install      module (for KDIR), library, headers, shmdev-ctl, udev rule,"
	@echo "                  modprobe.d/modules-load.d files [PREFIX=/usr/local DESTDIR=]"
	@echo "make dkms-install module sources to DKMS, built for KVER (the running kernel),"
	@echo "                  udev rule, modprobe.d/modules-load.d files"
	@echo "make install-userspace   library, headers, pkg-config, man pages, shmdev-ctl"
	@echo "make uninstall, make dkms-uninstall   undo the above"
	@echo "make deb          Debian packages into build/deb/"
	@echo "make pkg-check    DKMS, install, package and udev tests (TAP)"
	@echo "make check        run all tests in QEMU on the kernel matrix [KERNELS=\"6.1 sid debug ...\"]"
	@echo "make demo         the examples: a message ring, a robust-mutex table, fd passing, rings in"
	@echo "                  epoll and io_uring event loops (in QEMU; HOST=1 on this kernel)"
	@echo "make soak         stress and fuzzing in QEMU for a long time [SOAK_KERNEL=sid SOAK_SECS=1800]"
	@echo "make bench        benchmarks against memfd, shm_open, SysV, pipes in QEMU on 6.1 and 6.12, report"
	@echo "                  into build/bench/, new baselines in bench/results/ [BENCH_FLAGS='-q -r N -n']"

# ---------------------------------------------------------------------------
# Installation. PREFIX and DESTDIR apply to the library and the tool (see
# userspace/Makefile); the module goes to /lib/modules/KRELEASE/updates and
# the configuration files under SYSCONFDIR (udev rules: UDEVRULESDIR).
# KVER names the kernel for DKMS (default: the running kernel); KRELEASE is
# the release of the kernel in KDIR (its utsrelease.h, which Debian's 6.1
# headers get right and their kernel.release does not).

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UDEVRULESDIR ?= $(SYSCONFDIR)/udev/rules.d
MODPROBEDIR ?= $(SYSCONFDIR)/modprobe.d
MODULESLOADDIR ?= $(SYSCONFDIR)/modules-load.d
KVER ?= $(shell uname -r)
KRELEASE = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' \
	'$(KDIR)/include/generated/utsrelease.h' 2>/dev/null)
INSTALL ?= install
DKMS_SRC = $(DESTDIR)/usr/src/shmdev-$(VERSION)
# The group that the udev rule gives /dev/shmdev to.
SHMDEV_GROUP := shmdev

.PHONY: install uninstall install-module uninstall-module install-userspace \
	uninstall-userspace install-data uninstall-data install-dkms-source \
	dkms-install dkms-uninstall deb pkg-check

install: install-module install-userspace install-data

uninstall: uninstall-data uninstall-userspace uninstall-module

install-userspace:
	$(MAKE) -C userspace install PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)'

uninstall-userspace:
	$(MAKE) -C userspace uninstall PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)'

# The module for KDIR into lib/modules/KRELEASE/updates (compressed if the
# kernel compresses its modules); depmod when installing into the system.
install-module: modules
	@test -n '$(KRELEASE)' || { echo 'no kernel headers in KDIR=$(KDIR)' >&2; exit 1; }
	$(MAKE) -C '$(KDIR)' M='$(PWD)' KERNELRELEASE='$(KRELEASE)' \
		INSTALL_MOD_PATH='$(DESTDIR)' INSTALL_MOD_DIR=updates modules_install
	$(if $(DESTDIR),,depmod -a '$(KRELEASE)')

uninstall-module:
	@test -n '$(KRELEASE)' || { echo 'no kernel headers in KDIR=$(KDIR)' >&2; exit 1; }
	rm -f '$(DESTDIR)/lib/modules/$(KRELEASE)/updates/module/shmdev.ko'* \
		'$(DESTDIR)/lib/modules/$(KRELEASE)/updates/shmdev.ko'*
	-rmdir '$(DESTDIR)/lib/modules/$(KRELEASE)/updates/module' 2>/dev/null
	$(if $(DESTDIR),,depmod -a '$(KRELEASE)')

# udev rule, modprobe.d example (all commented out) and modules-load.d file.
# Into the system (no DESTDIR) this also creates the group and applies the
# rule to a /dev/shmdev that already exists.
install-data:
	$(INSTALL) -d '$(DESTDIR)$(UDEVRULESDIR)' '$(DESTDIR)$(MODPROBEDIR)' \
		'$(DESTDIR)$(MODULESLOADDIR)'
	$(INSTALL) -m 0644 packaging/udev/60-shmdev.rules '$(DESTDIR)$(UDEVRULESDIR)/'
	$(INSTALL) -m 0644 packaging/modprobe.d/shmdev.conf '$(DESTDIR)$(MODPROBEDIR)/'
	$(INSTALL) -m 0644 packaging/modules-load.d/shmdev.conf '$(DESTDIR)$(MODULESLOADDIR)/'
ifeq ($(DESTDIR),)
	getent group $(SHMDEV_GROUP) >/dev/null || groupadd --system $(SHMDEV_GROUP)
	-if [ -d /run/udev ] && command -v udevadm >/dev/null; then \
		udevadm control --reload && \
		udevadm trigger --action=add --sysname-match=shmdev; fi
endif

# The group stays: users may still be members of it (groupdel shmdev).
uninstall-data:
	rm -f '$(DESTDIR)$(UDEVRULESDIR)/60-shmdev.rules' \
		'$(DESTDIR)$(MODPROBEDIR)/shmdev.conf' \
		'$(DESTDIR)$(MODULESLOADDIR)/shmdev.conf'

# What the module build needs, in DESTDIR/usr/src/shmdev-VERSION, with
# dkms.conf's PACKAGE_VERSION taken from VERSION.
install-dkms-source:
	@test -n '$(VERSION)' || { echo 'cannot read VERSION' >&2; exit 1; }
	rm -rf '$(DKMS_SRC)'
	$(INSTALL) -d '$(DKMS_SRC)/module' '$(DKMS_SRC)/include/uapi/linux'
	$(INSTALL) -m 0644 Kbuild VERSION '$(DKMS_SRC)/'
	sed 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="$(VERSION)"/' dkms.conf \
		>'$(DKMS_SRC)/dkms.conf'
	chmod 0644 '$(DKMS_SRC)/dkms.conf'
	$(INSTALL) -m 0644 module/Kbuild $(wildcard module/*.c module/*.h) \
		'$(DKMS_SRC)/module/'
	$(INSTALL) -m 0644 include/uapi/linux/shmdev.h '$(DKMS_SRC)/include/uapi/linux/'

# Registers the sources with DKMS (replacing an earlier registration of the
# same version) and builds and installs the module for KVER; DKMS rebuilds
# it for every kernel installed later. Needs linux-headers-KVER.
dkms-install:
	@command -v dkms >/dev/null || { echo 'dkms is not installed (apt install dkms)' >&2; exit 1; }
	@test -d '/lib/modules/$(KVER)/build' || { \
		echo 'no headers for kernel $(KVER) in /lib/modules/$(KVER)/build:' \
			'install linux-headers-$(KVER) or give KVER=' >&2; exit 1; }
	if [ -d /var/lib/dkms/shmdev/$(VERSION) ]; then \
		dkms remove -m shmdev -v '$(VERSION)' --all; fi
	$(MAKE) install-dkms-source DESTDIR=
	dkms add -m shmdev -v '$(VERSION)'
	dkms build -m shmdev -v '$(VERSION)' -k '$(KVER)'
	dkms install -m shmdev -v '$(VERSION)' -k '$(KVER)'
	$(MAKE) install-data DESTDIR=

dkms-uninstall: uninstall-data
	if [ -d /var/lib/dkms/shmdev/$(VERSION) ]; then \
		dkms remove -m shmdev -v '$(VERSION)' --all; fi
	rm -rf '/usr/src/shmdev-$(VERSION)'

# Debian packages (shmdev-dkms, libshmdev1, libshmdev-dev, shmdev-utils,
# python3-shmdev) built from a copy of the tree in build/deb/, then lintian.
deb:
	packaging/build-deb.sh

# Host and VM tests of all of the above (TAP); needs root.
pkg-check:
	scripts/pkg-check.sh
