// An OpenID provider on loopback that can be told to misbehave, for the negative sign-in tests
// (server/tests/integration/oidc.rs). It speaks the real protocol — discovery, a JWKS, a token
// endpoint answering with an RS256-signed ID token — and the authorization code says how to
// answer: `<mode>~<nonce>`, where mode is one of
//   good            a valid token (proves the others fail for their one fault)
//   bad-signature   signed by another key under the published key id
//   wrong-issuer    `iss` is not this provider
//   wrong-audience  `aud` is another client
//   wrong-nonce     `nonce` is not the one the sign-in sent
//   expired         `exp` has passed
//   redirect        the token endpoint answers 307 to an endpoint that would give a valid token
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const port = Number(process.env.MISBEHAVING_PORT ?? 3104);
const issuer = `http://localhost:${port}`;
const clientId = 'atelier-e2e';
const kid = 'misbehaving-1';
const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
const { privateKey: strangerKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

async function idToken(mode, nonce) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { nonce, email: 'misbehaving@example.test', email_verified: true, name: 'Mis Behaving' };
  let iss = issuer, aud = clientId, iat = now, exp = now + 300, key = privateKey;
  if (mode === 'bad-signature') key = strangerKey;
  if (mode === 'wrong-issuer') iss = 'http://localhost:1';
  if (mode === 'wrong-audience') aud = 'another-client';
  if (mode === 'wrong-nonce') claims.nonce = 'not-the-nonce-that-was-sent';
  if (mode === 'expired') { iat = now - 3600; exp = now - 600; }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(iss).setAudience(aud).setSubject('misbehaving-user').setIssuedAt(iat).setExpirationTime(exp)
    .sign(key);
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(res, 200, {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid', 'email', 'profile'],
    });
  }
  if (url.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
  if (req.method === 'POST' && (url.pathname === '/token' || url.pathname === '/token-after-redirect')) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const code = new URLSearchParams(body).get('code') ?? '';
    const [mode, nonce] = code.split('~');
    if (mode === 'redirect' && url.pathname === '/token') {
      res.writeHead(307, { location: `${issuer}/token-after-redirect` });
      return res.end();
    }
    const good = mode === 'redirect' ? 'good' : mode;
    return json(res, 200, { access_token: 'unused', token_type: 'Bearer', expires_in: 300, id_token: await idToken(good, nonce) });
  }
  json(res, 404, { error: 'not_found' });
});
server.listen(port, 'localhost');
