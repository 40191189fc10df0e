#!/usr/bin/env bash
# The servers the sink tests start (tests/servers.py): Kafka's jars from Maven Central into
# servers/lib/kafka and QuestDB's into servers/lib/questdb, with a Maven repository of their own
# (a shared ~/.m2 would keep POM-only entries that then break Spark's Ivy resolution of the same
# artifacts); PostgreSQL 15 from Debian's packages when it is missing (needs root); Debian's
# Chromium for the report's browser test (tests/test_report.py) when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
stamp=$(sha1sum pom.xml | cut -c1-40)  # a changed pom.xml fetches again
if [ "$(cat lib/kafka/.complete 2>/dev/null)" != "$stamp" ]; then
  rm -rf lib/kafka
  mvn -q -B -Dmaven.repo.local="$PWD/lib/m2" dependency:copy-dependencies \
    -DincludeScope=runtime -DexcludeArtifactIds=questdb -DoutputDirectory="$PWD/lib/kafka"
  rm -rf lib/questdb
  mvn -q -B -Dmaven.repo.local="$PWD/lib/m2" dependency:copy-dependencies \
    -DincludeArtifactIds=questdb -DoutputDirectory="$PWD/lib/questdb"
  rm -rf lib/m2
  echo "$stamp" > lib/kafka/.complete
fi
packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql-15)
[ -x /usr/bin/chromium ] || packages+=(chromium)
if [ ${#packages[@]} -gt 0 ]; then
  apt-get update -q >/dev/null && apt-get install -y -q "${packages[@]}" >/dev/null
fi
echo "servers: Kafka jars in servers/lib/kafka ($(ls lib/kafka | wc -l) files); QuestDB $(ls lib/questdb); PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin | head -1); $(/usr/bin/chromium --version 2>/dev/null)"
