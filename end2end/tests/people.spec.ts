import { test, expect } from '@playwright/test';
import { fixture, hydrated, linkFromMail, signUp } from './helpers';

test('People: switched on with consent, a face found, named, searched, then switched off and deleted', async ({ page }) => {
  const email = `people-${Date.now()}@example.test`;
  await signUp(page, 'Pia People', email, 'correct horse battery staple');
  await hydrated(page, await linkFromMail(email, '/verify?token='));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Pia People');

  // A photo first: People is off, so nothing is looked for.
  await hydrated(page, '/');
  await page.locator('input[name=photos]').setInputFiles(fixture('astronaut.png'));
  await expect(page.locator('.photos .card')).toHaveCount(1);

  await hydrated(page, '/people');
  await expect(page.getByText('People is off.')).toBeVisible();
  const consent = page.getByRole('checkbox');
  await expect(consent).not.toBeChecked();
  await consent.check();
  await page.getByRole('button', { name: 'Switch People on' }).click();

  // The page follows the job until the face is found.
  const card = page.locator('.person');
  await expect(card).toHaveCount(1, { timeout: 60_000 });
  await expect(card.locator('.card-meta')).toHaveText('1 face in 1 photo');
  await expect(card.locator('img')).toHaveJSProperty('complete', true);
  expect(await card.locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);

  await card.getByLabel('Name').fill('Eileen');
  await card.getByRole('button', { name: 'Save name' }).click();
  await expect(page.locator('.person .card-title')).toHaveText('Eileen');

  await page.getByLabel('Photos of').fill('eil');
  await expect(page.locator('.people > .photos .card')).toHaveCount(1);
  await expect(page.locator('.people > .photos .card-title')).toHaveText('astronaut.png');

  await page.locator('.person a').first().click();
  await expect(page.getByRole('heading', { name: 'Eileen' })).toBeVisible();
  await expect(page.locator('.person-photos .photos .card')).toHaveCount(1);

  await hydrated(page, '/people');
  await page.getByText('Switch People off').click();
  await page.getByRole('button', { name: 'Switch off and delete all faces' }).click();
  await expect(page.getByText('People is off.')).toBeVisible();
  await expect(page.locator('.person')).toHaveCount(0);
  await hydrated(page, '/people');
  await expect(page.locator('.person')).toHaveCount(0);
});
