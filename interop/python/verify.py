#!/usr/bin/env python3
"""Verify one Avow token with PyJWT against a JWKS URL and print its claims as JSON.

The token is read from standard input, so it never appears in a process listing.

Exit status:
  0  the token is valid; its claims are printed as one JSON object
  1  the token was rejected; {"error": "<PyJWT exception class>", "message": ...} is printed
  2  the JWKS could not be fetched, or the arguments are invalid

Usage:
  verify.py --jwks-url http://127.0.0.1:8080/.well-known/jwks.json \
      --issuer avow --audience TEAMID.com.example.app < token.txt
"""

import argparse
import json
import sys

import jwt

# The `typ` header of every Avow token.
TOKEN_TYPE = "avow+jwt"
# Clock-skew allowance for `exp` and `iat`, the same as Avow's own checks.
LEEWAY_SECS = 30
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti"]


def reject(error: str, message: str) -> None:
    print(json.dumps({"error": error, "message": message}))
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jwks-url", required=True, help="URL of the server's JWKS")
    parser.add_argument("--issuer", required=True, help="expected `iss` claim")
    parser.add_argument("--audience", required=True, help="expected `aud` claim (the app id)")
    args = parser.parse_args()

    token = sys.stdin.read().strip()
    # No key cache: each run fetches the JWKS once, which is what the interop test checks.
    client = jwt.PyJWKClient(args.jwks_url, cache_jwk_set=False, timeout=10)
    try:
        signing_key = client.get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as error:
        print(f"verify.py: fetching the JWKS failed: {error}", file=sys.stderr)
        sys.exit(2)
    except jwt.PyJWTError as error:
        # An unknown `kid` or a token whose header cannot be decoded.
        reject(type(error).__name__, str(error))

    try:
        decoded = jwt.decode_complete(
            token,
            signing_key.key,
            algorithms=["ES256"],
            audience=args.audience,
            issuer=args.issuer,
            leeway=LEEWAY_SECS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidTokenError as error:
        reject(type(error).__name__, str(error))

    # PyJWT does not check `typ`. The header is covered by the signature verified above.
    typ = decoded["header"].get("typ")
    if typ != TOKEN_TYPE:
        reject("InvalidTypeError", f"header typ is {typ!r}, expected {TOKEN_TYPE!r}")

    print(json.dumps(decoded["payload"], sort_keys=True))


if __name__ == "__main__":
    main()
