// A loopback stand-in for GitHub's OAuth 2.0 endpoints and user API, speaking GitHub's protocol
// (github.com cannot be reached from the test machines): /login/oauth/authorize approves at once
// and redirects back, /login/oauth/access_token checks the client, the code, the exact redirect
// URI and the PKCE S256 verifier, and /api/user(/emails) answer for the bearer token.
import http from 'node:http';
import crypto from 'node:crypto';

const port = Number(process.env.GITHUB_PORT ?? 3103);
const appUrl = process.env.APP_URL ?? 'http://127.0.0.1:3100';
const client = { id: 'atelier-github', secret: 'github-client-secret-for-tests-only', redirect: `${appUrl}/auth/github/callback` };
const user = { id: 583231, login: 'octocat', name: 'The Octocat' };
const codes = new Map();
const tokens = new Set();

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const base64url = (buffer) => buffer.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

http.createServer((req, res) => {
  const url = new URL(req.url, `http://localhost:${port}`);
  if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
    const p = url.searchParams;
    if (p.get('client_id') !== client.id || p.get('redirect_uri') !== client.redirect || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) {
      res.writeHead(400);
      return res.end('bad authorization request');
    }
    const code = crypto.randomBytes(16).toString('hex');
    codes.set(code, { challenge: p.get('code_challenge'), redirect: p.get('redirect_uri'), expires: Date.now() + 600_000 });
    res.writeHead(302, { location: `${client.redirect}?code=${code}&state=${encodeURIComponent(p.get('state') ?? '')}` });
    return res.end();
  }
  if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const basic = (req.headers.authorization ?? '').replace(/^Basic /, '');
      const [id, secret] = basic ? Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent) : [form.get('client_id'), form.get('client_secret')];
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const ok = id === client.id && secret === client.secret && grant && grant.expires > Date.now()
        && form.get('redirect_uri') === grant.redirect
        && base64url(crypto.createHash('sha256').update(verifier).digest()) === grant.challenge;
      if (!ok) return json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      const token = `gho_${crypto.randomBytes(18).toString('hex')}`;
      tokens.add(token);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    });
    return;
  }
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  if (req.method === 'GET' && url.pathname.startsWith('/api/')) {
    if (!tokens.has(token)) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/api/user') return json(res, 200, user);
    if (url.pathname === '/api/user/emails') return json(res, 200, [
      { email: 'octocat@users.noreply.example.test', primary: false, verified: true, visibility: null },
      { email: 'octocat@example.test', primary: true, verified: true, visibility: 'public' },
    ]);
  }
  json(res, 404, { message: 'Not Found' });
}).listen(port, () => console.log(`GitHub stand-in listening at http://localhost:${port}`));
