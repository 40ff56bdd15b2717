#!/usr/bin/env bash
# netns-host.sh - "hosts" for Berth on one Linux machine: each is a network namespace with its own
# dockerd and its own sshd, reachable from the machine (root netns) at <LAN>.<10+i> like a real host.
#
#   netns-host.sh up PREFIX INDEX LAN PUBKEYFILE   create (or repair) host INDEX; idempotent
#   netns-host.sh stop-docker PREFIX INDEX         kill -9 its dockerd, containerd, shims, containers
#                                                  (a host failure; netns and sshd stay)
#   netns-host.sh kill-dockerd PREFIX INDEX        kill -9 its dockerd only (containerd, shims and
#                                                  containers keep running, as after a daemon crash)
#   netns-host.sh cut PREFIX INDEX                 drop every packet on its LAN interface (iptables
#                                                  in its netns: a partition; everything keeps running)
#   netns-host.sh restore PREFIX INDEX             undo cut (idempotent)
#   netns-host.sh down PREFIX INDEX                remove host INDEX completely
#   netns-host.sh down-all PREFIX                  remove every host of PREFIX, the bridge and the leg
#   netns-host.sh status PREFIX                    one line per host
#
# PREFIX matches ^[a-z][a-z0-9]{0,7}$ (interface names are limited to 15 characters), INDEX is 1..40,
# LAN is the first three octets of a /24 (e.g. 10.213.5).
#
# Topology (nothing routed off the machine; hosts have no default route):
#
#   root netns   PREFIX-h0  LAN.1   --+
#                                     |  bridge br0 inside netns PREFIX-sw: its own netfilter
#   netns PREFIX-h1  eth0  LAN.11   --+  context, so the main dockerd's FORWARD DROP never applies
#   netns PREFIX-h2  eth0  LAN.12   --+  and the machine's iptables are never touched
#
# Host i: dockerd on unix:///run/berth-netns/PREFIX/hi/docker.sock (no TCP listener) in a private
# mount and UTS namespace (hostname PREFIX-hi, the swarm node name); sshd on LAN.<10+i>:22 in the
# netns only (sessions see the machine's files, with DOCKER_HOST set to the host's own engine and
# BERTH_REGISTRY_DIR to the host's data, so a registry started over SSH goes away with the host).
# State (sockets, pid files, host key, authorized_keys) under /run/berth-netns/PREFIX/hi, data
# (data-root, logs) under ${BERTH_NETNS_DATA:-/var/lib/berth-netns}/PREFIX/hi.
# Prints nothing but errors; every wait is bounded.
set -u
export LC_ALL=C
# Host traffic stays on the machine: never route it through a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

RUN_BASE=/run/berth-netns
DATA_BASE=${BERTH_NETNS_DATA:-/var/lib/berth-netns}
SELF=$(readlink -f "$0")

die() { printf 'netns-host: %s\n' "$*" >&2; exit 1; }
warn() { printf 'netns-host: %s\n' "$*" >&2; }

check_prefix() { [[ ${1:-} =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "prefix '${1:-}' must match ^[a-z][a-z0-9]{0,7}\$"; }
check_index() { [[ ${1:-} =~ ^[1-9][0-9]?$ ]] && [ "$1" -le 40 ] || die "index '${1:-}' must be 1..40"; }
check_lan() {
  local o
  [[ ${1:-} =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || die "LAN '${1:-}' must be three octets such as 10.213.5"
  for o in "${BASH_REMATCH[@]:1}"; do [ "$o" -le 255 ] || die "LAN '$1' has an octet above 255"; done
  # the hosts' own docker0 and local pools live in 10.78/10.79 (see hostexec)
  [[ $1 =~ ^10\.7[89]\. ]] && die "LAN '$1' collides with the hosts' docker0 ranges (10.78.0.0/15)"
  return 0
}

# Per-host names and paths; every function below calls this first.
host_vars() {
  P=$1; I=$2
  NS=$P-h$I
  SW=$P-sw
  LEG=$P-h0
  RUN=$RUN_BASE/$P/h$I
  DATA=$DATA_BASE/$P/h$I
  SOCK=$RUN/docker.sock
}

netns_exists() { [ -e "/run/netns/$1" ]; }

# Locks (kept in $RUN_BASE/.locks: a lock file must outlive the directories down-all removes).
# `up` holds the prefix lock shared, `down`/`down-all` exclusive, so a teardown never races a
# host being made; the bridge, shared by all hosts of a prefix, and each host have their own.
# Daemons are started with these fds closed, or they would hold the locks forever.
lock() { # fd name flock-mode
  mkdir -p "$RUN_BASE/.locks"
  eval "exec $1>\"\$RUN_BASE/.locks/\$2\""
  flock "$3" -w 120 "$1" || die "timed out after 120 s waiting for lock $RUN_BASE/.locks/$2"
}

# kill -9 a pid only if its command line still contains pattern (no recycled-pid accidents).
kill_if() {
  local pid=$1 pat=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pat" || return 0
  kill -9 "$pid" 2>/dev/null
  return 0
}

# pids whose command line contains a string (the pattern goes through a file, so grep never
# matches its own command line)
procs_with() { grep -lsaF -f <(printf '%s\n' "$1") /proc/[0-9]*/cmdline | sed 's#^/proc/\([0-9]*\)/cmdline$#\1#'; }

alive_with() { # pidfile pattern -> 0 when the pid in it is alive and its cmdline contains pattern
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

docker_answers() { timeout 5 docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# ---------------------------------------------------------------- network
bridge_up() { # LAN
  local lan=$1 other
  if ip link show "$LEG" >/dev/null 2>&1; then
    ip -4 addr show dev "$LEG" | grep -qF " $lan.1/24" \
      || die "$LEG exists with another LAN ($(ip -4 -o addr show dev "$LEG" | awk '{print $4}')); use the same LAN for every host of prefix $P"
  else
    other=$(ip -4 route show "$lan.0/24" 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | head -n 1)
    [ -z "$other" ] || die "LAN $lan.0/24 is already routed to $other: pick another LAN"
  fi
  if ! netns_exists "$SW"; then
    ip netns add "$SW" || die "cannot create netns $SW"
    ip -n "$SW" link set lo up
    ip -n "$SW" link add br0 type bridge || die "cannot create bridge in $SW"
    ip -n "$SW" link set br0 up
  fi
  if ! ip link show "$LEG" >/dev/null 2>&1; then
    ip link add "$LEG" type veth peer name p0 netns "$SW" || die "cannot create veth $LEG"
    ip -n "$SW" link set p0 master br0 up
    ip addr add "$lan.1/24" dev "$LEG" || die "cannot add $lan.1/24 to $LEG"
    ip link set "$LEG" up
  fi
}

host_net_up() { # LAN
  local addr=$1.$((10 + I))
  if ! netns_exists "$NS"; then
    ip netns add "$NS" || die "cannot create netns $NS"
    ip -n "$NS" link set lo up
  fi
  if ! ip -n "$NS" link show eth0 >/dev/null 2>&1; then
    ip -n "$SW" link del "p$I" 2>/dev/null
    ip link add eth0 netns "$NS" type veth peer name "p$I" netns "$SW" || die "cannot create veth for $NS"
    ip -n "$SW" link set "p$I" master br0 up
    ip -n "$NS" addr add "$addr/24" dev eth0
    ip -n "$NS" link set eth0 up
  fi
}

# ---------------------------------------------------------------- dockerd
# Inner entry point, run as: nsenter --net=/run/netns/NS unshare --mount --uts --propagation slave.
# A private mount namespace lets us mount a sysfs showing the netns' own interfaces (dockerd reads
# /sys/class/net) while keeping the machine's cgroup mounts, which plain `ip netns exec` hides
# ("Devices cgroup isn't mounted"); the private UTS namespace gives the engine its own hostname.
hostexec() {
  host_vars "$1" "$2"
  local lan=$3 cg=$RUN/cg
  hostname "$NS"
  mkdir -p "$cg"
  mount --rbind /sys/fs/cgroup "$cg"
  mount -t sysfs sysfs /sys
  mount --rbind "$cg" /sys/fs/cgroup
  umount -l "$cg"
  # Unix socket only (no TCP listener: Berth reaches the engine through sshd); --tls=false keeps
  # dockerd 20.10 from its start-up pause for unauthenticated listeners. docker0 and the local
  # address pool differ per index, so two hosts' networks are told apart in inspect output.
  exec dockerd \
    --config-file "$DATA/daemon.json" \
    --data-root "$DATA/data" \
    --exec-root "$RUN/exec" \
    --pidfile "$RUN/docker.pid" \
    -H "unix://$SOCK" \
    --tls=false \
    --bip "10.78.$I.1/24" \
    --default-address-pool "base=10.79.$((I * 4)).0/22,size=24" \
    --insecure-registry "$lan.0/24" \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$NS" \
    --shutdown-timeout 2 \
    --log-level warn
}

docker_up() { # LAN
  local lan=$1 p k
  if alive_with "$RUN/docker.pid" "$RUN/" && docker_answers; then return 0; fi
  kill_engine # leftovers of a crashed or stopped engine
  mkdir -p "$RUN" "$DATA/data"
  # isolate from the machine's /etc/docker/daemon.json
  [ -f "$DATA/daemon.json" ] || echo '{}' >"$DATA/daemon.json"
  rm -f "$SOCK"
  setsid nsenter --net="/run/netns/$NS" unshare --mount --uts --propagation slave -- \
    "$SELF" _hostexec "$P" "$I" "$lan" >>"$DATA/dockerd.log" 2>&1 </dev/null 8>&- 9>&- &
  p=$!
  for k in $(seq 1 600); do # 60 s: slow when several test runs share two cores
    [ -S "$SOCK" ] && docker_answers && return 0
    kill -0 "$p" 2>/dev/null || die "dockerd of $NS exited: $(tail -n 3 "$DATA/dockerd.log")"
    sleep 0.1
  done
  die "dockerd of $NS did not answer on $SOCK within 60 s (log $DATA/dockerd.log)"
}

# Everything of this host's engine, by pid file, by cgroup and by exec-root in the command line.
kill_engine() {
  local f p pids socks=
  # Shims listen on /run/containerd/s/<hash>, a directory shared with every containerd on the
  # machine; killed, they leave the socket file behind. Note ours (listening in our netns) first.
  if netns_exists "$NS"; then
    socks=$(nsenter --net="/run/netns/$NS" ss -xlpH 2>/dev/null \
      | awk '/containerd-shim/ { for (i = 1; i <= NF; i++) if ($i ~ /^\/run\/containerd\/s\/[0-9a-f]+$/) print $i }')
  fi
  kill_if "$(cat "$RUN/docker.pid" 2>/dev/null)" "$RUN/"
  # container processes: they sit in our --cgroup-parent (exactly NS, not NS0..NS9) in any hierarchy
  for f in $(find /sys/fs/cgroup -type d -name "$NS" 2>/dev/null); do
    pids=$(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un)
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
  done
  # dockerd (also one started before the pid file was written), containerd and shims
  for p in $(procs_with "$RUN/"); do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in
      dockerd | containerd | containerd-shim*) kill -9 "$p" 2>/dev/null ;;
    esac
  done
  # port forwarders of published ports, which would hold the ports when the engine restarts
  if netns_exists "$NS"; then
    for p in $(ip netns pids "$NS" 2>/dev/null); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = docker-proxy ] && kill -9 "$p" 2>/dev/null
    done
  fi
  wait_gone_engine
  [ -z "$socks" ] || rm -f $socks
  # A killed process stays a zombie until PID 1 reaps it, and dockerd takes a zombie's pid in
  # these files for a live daemon: it would refuse to start, or wait for a containerd that is gone.
  rm -f "$RUN/docker.pid" "$RUN/exec/containerd/containerd.pid"
}

wait_gone_engine() {
  local k
  for k in $(seq 1 50); do
    [ -z "$(procs_with "$RUN/exec")" ] && return 0
    sleep 0.1
  done
  warn "processes of $NS's engine still alive after kill -9"
}

# ---------------------------------------------------------------- sshd
sshd_up() { # LAN PUBKEYFILE
  local lan=$1 pub=$2 addr=$1.$((10 + I)) p k
  mkdir -p "$RUN" "$DATA" /run/sshd
  # the key Berth logs in with; rewritten every time so a new key replaces the old one
  cp "$pub" "$RUN/authorized_keys.tmp" && mv -f "$RUN/authorized_keys.tmp" "$RUN/authorized_keys" \
    || die "cannot read public key $pub"
  chmod 600 "$RUN/authorized_keys"
  [ -f "$RUN/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$NS" -f "$RUN/ssh_host_ed25519_key" \
    || die "ssh-keygen for $NS failed"
  cat >"$RUN/sshd_config" <<EOF
ListenAddress $addr:22
HostKey $RUN/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
AuthorizedKeysFile $RUN/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
X11Forwarding no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
MaxSessions 64
MaxStartups 64:30:128
LoginGraceTime 20
ClientAliveInterval 15
SetEnv DOCKER_HOST=unix://$SOCK BERTH_REGISTRY_DIR=$DATA/registry
EOF
  if alive_with "$RUN/sshd.pid" "$RUN/sshd_config"; then return 0; fi
  kill_if "$(cat "$RUN/sshd.pid" 2>/dev/null)" "$RUN/sshd_config"
  setsid nsenter --net="/run/netns/$NS" /usr/sbin/sshd -D -f "$RUN/sshd_config" -E "$DATA/sshd.log" \
    </dev/null >/dev/null 2>&1 8>&- 9>&- &
  p=$!
  for k in $(seq 1 200); do # 20 s
    timeout 1 bash -c "exec 3<>/dev/tcp/$addr/22" 2>/dev/null && return 0
    kill -0 "$p" 2>/dev/null || die "sshd of $NS exited: $(tail -n 3 "$DATA/sshd.log")"
    sleep 0.1
  done
  die "sshd of $NS did not listen on $addr:22 within 20 s (log $DATA/sshd.log)"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  [ $# = 4 ] || die "usage: up PREFIX INDEX LAN PUBKEYFILE"
  check_prefix "$1"; check_index "$2"; check_lan "$3"
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -r "$4" ] || die "public key file $4 is missing or unreadable"
  local b
  for b in dockerd docker nsenter unshare ip flock ssh-keygen /usr/sbin/sshd; do
    command -v "$b" >/dev/null || die "missing $b (see scripts/setup.sh)"
  done
  host_vars "$1" "$2"
  lock 8 "$P" -s
  lock 9 "$P.bridge" -x
  bridge_up "$3"
  flock -u 9
  lock 9 "$NS" -x
  mkdir -p "$RUN" "$DATA"
  host_up "$3" "$4"
}

host_up() {
  host_net_up "$1"
  docker_up "$1"
  sshd_up "$1" "$2"
}

cmd_stop_docker() {
  [ $# = 2 ] || die "usage: stop-docker PREFIX INDEX"
  check_prefix "$1"; check_index "$2"
  host_vars "$1" "$2"
  lock 9 "$NS" -x
  kill_engine
}

cmd_kill_dockerd() {
  [ $# = 2 ] || die "usage: kill-dockerd PREFIX INDEX"
  check_prefix "$1"; check_index "$2"
  host_vars "$1" "$2"
  lock 9 "$NS" -x
  kill_if "$(cat "$RUN/docker.pid" 2>/dev/null)" "$RUN/"
  return 0
}

# A partition: a chain of our own, first in INPUT, OUTPUT and FORWARD of the host's netns, dropping
# everything on eth0 (its leg of the LAN bridge). The host's own dockerd manages the other chains of
# that netns; ours is inserted once and removed whole, so cut and restore are idempotent.
CUT_CHAIN=BERTH-CUT
cmd_cut() {
  [ $# = 2 ] || die "usage: cut PREFIX INDEX"
  check_prefix "$1"; check_index "$2"
  host_vars "$1" "$2"
  netns_exists "$NS" || die "no netns $NS"
  local c
  ipt() { nsenter --net="/run/netns/$NS" iptables -w 10 "$@"; }
  ipt -N "$CUT_CHAIN" 2>/dev/null
  ipt -F "$CUT_CHAIN" || die "cannot use iptables in $NS"
  ipt -A "$CUT_CHAIN" -i eth0 -j DROP
  ipt -A "$CUT_CHAIN" -o eth0 -j DROP
  for c in INPUT OUTPUT FORWARD; do
    ipt -C "$c" -j "$CUT_CHAIN" 2>/dev/null || ipt -I "$c" 1 -j "$CUT_CHAIN" || die "cannot cut $NS ($c)"
  done
}

cmd_restore() {
  [ $# = 2 ] || die "usage: restore PREFIX INDEX"
  check_prefix "$1"; check_index "$2"
  host_vars "$1" "$2"
  netns_exists "$NS" || return 0
  local c
  ipt() { nsenter --net="/run/netns/$NS" iptables -w 10 "$@"; }
  for c in INPUT OUTPUT FORWARD; do
    while ipt -C "$c" -j "$CUT_CHAIN" 2>/dev/null; do ipt -D "$c" -j "$CUT_CHAIN" || break; done
  done
  ipt -F "$CUT_CHAIN" 2>/dev/null
  ipt -X "$CUT_CHAIN" 2>/dev/null
  return 0
}

cmd_down() {
  [ $# = 2 ] || die "usage: down PREFIX INDEX"
  check_prefix "$1"; check_index "$2"
  host_vars "$1" "$2"
  lock 8 "$P" -x
  host_down
}

host_down() {
  local p k c
  kill_engine
  # everything else living in the host's netns: sshd, its sessions, a registry started over SSH
  if netns_exists "$NS"; then
    for k in $(seq 1 30); do
      p=$(ip netns pids "$NS" 2>/dev/null)
      [ -z "$p" ] && break
      kill -9 $p 2>/dev/null
      sleep 0.1
    done
    ip netns del "$NS" 2>/dev/null || warn "cannot delete netns $NS"
  fi
  kill_if "$(cat "$RUN/sshd.pid" 2>/dev/null)" "$RUN/sshd_config"
  netns_exists "$SW" && ip -n "$SW" link del "p$I" 2>/dev/null
  # cgroups made through --cgroup-parent (deepest first; they are empty once the processes are gone)
  for c in $(find /sys/fs/cgroup -type d -name "$NS" 2>/dev/null); do
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  # a mount that leaked into the machine's namespace (normally none: dockerd has its own)
  grep -oE " ($RUN|$DATA)/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$RUN" "$DATA"
}

cmd_down_all() {
  [ $# = 1 ] || die "usage: down-all PREFIX"
  check_prefix "$1"
  local P=$1 i d
  lock 8 "$P" -x
  for i in $( {
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^$P-h\([0-9]\{1,2\}\)\$/\1/p"
    for d in "$RUN_BASE/$P"/h* "$DATA_BASE/$P"/h*; do [ -d "$d" ] && echo "${d##*/h}"; done
  } | sort -un); do
    [[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le 40 ] || continue
    (host_vars "$P" "$i" && host_down)
  done
  host_vars "$P" 0
  netns_exists "$SW" && ip netns del "$SW"
  ip link del "$LEG" 2>/dev/null
  rm -rf "${RUN_BASE:?}/$P" "${DATA_BASE:?}/$P"
  # Still holding the prefix lock: an `up` blocked on it goes on after us, on the removed file.
  rm -f "$RUN_BASE/.locks/$P" "$RUN_BASE/.locks/$P".bridge "$RUN_BASE/.locks/$P"-h[0-9]*
  return 0
}

cmd_status() {
  [ $# = 1 ] || die "usage: status PREFIX"
  check_prefix "$1"
  local P=$1 i found=0 d s
  for d in "$RUN_BASE/$P"/h*; do
    [ -d "$d" ] || continue
    i=${d##*/h}; found=1
    host_vars "$P" "$i"
    s="h$I netns=$(netns_exists "$NS" && echo yes || echo no)"
    s+=" dockerd=$(alive_with "$RUN/docker.pid" "$RUN/" && cat "$RUN/docker.pid" || echo down)"
    s+=" docker=$(docker_answers && echo ok || echo unreachable)"
    s+=" sshd=$(alive_with "$RUN/sshd.pid" "$RUN/sshd_config" && cat "$RUN/sshd.pid" || echo down)"
    echo "$s socket=$SOCK"
  done
  [ $found = 1 ] || echo "no hosts with prefix $P"
  return 0
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  stop-docker) shift; cmd_stop_docker "$@" ;;
  kill-dockerd) shift; cmd_kill_dockerd "$@" ;;
  cut) shift; cmd_cut "$@" ;;
  restore) shift; cmd_restore "$@" ;;
  down) shift; cmd_down "$@" ;;
  down-all) shift; cmd_down_all "$@" ;;
  status) shift; cmd_status "$@" ;;
  _hostexec) shift; hostexec "$@" ;;
  *) sed -n '2,20p' "$SELF" >&2; exit 2 ;;
esac
