#!/usr/bin/env bash
# Install (or remove) camaudit as a probe or a server on Debian / Raspberry Pi OS
# (arm64, amd64). See docs/deploy.md.
#
#   sudo deploy/install.sh --role probe            # on the Pi on the camera VLAN
#   sudo deploy/install.sh --role server           # on the dashboard host
#   sudo deploy/install.sh --uninstall [--purge]   # remove (--purge: config and data too)
#
# Options:
#   --source DIR   camaudit source tree or wheel to install (default: this checkout)
#   --root DIR     lay the files down under DIR instead of / and change nothing else
#                  (no packages, no user, no venv, no systemctl): for review and tests
#   --wheels DIR   install camaudit and its dependencies only from the wheels in DIR
#                  (no package index: for a Pi without internet access)
#   --no-start     install and enable, but do not start the service
#
# Without a running systemd (a chroot, an image being built, a container) the units are
# installed and enabled offline when systemctl exists, but nothing is started.
set -euo pipefail

ROLE=""
ACTION=install
PURGE=0
START=1
ROOT=""
WHEELS=""
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(dirname "$HERE")"

PREFIX=/opt/camaudit
CONF=/etc/camaudit
DATA=/var/lib/camaudit
UNITS=/etc/systemd/system
JOURNALD=/etc/systemd/journald.conf.d/50-camaudit.conf
USER_NAME=camaudit

die() { echo "install.sh: error: $*" >&2; exit 2; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --role) ROLE="${2:-}"; shift 2 ;;
        --role=*) ROLE="${1#*=}"; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        --purge) PURGE=1; shift ;;
        --source) SOURCE="${2:-}"; shift 2 ;;
        --root) ROOT="${2:-}"; shift 2 ;;
        --wheels) WHEELS="${2:-}"; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

if [ "$ACTION" = install ]; then
    case "$ROLE" in
        probe|server) ;;
        "") die "--role probe or --role server is required" ;;
        *) die "--role must be probe or server, not '$ROLE'" ;;
    esac
fi
if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT" || die "cannot create $ROOT"
    ROOT="$(cd "$ROOT" && pwd)"
    [ "$ROOT" != / ] || die "--root / is a real install: leave --root out"
elif [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo), or use --root DIR to lay the files down for review"
fi
if [ -n "$WHEELS" ]; then
    [ -d "$WHEELS" ] || die "--wheels $WHEELS is not a directory"
    WHEELS="$(cd "$WHEELS" && pwd)"
fi
# In --root mode every system change is skipped; only files are written under ROOT.
real() { [ -z "$ROOT" ]; }
# systemd is PID 1 and running (sd_booted(3)): not so in a chroot or an image build.
booted() { [ -d /run/systemd/system ]; }
have_systemctl() { command -v systemctl >/dev/null 2>&1; }

arch_check() {
    local arch
    arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
    case "$arch" in
        arm64|aarch64|amd64|x86_64) ;;
        *) say "warning: architecture $arch is untested (arm64 and amd64 are)" ;;
    esac
}

install_packages() {
    real || return 0
    local pkgs=(python3 python3-venv python3-pip iproute2 ca-certificates)
    if [ "$ROLE" = server ]; then
        # WeasyPrint (the dashboard's PDF report) loads Pango and HarfBuzz at run time.
        pkgs+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
}

create_user() {
    real || return 0
    if ! getent group "$USER_NAME" >/dev/null; then
        groupadd --system "$USER_NAME"
    fi
    if ! getent passwd "$USER_NAME" >/dev/null; then
        useradd --system --gid "$USER_NAME" --home-dir "$DATA" --no-create-home \
            --shell /usr/sbin/nologin --comment "camaudit service" "$USER_NAME"
    fi
}

create_venv() {
    real || return 0
    if [ ! -x "$PREFIX/venv/bin/python" ]; then
        python3 -m venv "$PREFIX/venv"
    fi
    if [ -n "$WHEELS" ]; then
        # Offline: the wheelhouse must hold every dependency (pip wheel --wheel-dir DIR .).
        "$PREFIX/venv/bin/pip" install --quiet --no-index --find-links "$WHEELS" --upgrade "$SOURCE"
    else
        "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
        "$PREFIX/venv/bin/pip" install --quiet --upgrade "$SOURCE"
    fi
    "$PREFIX/venv/bin/camaudit" --version
}

# put SRC DEST MODE [OWNER:GROUP]: install a file unless DEST exists (config is kept).
put() {
    local src="$1" dest="$ROOT$2" mode="$3" owner="${4:-root:root}" keep="${5:-}"
    if [ -n "$keep" ] && [ -e "$dest" ]; then
        say "keeping existing $2"
        return 0
    fi
    install -D -m "$mode" "$src" "$dest"
    if real; then chown "$owner" "$dest"; fi
}

probe_config() {
    cat <<EOF
# camaudit probe configuration (see docs/deploy.md). Environment variables override
# these: CAMAUDIT_SERVER, CAMAUDIT_TOKEN_FILE, CAMAUDIT_ALLOWED_TARGETS, ...
name = "$(hostname -s 2>/dev/null || echo probe)"
site = "CHANGE-ME"
# The dashboard's URL; leave it out on an air-gapped VLAN (then: camaudit probe export).
# server = "https://camaudit.example.org"
token_file = "$CONF/probe.token"
# The only addresses this probe may ever scan; jobs naming others are refused.
allowed_targets = []
data_dir = "$DATA/probe"
poll_interval = 60
EOF
}

server_env() {
    local secret
    secret="$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 64)"
    cat <<EOF
# camaudit server environment (read by camaudit-server.service).
CAMAUDIT_SECRET_KEY=$secret
# Listen on all interfaces only behind a firewall or a TLS proxy.
CAMAUDIT_LISTEN_HOST=127.0.0.1
CAMAUDIT_LISTEN_PORT=8080
EOF
}

lay_down() {
    local tmp
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN
    install -d -m 0755 "$ROOT$PREFIX" "$ROOT$PREFIX/share" "$ROOT$UNITS" "$ROOT$(dirname "$JOURNALD")"
    install -d -m 0750 "$ROOT$CONF" "$ROOT$DATA" "$ROOT$DATA/$ROLE"
    if real; then
        chown root:"$USER_NAME" "$CONF"
        chown "$USER_NAME:$USER_NAME" "$DATA" "$DATA/$ROLE"
    fi
    [ -f "$SOURCE/docs/deploy.md" ] && put "$SOURCE/docs/deploy.md" "$PREFIX/share/deploy.md" 0644
    put "$HERE/systemd/camaudit-$ROLE.service" "$UNITS/camaudit-$ROLE.service" 0644
    put "$HERE/journald-camaudit.conf" "$JOURNALD" 0644
    if [ "$ROLE" = probe ]; then
        probe_config > "$tmp/probe.toml"
        : > "$tmp/probe.token"
        put "$tmp/probe.toml" "$CONF/probe.toml" 0640 "root:$USER_NAME" keep
        put "$tmp/probe.token" "$CONF/probe.token" 0640 "root:$USER_NAME" keep
    else
        server_env > "$tmp/server.env"
        put "$tmp/server.env" "$CONF/server.env" 0640 "root:$USER_NAME" keep
    fi
}

enable_service() {
    real || { say "files laid down under $ROOT (no system changes in --root mode)"; return 0; }
    if ! booted; then
        if have_systemctl; then
            # Offline enable only writes the wants/ symlinks: the unit starts on next boot.
            systemctl enable "camaudit-$ROLE.service"
            say "systemd is not running here (chroot or image build): camaudit-$ROLE.service"
            say "is installed and enabled, not started; it starts when this system boots"
        else
            say "systemd is not running here and systemctl is missing: the unit is in"
            say "$UNITS/camaudit-$ROLE.service but not enabled; run camaudit yourself, e.g."
            say "  $PREFIX/venv/bin/camaudit probe run  (or: serve)"
        fi
        return 0
    fi
    systemctl daemon-reload
    systemctl restart systemd-journald || true  # pick up the journal limits
    systemctl enable "camaudit-$ROLE.service"
    if [ "$START" = 1 ] && [ "$ROLE" = server ]; then
        systemctl restart camaudit-server.service
    fi
    if [ "$ROLE" = probe ]; then
        say "edit $CONF/probe.toml (site, server, allowed_targets) and put the token in"
        say "$CONF/probe.token, then: systemctl start camaudit-probe"
    else
        say "dashboard on http://127.0.0.1:8080/ ; add an admin:"
        say "  sudo -u $USER_NAME env CAMAUDIT_DATA_DIR=$DATA/server $PREFIX/venv/bin/camaudit user add admin --role admin"
    fi
}

uninstall() {
    local role
    for role in probe server; do
        if real && have_systemctl && [ -e "$UNITS/camaudit-$role.service" ]; then
            if booted; then
                systemctl disable --now "camaudit-$role.service" 2>/dev/null || true
            else
                systemctl disable "camaudit-$role.service" 2>/dev/null || true
            fi
        fi
        rm -f "$ROOT$UNITS/camaudit-$role.service"
    done
    rm -f "$ROOT$JOURNALD"
    rm -rf "$ROOT$PREFIX"
    if [ "$PURGE" = 1 ]; then
        rm -rf "$ROOT$CONF" "$ROOT$DATA"
        if real && getent passwd "$USER_NAME" >/dev/null; then userdel "$USER_NAME"; fi
        if real && getent group "$USER_NAME" >/dev/null; then groupdel "$USER_NAME" 2>/dev/null || true; fi
        say "removed camaudit, its configuration and its data"
    else
        say "removed camaudit; kept $CONF and $DATA (results, keys): --purge removes them"
    fi
    if real && booted; then systemctl daemon-reload; fi
}

if [ "$ACTION" = uninstall ]; then
    uninstall
    exit 0
fi
arch_check
install_packages
create_user
lay_down
create_venv
enable_service
