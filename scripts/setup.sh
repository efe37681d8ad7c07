#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install everything tita needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are left alone; bpffs is mounted only
# when absent, as systemd would mount it.
set -euo pipefail

packages=(
	build-essential pkg-config meson ninja-build git
	clang llvm lld libclang-rt-14-dev
	libbpf-dev bpftool libelf-dev zlib1g-dev
	protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
	libsodium-dev libcmocka-dev
	libnl-3-dev libnl-route-3-dev libmnl-dev
	libsystemd-dev libibverbs-dev libinih-dev
	liblldpctl-dev lldpd
	iproute2 ethtool nftables tshark python3-scapy python3 python3-yaml curl
	prometheus gnuplot-nox
	clang-format
	scdoc bash-completion debhelper dpkg-dev fakeroot
)

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (it installs packages with apt-get)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	# tshark asks whether non-root users may capture; answer before it asks.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi

# prometheus's package starts a server on install; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
	systemctl stop prometheus || true
fi

# lldpd's package starts it on install; the LLDP test runs its own in
# namespaces, and a development machine needs none announcing itself.
if command -v systemctl >/dev/null && systemctl is-active --quiet lldpd 2>/dev/null; then
	systemctl stop lldpd || true
fi

if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpffs /sys/fs/bpf
fi
