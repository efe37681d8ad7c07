#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The deployment files agree with each other, with the image and with the
project: the ports titad listens on (from the ConfigMap's titad.conf) are
the ones the DaemonSet declares, probes and has scraped, on an address the
probe and Prometheus can reach; the key and config paths titad reads are
where the DaemonSet mounts them; the image tag is the project's version;
every README section the files point to exists.

  check-manifests.py SOURCE_ROOT [--print-config]

With --print-config, print the ConfigMap's titad.conf and exit (for
check-configmap.sh). Which of these paths the package really installs is
tests/package/check-deploy-paths.sh's part."""
import configparser
import ipaddress
import json
import re
import sys
from pathlib import Path

import yaml

root = Path(sys.argv[1])
deploy = root / "deploy"
docs = yaml.safe_load_all((deploy / "kubernetes" / "titad-configmap.yaml").read_text())
configmap = next(d for d in docs if d and d["kind"] == "ConfigMap")
conf_text = configmap["data"]["titad.conf"]
if "--print-config" in sys.argv:
    sys.stdout.write(conf_text)
    sys.exit(0)

ds = next(d for d in yaml.safe_load_all((deploy / "kubernetes" / "titad-daemonset.yaml").read_text())
          if d and d["kind"] == "DaemonSet")
containerfile = (deploy / "container" / "Containerfile").read_text()
fail = []

# titad.conf: inline ';' comments as titad's parser (inih) allows them.
conf = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None,
                                 strict=False)
conf.read_string(conf_text)
get = lambda s, k, d: conf.get(s, k, fallback=d) if conf.has_section(s) else d
listen = get("daemon", "metrics-listen", "127.0.0.1:9977")
peer_port = int(get("peers", "port", "4792"))
key_file = get("peers", "key-file", "/etc/tita/cluster.key")

host, _, port = listen.rpartition(":")
host = host.strip("[]") or "0.0.0.0"
metrics_port = int(port)
if ipaddress.ip_address(host).is_loopback:
    fail.append(f"ConfigMap: metrics-listen {listen} is loopback; the kubelet's probe and "
                "Prometheus connect to the node's address (hostNetwork)")

spec = ds["spec"]["template"]["spec"]
titad = next(c for c in spec["containers"] if c["name"] == "titad")
ports = {p["name"]: p for p in titad["ports"]}
if ports["metrics"]["containerPort"] != metrics_port or ports["metrics"].get("protocol", "TCP") != "TCP":
    fail.append(f"DaemonSet: metrics port {ports['metrics']} is not TCP {metrics_port} (metrics-listen)")
if ports["peers"]["containerPort"] != peer_port or ports["peers"]["protocol"] != "UDP":
    fail.append(f"DaemonSet: peers port {ports['peers']} is not UDP {peer_port} ([peers] port)")
probe = titad["livenessProbe"]["httpGet"]
if probe["port"] not in (metrics_port, "metrics") or probe["path"] != "/metrics" or "host" in probe:
    fail.append(f"DaemonSet: the liveness probe {probe} does not ask titad's /metrics on "
                f"{metrics_port} at the pod's (node's) address")
annotations = ds["spec"]["template"]["metadata"]["annotations"]
if annotations.get("prometheus.io/port") != str(metrics_port):
    fail.append(f"DaemonSet: prometheus.io/port {annotations.get('prometheus.io/port')} "
                f"is not {metrics_port}")

# Where titad reads its files is where they are mounted.
mounts = {m["name"]: m for m in titad["volumeMounts"]}
volumes = {v["name"]: v for v in spec["volumes"]}
entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", containerfile, re.M).group(1))
cmd = json.loads(re.search(r"^CMD (\[.*\])$", containerfile, re.M).group(1))
if "command" in titad or "args" in titad:
    fail.append("DaemonSet: titad's command is the image's (Containerfile ENTRYPOINT/CMD): "
                "do not repeat it")
argv = entry + cmd
conf_path = argv[argv.index("--config") + 1]
if mounts["config"]["mountPath"] != conf_path or mounts["config"]["subPath"] != "titad.conf":
    fail.append(f"DaemonSet: the ConfigMap is mounted at {mounts['config']['mountPath']}, "
                f"titad reads {conf_path}")
if volumes["config"]["configMap"]["name"] != configmap["metadata"]["name"]:
    fail.append("DaemonSet: the config volume does not name the ConfigMap")
if mounts["cluster-key"]["mountPath"] != key_file:
    fail.append(f"DaemonSet: the key is mounted at {mounts['cluster-key']['mountPath']}, "
                f"titad reads {key_file}")
if volumes["cluster-key"]["secret"].get("defaultMode") != 0o400:
    fail.append("DaemonSet: the key must be readable by root only (defaultMode 0400)")
for name, path in (("run-tita", "/run/tita"), ("bpffs", "/sys/fs/bpf")):
    if mounts[name]["mountPath"] != path or volumes[name]["hostPath"]["path"] != path:
        fail.append(f"DaemonSet: {name} is not the host's {path} at {path}")
init = next((c for c in spec.get("initContainers", []) if c["name"] == "agent"), None)
if not init or "/run/tita/libtita-agent.so" not in " ".join(init["command"]) or \
        init["volumeMounts"][0]["mountPath"] != "/run/tita":
    fail.append("DaemonSet: no init container 'agent' that puts the agent in /run/tita")

# The image is this version of tita, in both containers.
version = re.search(r"version: '([^']+)'", (root / "meson.build").read_text()).group(1)
for c in spec["containers"] + spec.get("initContainers", []):
    if not c["image"].endswith(f"/tita/titad:{version}"):
        fail.append(f"DaemonSet: {c['name']}'s image {c['image']} is not tita/titad:{version}")

# README sections the deployment files point to.
headings = {re.sub(r"^#+\s*", "", l).strip()
            for l in (root / "README.md").read_text().splitlines() if l.startswith("#")}
for f in sorted(p for p in deploy.rglob("*") if p.is_file() and p.suffix != ".json"):
    for ref in re.findall(r'README\.md, "([^"]+)"', f.read_text()):
        if ref not in headings:
            fail.append(f"{f.relative_to(root)}: README.md has no section \"{ref}\"")
    if "README-section" in f.read_text():
        fail.append(f"{f.relative_to(root)}: refers to a file that does not exist")

if fail:
    print("\n".join(fail))
    sys.exit(1)
print(f"deployment files agree: metrics {listen} (TCP {metrics_port}), peers UDP {peer_port}, "
      f"config {conf_path}, key {key_file}, image version {version}")
