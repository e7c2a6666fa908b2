#!/usr/bin/env python3
"""Independent verification of the SETs tokenwatch signs, with jwcrypto (a JOSE library
the host does not use).

Usage: verify_sets.py JWKS_FILE SETS_FILE ISSUER
SETS_FILE holds one SET per line: `<compact JWS>\t<expected aud as JSON, or null>`.
Checks each signature against the public JWK set (by the header's kid), the header's
`typ` (secevent+jwt) and `kid`, the claims `iss` and `aud`, an `events` object, no
ID-token / access-token claims, and that `jti` values are unique. Prints a JSON summary;
exits 1 on the first failure, naming the line.
"""
import json
import sys

from jwcrypto import jwk, jws

FORBIDDEN = {"exp", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "acr", "amr", "azp",
             "scope", "client_id", "cnf"}


def fail(n, why):
    print(f"line {n}: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    jwks_file, sets_file, issuer = sys.argv[1:4]
    with open(jwks_file) as f:
        keys = jwk.JWKSet.from_json(f.read())
    jtis = set()
    algs = {}
    with open(sets_file) as f:
        for n, line in enumerate(f, 1):
            token, aud = line.rstrip("\n").split("\t")
            aud = json.loads(aud)
            t = jws.JWS()
            t.allowed_algs = ["RS256", "PS256", "ES256", "EdDSA"]
            t.deserialize(token)
            header = t.jose_header
            if header.get("typ") != "secevent+jwt":
                fail(n, f"typ {header.get('typ')!r}")
            key = keys.get_key(header.get("kid"))
            if key is None:
                fail(n, f"no key with kid {header.get('kid')!r}")
            if key.get("d") is not None or key.has_private:
                fail(n, "the published JWK set holds a private key")
            try:
                t.verify(key, alg=header["alg"])
            except Exception as e:  # noqa: BLE001
                fail(n, f"signature does not verify: {e}")
            claims = json.loads(t.payload)
            if claims.get("iss") != issuer:
                fail(n, f"iss {claims.get('iss')!r}")
            if claims.get("aud") != aud:
                fail(n, f"aud {claims.get('aud')!r}, expected {aud!r}")
            if not isinstance(claims.get("iat"), int):
                fail(n, "iat is not an integer")
            if not isinstance(claims.get("events"), dict) or not claims["events"]:
                fail(n, "no events object")
            bad = FORBIDDEN & set(claims)
            if bad:
                fail(n, f"forbidden claims {sorted(bad)}")
            jti = claims.get("jti")
            if not isinstance(jti, str) or len(jti) < 22:
                fail(n, f"jti {jti!r} is not at least 128 bits")
            if jti in jtis:
                fail(n, f"jti {jti!r} repeats")
            jtis.add(jti)
            algs[header["alg"]] = algs.get(header["alg"], 0) + 1
    print(json.dumps({"verified": len(jtis), "unique_jti": len(jtis), "algs": algs}))


if __name__ == "__main__":
    main()
