// A real OpenID provider on loopback for the end-to-end tests: the certified npm `oidc-provider`
// with one static client, PKCE (S256) required, and its built-in login form (any login name
// signs in as that user). The issuer is on `localhost` while Atelier runs on 127.0.0.1, so the
// return from the provider is a genuine cross-site navigation.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT ?? 3102);
const appUrl = process.env.APP_URL ?? 'http://127.0.0.1:3100';
const issuer = `http://localhost:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'atelier-e2e',
    client_secret: 'e2e-client-secret-for-tests-only',
    redirect_uris: [`${appUrl}/auth/e2e/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Put the scope's claims in the ID token, as Google and most providers do.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true, name: `${id[0].toUpperCase()}${id.slice(1)} Lovelace` }),
  }),
  // First-party client: no consent screen.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  cookies: { keys: ['e2e-only-cookie-signing-key'] },
});

provider.listen(port, () => console.log(`oidc-provider listening at ${issuer}`));
