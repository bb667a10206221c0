import { test, expect } from '@playwright/test';
import { fixture, hydrated, linkFromMail, signIn, signUp } from './helpers';


test('sign in through a real OpenID provider, keep the guest upload, sign out and lose access', async ({ page }) => {
  // As a guest: upload a photo.
  await hydrated(page, '/');
  await page.locator('input[name=photos]').setInputFiles(fixture('coffee.png'));
  const card = page.locator('.photos .card a', { hasText: 'coffee.png' });
  await expect(card).toBeVisible();
  const photoUrl = await card.getAttribute('href');
  expect(photoUrl).toMatch(/^\/photos\//);

  // Sign in at the provider on localhost (a different site from 127.0.0.1).
  await hydrated(page, '/signin');
  await page.getByRole('link', { name: 'Continue with Test SSO' }).click();
  await expect(page).toHaveURL(/^http:\/\/localhost:3102\//);
  await page.locator('input[name=login]').fill('ada');
  await page.locator('input[name=password]').fill('any password');
  await page.locator('button[type=submit]').click();

  // Back home, signed in, with the guest photo adopted by the account.
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:3100\/$/);
  await expect(page.locator('.account-name')).toHaveText('Ada Lovelace');
  await expect(page.locator('.photos .card a', { hasText: 'coffee.png' })).toBeVisible();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'atelier_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');

  // Sign out: the photo is no longer reachable from this browser.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.locator('.account-name')).toHaveText('Sign in');
  const response = await page.goto(photoUrl!);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();

  // Signing in again finds the same account (issuer + subject) and its photo.
  await hydrated(page, '/signin');
  await page.getByRole('link', { name: 'Continue with Test SSO' }).click();
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:3100\/$/);
  await expect(page.locator('.account-name')).toHaveText('Ada Lovelace');
  await expect(page.locator('.photos .card a', { hasText: 'coffee.png' })).toBeVisible();
});

test('sign up with e-mail and password, confirm by e-mail, sign out and sign in again', async ({ page }) => {
  const email = `grace-${Date.now()}@example.test`;
  const password = 'a long enough password';
  await signUp(page, 'Grace Hopper', email, password);
  await expect(page.getByRole('status')).toContainText('Check your inbox');

  // Not signed in before the address is confirmed.
  await hydrated(page, '/signin');
  await signIn(page, email, password);
  await expect(page.getByRole('alert')).toContainText('Confirm your e-mail address first');

  const link = await linkFromMail(email, '/verify?token=');
  await hydrated(page, link);
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Grace Hopper');

  await hydrated(page, '/account');
  await expect(page.getByRole('list', { name: 'Sessions' }).locator('li')).toHaveCount(1);
  await expect(page.getByRole('list', { name: 'Sessions' })).toContainText('this browser');

  await page.locator('.account-menu').getByRole('button', { name: 'Sign out' }).click();
  await expect(page.locator('.account-name')).toHaveText('Sign in');

  await hydrated(page, '/signin');
  await signIn(page, email, 'not the password');
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or password is not right.');
  await signIn(page, email, password);
  await expect(page.locator('.account-name')).toHaveText('Grace Hopper');

  // Not an admin: the admin page does not exist for this account.
  const admin = await page.goto('/admin');
  expect(admin?.status()).toBe(404);
});

test('the sign-in page lists every configured provider, and GitHub sign-in works too', async ({ page }) => {
  await hydrated(page, '/signin');
  await expect(page.getByRole('link', { name: /^Continue with / })).toHaveText(['Continue with Test SSO', 'Continue with GitHub']);
  await page.getByRole('link', { name: 'Continue with GitHub' }).click();
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:3100\/$/);
  await expect(page.locator('.account-name')).toHaveText('The Octocat');
  await hydrated(page, '/account');
  await expect(page.locator('.profile')).toContainText('octocat@example.test');
});

test('someone who signs up with my address in browser A keeps nothing once I confirm it in browser B', async ({ browser }) => {
  const email = `victim-${Date.now()}@example.test`;
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();

  // Browser A (the attacker, or a shared computer): a guest photo, then a sign-up with my address.
  await hydrated(a, '/');
  await a.locator('input[name=photos]').setInputFiles(fixture('coffee.png'));
  await expect(a.locator('.photos .card a', { hasText: 'coffee.png' })).toBeVisible();
  await signUp(a, 'Mallory', email, 'mallory chose this password');
  await expect(a.getByRole('status')).toContainText('Check your inbox');

  // Browser B (me): the link confirms the address but signs nobody in; a reset makes it mine.
  const link = await linkFromMail(email, '/verify?token=');
  await hydrated(b, link);
  await b.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(b.getByRole('status')).toContainText('Your address is confirmed');
  await expect(b.locator('.account-name')).toHaveText('Sign in');
  await hydrated(b, '/reset');
  await b.getByLabel('E-mail').fill(email);
  await b.getByRole('button', { name: /Send/ }).click();
  const reset = await linkFromMail(email, '/reset?token=');
  await hydrated(b, reset);
  await b.getByLabel(/New password/).fill('my own long password');
  await b.getByRole('button', { name: 'Set password' }).click();
  await expect(b.locator('.account-name')).not.toHaveText('Sign in');
  await hydrated(b, '/');
  await b.locator('input[name=photos]').setInputFiles(fixture('chelsea.png'));
  await expect(b.locator('.photos .card a', { hasText: 'chelsea.png' })).toBeVisible();
  await expect(b.locator('.photos .card a', { hasText: 'coffee.png' })).toHaveCount(0);

  // Browser A: still a guest with only its own photo; my account and photos are out of reach.
  await hydrated(a, '/');
  await expect(a.locator('.account-name')).toHaveText('Sign in');
  await expect(a.locator('.photos .card a', { hasText: 'coffee.png' })).toBeVisible();
  await expect(a.locator('.photos .card a', { hasText: 'chelsea.png' })).toHaveCount(0);
  const mine = await b.locator('.photos .card a', { hasText: 'chelsea.png' }).getAttribute('href');
  expect((await a.goto(mine!))?.status()).toBe(404);
  await hydrated(a, '/signin');
  await signIn(a, email, 'mallory chose this password');
  await expect(a.getByRole('alert')).toBeVisible();
  await expect(a.locator('.account-name')).toHaveText('Sign in');
});
