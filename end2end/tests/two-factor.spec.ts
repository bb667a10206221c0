// Two-factor sign-in (issue 19): turn it on from the account page with a code computed here from
// the secret the page shows (RFC 6238, as an authenticator app would), see the recovery codes
// once, then sign in with password and code — and, without JavaScript, with a recovery code.
import { test, expect, Page } from '@playwright/test';
import crypto from 'node:crypto';
import { hydrated, linkFromMail, signIn, signUp } from './helpers';

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit code for one 30-second step (HMAC-SHA-1, dynamic truncation). */
function totp(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary =
    ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 1_000_000).padStart(6, '0');
}

const currentStep = () => Math.floor(Date.now() / 1000 / 30);

async function waitForHydration(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

test('turn on two-factor sign-in, see the recovery codes once, sign in with password and code', async ({ page, browser }) => {
  // These pages must hydrate cleanly: forms that fall back to plain posts would hide a broken page.
  const hydrationErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /hydrat/i.test(message.text())) hydrationErrors.push(message.text());
  });
  const email = `ada-2fa-${Date.now()}@example.test`;
  const password = 'a long enough password';
  await signUp(page, 'Ada', email, password);
  const link = await linkFromMail(email, '/verify?token=');
  await hydrated(page, link);
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Ada');

  // Set up: the page shows the key as text and as a QR code; a code from it turns it on.
  await hydrated(page, '/account');
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  const secretText = (await page.locator('#two-factor-secret').textContent())!.trim();
  expect(secretText).toMatch(/^[A-Z2-7]{32}$/);
  await expect(page.locator('.qr svg')).toBeVisible();
  await expect(page.locator('code.uri')).toContainText('otpauth://totp/Atelier:');
  const secret = base32Decode(secretText);
  const step = currentStep();
  await page.getByLabel('Code from the app').fill(totp(secret, step + 9));
  await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
  await expect(page.getByRole('alert')).toContainText('not right');
  await page.getByLabel('Code from the app').fill(totp(secret, step));
  await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();

  // The recovery codes, this once.
  const codes = page.getByRole('list', { name: 'Recovery codes' }).locator('li');
  await expect(codes).toHaveCount(10);
  const recovery = (await codes.first().textContent())!.trim();
  expect(recovery).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/);
  await hydrated(page, '/account');
  await expect(page.locator('[data-two-factor="on"]')).toContainText('10 unused recovery code(s) left');
  await expect(page.getByRole('list', { name: 'Recovery codes' })).toHaveCount(0);

  // Sign out; the password alone now leads only to the second step.
  await page.locator('.account-menu').getByRole('button', { name: 'Sign out' }).click();
  await expect(page.locator('.account-name')).toHaveText('Sign in');
  await hydrated(page, '/signin');
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/signin\/code$/);
  await waitForHydration(page);
  await expect(page.locator('.account-name')).toHaveText('Sign in');
  await page.getByLabel('Code').fill(totp(secret, step + 9));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('not right');
  // The code that turned it on is spent; the next one signs in.
  await page.getByLabel('Code').fill(totp(secret, step + 1));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/$/);
  await expect(page.locator('.account-name')).toHaveText('Ada');
  expect(hydrationErrors).toEqual([]);

  // Without JavaScript, in another browser: plain forms all the way, with a recovery code.
  const plain = await browser.newContext({ javaScriptEnabled: false, baseURL: test.info().project.use.baseURL });
  const other = await plain.newPage();
  await other.goto('/signin');
  await signIn(other, email, password);
  await expect(other).toHaveURL(/\/signin\/code$/);
  await other.getByLabel('Code').fill(recovery);
  await other.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(other).toHaveURL(/127\.0\.0\.1:\d+\/$/);
  await expect(other.locator('.account-name')).toHaveText('Ada');
  await plain.close();
});
