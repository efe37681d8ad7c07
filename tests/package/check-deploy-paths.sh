#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every path the deployment files name (deploy/container/Containerfile,
# deploy/kubernetes/*.yaml, comments included) is one the Debian package
# installs, or one of the few listed here that the package does not ship,
# each with its reason. Paths are defined once, by meson's install
# directories; this holds the deployment files to what the built package
# really contains (dpkg-deb -c), so a path that moves fails here.
#   check-deploy-paths.sh TITA.deb SOURCE_ROOT
set -euo pipefail

deb=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Not from the package (glob patterns):
not_packaged=(
	'/etc/tita/cluster.key'     # the site's secret, from a Secret
	'/run/tita'                 # titad's sockets, on the host
	'/run/tita/*'               # ... and the agent the init container copies there
	'/var/lib/tita'             # titad's state (the boot id), on the host
	'/sys' '/sys/fs/bpf'        # kernel file systems, from the host
	'/proc/*'                   # (in comments)
	'/metrics'                  # titad's HTTP path
	'/tmp/' '/tmp/tita_*.deb'   # the Containerfile's copy of the .deb
	'/var/lib/apt/lists/*'      # apt's, emptied in the image
	'/bin/sh'                   # the base image's shell
	'/path/to/cluster.key'      # a placeholder in an instruction
)

dpkg-deb -c "$deb" | awk '{ sub(/^\./, "", $6); sub(/\/$/, "", $6); print $6 }' >"$work/files"
[ -s "$work/files" ] || { echo "check-deploy-paths.sh: empty file list from $deb" >&2; exit 1; }

files=("$src"/deploy/container/Containerfile "$src"/deploy/kubernetes/*.yaml)
# Absolute paths: a slash not preceded by a word character, '.', ':' or '/'
# (so no URLs, API groups or "apps/v1").
grep -oP '(?<![\w.:/])/[\w.*-]+(?:/[\w.*<>-]+)*/?' "${files[@]}" | sort -u >"$work/paths"
[ -s "$work/paths" ] || { echo "check-deploy-paths.sh: no paths found in ${files[*]}" >&2; exit 1; }

fail=0
n=0
while IFS=: read -r file path; do
	n=$((n + 1))
	for pattern in "${not_packaged[@]}"; do
		# shellcheck disable=SC2053
		[[ $path == $pattern ]] && continue 2
	done
	bare=${path%/}
	found=
	while read -r f; do
		# shellcheck disable=SC2053
		if [[ $f == $bare ]]; then
			found=$f
			break
		fi
	done <"$work/files"
	if [ -z "$found" ]; then
		echo "check-deploy-paths.sh: ${file#"$src"/} names $path, which $(basename "$deb") does not install" >&2
		fail=1
	fi
done <"$work/paths"
[ "$fail" -eq 0 ] && echo "check-deploy-paths.sh: $n paths in the deployment files, each installed by $(basename "$deb") or listed as not packaged"
exit "$fail"
