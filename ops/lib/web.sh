# shellcheck shell=bash
# The dashboard (web/): its own npm dependencies and a Vite build into web/dist,
# which the API serves at /. Source after common.sh.

# web_build: `npm ci` in web/ when its lock is newer than its node_modules, then
# `vite build` when a source is newer than web/dist (or RUNLEDGER_WEB_REBUILD=1).
web_build() {
  local web="$ROOT/web" newer
  [[ -f "$web/package.json" ]] || { warn "web/ has no package.json: no dashboard"; return 0; }
  if [[ ! -d "$web/node_modules" || "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]]; then
    log "installing the dashboard's npm dependencies (npm ci in web/)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci in web/ failed"
  fi
  newer=""
  if [[ -f "$web/dist/index.html" && "${RUNLEDGER_WEB_REBUILD:-0}" != 1 ]]; then
    newer=$(find "$web/src" "$web/index.html" "$web/vite.config.ts" "$web/package-lock.json" -newer "$web/dist/index.html" -print -quit)
    [[ -z "$newer" ]] && { log "dashboard build up to date (web/dist)"; return 0; }
  fi
  log "building the dashboard (vite build → web/dist)"
  (cd "$web" && npx vite build --logLevel warn) >&2 || die "the dashboard build failed"
}
