'use strict';

// A real OAuth2 server for token-client's interop tests: the token endpoint and the bearer
// check are @node-oauth/oauth2-server's own; this file only adds an HTTP front end
// (node:http), an in-memory model, a protected resource and request counters.
//
//   node server.js [--port=0] [--access-token-lifetime=2] [--exit-with-stdin]
//
// Prints `LISTENING 127.0.0.1:<port>` as its first stdout line once it accepts connections.
// Listens on 127.0.0.1 only. Everything is in memory: a restarted server has forgotten
// every token it issued, and its counters start at zero.
//
// Routes:
//   POST /token     RFC 6749 token endpoint: client_credentials, password, refresh_token
//                   (a refresh token is single-use: each refresh revokes it and issues a
//                   new one). Client authentication by HTTP Basic or in the form body.
//   GET  /resource  200 with JSON for a currently valid bearer token, 401 otherwise.
//   GET  /stats     the counters, as JSON.
//
// Options (flag, or environment variable):
//   --port                     INTEROP_PORT                    0 (any free port)
//   --access-token-lifetime    INTEROP_ACCESS_TOKEN_LIFETIME   2 (seconds)
//   --refresh-token-lifetime   INTEROP_REFRESH_TOKEN_LIFETIME  3600 (seconds)
//   --exit-with-stdin          exit when stdin closes (the test harness passes it, so a
//                              server never outlives the test process that started it)
// The one client is `interop-client` / `interop-secret`, the one user `alice` / `wonderland`
// (INTEROP_CLIENT_ID, INTEROP_CLIENT_SECRET, INTEROP_USERNAME, INTEROP_PASSWORD).

const { AsyncLocalStorage } = require('node:async_hooks');
const http = require('node:http');
const { parseArgs } = require('node:util');
const OAuth2Server = require('@node-oauth/oauth2-server');

const { Request, Response, OAuthError } = OAuth2Server;

const GRANTS = ['client_credentials', 'password', 'refresh_token'];
const MAX_BODY = 64 * 1024;

function config() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'access-token-lifetime': { type: 'string' },
      'refresh-token-lifetime': { type: 'string' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  const env = process.env;
  const number = (flag, name, fallback) => {
    const raw = values[flag] ?? env[name] ?? String(fallback);
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`--${flag} (${name}) must be a non-negative number, got ${raw}`);
    }
    return value;
  };
  return {
    port: number('port', 'INTEROP_PORT', 0),
    accessTokenLifetime: number('access-token-lifetime', 'INTEROP_ACCESS_TOKEN_LIFETIME', 2),
    refreshTokenLifetime: number('refresh-token-lifetime', 'INTEROP_REFRESH_TOKEN_LIFETIME', 3600),
    exitWithStdin: values['exit-with-stdin'],
    client: {
      id: env.INTEROP_CLIENT_ID ?? 'interop-client',
      secret: env.INTEROP_CLIENT_SECRET ?? 'interop-secret',
    },
    user: {
      username: env.INTEROP_USERNAME ?? 'alice',
      password: env.INTEROP_PASSWORD ?? 'wonderland',
    },
  };
}

// ---- counters ----

function newStats(cfg) {
  const perGrant = () => Object.fromEntries([...GRANTS, 'other'].map((g) => [g, 0]));
  return {
    access_token_lifetime: cfg.accessTokenLifetime,
    token_requests: perGrant(), // every POST /token, by its grant_type
    tokens_issued: perGrant(), // the successful ones
    token_errors: {}, // failures, by OAuth2 error code
    client_auth: { basic: 0, body: 0, none: 0 }, // how clients authenticated
    resource: { ok: 0, unauthorized: 0 },
  };
}

// ---- the model: what @node-oauth/oauth2-server asks of its storage ----

function newModel(cfg) {
  const client = { id: cfg.client.id, grants: GRANTS };
  const user = { id: 'user-1', username: cfg.user.username };
  const accessTokens = new Map();
  const refreshTokens = new Map();
  return {
    async getClient(clientId, clientSecret) {
      const known = clientId === cfg.client.id && clientSecret === cfg.client.secret;
      return known ? client : null;
    },
    async getUser(username, password) {
      const known = username === cfg.user.username && password === cfg.user.password;
      return known ? user : null;
    },
    // client_credentials: the token is issued to the client itself.
    async getUserFromClient(c) {
      return { id: `client:${c.id}` };
    },
    async saveToken(token, c, u) {
      const record = { ...token, client: c, user: u, grant: grantOfRequest.getStore() };
      accessTokens.set(token.accessToken, record);
      if (token.refreshToken) {
        refreshTokens.set(token.refreshToken, record);
      }
      // The library reports `expires_in` as the *floor* of the seconds left when it builds
      // the response, a few milliseconds after it set the expiry: a 2 s token would be
      // announced as `expires_in: 1`. Report the nearest whole second instead (the expiry
      // enforced by getAccessToken below is the exact one).
      const reported = new Date(token.accessTokenExpiresAt.getTime() + 500);
      return { ...record, accessTokenExpiresAt: reported };
    },
    async getAccessToken(accessToken) {
      return accessTokens.get(accessToken) ?? null;
    },
    async getRefreshToken(refreshToken) {
      return refreshTokens.get(refreshToken) ?? null;
    },
    // Rotation: a refresh token is deleted when used, so reusing one is `invalid_grant`.
    async revokeToken(token) {
      return refreshTokens.delete(token.refreshToken);
    },
  };
}

// The grant of the token request being handled, for saveToken's record (the library calls
// the model without the request; concurrent requests each see their own value).
const grantOfRequest = new AsyncLocalStorage();

// ---- HTTP front end ----

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function oauthRequest(req, url, body) {
  const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  return new Request({
    method: req.method,
    headers: req.headers,
    query: Object.fromEntries(url.searchParams),
    body: isForm ? Object.fromEntries(new URLSearchParams(body)) : {},
  });
}

function send(res, status, body, headers = {}) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function clientAuthOf(req, form) {
  if ((req.headers.authorization ?? '').toLowerCase().startsWith('basic ')) return 'basic';
  if (form.client_id !== undefined) return 'body';
  return 'none';
}

async function token(oauth, stats, req, res, url) {
  const request = oauthRequest(req, url, await readBody(req));
  const grant = GRANTS.includes(request.body.grant_type) ? request.body.grant_type : 'other';
  stats.token_requests[grant] += 1;
  stats.client_auth[clientAuthOf(req, request.body)] += 1;
  const response = new Response();
  try {
    await grantOfRequest.run(grant, () => oauth.token(request, response));
    stats.tokens_issued[grant] += 1;
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    stats.token_errors[error.name] = (stats.token_errors[error.name] ?? 0) + 1;
  }
  send(res, response.status, response.body, response.headers);
}

async function resource(oauth, stats, req, res, url) {
  const response = new Response();
  try {
    const token = await oauth.authenticate(oauthRequest(req, url, ''), response);
    stats.resource.ok += 1;
    send(res, 200, { user: token.user.id, client: token.client.id, grant: token.grant }, response.headers);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    stats.resource.unauthorized += 1;
    // RFC 6750 3.1: every failed bearer check is a 401 here (the library answers 400 for
    // a malformed header), so a client always sees "this token is not accepted".
    send(res, 401, { error: error.name, error_description: error.message }, response.headers);
  }
}

function handler(oauth, stats) {
  return async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (req.method === 'POST' && url.pathname === '/token') {
        await token(oauth, stats, req, res, url);
      } else if (req.method === 'GET' && url.pathname === '/resource') {
        await resource(oauth, stats, req, res, url);
      } else if (req.method === 'GET' && url.pathname === '/stats') {
        send(res, 200, stats);
      } else {
        send(res, 404, { error: 'not_found' });
      }
    } catch (error) {
      process.stderr.write(`interop-server: ${req.method} ${url.pathname}: ${error.stack ?? error}\n`);
      if (!res.headersSent) send(res, 500, { error: 'server_error' });
      else res.destroy();
    }
  };
}

// Listens, retrying while the port is still held (a restart on the same port right after
// the previous process was killed).
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
  const stats = newStats(cfg);
  const oauth = new OAuth2Server({
    model: newModel(cfg),
    accessTokenLifetime: cfg.accessTokenLifetime,
    refreshTokenLifetime: cfg.refreshTokenLifetime,
    alwaysIssueNewRefreshToken: true,
  });
  const server = http.createServer(handler(oauth, stats));
  // Idle keep-alive connections stay open longer than any test: a server closing one just
  // as a client reuses it would fail that request for a reason that has nothing to do
  // with tokens.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  if (cfg.exitWithStdin) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  }
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  const address = await listen(server, cfg.port);
  process.stdout.write(`LISTENING ${address.address}:${address.port}\n`);
}

main().catch((error) => {
  process.stderr.write(`interop-server: ${error.stack ?? error}\n`);
  process.exit(1);
});
