import { test, expect } from '@playwright/test';
import fs from 'node:fs';
import { fixture, hydrated } from './helpers';

test('near-duplicates are grouped on the workspace and keeping the best deletes the others', async ({ page }) => {
  await hydrated(page, '/');
  // The same picture three ways (PNG, JPEG, a JPEG stored turned with an EXIF orientation) and an
  // unrelated photo.
  const names = ['chelsea.png', 'chelsea.jpg', 'chelsea-exif-rotated.jpg', 'coffee.png'];
  await page.locator('input[name=photos]').setInputFiles(names.map(fixture));
  await expect(page.locator('.photos .card')).toHaveCount(4);

  const section = page.locator('section.duplicates');
  await expect(section.getByRole('heading', { name: 'Duplicates' })).toBeVisible();
  const group = section.locator('.duplicate-group');
  await expect(group).toHaveCount(1);
  await expect(group.locator('.duplicate')).toHaveCount(3);
  await expect(group).not.toContainText('coffee.png');
  await expect(group.locator('.duplicate img')).toHaveCount(3);
  const best = group.locator('.duplicate.best');
  await expect(best).toHaveCount(1);
  await expect(best.locator('.best-badge')).toHaveText('Best');
  await expect(best.locator('.card-meta')).toContainText('Best:');
  const kept = (await best.locator('.card-title').textContent())!.trim();
  expect(kept).toMatch(/^chelsea/);

  // Nothing goes before the confirmation is opened and answered.
  await group.getByText('Keep the best, delete the others').click();
  await expect(group).toContainText(`Delete 2 photos and keep “${kept}”?`);
  await group.getByRole('button', { name: 'Delete 2, keep the best' }).click();

  await expect(section).toHaveCount(0);
  await expect(page.locator('.photos .card')).toHaveCount(2);
  const left = (await page.locator('.photos .card-title').allTextContents()).map((t) => t.trim()).sort();
  expect(left).toEqual([kept, 'coffee.png'].sort());

  // Still so after a reload: the server deleted them.
  await hydrated(page, '/');
  await expect(page.locator('.photos .card')).toHaveCount(2);
  await expect(page.locator('section.duplicates')).toHaveCount(0);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('another photo of a group can be kept instead, and the page warns of saved versions', async ({ page }) => {
    // Uploading needs the page's script; these photos arrive through the same endpoint.
    const ids: Record<string, string> = {};
    for (const name of ['chelsea.png', 'chelsea.jpg', 'coffee.png']) {
      const upload = await page.request.post('/api/photos', {
        data: fs.readFileSync(fixture(name)),
        headers: { 'content-type': name.endsWith('png') ? 'image/png' : 'image/jpeg', 'x-file-name': name },
      });
      expect(upload.status()).toBe(201);
      ids[name] = (await upload.json()).id;
    }
    const saved = await page.request.post('/api/gallery/save', {
      data: { photo: ids['chelsea.jpg'], recipe: { ops: [{ op: 'grayscale' }] } },
    });
    expect(saved.ok()).toBe(true);

    await page.goto('/');
    const group = page.locator('section.duplicates .duplicate-group');
    await expect(group).toHaveCount(1);
    await expect(group.locator('.duplicate')).toHaveCount(2);
    const best = (await group.locator('.duplicate.best .card-title').textContent())!.trim();
    const other = best === 'chelsea.png' ? 'chelsea.jpg' : 'chelsea.png';
    const card = group.locator('.duplicate:not(.best)');
    await card.getByText('Keep this one instead…').click();
    // Keeping the other deletes the best; chelsea.jpg's saved version would go with it.
    const warning = best === 'chelsea.jpg' ? ' Their one saved version in the gallery goes with them.' : '';
    await expect(card.locator('details p')).toHaveText(`Delete the other photo and keep “${other}”?${warning}`);
    await card.getByRole('button', { name: 'Keep this one, delete the others' }).click();

    // Back on the workspace (Leptos's redirect after a plain form may end in an empty query).
    await expect(page).toHaveURL(/\/\??$/);
    await expect(page.locator('section.duplicates')).toHaveCount(0);
    const left = (await page.locator('.photos .card-title').allTextContents()).map((t) => t.trim()).sort();
    expect(left).toEqual([other, 'coffee.png'].sort());
  });
});
