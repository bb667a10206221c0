import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { openUploaded } from './helpers';

/** Width and height from a PNG's IHDR, or a JPEG's first SOF segment. */
function dimensions(bytes: Buffer): { width: number; height: number } {
  if (bytes.subarray(1, 4).toString() === 'PNG') return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  let at = 2;
  while (at < bytes.length) {
    const marker = bytes[at + 1];
    const length = bytes.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return { width: bytes.readUInt16BE(at + 7), height: bytes.readUInt16BE(at + 5) };
    at += 2 + length;
  }
  throw new Error('no frame header');
}

test('a gallery version exports as PNG or JPEG at a size, downloaded under its name', async ({ page }) => {
  await openUploaded(page, 'chelsea.png');
  await page.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(page).toHaveURL(/\/gallery$/);
  const item = page.locator('.gallery-item', { hasText: 'chelsea.png' }).first();

  await item.getByText('Export…').click();
  await item.getByLabel('Format').selectOption('png');
  await item.getByLabel('Longest side (px)').fill('120');
  const [png] = await Promise.all([page.waitForEvent('download'), item.getByRole('button', { name: 'Download' }).click()]);
  expect(png.suggestedFilename()).toBe('chelsea.png');
  const pngBytes = readFileSync((await png.path())!);
  expect(pngBytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const small = dimensions(pngBytes);
  expect(small.width).toBe(120);
  expect(Math.abs(small.height - 80)).toBeLessThanOrEqual(1);

  await item.getByLabel('Format').selectOption('jpeg');
  await item.getByLabel('Longest side (px)').fill('');
  await item.getByLabel('At most (KB)').fill('20');
  const [jpeg] = await Promise.all([page.waitForEvent('download'), item.getByRole('button', { name: 'Download' }).click()]);
  expect(jpeg.suggestedFilename()).toBe('chelsea.jpg');
  const jpegBytes = readFileSync((await jpeg.path())!);
  expect(jpegBytes[0]).toBe(0xff);
  expect(jpegBytes[1]).toBe(0xd8);
  expect(jpegBytes.length).toBeLessThanOrEqual(20 * 1024);
  expect(dimensions(jpegBytes)).toEqual({ width: 451, height: 300 });

  // Ticked items as one zip.
  await item.getByRole('checkbox', { name: 'chelsea.png' }).check();
  await page.getByText('Export the ticked items as one zip…').click();
  const zipForm = page.locator('#gallery-export');
  await zipForm.getByLabel('Format').selectOption('webp');
  const [zip] = await Promise.all([page.waitForEvent('download'), zipForm.getByRole('button', { name: 'Download the zip' }).click()]);
  expect(zip.suggestedFilename()).toBe('atelier-export.zip');
  const zipBytes = readFileSync((await zip.path())!);
  expect(zipBytes.subarray(0, 2).toString()).toBe('PK');
  expect(zipBytes.includes(Buffer.from('chelsea.webp'))).toBe(true);
  // The page followed it photo by photo.
  await expect(zipForm.locator('.zip-progress')).toContainText('1 of 1 photo in the zip — done');
  await expect(zipForm.locator('.zip-progress progress')).toHaveAttribute('value', '1');
});

test('the editor exports the unsaved edit with its exact bytes, before and after at 1:1', async ({ page }) => {
  await openUploaded(page, 'chelsea.png');
  await page.getByRole('button', { name: 'Grayscale' }).click();
  const panel = page.locator('.export-panel');
  await panel.getByText('Export', { exact: true }).click();
  await panel.getByLabel('Format').selectOption('webp');
  const quality = panel.getByRole('slider', { name: 'Export quality' });
  const figures = panel.locator('.export-figures');

  // Low quality, then high: the figures follow the slider with the file's exact size.
  await quality.fill('20');
  await expect(figures).toHaveAttribute('aria-busy', 'false');
  await expect(figures).toContainText(/WebP: .* → .* smaller/);
  const low = Number(await figures.getAttribute('data-bytes'));
  await quality.fill('95');
  await expect(figures).not.toHaveAttribute('data-bytes', String(low));
  await expect(figures).toHaveAttribute('aria-busy', 'false');
  const high = Number(await figures.getAttribute('data-bytes'));
  expect(high).toBeGreaterThan(low);
  await expect(figures).toContainText(/made in \d+ ms/);

  // Both sides at 1:1: the photo's own size, the before a lossless PNG of the same pixels.
  const after = panel.locator('img.export-after');
  const before = panel.locator('img.export-before');
  await expect.poll(() => after.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(451);
  await expect.poll(() => before.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(451);

  // The download is exactly the file measured, and carries the edit (grey: R = G = B).
  const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('link', { name: 'Download' }).click()]);
  expect(download.suggestedFilename()).toBe('chelsea.webp');
  const bytes = readFileSync((await download.path())!);
  expect(bytes.length).toBe(high);
  expect(bytes.subarray(8, 12).toString()).toBe('WEBP');
  const grey = await after.evaluate((img: HTMLImageElement) => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d')!;
    context.drawImage(img, 0, 0);
    const [r, g, b] = context.getImageData(200, 150, 1, 1).data;
    return Math.max(Math.abs(r - g), Math.abs(g - b));
  });
  expect(grey).toBeLessThanOrEqual(3);
});

test('a cropping preset shows its frame on the photo, and the person drags it where they want', async ({ page }) => {
  await openUploaded(page, 'chelsea.png');
  const panel = page.locator('.export-panel');
  await panel.getByText('Export', { exact: true }).click();
  await panel.locator('select[name=preset]').selectOption('instagram-square');
  const picker = panel.locator('.frame-picker');
  const frame = picker.locator('.frame');
  await expect(picker).toBeVisible();
  // The whole photo is there (451 px wide: never enlarged) before the frame is moved.
  await expect(picker.locator('img')).toHaveJSProperty('naturalWidth', 451);
  await expect(frame).toHaveAttribute('style', /width: 66\.5\d%/);

  // Pressed at the left edge: the square frame moves there; then to the right edge.
  await picker.scrollIntoViewIfNeeded();
  let box = (await picker.locator('img').boundingBox())!;
  await page.mouse.click(box.x + 2, box.y + box.height / 2);
  await expect(frame).toHaveAttribute('style', /left: 0(\.0+)?%;/);
  await picker.scrollIntoViewIfNeeded();
  box = (await picker.locator('img').boundingBox())!;
  await page.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
  await expect(frame).toHaveAttribute('style', /left: 33\.4\d%/);
  const figures = panel.locator('.export-figures');
  await expect(figures).toHaveAttribute('aria-busy', 'false');
  await expect(panel.locator('img.export-after')).toHaveJSProperty('naturalWidth', 1080);
  // The before shows the same frame (the after's, passed on): the same size, the same pixels
  // near the right edge the frame was dragged to.
  await expect(panel.locator('img.export-before')).toHaveJSProperty('naturalWidth', 1080);
  const difference = await panel.evaluate((element) => {
    const pixel = (selector: string) => {
      const image = element.querySelector(selector) as HTMLImageElement;
      const canvas = document.createElement('canvas');
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      return Array.from(context.getImageData(1000, 540, 1, 1).data);
    };
    const [after, before] = [pixel('img.export-after'), pixel('img.export-before')];
    return Math.max(...after.map((value, i) => Math.abs(value - before[i])));
  });
  expect(difference).toBeLessThanOrEqual(24);
});
