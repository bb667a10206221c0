import { test, expect } from '@playwright/test';
import { fixture, hydrated, linkFromMail, signIn, signUp } from './helpers';


test('sign in through a real OpenID provider, keep the guest upload, sign out and lose access', async ({ page }) => {
  // As a guest: upload a photo.
  await hydrated(page, '/');
  await page.locator('input[type=file]').setInputFiles(fixture('coffee.png'));
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
