#!/usr/bin/env bash
# Provide the jars of a real Elasticsearch node for the tests, in a cache folder outside git:
#
#   ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/elasticsearch/7.10.2/lib
#
# Elasticsearch has no Debian package and there is no container engine here, but Maven
# Central carries org.codelibs' cluster runner, which starts Elasticsearch 7.10.2 (the OSS
# modules) in a JVM from those jars. The chart deploys Elasticsearch 8.17; what the tests
# use (index templates, _bulk, _search with bool/term/range, terms aggregations) is the
# same API in both. Needs java (>= 11) and mvn. Prints the lib directory on stdout.
# With the jars cached this exits in milliseconds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=7.10.2
CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
LIB=$CACHE/elasticsearch/$VERSION/lib
STAMP=$LIB/.complete

log() { printf '[elasticsearch] %s\n' "$*" >&2; }

if [[ -f $STAMP ]] && cmp -s "$STAMP" "$HERE/elasticsearch/pom.xml"; then
  echo "$LIB"
  exit 0
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool not found: the Elasticsearch tests need Java and Maven (make system-deps)"; exit 1; }
done
log "fetching Elasticsearch $VERSION jars from Maven Central into $LIB"
rm -rf "$LIB"
mkdir -p "$LIB"
MVN_LOG=$CACHE/elasticsearch/$VERSION/mvn.log
if ! mvn -B -f "$HERE/elasticsearch/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$LIB" -DincludeScope=runtime >"$MVN_LOG" 2>&1; then
  tail -40 "$MVN_LOG" >&2
  log "mvn failed; the whole log is $MVN_LOG"
  exit 1
fi
cp "$HERE/elasticsearch/pom.xml" "$STAMP"
log "$(find "$LIB" -name '*.jar' | wc -l) jars"
echo "$LIB"
