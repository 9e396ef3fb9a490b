#!/usr/bin/env bash
# A real node for the local control plane: containerd + runc + a CNI bridge, kubelet,
# kube-proxy and CoreDNS on this machine, joined to a kwokctl binary-runtime control plane
# (scripts/cluster.sh) whose fake-node controller is switched off. Pods are real containers
# made from the images of scripts/images.sh, imported into containerd (nothing is pulled).
#
# usage: scripts/realnode.sh up|down|status [NAME] | import REF...
#   up      start the control plane and the node, wait until the node is Ready, print the
#           kubeconfig path on stdout; on any failure everything is torn down again
#   down    tear it all down and put the host back as it was (idempotent)
#   status  exit 0 if the node's cluster answers
#   import REF...  copy these images from podman's storage into the running node's
#           containerd, under the same names (skaffold's builder: scripts/images.sh skaffold)
#
# Host state it changes, all recorded in $RUN/state and restored by `down`: an address
# (a /32) on lo, the pod bridge, iptables rules (its own chain + kube-proxy's), sysctls
# (ip_forward and those the kubelet sets), cgroups under /understudy-realnode, mounts
# under its own folders and pod network namespaces. One real node per machine: `up` and
# `down` run under a lock, and `up` refuses while another node's kubelet is alive.
# Network: node 10.223.0.1 (on lo), pods 10.223.128.0/24, services 10.223.64.0/24: all on
# this machine; forwarding between the pod bridge and any other interface is dropped, so
# pods have no route off it. CoreDNS answers only cluster names (no upstream).
#
# env: UNDERSTUDY_CACHE (default ~/.cache/understudy), UNDERSTUDY_REALNODE_NO_IMPORT=1
#      (skip importing images), UNDERSTUDY_REALNODE_TIMEOUT (seconds, default 180),
#      UNDERSTUDY_REALNODE_FORCE=1 (down even when the lock cannot be taken: recovery)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/k8s-versions.env"

CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
cmd=${1:-}
NAME=${2:-${UNDERSTUDY_CLUSTER_NAME:-understudy}}
TIMEOUT=${UNDERSTUDY_REALNODE_TIMEOUT:-180}
NODE_NAME=realnode
NODE_IP=10.223.0.1
POD_CIDR=10.223.128.0/24
SERVICE_CIDR=10.223.64.0/24
KUBERNETES_SVC_IP=10.223.64.1
BRIDGE=us-br0
CHAIN=UNDERSTUDY-REALNODE
CGROUP=understudy-realnode
RUN=/run/understudy/realnode     # sockets, pids, state (tmpfs: gone after a reboot)
DATA=$CACHE/realnode             # containerd's content store (kept: imports are reused)
KUBELET_ROOT=$DATA/kubelet
LOCK=/run/understudy/realnode.lock
SOCK=$RUN/containerd/containerd.sock
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait)
# Host paths the node's components may create outside their configured folders (the
# kubelet's hard-wired /var/log/containers, CNI's cache, ...): removed by `down` only if
# `up` found them absent.
HOST_PATHS=(/var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/netns
  /run/containerd /var/lib/containerd /opt/cni /etc/cni /var/run/netns)
if [[ $NAME == understudy ]]; then KUBECONFIG_OUT=$CACHE/kubeconfig; else KUBECONFIG_OUT=$CACHE/kubeconfig-$NAME; fi

log() { printf '[realnode] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

wait_for() { # description timeout-seconds cmd...
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.5
  done
}

alive() { [[ -f $1 ]] && kill -0 "$(<"$1")" 2>/dev/null; }

start_bg() { # name cmd... : a daemon with its log and pid under $RUN
  local name=$1
  shift
  # 9>&-: the daemons must not inherit the lock (it is held only while starting/stopping)
  setsid "$@" >"$RUN/log/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/$name.pid"
}

stop_pid() { # pidfile: SIGTERM, then SIGKILL if it does not go within 20 s
  local f=$1 pid i
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

setup_bins() {
  BIN=$("$HERE/k8s-tools.sh" node)
  export PATH=$BIN:$PATH
}

# ---- up ---------------------------------------------------------------------------------
record_host() {
  local s
  : >"$RUN/state/sysctls"
  for s in "${SYSCTLS[@]}"; do
    [[ -e /proc/sys/${s//./\/} ]] && echo "$s=$(<"/proc/sys/${s//./\/}")" >>"$RUN/state/sysctls"
  done
  : >"$RUN/state/absent-paths"
  local p
  for p in "${HOST_PATHS[@]}"; do [[ -e $p || -L $p ]] || echo "$p" >>"$RUN/state/absent-paths"; done
  ls /run/netns 2>/dev/null >"$RUN/state/netns-before" || true
  # the kubelet's and kube-proxy's iptables chains (KUBE-*) are removed by `down` only if
  # there were none before
  # (grep reads to the end: with -q an early exit would SIGPIPE iptables-save, and
  # pipefail would turn "found" into "none")
  if ! { iptables-save; ip6tables-save; } 2>/dev/null | grep '^:KUBE-' >/dev/null; then
    touch "$RUN/state/no-kube-chains"
  fi
  ls /var/log/containers 2>/dev/null >"$RUN/state/logs-before" || true
}

setup_network() {
  ip addr add "$NODE_IP/32" dev lo
  echo added >"$RUN/state/lo-address"
  sysctl -qw net.ipv4.ip_forward=1
  # Pods talk to each other, to services and to the node address; nothing else.
  iptables -w -N "$CHAIN"
  iptables -w -A "$CHAIN" -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
  iptables -w -A "$CHAIN" -o "$BRIDGE" ! -i "$BRIDGE" -j DROP
  iptables -w -I FORWARD 1 -j "$CHAIN"
  mkdir -p "$RUN/cni/net.d" "$RUN/cni/ipam"
  cat >"$RUN/cni/net.d/10-understudy.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "understudy",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$RUN/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}

setup_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ $h == */unified/ || ! -f ${h}cgroup.procs ]] && continue
    mkdir -p "$h$CGROUP"
  done
  # cpuset children start empty: inherit the parent's cpus and memory nodes
  if [[ -d /sys/fs/cgroup/cpuset/$CGROUP ]]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP/cpuset.mems"
  fi
}

start_control_plane() {
  cat >"$RUN/kwokctl.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  kubeApiserverCertSANs: [$KUBERNETES_SVC_IP, $NODE_IP]
componentsPatches:
  - name: kube-apiserver
    extraArgs:
      - {key: advertise-address, value: $NODE_IP}
      - {key: service-cluster-ip-range, value: $SERVICE_CIDR}
      - {key: kubelet-preferred-address-types, value: "InternalIP,Hostname"}
  - name: kube-controller-manager
    extraArgs:
      - {key: service-cluster-ip-range, value: $SERVICE_CIDR}
EOF
  UNDERSTUDY_CLUSTER_NODES=0 \
    UNDERSTUDY_KWOKCTL_ARGS="--config $RUN/kwokctl.yaml --disable kwok-controller" \
    bash "$HERE/cluster.sh" up "$NAME" >/dev/null 9>&-
  echo "$NAME" >"$RUN/state/cluster"
}

start_containerd() {
  mkdir -p "$DATA/containerd" "$RUN/containerd"
  cat >"$RUN/containerd.toml" <<EOF
version = 2
root = "$DATA/containerd"
state = "$RUN/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # the stand-in pause image of scripts/images.sh: the upstream one cannot be pulled
  sandbox_image = "registry.k8s.io/pause:3.10"
  # this machine cannot raise oom_score_adj: without this every sandbox fails to start
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
EOF
  start_bg containerd containerd --config "$RUN/containerd.toml"
  wait_for "containerd" 60 ctr --address "$SOCK" version
}

import_images() {
  [[ ${UNDERSTUDY_REALNODE_NO_IMPORT:-0} == 1 ]] && return 0
  local archive=$DATA/images.tar start=$SECONDS ref id have changed=() lines
  # Import only the images that changed since the last import (the content store is kept):
  # $DATA/imported records "ref image-id" per line.
  lines=$(source "$HERE/podman-env.sh" && bash "$HERE/images.sh" list |
    while read -r ref; do echo "$ref $(podman image inspect --format '{{.Id}}' "$ref")"; done)
  have=$(ctr --address "$SOCK" -n k8s.io images ls -q)
  while read -r ref id; do
    if grep -qxF "$ref $id" "$DATA/imported" 2>/dev/null && grep -qxF "$ref" <<<"$have"; then continue; fi
    changed+=("$ref")
  done <<<"$lines"
  if ((${#changed[@]} == 0)); then
    log "images already imported"
  else
    (source "$HERE/podman-env.sh" &&
      podman save --quiet --multi-image-archive --format docker-archive -o "$archive" "${changed[@]}")
    ctr --address "$SOCK" -n k8s.io images import "$archive" >/dev/null
    rm -f "$archive"
    echo "$lines" >"$DATA/imported"
    log "${#changed[@]} images imported in $((SECONDS - start)) s"
  fi
  prune_node_images "$(cut -d' ' -f1 <<<"$lines")"
}

prune_node_images() { # kept refs (lines): remove every other image before any pod starts
  # The content store is kept between runs, so replaced images and skaffold's per-build
  # imports (`import`) would pile up (42 GB on a machine after a day's runs). Names that
  # point at a kept image's digest (the CRI's sha256:... and @digest names) stay.
  local listing stale
  listing=$(ctr --address "$SOCK" -n k8s.io images ls | awk 'NR > 1 {print $1, $3}')
  mapfile -t stale < <(awk -v keep="$1" '
    BEGIN { n = split(keep, k, "\n"); for (i = 1; i <= n; i++) kept[k[i]] = 1 }
    { ref[NR] = $1; digest[NR] = $2; if ($1 in kept) keptdigest[$2] = 1 }
    END { for (i = 1; i <= NR; i++) if (!(digest[i] in keptdigest)) print ref[i] }' <<<"$listing")
  ((${#stale[@]})) || return 0
  # --sync: containerd's garbage collector frees their content and snapshots before `up`
  # goes on
  ctr --address "$SOCK" -n k8s.io images rm --sync "${stale[@]}" >/dev/null
  log "removed ${#stale[@]} stale images from the node; store: $(du -sh "$DATA/containerd" | cut -f1)"
}

start_coredns() {
  cat >"$RUN/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_OUT
        pods insecure
    }
    cache 5
}
EOF
  start_bg coredns coredns -conf "$RUN/Corefile"
}

start_kube_proxy() {
  cat >"$RUN/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG_OUT}
hostnameOverride: $NODE_NAME
mode: iptables
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $POD_CIDR
nodePortAddresses: [$NODE_IP/32]
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
  start_bg kube-proxy kube-proxy --config "$RUN/kube-proxy.yaml"
}

start_kubelet() {
  mkdir -p "$KUBELET_ROOT"
  : >"$RUN/resolv.conf" # pods resolve cluster names only
  cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (hybrid) is what this machine has; kubelet 1.36 refuses it unless told
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
containerRuntimeEndpoint: unix://$SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
resolvConf: $RUN/resolv.conf
podLogsDir: $DATA/pod-logs
failSwapOn: false
maxPods: 40
serializeImagePulls: false
# the imported images cannot be pulled again: never garbage-collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
EOF
  start_bg kubelet kubelet --config "$RUN/kubelet.yaml" --kubeconfig "$KUBECONFIG_OUT" \
    --root-dir "$KUBELET_ROOT" --cert-dir "$KUBELET_ROOT/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1
}

node_ready() {
  [[ $(kubectl --kubeconfig "$KUBECONFIG_OUT" get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

up() {
  local start=$SECONDS
  mkdir -p /run/understudy
  exec 9>"$LOCK"
  flock -w 600 9 || die "another real node is starting or stopping (lock $LOCK)"
  if [[ -d $RUN/state ]]; then
    if alive "$RUN/kubelet.pid"; then
      die "a real node is already running (cluster $(cat "$RUN/state/cluster" 2>/dev/null)); scripts/realnode.sh down first"
    fi
    log "cleaning up the state a dead run left"
    teardown
  fi
  mkdir -p "$RUN/state" "$RUN/log"
  # Any failure from here on (set -e) ends the script: the EXIT trap tears everything down.
  trap 'if [[ -z ${UP_DONE:-} ]]; then
          log "start failed; tearing down"
          tail -n 25 "$RUN"/log/*.log >&2 2>/dev/null
          teardown
        fi' EXIT
  record_host
  setup_network
  setup_cgroups
  start_control_plane
  start_containerd
  import_images
  start_coredns
  start_kube_proxy
  start_kubelet
  wait_for "node $NODE_NAME Ready" "$TIMEOUT" node_ready
  wait_for "CoreDNS" 60 bash -c "exec 3<>/dev/tcp/$NODE_IP/53"
  # kube-proxy put its FORWARD rules first; ours goes back on top (it only drops).
  iptables -w -D FORWARD -j "$CHAIN" && iptables -w -I FORWARD 1 -j "$CHAIN"
  UP_DONE=1
  log "real node $NODE_NAME Ready in $((SECONDS - start)) s; kubeconfig: $KUBECONFIG_OUT"
  echo "$KUBECONFIG_OUT"
}

# ---- import -----------------------------------------------------------------------------
import_refs() { # ref...: into the running node, skipping those it has under that name already
  [[ -S $SOCK ]] || die "no real node is running (scripts/realnode.sh up first)"
  local have ref todo=() archive start=$SECONDS
  have=$(ctr --address "$SOCK" -n k8s.io images ls -q)
  for ref in "$@"; do grep -qxF "$ref" <<<"$have" || todo+=("$ref"); done
  ((${#todo[@]})) || { log "already on the node: $*"; return 0; }
  archive=$(mktemp --suffix=.tar)
  # shellcheck disable=SC2064 # expand now: the path is local
  trap "rm -f '$archive'" EXIT
  (source "$HERE/podman-env.sh" &&
    podman save --quiet --multi-image-archive --format docker-archive -o "$archive" "${todo[@]}")
  ctr --address "$SOCK" -n k8s.io images import "$archive" >/dev/null
  log "imported into the node in $((SECONDS - start)) s: ${todo[*]}"
}

# ---- down -------------------------------------------------------------------------------
our_pids() { # every process whose command line names our folders (shims, leftovers)
  local p
  for p in /proc/[0-9]*; do
    [[ ${p#/proc/} == "$$" ]] && continue
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -e "$RUN/" -e "$DATA/" && echo "${p#/proc/}"
  done
  return 0
}

remove_containers() {
  [[ -S $SOCK ]] || return 0
  local c
  for c in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
  done
  for c in $(ctr --address "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
    ctr --address "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1 || true
    ctr --address "$SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1 || true
  done
}

unmount_under() { # dir...: unmount every mount point below them, deepest first
  local d m
  for d in "$@"; do
    awk '{print $2}' /proc/self/mounts | grep -E "^${d//./\\.}(/|$)" | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  done
}

remove_kube_chains() { # what kube-proxy --cleanup leaves: the kubelet's KUBE-FIREWALL, canaries
  local ipt table rule chain
  for ipt in iptables ip6tables; do
    for table in filter nat mangle; do
      # jumps from the built-in chains first, then the chains themselves
      "$ipt-save" -t "$table" 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-' |
        while read -r rule; do
          # iptables-save quotes comments: eval keeps them one argument
          eval "$ipt -w -t $table ${rule/-A /-D }" 2>/dev/null
        done
      for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\).*/\1/p'); do
        "$ipt" -w -t "$table" -F "$chain" 2>/dev/null
      done
      for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\).*/\1/p'); do
        "$ipt" -w -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
  return 0
}

kill_cgroup_tasks() { # pod processes whose shim died with containerd
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -d $h$CGROUP ]] || continue
    find "$h$CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  return 0
}

remove_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -d $h$CGROUP ]] || continue
    find "$h$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

teardown() {
  set +e
  stop_pid "$RUN/kubelet.pid"
  remove_containers
  stop_pid "$RUN/kube-proxy.pid"
  stop_pid "$RUN/coredns.pid"
  stop_pid "$RUN/containerd.pid"
  local p
  for p in $(our_pids); do kill -KILL "$p" 2>/dev/null; done
  kill_cgroup_tasks
  # pod network namespaces the node made (containerd's cni-*), not ones that were there
  for p in /run/netns/cni-*; do
    [[ -e $p ]] || continue
    grep -qx "$(basename "$p")" "$RUN/state/netns-before" 2>/dev/null && continue
    umount "$p" 2>/dev/null; rm -f "$p"
  done
  unmount_under "$RUN" "$DATA"
  if [[ -f $RUN/state/cluster ]]; then
    bash "$HERE/cluster.sh" down "$(<"$RUN/state/cluster")" >/dev/null 2>&1
  fi
  command -v kube-proxy >/dev/null && kube-proxy --cleanup >/dev/null 2>&1
  [[ -f $RUN/state/no-kube-chains ]] && remove_kube_chains
  while iptables -w -D FORWARD -j "$CHAIN" 2>/dev/null; do :; done
  iptables -w -F "$CHAIN" 2>/dev/null && iptables -w -X "$CHAIN" 2>/dev/null
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  if [[ -f $RUN/state/lo-address ]] || ip -o -4 addr show dev lo | grep -qF " $NODE_IP/32"; then
    ip addr del "$NODE_IP/32" dev lo 2>/dev/null
  fi
  if [[ -f $RUN/state/sysctls ]]; then
    while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null; done <"$RUN/state/sysctls"
  fi
  rm -f /var/lib/cni/results/understudy-* 2>/dev/null
  # the kubelet's links to our pods' logs, then whatever folder was not there before
  for p in /var/log/containers/*; do
    [[ -L $p ]] || continue
    grep -qxF "$(basename "$p")" "$RUN/state/logs-before" 2>/dev/null && continue
    [[ $(readlink "$p") == "$DATA/"* ]] && rm -f "$p"
  done
  if [[ -f $RUN/state/absent-paths ]]; then
    while IFS= read -r p; do
      case $p in
        # shared folders: removed only when nothing but ours was in them
        /run/netns | /var/run/netns | /var/log/*) rmdir "$p" 2>/dev/null ;;
        ?*) unmount_under "$p"; rm -rf "$p" ;;
      esac
    done <"$RUN/state/absent-paths"
  fi
  remove_cgroups
  rm -rf "$RUN" "$KUBELET_ROOT" "$DATA/pod-logs"
  set -e
}

down() {
  local start=$SECONDS
  mkdir -p /run/understudy
  exec 9>"$LOCK"
  if ! flock -w "${UNDERSTUDY_REALNODE_LOCK_WAIT:-600}" 9; then
    [[ ${UNDERSTUDY_REALNODE_FORCE:-0} == 1 ]] || die "another real node is starting or stopping (lock $LOCK); UNDERSTUDY_REALNODE_FORCE=1 tears down anyway"
    log "lock held; tearing down anyway (UNDERSTUDY_REALNODE_FORCE=1)"
  fi
  if [[ ! -d $RUN ]] && ! ip -o -4 addr show dev lo | grep -qF " $NODE_IP/32"; then
    log "no real node"
    return 0
  fi
  teardown
  log "real node down in $((SECONDS - start)) s"
}

[[ $(id -u) -eq 0 ]] || die "the real node changes host networking and cgroups: run as root"
case $cmd in
  up) setup_bins && up ;;
  down) setup_bins && down ;;
  status) setup_bins && alive "$RUN/kubelet.pid" && node_ready ;;
  import) import_refs "${@:2}" ;;
  *) usage ;;
esac
