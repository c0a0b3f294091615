#!/usr/bin/env bash
# Installs the operating-system packages BorderRisk needs, only those that are missing.
# Debian 12 / Ubuntu: PostgreSQL + PostGIS 3, the Python venv module, Node.js + npm,
# Pango and fonts for the PDF bulletin and map labels.
# With --test also what the test suite uses: GDAL's command-line tools (ogrinfo),
# Chromium for the browser tests, nginx for the two-node proxy test (tests/scaling)
# and QGIS's Python bindings (python3-qgis: QGIS 3.22 on Debian 12, with the WMS,
# OGC API Features and vector tile providers of qgis-providers, run headless by
# testsupport/qgis.py). Runs apt-get as root, or through sudo.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# PostgreSQL 15 + PostGIS 3 where the distribution has them (Debian 12), else the
# distribution's default PostgreSQL with its PostGIS.
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  missing+=(postgis-server)
fi
# The venv module of the interpreter the Makefile makes .venv from (PYTHON).
"${PYTHON:-python3}" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
# WeasyPrint (PDF bulletins) needs Pango; DejaVu fonts cover Latin and Georgian for
# the PDF and for map labels drawn by mapnik.
have_pkg libpangoft2-1.0-0 || missing+=(libpangoft2-1.0-0)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "$want_test" = 1 ]; then
  command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  have_pkg python3-qgis || missing+=(python3-qgis)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "error: missing system packages (${missing[*]}) and neither root nor sudo" >&2
  exit 1
fi

echo "installing system packages for: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
packages=()
for item in "${missing[@]}"; do
  case "$item" in
    postgis-server)
      if apt-cache show postgresql-15-postgis-3 >/dev/null 2>&1; then
        packages+=(postgresql-15 postgresql-15-postgis-3)
      else
        packages+=(postgresql postgis)
      fi ;;
    python3-venv)
      ver=$("${PYTHON:-python3}" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      if apt-cache show "python${ver}-venv" >/dev/null 2>&1; then
        packages+=("python${ver}-venv")
      else
        packages+=(python3-venv)
      fi ;;
    npm) packages+=(nodejs npm) ;;
    *) packages+=("$item") ;;
  esac
done
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
# Debian's postgresql package starts a default cluster on port 5432; BorderRisk does not
# use it (its own cluster lives under instance/), so it is left as the package set it up.
