import { test, expect } from '@playwright/test';
import { hydrated } from './helpers';

test('a prompt becomes images that arrive as they are made, one is kept, and the run is repeated from the history', async ({ page }) => {
  test.setTimeout(120_000);
  await hydrated(page, '/studio');
  await expect(page.locator('select[name=provider]')).toContainText('Test GPU — Stable Diffusion WebUI');

  // A curated template fills the prompt and the style; the prompt is then written over.
  await page.locator('select[name=template]').selectOption({ label: 'Product on marble' });
  await expect(page.locator('select[name=style]')).toHaveValue('product');
  await page.getByLabel('Prompt', { exact: true }).fill('a ceramic teapot');
  await page.getByLabel('Negative prompt').fill('text');
  await page.getByLabel('Images').fill('2');
  await page.getByLabel('Seed').fill('7');
  await page.getByRole('button', { name: 'Generate 2 images (4 credits)' }).click();

  const run = page.locator('.current-run');
  await expect(run.locator('[role=status]')).toContainText('Finished: 2 of 2 kept', { timeout: 60_000 });
  const cards = run.locator('.generated-image');
  await expect(cards).toHaveCount(2);
  await expect(cards.first()).toContainText('seed 7');
  await expect(cards.nth(1)).toContainText('seed 8');
  // The images are real: the stand-in's PNGs, decoded by the browser.
  const width = await cards.first().locator('img').evaluate((img: HTMLImageElement) => img.complete ? img.naturalWidth : 0);
  expect(width).toBeGreaterThan(0);

  await cards.first().getByRole('button', { name: 'Save to gallery' }).click();
  await expect(cards.first()).toContainText('In the gallery');

  // The history remembers the run; "Run again" makes the same images again.
  const history = page.locator('.history .run');
  await expect(history).toHaveCount(1);
  await expect(history.first()).toContainText('a ceramic teapot');
  await expect(history.first()).toContainText('seed 7');
  await history.first().getByRole('button', { name: 'Run again' }).click();
  await expect(history).toHaveCount(2);
  await expect(run.locator('[role=status]')).toContainText('Finished: 2 of 2 kept', { timeout: 60_000 });
  await expect(run.locator('.generated-image').first()).toContainText('seed 7');

  // Searching the history.
  await page.getByLabel('Search your prompts').fill('teapot');
  await page.getByLabel('Search your prompts').press('Enter');
  await expect(history).toHaveCount(2);
  await page.getByLabel('Search your prompts').fill('zebra');
  await page.getByLabel('Search your prompts').press('Enter');
  await expect(page.locator('.history')).toContainText('No run matches your search.');

  // The kept image is in the gallery.
  await hydrated(page, '/gallery');
  await expect(page.locator('.gallery-item')).toHaveCount(1);
});
