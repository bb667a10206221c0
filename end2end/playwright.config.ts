import { defineConfig } from '@playwright/test';

// A port of its own, so a running dev server on 3000 is never mistaken for the one under test.
const port = Number(process.env.ATELIER_E2E_PORT ?? 3100);
const binary = process.env.ATELIER_E2E_BINARY ?? 'target/debug/atelier';
const oidcPort = 3102;
const githubPort = 3103;
const sdPort = 3104;
const stripePort = 3105;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  reporter: [['list']],
  projects: [
    { name: 'hydrated', testIgnore: /no-javascript\.spec\.ts/ },
    // The flows promised to work before (and without) hydration, with JavaScript switched off.
    { name: 'no-javascript', testMatch: /no-javascript\.spec\.ts/, use: { javaScriptEnabled: false } },
  ],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser in this project.
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: [{
    // A real OpenID provider on loopback (issuer http://localhost:3102).
    command: 'exec node oidc/provider.mjs',
    url: `http://localhost:${oidcPort}/.well-known/openid-configuration`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { OIDC_PORT: String(oidcPort), APP_URL: `http://127.0.0.1:${port}` },
  }, {
    // A loopback stand-in for GitHub's OAuth endpoints and user API.
    command: 'exec node oidc/github.mjs',
    url: `http://localhost:${githubPort}/api/user`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { GITHUB_PORT: String(githubPort), APP_URL: `http://127.0.0.1:${port}` },
  }, {
    // A loopback stand-in for a Stable Diffusion WebUI, the studio's image service.
    command: 'exec node services/sd-webui.mjs',
    url: `http://127.0.0.1:${sdPort}/sdapi/v1/sd-models`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { SD_PORT: String(sdPort) },
  }, {
    // A loopback stand-in for Stripe's API and its hosted checkout, which signs its webhooks.
    command: 'exec node services/stripe.mjs',
    url: `http://127.0.0.1:${stripePort}/health`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { STRIPE_PORT: String(stripePort), APP_URL: `http://127.0.0.1:${port}` },
  }, {
    // The real server binary on a fresh data directory.
    command: `rm -rf target/e2e-data && exec ${binary}`,
    cwd: '..',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    env: {
      ATELIER_ADDR: `127.0.0.1:${port}`,
      ATELIER_PUBLIC_URL: `http://127.0.0.1:${port}`,
      ATELIER_DATA_DIR: 'target/e2e-data',
      // The keyring lives apart from the data, as in production.
      ATELIER_KEY_FILE: 'target/e2e-keys/keyring',
      ATELIER_SITE_ROOT: 'target/site',
      ATELIER_LOG: 'warn',
      ATELIER_CONFIG: 'end2end/atelier-e2e.toml',
      // Every test signs up and in from one address, far more than one person would in an hour.
      ATELIER_SIGN_INS_PER_MINUTE_PER_IP: '1000',
      ATELIER_MAILS_PER_HOUR_PER_IP: '1000',
    },
  }],
});
