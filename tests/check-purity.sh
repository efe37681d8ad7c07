#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lib/ and the wire codec must stay pure: no clock, socket, file, print or
# process-global state. Two judges: the sources may not include headers that
# bring I/O or clocks, and the compiled archives may not call anything outside
# an allowlist of memory, string and math functions (plus protobuf-c and
# libsodium for the codec).
# usage: check-purity.sh SOURCE_ROOT LIBTITA.a LIBTITA_WIRE.a
set -euo pipefail

root=$1
libtita=$2
libwire=$3
fail=0

forbidden_includes='stdio\.h|time\.h|unistd\.h|fcntl\.h|pthread\.h|signal\.h|syslog\.h|dirent\.h|poll\.h|sys/|netinet/|arpa/|net/|linux/|bpf/|systemd/|microhttpd|ibverbs|libmnl|netlink'
lib_only_forbidden='protobuf-c|sodium'

check_includes() {
	local pattern=$1
	shift
	local hits
	hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" "$@" || true)
	if [ -n "$hits" ]; then
		echo "purity: forbidden include:"
		echo "$hits"
		fail=1
	fi
}

lib_sources=("$root"/lib/*.c "$root"/lib/tita/*.h)
wire_sources=("$root"/proto/wire.c "$root"/proto/wire.h)
check_includes "$forbidden_includes" "${lib_sources[@]}" "${wire_sources[@]}"
check_includes "$lib_only_forbidden" "${lib_sources[@]}"

# Calls out of the archives. Symbols defined in either archive are fine.
allowed_libc='^(memcpy|memmove|memset|memcmp|bcmp|memchr|strlen|strnlen|strcmp|strncmp|strchr|strrchr|malloc|calloc|realloc|free|qsort|bsearch|__errno_location|__stack_chk_fail|__assert_fail|__memcpy_chk|__memset_chk|__memmove_chk)$'
allowed_math='^(floor|ceil|fabs|fmin|fmax|sqrt|log|log2|exp|exp2|pow|round|lround|llround|trunc|modf|isnan|isinf|__isnan|__isinf|__fpclassify)$'
allowed_tooling='^(__asan_|__ubsan_|__sanitizer_|__sancov_|__start___sancov|__stop___sancov|__msan_|__tsan_|__llvm_|__gcov_|_GLOBAL_OFFSET_TABLE_$)'
allowed_wire='^(protobuf_c_|crypto_|sodium_)'

defined=$( (nm --defined-only "$libtita" "$libwire" 2>/dev/null || true) | awk 'NF==3 {print $3}' | sort -u)

check_archive() {
	local archive=$1 extra=$2 sym bad=""
	while read -r sym; do
		[ -n "$sym" ] || continue
		grep -qxF "$sym" <<<"$defined" && continue
		[[ $sym =~ $allowed_libc || $sym =~ $allowed_math || $sym =~ $allowed_tooling ]] && continue
		[ -n "$extra" ] && [[ $sym =~ $extra ]] && continue
		bad+="$sym "
	done < <(nm -u "$archive" | awk 'NF>=2 {print $2}' | sort -u)
	if [ -n "$bad" ]; then
		echo "purity: $(basename "$archive") calls what it may not: $bad"
		fail=1
	fi
}

check_archive "$libtita" ""
check_archive "$libwire" "$allowed_wire"

if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "purity: lib/ and the wire codec call only memory, string and math functions (and protobuf-c, libsodium)"
