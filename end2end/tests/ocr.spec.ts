import { test, expect } from '@playwright/test';
import { openUploaded } from './helpers';

const SIGN = 'OPEN DAILY\nFresh bread\n7am to 6pm';

test('copy text: the sign is read on the server, shown, copied and kept as alt-text', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openUploaded(page, 'text-sign.jpg');
  await page.getByRole('button', { name: 'Read the text' }).click();
  const card = page.locator('.ai-job[data-tool="copy-text"]').first();
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(card.locator('.job-details')).toContainText('3 lines read by PP-OCRv6');

  const text = page.getByRole('textbox', { name: 'Text in this photo' });
  await expect(text).toHaveValue(SIGN);
  await page.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByText('Copied.')).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(SIGN);

  // Corrected by hand, then kept as the photo's alt-text: one line of words.
  await text.fill('OPEN DAILY\nFresh bread all day');
  await page.getByRole('button', { name: 'Use as alt-text' }).click();
  await expect(page.getByText("Kept as this photo's alt-text.")).toBeVisible();

  // After a reload the text read is offered again (the hand correction was not kept as the text).
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByRole('textbox', { name: 'Text in this photo' })).toHaveValue(SIGN);
});
