// Verifies one Avow token with jose against a JWKS URL and prints its claims as JSON.
//
// The token is read from standard input, so it never appears in a process listing.
//
// Exit status:
//   0  the token is valid; its claims are printed as one JSON object
//   1  the token was rejected; {"error": "<jose error code>", "claim": ..., "message": ...}
//      is printed
//   2  the JWKS could not be fetched, or the arguments are invalid
//
// Usage:
//   node verify.mjs --jwks-url http://127.0.0.1:8080/.well-known/jwks.json \
//       --issuer avow --audience TEAMID.com.example.app < token.txt

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

// The `typ` header of every Avow token.
const TOKEN_TYPE = 'avow+jwt';
// Clock-skew allowance for `exp` and `iat` in seconds, the same as Avow's own checks.
const LEEWAY_SECS = 30;
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'];

function fail(message) {
  process.stderr.write(`verify.mjs: ${message}\n`);
  process.exit(2);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      'jwks-url': { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
    },
  }));
} catch (error) {
  fail(error.message);
}
for (const name of ['jwks-url', 'issuer', 'audience']) {
  if (options[name] === undefined) {
    fail(`missing required option --${name}`);
  }
}

const token = readFileSync(0, 'utf8').trim();
const jwks = createRemoteJWKSet(new URL(options['jwks-url']), { timeoutDuration: 10_000 });

try {
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ['ES256'],
    typ: TOKEN_TYPE,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: LEEWAY_SECS,
    requiredClaims: REQUIRED_CLAIMS,
  });
  // Keys in sorted order, as verify.py prints them.
  const sorted = Object.fromEntries(
    Object.keys(payload)
      .sort()
      .map((key) => [key, payload[key]]),
  );
  process.stdout.write(`${JSON.stringify(sorted)}\n`);
} catch (error) {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    fail(`fetching the JWKS failed: ${error.message}`);
  }
  if (!(error instanceof errors.JOSEError)) {
    // A failed connection to the JWKS URL is not a verdict on the token.
    fail(`fetching the JWKS failed: ${error.message}`);
  }
  const rejection = { error: error.code, message: error.message };
  if (error instanceof errors.JWTClaimValidationFailed) {
    rejection.claim = error.claim;
  }
  process.stdout.write(`${JSON.stringify(rejection)}\n`);
  process.exit(1);
}
