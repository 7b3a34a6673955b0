#!/usr/bin/env bash
# python -m mobilenet_search_space.worker --config CONFIG [--set key=value ...] [--run-dir DIR] [--name LABEL]
# Broker: $RLNAS_AMQP_URL or search.amqp.url (amqp://user:password@host:5672/%2F, amqps:// for TLS).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m mobilenet_search_space.worker "$@"
