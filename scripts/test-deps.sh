#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust, idempotently: an independent JOSE library
# (Python jwcrypto) that verifies the SETs the host signs, the openssl command that makes
# an RSA key too small to accept, nats-server (2.9 on Debian 12, with JetStream: -js) and
# moto_server with boto3 (PyPI moto[server]: an SQS-compatible server and an independent
# client) that the nats and sqs sinks' tests start.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! python3 -c 'import jwcrypto' 2>/dev/null; then
  "$root/scripts/pip-install.sh" 'jwcrypto>=1.5'
fi
# moto_server lands in the pip user base on a distro Python (PEP 668): look there too.
if ! python3 -c 'import boto3, moto.server' 2>/dev/null \
  || ! PATH="$PATH:$(python3 -m site --user-base)/bin" command -v moto_server >/dev/null; then
  "$root/scripts/pip-install.sh" 'moto[server]>=5,<6'
fi
if ! command -v openssl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends nats-server >/dev/null
fi
