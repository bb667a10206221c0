import { test, expect, Page } from '@playwright/test';
import { openUploaded } from './helpers';

const canvas = (page: Page) => page.locator('canvas.editor-canvas');
const history = (page: Page) => page.getByRole('list', { name: 'Edit history' });

/** The Game Boy's four greens (recipe::Palette::GameBoy). */
const gameBoy = [[0x0f, 0x38, 0x0f], [0x30, 0x62, 0x30], [0x8b, 0xac, 0x0f], [0x9b, 0xbc, 0x0f]];

/** Each pixel's distance to the nearest of `palette`: the largest, and the mean per channel. */
function paletteDistance(data: Uint8ClampedArray, palette: number[][]) {
  let largest = 0;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) {
    const nearest = Math.min(...palette.map(([r, g, b]) =>
      Math.max(Math.abs(data[i] - r), Math.abs(data[i + 1] - g), Math.abs(data[i + 2] - b))));
    largest = Math.max(largest, nearest);
    sum += nearest;
  }
  return { largest, mean: sum / (data.length / 4) };
}

test('posterizing to the Game Boy palette leaves only its four greens, in the editor and in the saved version', async ({ page }) => {
  await openUploaded(page, 'coffee.png');
  await page.locator('summary', { hasText: 'Retro looks' }).click();
  await page.getByRole('combobox', { name: 'Palette' }).selectOption({ label: 'Game Boy' });
  await page.getByRole('slider', { name: 'Pixel size (px)' }).fill('4');
  await page.getByRole('checkbox', { name: 'Dither' }).uncheck();
  await page.getByRole('button', { name: 'Posterize' }).click();
  await expect(canvas(page)).toHaveAttribute('data-drawn-steps', '1');
  await expect(history(page)).toContainText('Posterize: Game Boy, 4px');

  const shown = await canvas(page).evaluate((c: HTMLCanvasElement) =>
    Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data));
  expect(paletteDistance(new Uint8ClampedArray(shown), gameBoy).largest).toBe(0);

  // The server replays the step on the original: the saved version is the same four greens,
  // give or take its encoding.
  await page.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(page).toHaveURL(/\/gallery$/);
  const item = page.locator('.gallery-item', { hasText: 'coffee.png' });
  await expect(item).toContainText('600×400 · 1 edits');
  const imageUrl = await item.locator('a').first().getAttribute('href');
  const saved = await page.evaluate(async (src: string) => {
    const image = new Image();
    image.src = src;
    await image.decode();
    const drawn = document.createElement('canvas');
    drawn.width = image.naturalWidth;
    drawn.height = image.naturalHeight;
    const context = drawn.getContext('2d')!;
    context.drawImage(image, 0, 0);
    return Array.from(context.getImageData(0, 0, drawn.width, drawn.height).data);
  }, imageUrl!);
  expect(paletteDistance(new Uint8ClampedArray(saved), gameBoy).mean).toBeLessThan(6);
});
