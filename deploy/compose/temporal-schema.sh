#!/bin/sh
# Temporal's two PostgreSQL databases (deploy/compose.yaml, admin-tools image): created on the
# first start, their schemas brought to this image's server version at every start. `create` and
# the initial `setup-schema` fail harmlessly once done; `update-schema` is the step that must pass.
# temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD from the environment.
set -eu
schemas=/etc/temporal/schema/postgresql/v12
for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=${pair#*:}
  temporal-sql-tool --db "$db" create 2>/dev/null || echo "database $db exists"
  temporal-sql-tool --db "$db" setup-schema -v 0.0 2>/dev/null || echo "schema of $db already set up"
  temporal-sql-tool --db "$db" update-schema -d "$schemas/$dir/versioned"
done
echo "temporal schemas up to date"
