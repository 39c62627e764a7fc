#!/bin/sh
# The official postgres image's initdb hook: let a standby in another container stream WAL
# (its pg_hba.conf admits replication from loopback only). Used by docker-compose.test.yml's
# `standby` profile and by servers/postgres_standby/docker.py.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
