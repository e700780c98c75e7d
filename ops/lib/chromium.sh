# shellcheck shell=bash
# Debian's Chromium, for the Playwright reporter's end-to-end test (never
# `playwright install`: browsers come from Debian). Source after clickhouse.sh
# (it uses _apt_get).

# chromium_install: install the chromium package when /usr/bin/chromium is missing.
chromium_install() {
  local pkglog
  if [[ -x /usr/bin/chromium ]]; then
    log "Chromium present (/usr/bin/chromium)"
    return 0
  fi
  pkglog="$(mktemp /tmp/runledger-apt.XXXXXX)"
  log "installing chromium (apt-get)"
  if ! _apt_get install -y -q chromium >>"$pkglog" 2>&1; then
    _apt_get update -qq >>"$pkglog" 2>&1 || true
    _apt_get install -y -q chromium >>"$pkglog" 2>&1 || { show_log_tail "$pkglog"; die "could not install chromium (log: $pkglog)"; }
  fi
  rm -f "$pkglog"
}
