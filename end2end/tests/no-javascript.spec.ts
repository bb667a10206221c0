// With JavaScript switched off: the pages are server-rendered HTML and their forms plain posts, so
// consent, signing up and in, and seeing one's workspace and gallery must all work without WASM.
import { test, expect, Page, BrowserContext } from '@playwright/test';
import fs from 'node:fs';
import { fixture, linkFromMail, sendSignUp, signIn } from './helpers';

const banner = (page: Page) => page.getByRole('region', { name: 'Cookie choices' });
const consent = async (context: BrowserContext) =>
  (await context.cookies()).find((c) => c.name === 'atelier_consent')?.value ?? '';

test('the script really is off: no page hydrates', async ({ page }) => {
  await page.goto('/', { waitUntil: 'networkidle' });
  await expect(page.locator('h1')).toHaveText('Workspace');
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
});

test('the consent banner: reject all, then choose in the settings, all as plain forms', async ({ page, context }) => {
  await page.goto('/gallery');
  await banner(page).getByRole('button', { name: 'Reject all' }).click();
  await expect(page).toHaveURL(/\/gallery$/);
  await expect(banner(page)).toHaveCount(0);
  expect(await consent(context)).toMatch(/\.000$/);

  // "Customize" is a <details>: it opens without a script.
  await page.goto('/cookies');
  await page.getByRole('checkbox', { name: /^Preferences/ }).check();
  await page.getByRole('button', { name: 'Save my choices' }).click();
  expect(await consent(context)).toMatch(/\.100$/);
  await expect(page.getByRole('list', { name: 'Consent history' }).locator('li').first()).toContainText('Saved choices');
});

test('sign up, confirm, sign out and sign in, with every error shown on its page', async ({ page }) => {
  const email = `ada-nojs-${Date.now()}@example.test`;
  const password = 'a long enough password';
  await page.goto('/signup');
  await sendSignUp(page, 'Ada Lovelace', email, password);
  await expect(page.getByRole('status')).toContainText('Check your inbox');

  // Before the address is confirmed: the error comes back on the sign-in page itself.
  await page.goto('/signin');
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole('alert')).toContainText('Confirm your e-mail address first');

  await page.goto(await linkFromMail(email, '/verify?token='));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('.account-name')).toHaveText('Ada Lovelace');

  await page.locator('.account-menu').getByRole('button', { name: 'Sign out' }).click();
  await expect(page.locator('.account-name')).toHaveText('Sign in');

  await page.goto('/signin');
  await signIn(page, email, 'not the password');
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or password is not right.');
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('.account-name')).toHaveText('Ada Lovelace');
});

test('the workspace and the gallery list what the visitor has, rendered on the server', async ({ page }) => {
  // Uploading needs the page's script; this visitor's photo arrives through the same endpoint.
  const upload = await page.request.post('/api/photos', {
    data: fs.readFileSync(fixture('coffee.png')),
    headers: { 'content-type': 'image/png', 'x-file-name': 'coffee.png' },
  });
  expect(upload.status()).toBe(201);
  const photo = await upload.json();
  const saved = await page.request.post('/api/gallery/save', { data: { photo: photo.id, recipe: { ops: [{ op: 'grayscale' }] } } });
  expect(saved.ok()).toBe(true);

  await page.goto('/');
  const card = page.locator('.photos .card a', { hasText: 'coffee.png' });
  await expect(card).toBeVisible();
  // The thumbnail's signed link, made for this visitor on the server, serves the image.
  const thumbnail = await page.request.get((await card.locator('img').getAttribute('src'))!);
  expect(thumbnail.headers()['content-type']).toMatch(/^image\//);
  await card.click();
  await expect(page.locator('.editor h1')).toHaveText('coffee.png');

  await page.goto('/gallery');
  const item = page.locator('.gallery-item', { hasText: 'coffee.png' });
  await expect(item).toContainText('1 edits');
  await item.getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/gallery/);
  await expect(page.locator('.gallery-item')).toHaveCount(0);
});

test('an API key made with plain forms is shown once, then revoked', async ({ page }) => {
  const email = `keys-nojs-${Date.now()}@example.test`;
  await page.goto('/signup');
  await sendSignUp(page, 'Key Keeper', email, 'a long enough password');
  await expect(page.getByRole('status')).toContainText('Check your inbox');
  await page.goto(await linkFromMail(email, '/verify?token='));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Key Keeper');

  await page.goto('/account');
  const form = page.locator('form.api-key-form');
  await form.getByLabel('Name').fill('plain form');
  await form.getByRole('button', { name: 'Create key' }).click();
  await expect(page).toHaveURL(/\/account\/api-keys\/new$/);
  const token = await page.getByTestId('api-token').inputValue();
  expect(token).toMatch(/^atl_[0-9a-f]{8}_[0-9a-f]{64}$/);
  await page.reload();
  await expect(page.getByTestId('api-token')).toHaveCount(0);
  await expect(page.getByText('shown already')).toBeVisible();

  await page.goto('/account');
  const row = page.locator(`.api-key-list tr[data-prefix="${token.slice(0, 'atl_'.length + 8)}"]`);
  await row.getByText('Revoke…').click();
  await row.getByRole('button', { name: 'Revoke "plain form" now' }).click();
  await expect(page).toHaveURL(/\/account\??$/);
  await expect(row).toHaveAttribute('data-state', 'revoked');
});
