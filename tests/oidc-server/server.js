// A certified OpenID provider (the npm package oidc-provider) for token-client's client
// authentication tests: every token request is checked by oidc-provider's own code; this
// file only configures it for machine-to-machine use, serves it over HTTPS (with optional
// client certificates), and counts the token requests.
//
//   node server.js [--port=0] [--exit-with-stdin]
//
// Prints `LISTENING 127.0.0.1:<port>` on stdout once it accepts connections (nothing else is
// written to stdout: oidc-provider's notices go to stderr). Listens on 127.0.0.1 only; the
// issuer is `https://localhost:<port>`. Everything is in memory.
//
// Environment:
//   TLS_CERT, TLS_KEY  PEM files: the server certificate (for localhost and 127.0.0.1) and key.
//   TLS_CA             PEM file: the CA that signs client certificates for tls_client_auth
//                      (client certificates are requested, never required: a connection
//                      without one, or with a self-signed one, is accepted).
//   CLIENTS_JSON       the clients, a JSON array (or CLIENTS_FILE: a file holding it). Each
//                      entry is oidc-provider client metadata, with these additions:
//                        grant_types     defaults to ["client_credentials"]
//                        response_types  defaults to []
//                        redirect_uris   defaults to []
//                        jwks_pem        [{ "public_key_pem": "...", "kid": "...", "alg": "..." },
//                                         { "certificate_pem": "...", "kid": "..." }]
//                                        becomes `jwks`: a public key as its JWK, a
//                                        certificate as the JWK of its key with `x5c`.
//   SCOPES             the scopes a client may ask for, space separated
//                      (default "orders.read orders.write foos.read").
//   DEFAULT_RESOURCE   the resource (audience) of a token request that names none
//                      (default: none; the token then has no `aud`).
//   ACCESS_TOKEN_TTL   access token lifetime in seconds (default 300).
//   ACCESS_TOKEN_FORMAT  "opaque" (default; introspectable) or "jwt" (not introspectable).
//   OIDC_PORT          the port (default 0: any free port); --port wins.
//   CLOCK_OFFSET       seconds this server's clock runs ahead of the host's (default 0).
//
// Routes (oidc-provider's, see /.well-known/openid-configuration), in particular:
//   POST /token                 client_credentials, and urn:ietf:params:oauth:grant-type:jwt-bearer
//                               (RFC 7523 2.1; see jwtBearerGrant below)
//   POST /token/introspection   RFC 7662; any authenticated client may introspect any token
//   GET  /jwks                  the provider's signing keys
// and this file's:
//   GET  /__stats               the counters, as JSON (see newStats)
//   POST /__stats/reset         sets the counters back to zero

import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

// stdout carries the LISTENING line only: the harness reads it.
console.log = console.error;
console.info = console.error;

// CLOCK_OFFSET (seconds): this server's clock runs that far ahead of the host's, as an
// identity provider's does when the client's host clock lags: assertions the client
// signs "now" then look expired here. Set before anything reads the time.
const CLOCK_OFFSET_MS = Number(process.env.CLOCK_OFFSET ?? 0) * 1000;
if (!Number.isFinite(CLOCK_OFFSET_MS)) throw new Error('CLOCK_OFFSET must be a number of seconds');
if (CLOCK_OFFSET_MS !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + CLOCK_OFFSET_MS;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];
const CLIENT_AUTH_ALGS = ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];
const CLOCK_TOLERANCE = 15; // seconds, as oidc-provider's default
const MAX_BODY = 56 * 1024; // as oidc-provider's own limit

function config() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  const env = process.env;
  const required = (name) => {
    const value = env[name];
    if (!value) throw new Error(`the environment variable ${name} must be set`);
    return value;
  };
  const number = (name, raw, fallback) => {
    const value = Number(raw ?? fallback);
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`${name} must be a non-negative integer, got ${raw}`);
    }
    return value;
  };
  const format = env.ACCESS_TOKEN_FORMAT || 'opaque';
  if (!['opaque', 'jwt'].includes(format)) {
    throw new Error(`ACCESS_TOKEN_FORMAT must be "opaque" or "jwt", got ${format}`);
  }
  let clients;
  if (env.CLIENTS_JSON) clients = env.CLIENTS_JSON;
  else if (env.CLIENTS_FILE) clients = readFileSync(env.CLIENTS_FILE, 'utf8');
  else throw new Error('set CLIENTS_JSON (or CLIENTS_FILE): a JSON array of client metadata');
  clients = JSON.parse(clients);
  if (!Array.isArray(clients)) throw new Error('CLIENTS_JSON must be a JSON array');
  return {
    port: number('--port', values.port ?? env.OIDC_PORT, 0),
    exitWithStdin: values['exit-with-stdin'],
    tls: {
      cert: readFileSync(required('TLS_CERT')),
      key: readFileSync(required('TLS_KEY')),
      ca: readFileSync(required('TLS_CA')),
    },
    clients,
    scopes: (env.SCOPES ?? 'orders.read orders.write foos.read').split(' ').filter(Boolean),
    defaultResource: env.DEFAULT_RESOURCE || undefined,
    accessTokenTtl: number('ACCESS_TOKEN_TTL', env.ACCESS_TOKEN_TTL, 300),
    accessTokenFormat: format,
  };
}

// ---- clients ----

// The JWK of a PEM public key or certificate (with `x5c` for a certificate).
function jwkOfPem(entry, clientId) {
  const { public_key_pem: keyPem, certificate_pem: certPem, ...rest } = entry;
  let jwk;
  if (certPem) {
    const cert = new crypto.X509Certificate(certPem);
    jwk = { ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] };
  } else if (keyPem) {
    jwk = crypto.createPublicKey(keyPem).export({ format: 'jwk' });
  } else {
    throw new Error(`client ${clientId}: a jwks_pem entry needs public_key_pem or certificate_pem`);
  }
  return { ...jwk, ...rest };
}

// oidc-provider client metadata from an entry of CLIENTS_JSON.
function clientMetadata(entry) {
  const { jwks_pem: pems, ...metadata } = entry;
  if (pems !== undefined) {
    if (!Array.isArray(pems)) throw new Error(`client ${entry.client_id}: jwks_pem must be an array`);
    const keys = pems.map((pem) => jwkOfPem(pem, entry.client_id));
    metadata.jwks = { keys: [...(metadata.jwks?.keys ?? []), ...keys] };
  }
  metadata.grant_types ??= ['client_credentials'];
  metadata.response_types ??= [];
  metadata.redirect_uris ??= [];
  return metadata;
}

// ---- mutual TLS (RFC 8705) ----

function peerCertificate(ctx) {
  const socket = ctx.socket;
  if (typeof socket?.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate(false);
  return peer?.raw ? new crypto.X509Certificate(peer.raw) : undefined;
}

function pemOf(cert) {
  const base64 = cert.raw.toString('base64').match(/.{1,64}/g).join('\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

// A DN as a sorted list of `type=value` (types lower-cased), so that `CN=a, O=b` and
// Node's `O=b\nCN=a` compare equal. Good enough for test DNs (no escaped separators).
function normalizedDn(dn) {
  return dn
    .split(/[\n,]/)
    .map((rdn) => rdn.trim())
    .filter(Boolean)
    .map((rdn) => {
      const i = rdn.indexOf('=');
      return `${rdn.slice(0, i).trim().toLowerCase()}=${rdn.slice(i + 1).trim()}`;
    })
    .sort()
    .join(',');
}

function sans(cert, prefix) {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((name) => name.startsWith(prefix))
    .map((name) => name.slice(prefix.length));
}

function certificateSubjectMatches(ctx, property, expected) {
  const cert = peerCertificate(ctx);
  if (!cert) return false;
  switch (property) {
    case 'tls_client_auth_subject_dn':
      return normalizedDn(cert.subject) === normalizedDn(expected);
    case 'tls_client_auth_san_dns':
      return sans(cert, 'DNS:').includes(expected);
    case 'tls_client_auth_san_uri':
      return sans(cert, 'URI:').includes(expected);
    case 'tls_client_auth_san_ip':
      return sans(cert, 'IP Address:').includes(expected);
    case 'tls_client_auth_san_email':
      return sans(cert, 'email:').includes(expected);
    default:
      throw new Error(`unexpected certificate subject property ${property}`);
  }
}

// ---- counters ----

function newStats() {
  return {
    token_requests: 0, // every POST /token
    tokens_issued: 0, // the ones answered 200
    by_client: {}, // client_id -> { requests, issued, errors }
    by_grant_type: {}, // grant_type -> { requests, issued, errors }
    by_auth_method: {}, // how the client authenticated, by the request's shape -> { requests, issued, errors }
    by_scope_resource: [], // [{ client_id, scope, resource, requests, issued, errors }]
    errors: {}, // OAuth2 error code -> count
    last_error: {}, // client_id -> { error, error_description, error_detail, status, grant_type, auth_method }
    introspections: 0, // POST /token/introspection
  };
}

function bump(group, key, outcome) {
  const counts = (group[key] ??= { requests: 0, issued: 0, errors: 0 });
  counts.requests += 1;
  counts[outcome] += 1;
}

// The client authentication a token request carries, by its shape (not by what the client
// registered): what the client under test chose to send.
function authMethodOf(ctx, form) {
  if ((ctx.get('authorization') || '').toLowerCase().startsWith('basic ')) return 'client_secret_basic';
  if (form.has('client_secret')) return 'client_secret_post';
  if (form.has('client_assertion')) {
    try {
      const { alg } = jose.decodeProtectedHeader(form.get('client_assertion'));
      return alg?.startsWith('HS') ? 'client_secret_jwt' : 'private_key_jwt';
    } catch {
      return 'malformed_client_assertion';
    }
  }
  const cert = peerCertificate(ctx);
  if (cert) return ctx.socket.authorized ? 'tls_client_auth' : 'self_signed_tls_client_auth';
  return 'none';
}

function claimsOf(jwt) {
  try {
    return jose.decodeJwt(jwt);
  } catch {
    return {};
  }
}

// The client a token request is for: the HTTP Basic user, the form's client_id, or the
// subject of its client assertion (or the issuer of its jwt-bearer assertion).
function clientIdOf(ctx, form) {
  const authorization = ctx.get('authorization') || '';
  if (authorization.toLowerCase().startsWith('basic ')) {
    const basic = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const i = basic.indexOf(':');
    try {
      return decodeURIComponent((i === -1 ? basic : basic.slice(0, i)).replace(/\+/g, '%20'));
    } catch {
      return '(malformed)';
    }
  }
  if (form.has('client_id')) return form.get('client_id');
  if (form.has('client_assertion')) {
    const claims = claimsOf(form.get('client_assertion'));
    return claims.sub ?? claims.iss ?? '(unknown)';
  }
  if (form.has('assertion')) return claimsOf(form.get('assertion')).iss ?? '(unknown)';
  return '(unknown)';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new errors.InvalidRequest('request entity too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// Koa middleware in front of oidc-provider: the stats routes, and the counting of POST /token.
function counting(stats, tokenPath, introspectionPath) {
  return async (ctx, next) => {
    if (ctx.path === '/__stats' && ctx.method === 'GET') {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(stats.current);
      return;
    }
    if (ctx.path === '/__stats/reset' && ctx.method === 'POST') {
      stats.current = newStats();
      ctx.status = 204;
      return;
    }
    if (ctx.path === introspectionPath && ctx.method === 'POST') {
      stats.current.introspections += 1;
      return next();
    }
    if (ctx.path !== tokenPath || ctx.method !== 'POST' || !ctx.is('application/x-www-form-urlencoded')) {
      return next();
    }

    // Read the form here (oidc-provider then parses the string left in req.body).
    const raw = await readBody(ctx.req);
    const form = new URLSearchParams(raw);
    const grantType = form.get('grant_type') ?? '(none)';
    const clientId = clientIdOf(ctx, form);
    const authMethod = authMethodOf(ctx, form);
    // RFC 7523 2.1: a jwt-bearer request need not authenticate the client; oidc-provider
    // wants a client_id, so name the assertion's issuer (a client registered with
    // token_endpoint_auth_method "none").
    if (grantType === JWT_BEARER && authMethod === 'none' && !form.has('client_id') && clientId !== '(unknown)') {
      form.set('client_id', clientId);
    }
    ctx.req.body = form.toString();

    const scope = [...new Set((form.get('scope') ?? '').split(' ').filter(Boolean))].sort().join(' ');
    const resource = [...new Set(form.getAll('resource'))].sort();

    await next();

    const outcome = ctx.status === 200 ? 'issued' : 'errors';
    const s = stats.current;
    s.token_requests += 1;
    if (outcome === 'issued') s.tokens_issued += 1;
    bump(s.by_client, clientId, outcome);
    bump(s.by_grant_type, grantType, outcome);
    bump(s.by_auth_method, authMethod, outcome);
    let set = s.by_scope_resource.find(
      (entry) => entry.client_id === clientId
        && entry.scope === scope
        && JSON.stringify(entry.resource) === JSON.stringify(resource),
    );
    if (!set) {
      set = { client_id: clientId, scope, resource, requests: 0, issued: 0, errors: 0 };
      s.by_scope_resource.push(set);
    }
    set.requests += 1;
    set[outcome] += 1;
    if (outcome === 'errors') {
      let body = ctx.body;
      if (typeof body === 'string') {
        try {
          body = JSON.parse(body);
        } catch {
          body = { error: body };
        }
      }
      const code = body?.error ?? `http_${ctx.status}`;
      s.errors[code] = (s.errors[code] ?? 0) + 1;
      const thrown = ctx.state.tokenError;
      s.last_error[clientId] = {
        error: code,
        error_description: body?.error_description,
        // oidc-provider's reason, which it does not send to the client (invalid_client...).
        error_detail: thrown?.error_detail ?? thrown?.cause?.message,
        status: ctx.status,
        grant_type: grantType,
        auth_method: authMethod,
      };
    }
  };
}

// ---- the provider ----

function resourceServerInfo(cfg, resource) {
  // Any absolute URI (https://api.example.com, urn:example:api...), as RFC 8707 2 allows;
  // oidc-provider has already refused relative ones and fragments.
  if (!URL.canParse(resource)) {
    throw new errors.InvalidTarget('resource indicator must be an absolute URI');
  }
  if (resource.includes('#')) {
    throw new errors.InvalidTarget('resource indicator must not contain a fragment component');
  }
  return {
    scope: cfg.scopes.join(' '),
    audience: resource,
    accessTokenTTL: cfg.accessTokenTtl,
    accessTokenFormat: cfg.accessTokenFormat,
    jwt: { sign: { alg: 'RS256' } },
  };
}

async function signingKeys() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'op-rs256', alg: 'RS256', use: 'sig' }] };
}

async function newProvider(cfg, issuer) {
  const clients = cfg.clients.map(clientMetadata);
  const provider = new Provider(issuer, {
    clients,
    jwks: await signingKeys(),
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: cfg.scopes,
    clientAuthMethods: CLIENT_AUTH_METHODS,
    enabledJWA: { clientAuthSigningAlgValues: CLIENT_AUTH_ALGS },
    clockTolerance: CLOCK_TOLERANCE,
    ttl: { ClientCredentials: cfg.accessTokenTtl },
    extraTokenClaims: async (ctx, token) => {
      // The subject of a jwt-bearer assertion (introspection shows it as `sub`).
      if (token.kind === 'ClientCredentials' && ctx?.state?.jwtBearerSubject) {
        return { sub: ctx.state.jwtBearerSubject };
      }
      return undefined;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => cfg.defaultResource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource) => resourceServerInfo(cfg, resource),
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: false,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: (ctx) => {
          const cert = peerCertificate(ctx);
          return cert ? pemOf(cert) : undefined;
        },
        certificateAuthorized: (ctx) => ctx.socket.authorized === true,
        certificateSubjectMatches,
      },
    },
  });
  registerJwtBearer(provider, cfg, clients);
  // Load every client now: bad metadata fails the start, not a test's first request.
  for (const client of clients) {
    try {
      await provider.Client.find(client.client_id);
    } catch (error) {
      throw new Error(
        `client ${client.client_id}: ${error.message}: ${error.error_description ?? ''}`,
        { cause: error },
      );
    }
  }
  return provider;
}

// RFC 7523 2.1, the JWT bearer grant, with an assertion the client signed itself: `iss` is
// the client_id, `sub` any subject, `aud` the issuer or the token endpoint, `exp` required;
// the signature is checked against the client's registered keys (`jwks`, or its secret for
// HS256). The client authenticates as it registered (`none` is fine: the assertion is the
// proof). The token is a ClientCredentials token like client_credentials would give, with
// the assertion's `sub`.
function registerJwtBearer(provider, cfg, clients) {
  const jwksOf = new Map(clients.filter((c) => c.jwks).map((c) => [c.client_id, c.jwks]));
  provider.registerGrantType(
    JWT_BEARER,
    async (ctx) => {
      const { client, params } = ctx.oidc;
      if (!params.assertion) throw new errors.InvalidRequest("missing required parameter 'assertion'");
      let header;
      try {
        header = jose.decodeProtectedHeader(params.assertion);
      } catch {
        throw new errors.InvalidGrant('the assertion is not a JWT');
      }
      let key;
      if (header.alg?.startsWith('HS')) {
        if (!client.clientSecret) throw new errors.InvalidGrant('the client has no secret for an HS256 assertion');
        key = new TextEncoder().encode(client.clientSecret);
      } else {
        const jwks = jwksOf.get(client.clientId);
        if (!jwks) throw new errors.InvalidGrant('the client has no registered keys (jwks)');
        key = jose.createLocalJWKSet(jwks);
      }
      let payload;
      try {
        ({ payload } = await jose.jwtVerify(params.assertion, key, {
          algorithms: CLIENT_AUTH_ALGS,
          issuer: client.clientId,
          audience: [provider.issuer, ctx.oidc.urlFor('token')],
          requiredClaims: ['iss', 'sub', 'aud', 'exp'],
          clockTolerance: CLOCK_TOLERANCE,
        }));
      } catch (error) {
        throw new errors.InvalidGrant(`invalid assertion: ${error.message}`);
      }
      ctx.state.jwtBearerSubject = payload.sub;

      const allowed = new Set(client.scope ? client.scope.split(' ') : cfg.scopes);
      const scopes = [...new Set((params.scope ?? '').split(' ').filter(Boolean))];
      const denied = scopes.find((scope) => cfg.scopes.includes(scope) && !allowed.has(scope));
      if (denied) throw new errors.InvalidScope('requested scope is not allowed', denied);
      const granted = scopes.filter((scope) => allowed.has(scope));

      const resources = [params.resource ?? cfg.defaultResource].flat().filter(Boolean);
      if (resources.length > 1) {
        throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
      }
      const token = new provider.ClientCredentials({
        client,
        scope: granted.join(' ') || undefined,
      });
      if (resources.length === 1) {
        token.resourceServer = new provider.ResourceServer(
          resources[0],
          resourceServerInfo(cfg, resources[0]),
        );
      }
      ctx.oidc.entity('ClientCredentials', token);
      const value = await token.save();
      ctx.body = {
        access_token: value,
        expires_in: token.expiration,
        token_type: token.tokenType,
        scope: token.scope || undefined,
      };
    },
    ['assertion', 'scope', 'resource'],
    ['resource'],
  );
}

// ---- HTTPS front end ----

function listen(server, port, attempts = 100) {
  return new Promise((resolve, reject) => {
    let left = attempts;
    const onError = (error) => {
      left -= 1;
      if (error.code === 'EADDRINUSE' && port !== 0 && left > 0) {
        setTimeout(() => server.listen({ host: '127.0.0.1', port }), 50);
      } else {
        reject(error);
      }
    };
    server.on('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve(server.address());
    });
    server.listen({ host: '127.0.0.1', port });
  });
}

async function main() {
  const cfg = config();
  if (cfg.exitWithStdin) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  }
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));

  // The issuer names the port, so bind first and build the provider after.
  let handle = (req, res) => {
    res.writeHead(503).end();
  };
  const server = https.createServer(
    {
      ...cfg.tls,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => handle(req, res),
  );
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  const address = await listen(server, cfg.port);

  const provider = await newProvider(cfg, `https://localhost:${address.port}`);
  const stats = { current: newStats() };
  provider.on('grant.error', (ctx, error) => {
    ctx.state.tokenError = error;
  });
  provider.on('server_error', (ctx, error) => {
    if (ctx) ctx.state.tokenError = error;
    process.stderr.write(`oidc-server: server_error: ${error.stack ?? error}\n`);
  });
  provider.use(counting(stats, new URL(provider.urlFor('token')).pathname, new URL(provider.urlFor('introspection')).pathname));
  handle = provider.callback();

  process.stdout.write(`LISTENING ${address.address}:${address.port}\n`);
}

main().catch((error) => {
  process.stderr.write(`oidc-server: ${error.stack ?? error}\n`);
  process.exit(1);
});
