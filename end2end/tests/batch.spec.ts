import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fixture, hydrated } from './helpers';

test('several photos run through a ready pipeline, followed to the end, and come back as one zip', async ({ page }) => {
  test.setTimeout(180_000);
  await hydrated(page, '/batch');
  const names = ['astronaut.png', 'coffee.png', 'chelsea.png'];
  await page.locator('input[name=photos]').setInputFiles(names.map(fixture));
  for (const name of names) await expect(page.locator('.batch-photos .card', { hasText: name })).toBeVisible();

  await page.getByRole('button', { name: 'Select all' }).click();
  await expect(page.locator('.batch-select [role=status]')).toHaveText('3 selected');
  await page.locator('.pipeline', { hasText: 'Instagram portrait' }).getByRole('radio').check();
  await page.getByRole('button', { name: 'Run on 3 photos' }).click();

  // The progress page: a row per photo, the bar filling up, then finished.
  await expect(page).toHaveURL(/\/batch\/[0-9a-f-]{36}$/);
  await expect(page.locator('tr.batch-item')).toHaveCount(3);
  await expect(page.locator('.batch-summary')).toContainText('3 of 3 done', { timeout: 150_000 });
  await expect(page.locator('.batch-summary')).toContainText('finished');
  await expect(page.locator('.batch-progress progress')).toHaveAttribute('value', '3');
  await expect(page.locator('tr.batch-item.done img')).toHaveCount(3);

  const [zip] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the zip' }).click()]);
  const bytes = readFileSync((await zip.path())!);
  expect(bytes.subarray(0, 2).toString()).toBe('PK');
  for (const stem of ['astronaut', 'coffee', 'chelsea']) expect(bytes.includes(Buffer.from(`${stem}.jpg`))).toBe(true);

  // Saved to the gallery as versions, with the pipeline named.
  await hydrated(page, '/gallery');
  await expect(page.locator('.gallery-item')).toHaveCount(3);
  await expect(page.locator('.gallery-item').first()).toContainText('Instagram portrait');

  // Ticked in the gallery, their originals open on the batch page already chosen.
  await page.locator('.gallery-item input[name=version]').first().check();
  await page.getByRole('button', { name: 'Run a batch on the ticked items…' }).click();
  await expect(page).toHaveURL(/\/batch\?photos=[0-9a-f-]{36}$/);
  await expect(page.locator('.batch-select [role=status]')).toHaveText('1 selected');
  await expect(page.locator('.batch-photos input[name=photo]:checked')).toHaveCount(1);
});
