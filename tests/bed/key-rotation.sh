#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A rolling rotation of the cluster key, as docs/hardening.md tells
# operators to do it, with traffic flowing: h1 and h2 send to h3, paced by
# its grants, while every host, one after the other and with a reload each
# time,
#
#   1. adds the new key (id 2) to its key file, next to the old one (id 1);
#   2. sends with the new key (key-id = 2);
#   3. drops the old key.
#
#   - after each step, `titactl status` shows the keys each host accepts and
#     the one it sends with;
#   - no sender's pair is ever unpaced during the rotation (titactl, looked
#     at every ~20 ms), and no datagram is dropped for an unknown key;
#   - a flag day (one host sends with a key the others do not hold) is seen:
#     its datagrams are dropped as unknown_key_id and its pair fails open,
#     which is what the rolling steps avoid.
#
# Usage: key-rotation.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad

bed up --hosts 3 --titad >/dev/null
pid_of() { cat "$state/$1.pid"; }
reload() { # host: SIGHUP, then wait until titad has read the file (its log says)
	local before
	before=$(grep -c 'reloaded\|reload rejected' "$state/$1.log" || true)
	kill -HUP "$(pid_of "$1")"
	for _ in $(seq 50); do
		[ "$(grep -c 'reloaded\|reload rejected' "$state/$1.log" || true)" -gt "$before" ] && return 0
		sleep 0.05
	done
	return 1
}
keys_of() { # host → "sends accepted,..." from titactl status
	"$titactl" -s "$state/$1.sock" -j status |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["key_id"], ",".join(str(k) for k in d.get("key_ids", [])))'
}
drops_unknown_key() {
	local n=0 h
	for h in h1 h2 h3; do
		n=$((n + $(bed metrics "$h" | awk '/^tita_peer_datagrams_dropped_total\{reason="unknown_key_id"\}/ { print $2 }')))
	done
	echo "$n"
}

# Each host its own key file (the bed shares one), with the old key as id 1.
old=$(cat "$state/cluster.key")
new=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for h in h1 h2 h3; do
	(umask 077 && printf '# cluster key, rotation under test\n1 %s\n' "$old" >"$state/$h.key")
	sed -i "s|^key-file = .*|key-file = $state/$h.key\nkey-id = 1|" "$state/$h.conf"
	reload "$h"
done
check "every host accepts key 1 and sends with it ($(keys_of h1); $(keys_of h2); $(keys_of h3))" \
	[ "$(keys_of h1) $(keys_of h2) $(keys_of h3)" = "1 1 1 1 1 1" ]

bg h3 "$gen" sink --duration 40s --idle 5s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.3,rate=20M --duration 30s >/dev/null
bg h2 "$gen" send 10.77.0.3,rate=20M --duration 30s >/dev/null
t1=$(poll h1 "pairs role tx" "$(paced 10.77.0.3)" 5000)
t2=$(poll h2 "pairs role tx" "$(paced 10.77.0.3)" 5000)
check "h1 and h2 are paced by h3 ($t1 ms, $t2 ms)" test "$t1" != timeout -a "$t2" != timeout
sleep 0.5

# ---- the rotation, host by host, with traffic ----------------------------------------
python3 "$src/tests/bed/watch.py" "$titactl" 9 "$work/watch.json" \
	"$state/h1.sock:10.77.0.3" "$state/h2.sock:10.77.0.3" &
watcher=$!
sleep 0.5
ok_steps=0
for h in h1 h2 h3; do
	printf '2 %s\n' "$new" >>"$state/$h.key"
	reload "$h" && ok_steps=$((ok_steps + 1))
	sleep 0.5
done
check "step 1: every host accepts keys 1 and 2, sends with 1 ($(keys_of h1); $(keys_of h2); $(keys_of h3))" \
	[ "$ok_steps $(keys_of h1) $(keys_of h2) $(keys_of h3)" = "3 1 1,2 1 1,2 1 1,2" ]
for h in h1 h2 h3; do
	sed -i 's/^key-id = 1$/key-id = 2/' "$state/$h.conf"
	reload "$h"
	sleep 0.5
done
check "step 2: every host sends with key 2 ($(keys_of h1); $(keys_of h2); $(keys_of h3))" \
	[ "$(keys_of h1) $(keys_of h2) $(keys_of h3)" = "2 1,2 2 1,2 2 1,2" ]
for h in h1 h2 h3; do
	(umask 077 && printf '2 %s\n' "$new" >"$state/$h.key")
	reload "$h"
	sleep 0.5
done
check "step 3: every host accepts key 2 only ($(keys_of h1); $(keys_of h2); $(keys_of h3))" \
	[ "$(keys_of h1) $(keys_of h2) $(keys_of h3)" = "2 2 2 2 2 2" ]
wait "$watcher"
echo "# watched: $(cat "$work/watch.json")"
read -r s1 u1 s2 u2 <<<"$(jget "$work/watch.json" '" ".join(str(v[k]) for v in d.values() for k in ("samples", "unpaced"))')"
check "no sender was unpaced during the rotation (h1: $u1 of $s1 looks, h2: $u2 of $s2)" \
	awk_true 'a == 0 && b == 0 && s > 50 && t > 50' a="$u1" b="$u2" s="$s1" t="$s2"
check "no datagram was dropped for an unknown key ($(drops_unknown_key))" [ "$(drops_unknown_key)" -eq 0 ]
t=$(poll h1 "pairs role tx" "$(paced 10.77.0.3)" 2000)
check "h1 is still paced after the rotation ($t ms)" [ "$t" != timeout ]

# ---- what the steps avoid: a flag day ---------------------------------------------------
(umask 077 && printf '3 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$state/h1.key")
sed -i 's/^key-id = 2$/key-id = 3/' "$state/h1.conf"
t=$(poll h1 "pairs role tx" "$(unpaced 10.77.0.3)" 3000 "kill -HUP $(pid_of h1)")
check "a flag day unpaces h1 (after $t ms)" [ "$t" != timeout ]
check "and h3 drops its datagrams for an unknown key ($(drops_unknown_key))" [ "$(drops_unknown_key)" -gt 0 ]

finish
