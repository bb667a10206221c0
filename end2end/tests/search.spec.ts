import { test, expect } from '@playwright/test';
import { fixture, hydrated } from './helpers';

test.setTimeout(180_000);

test('typing in the search box finds a photo by the text in it, and the result opens it', async ({ page, browser }) => {
  await hydrated(page, '/');
  await page.locator('input[name=photos]').setInputFiles([fixture('text-sign.jpg'), fixture('coffee.png')]);
  await expect(page.locator('.photos .card')).toHaveCount(2);

  const box = page.getByRole('searchbox', { name: 'Search photos' });
  const hits = page.locator('.search-hit');
  // The photos are read (text, objects, meaning) by a job after upload; the results follow as it
  // reads them.
  await box.fill('BREA');
  await expect(hits).toHaveCount(1, { timeout: 90_000 });
  await expect(hits).toContainText('text-sign.jpg');
  await expect(hits).toContainText('Found by text in photo');
  await expect(page.locator('.search-count')).toHaveText(/^1 photo found\./);

  // A filter narrows, and words that match nothing say so.
  await box.fill('zzzqqq');
  await expect(page.locator('.search-count')).toHaveText(/^Nothing found\./);
  await box.fill('bread');
  await expect(hits).toHaveCount(1);
  await page.getByText('Filters').click();
  await page.getByLabel('Show').selectOption('saved');
  await expect(page.locator('.search-count')).toHaveText(/^Nothing found\./);
  await page.getByLabel('Show').selectOption('');
  await expect(hits).toHaveCount(1);

  await hits.locator('a').click();
  await expect(page).toHaveURL(/\/photos\/[0-9a-f-]+$/);
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-state', 'ready');

  // Without JavaScript the box is a plain form: the page comes back with the results.
  const plain = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    javaScriptEnabled: false,
    storageState: await page.context().storageState(),
  });
  const noScript = await plain.newPage();
  await noScript.goto('/');
  await noScript.getByRole('searchbox', { name: 'Search photos' }).fill('fresh bread');
  await noScript.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(noScript).toHaveURL(/[?&]q=fresh\+bread/);
  await expect(noScript.locator('.search-hit')).toHaveCount(1);
  await expect(noScript.locator('.search-hit')).toContainText('text-sign.jpg');
  await plain.close();
});
