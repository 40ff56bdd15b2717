#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (or a second run in seconds):
# a Docker engine, the Temporal CLI, npm dependencies, the compiled CLI and the base image.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH_HOME="${BERTH_HOME:-$HOME/.berth}"
mkdir -p "$BERTH_HOME/bin"
say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  as_root && command -v apt-get >/dev/null || die "need root on Debian/Ubuntu to install: $*"
  if [ ! -f "$BERTH_HOME/.apt-updated" ]; then apt-get update -qq && touch "$BERTH_HOME/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Docker engine -------------------------------------------------------------------------------
docker_cli() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi; }
docker_up() { docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if docker_up; then
  say "docker engine reachable (${DOCKER_HOST:-unix:///var/run/docker.sock})"
elif [ -n "${DOCKER_HOST:-}" ]; then
  die "DOCKER_HOST=$DOCKER_HOST is set but no Docker engine answers there"
else
  command -v dockerd >/dev/null || { say "installing docker.io"; apt_install docker.io; }
  as_root || die "no Docker engine at /var/run/docker.sock and not root: start dockerd or set DOCKER_HOST"
  say "starting dockerd (log $BERTH_HOME/dockerd.log)"
  nohup dockerd >"$BERTH_HOME/dockerd.log" 2>&1 &
  echo $! >"$BERTH_HOME/dockerd.pid"
  for _ in $(seq 1 120); do docker_up && break; sleep 0.5; done
  docker_up || die "dockerd did not come up in 60 s; see $BERTH_HOME/dockerd.log"
fi

# --- Temporal CLI --------------------------------------------------------------------------------
if command -v temporal >/dev/null; then
  say "temporal CLI: $(command -v temporal)"
elif [ -x "$BERTH_HOME/bin/temporal" ]; then
  say "temporal CLI: $BERTH_HOME/bin/temporal (cached)"
elif command -v go >/dev/null; then
  say "building the Temporal CLI with go install (first run only, a few minutes)"
  GOBIN="$BERTH_HOME/bin" go install github.com/temporalio/cli/cmd/temporal@v1.5.1 \
    || die "go install of the Temporal CLI failed"
else
  die "no Temporal CLI: put 'temporal' on PATH, or install Go >= 1.25 so Berth can build it into $BERTH_HOME/bin"
fi

# --- Host tools: static busybox (base image), dnsmasq (Berth's DNS), the registry, docker-compose
# (only bench:deploy compares against it) --------------------------------------------------------
if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then
  say "installing busybox-static"; apt_install busybox-static
fi
missing=()
[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
# htpasswd (bcrypt) for the registry tests' authenticated registry
command -v htpasswd >/dev/null || missing+=(apache2-utils)
[ -x /usr/bin/docker-compose ] || missing+=(docker-compose)
# netns hosts (scripts/netns-host.sh): an sshd per host, namespaces and veths, nsenter/unshare
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then say "installing ${missing[*]}"; apt_install "${missing[@]}"; fi

# --- Node dependencies and build ------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"; npm ci --no-audit --no-fund --loglevel=error
fi
say "building"; npm run -s build

# --- Base image ----------------------------------------------------------------------------------
node bin/berth setup-image >/dev/null && say "base image berth/busybox:1 ready"
say "done"
