import { test, expect } from '@playwright/test';
import { hydrated, linkFromMail, signUp } from './helpers';

test('create an API key, see it once, call the API with it, revoke it, read the call log', async ({ page, playwright, baseURL }) => {
  const email = `keys-${Date.now()}@example.test`;
  await signUp(page, 'Key Keeper', email, 'a long enough password');
  await hydrated(page, await linkFromMail(email, '/verify?token='));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Key Keeper');

  // Create a key with two scopes.
  await hydrated(page, '/account');
  const form = page.locator('form.api-key-form');
  await form.getByLabel('Name').fill('e2e script');
  await form.getByRole('checkbox', { name: /ai/ }).check();
  await form.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByTestId('api-token');
  await expect(shown).toHaveValue(/^atl_[0-9a-f]{8}_[0-9a-f]{64}$/);
  const token = await shown.inputValue();
  const prefix = token.slice(0, 'atl_'.length + 8);
  const row = page.locator(`.api-key-list tr[data-prefix="${prefix}"]`);
  await expect(row).toContainText('e2e script');
  await expect(row).toContainText('read, ai');

  // Reload: the token is gone for good; only its prefix is listed.
  await hydrated(page, '/account');
  await expect(page.getByTestId('api-token')).toHaveCount(0);
  await expect(row).toBeVisible();
  expect(await page.content()).not.toContain(token.slice(prefix.length + 1));

  // The API answers the key, without any cookie.
  const api = await playwright.request.newContext({ baseURL });
  const me = await api.get('/api/v1/me', { headers: { Authorization: `Bearer ${token}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).key.name).toBe('e2e script');
  // And the browser's cookie alone is no API credential.
  const withCookie = await page.request.get('/api/v1/me');
  expect(withCookie.status()).toBe(401);

  // Last used (when, and from where) shows up in the list.
  await hydrated(page, '/account');
  await expect(row).toContainText(/UTC from 127\.0\.0\.1/);

  // Revoke, with the second step the disclosure asks for.
  await row.getByText('Revoke…').click();
  await row.getByRole('button', { name: 'Revoke "e2e script" now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Key revoked' })).toBeVisible();
  await expect(row).toHaveAttribute('data-state', 'revoked');
  const after = await api.get('/api/v1/me', { headers: { Authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
  expect((await after.json()).error.code).toBe('key_revoked');
  await api.dispose();

  // The call log lists both calls, the refused one too.
  await hydrated(page, '/account');
  await expect(page.getByRole('link', { name: 'See the API call log' })).toHaveAttribute('href', '/account/api-calls');
  await hydrated(page, '/account/api-calls');
  const calls = page.locator('table.api-calls tbody tr');
  await expect(calls).toHaveCount(2);
  await expect(calls.first()).toHaveAttribute('data-status', '401');
  await expect(calls.last()).toContainText('/api/v1/me');
  await expect(calls.last()).toHaveAttribute('data-status', '200');
});
