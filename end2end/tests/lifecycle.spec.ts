import { test, expect } from '@playwright/test';
import fs from 'node:fs';
import { fixture, hydrated, linkFromMail, signIn, signUp } from './helpers';


test('see usage and activity, download my data, then delete my account', async ({ page }) => {
  const email = `lin-${Date.now()}@example.test`;
  const password = 'a long enough password';
  await signUp(page, 'Lin Data', email, password);
  await hydrated(page, await linkFromMail(email, '/verify?token='));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Lin Data');

  // An upload, shown through a signed link that the server refuses once tampered with.
  await hydrated(page, '/');
  await page.locator('input[name=photos]').setInputFiles(fixture('chelsea.png'));
  const thumbnail = page.locator('.photos .card img[alt="chelsea.png"]');
  await expect(thumbnail).toBeVisible();
  const src = await thumbnail.getAttribute('src');
  expect(src).toMatch(/^\/media\/photos\/[0-9a-f-]+\/thumbnail\?exp=\d+&sig=[0-9a-f]{64}$/);
  expect((await page.request.get(src!)).status()).toBe(200);
  expect((await page.request.get(src!.replace(/sig=./, 'sig=x'))).status()).toBe(403);
  expect((await page.request.get(src!.split('?')[0])).status()).toBe(403);

  // Usage by day and tool, and the account's own audit log.
  await hydrated(page, '/account');
  await expect(page.getByRole('img', { name: 'Operations per day by tool' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Usage by day and tool' })).toContainText('Upload');
  await expect(page.getByRole('table', { name: 'Audit log' })).toContainText('signed in');

  // Download my data: progress, then a signed link to a zip with the manifest and the photo.
  await page.getByRole('button', { name: 'Prepare my data' }).click();
  const link = page.getByRole('link', { name: 'Download my data (zip)' });
  await expect(link).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('.export-job progress')).toHaveAttribute('value', '100');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const file = await download.path();
  const archive = fs.readFileSync(file!);
  expect(archive.subarray(0, 2).toString()).toBe('PK');
  expect(archive.includes(Buffer.from('manifest.json'))).toBe(true);
  expect(archive.includes(Buffer.from(email))).toBe(true);
  expect(archive.includes(Buffer.from('photos/'))).toBe(true);

  // Delete my account: a wrong confirmation is refused, the right one erases and signs out.
  await hydrated(page, '/account');
  await page.getByLabel(`Type ${email} to confirm`).fill('nope');
  await page.getByRole('button', { name: 'Delete my account permanently' }).click();
  await expect(page.locator('.danger-zone + .error')).toContainText('type your e-mail address');
  await page.getByLabel(`Type ${email} to confirm`).fill(email);
  await page.getByRole('button', { name: 'Delete my account permanently' }).click();
  await expect(page).toHaveURL(/\/\?account=deleted$/);
  await expect(page.locator('.account-name')).toHaveText('Sign in');
  // The link is still well signed, but nothing is this browser's any more: not found.
  expect((await page.request.get(src!)).status()).toBe(404);

  await hydrated(page, '/signin');
  await signIn(page, email, password);
  await expect(page.getByRole('alert')).toBeVisible();
  await expect(page.locator('.account-name')).toHaveText('Sign in');
});
