import { test, expect } from '@playwright/test';
import { fixture, hydrated } from './helpers';

test('a pipeline is built step by step, previewed on one photo, saved, and listed', async ({ page }) => {
  test.setTimeout(120_000);
  await hydrated(page, '/batch');
  await page.locator('input[name=photos]').setInputFiles(fixture('coffee.png'));
  // Dropped into the batch page: selected at once.
  await expect(page.locator('.batch-select [role=status]')).toHaveText('1 selected');

  await page.getByText('Build your own pipeline…').click();
  const builder = page.locator('.pipeline-builder');
  await builder.getByLabel('Pipeline name').fill('Cut-out on white');
  await builder.getByLabel('Step', { exact: true }).selectOption('cut-out');
  await builder.getByText('On white instead of transparent').click();
  await builder.getByRole('button', { name: 'Add step' }).click();
  await builder.getByLabel('Step', { exact: true }).selectOption('export');
  await builder.getByLabel('Export format').selectOption('png');
  await builder.getByLabel('Longest side').fill('300');
  await builder.getByRole('button', { name: 'Add step' }).click();
  await expect(builder.locator('ol.steps li')).toHaveText(['Remove background ↑✕', 'Export: PNG, 300 px ↑✕']);

  await builder.getByRole('button', { name: 'Preview on the first selected photo' }).click();
  await expect(builder.locator('.batch-summary')).toContainText('1 of 1 done', { timeout: 90_000 });
  await expect(builder.locator('tr.batch-item.done a')).toHaveAttribute('href', /\/media\/jobs\/.*\/result/);

  await builder.getByRole('button', { name: 'Save pipeline' }).click();
  await expect(builder.getByRole('status').filter({ hasText: 'Saved “Cut-out on white”.' })).toBeVisible();
  const saved = page.locator('.pipeline', { hasText: 'Cut-out on white' });
  await expect(saved.locator('ol.steps li')).toHaveText(['Remove background', 'Export: PNG, 300 px']);
  await expect(saved.getByRole('button', { name: 'Delete' })).toBeVisible();
});

test('the crop can fit the subject instead of the centre', async ({ page }) => {
  await hydrated(page, '/');
  await page.locator('input[name=photos]').setInputFiles(fixture('chelsea.png'));
  await page.locator('.photos .card a', { hasText: 'chelsea.png' }).click();
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-state', 'ready');
  await page.getByLabel('Crop aspect').selectOption({ label: '4:5 · Instagram' });
  const left = page.locator('fieldset.crop').getByLabel('Left');
  // Centred on the 451×300 photo: 240 wide from 105.
  await expect(left).toHaveValue('105');
  await page.getByText('Fit the subject').click();
  await expect(page.getByText('Finding the subject…')).toBeHidden({ timeout: 30_000 });
  await expect(left).not.toHaveValue('105');
  // The whole height, moved sideways only.
  await expect(page.locator('fieldset.crop').getByLabel('Top')).toHaveValue('0');
});
