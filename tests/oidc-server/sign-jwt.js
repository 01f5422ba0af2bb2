// Signs one JWT with jose, for tests that need a client assertion (private_key_jwt,
// client_secret_jwt) or a jwt-bearer assertion made by something other than the code under
// test.
//
//   echo '{"alg":"ES256","kid":"ec-1","key_pem":"-----BEGIN PRIVATE KEY-----...","claims":{...}}' | node sign-jwt.js
//   echo '{"alg":"HS256","secret":"...","claims":{...}}' | node sign-jwt.js
//
// Prints the compact JWS on stdout. `claims` is used as given (add iat/exp/jti yourself, or
// set "defaults": true for iat = now, exp = now + 60 s and a random jti).

import * as crypto from 'node:crypto';

import * as jose from 'jose';

const input = JSON.parse(await new Promise((resolve, reject) => {
  const chunks = [];
  process.stdin.on('data', (chunk) => chunks.push(chunk));
  process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  process.stdin.on('error', reject);
}));

const { alg, kid, key_pem: keyPem, secret, defaults } = input;
const claims = { ...input.claims };
if (defaults) {
  const now = Math.floor(Date.now() / 1000);
  claims.iat ??= now;
  claims.exp ??= now + 60;
  claims.jti ??= crypto.randomUUID();
}
const key = secret !== undefined ? new TextEncoder().encode(secret) : crypto.createPrivateKey(keyPem);
const header = { alg, typ: 'JWT', ...(kid ? { kid } : {}) };
process.stdout.write(await new jose.SignJWT(claims).setProtectedHeader(header).sign(key));
