import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fixture } from './helpers';


async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/** Reads the editor canvas: its size and how many pixels still have colour. */
async function canvasPixels(page: Page) {
  return page.locator('canvas.editor-canvas').evaluate((canvas: HTMLCanvasElement) => {
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let colourful = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - data[i + 1]) > 2 || Math.abs(data[i + 1] - data[i + 2]) > 2) colourful++;
    }
    return { width: canvas.width, height: canvas.height, colourful };
  });
}

test('a photo goes from upload through a WASM edit into the gallery', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByText('No photos yet')).toBeVisible();

  // Two files at once through the picker, each with its own progress row.
  await page.locator('input[name=photos]').setInputFiles([fixture('chelsea.jpg'), fixture('coffee.png')]);
  await expect(page.locator('.upload[data-state="done"]')).toHaveCount(2);
  await expect(page.locator('.upload progress').first()).toHaveAttribute('value', '100');
  const chelsea = page.locator('.photos .card a', { hasText: 'chelsea.jpg' });
  await expect(chelsea).toBeVisible();
  await expect(page.locator('.photos img[alt="chelsea.jpg"]')).toHaveJSProperty('complete', true);

  await chelsea.click();
  await expect(page).toHaveURL(/\/photos\/[0-9a-f-]{36}$/);
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-state', 'ready');
  expect(await canvasPixels(page)).toMatchObject({ width: 451, height: 300 });
  expect((await canvasPixels(page)).colourful).toBeGreaterThan(1000);

  // Edits run in WASM in the page: no request reaches the server while editing.
  const requests: string[] = [];
  page.on('request', (request) => { if (request.url().startsWith('http')) requests.push(request.url()); });
  await page.getByRole('button', { name: 'Rotate 90°' }).click();
  await page.getByRole('button', { name: 'Grayscale' }).click();
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-steps', '2');
  // The worker renders asynchronously: wait until the canvas shows both steps.
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-drawn-steps', '2');
  expect(await canvasPixels(page)).toEqual({ width: 300, height: 451, colourful: 0 });
  await page.getByRole('button', { name: 'Flip ↔' }).click();
  await page.getByRole('button', { name: 'Undo' }).click();
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-steps', '2');
  await expect(page.getByRole('list', { name: 'Edit history' })).toContainText('Rotate 90°');
  expect(requests).toEqual([]);

  await page.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(page).toHaveURL(/\/gallery$/);
  const item = page.locator('.gallery-item', { hasText: 'chelsea.jpg' });
  await expect(item).toContainText('300×451 · 2 edits');
  await expect(item.locator('img')).toHaveJSProperty('complete', true);
  expect(await item.locator('img').evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(360);

  // The saved image is the server's replay of the same recipe: rotated and gray.
  const href = await item.getByRole('link', { name: 'Edited chelsea.jpg' }).getAttribute('href');
  const saved = await page.evaluate(async (src) => {
    const image = new Image();
    image.src = src;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d')!;
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let colourful = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - data[i + 1]) > 8 || Math.abs(data[i + 1] - data[i + 2]) > 8) colourful++;
    }
    return { width: canvas.width, height: canvas.height, colourful };
  }, href!);
  expect(saved).toEqual({ width: 300, height: 451, colourful: 0 });

  // A reload renders the gallery on the server, with the item still there.
  await page.reload();
  await hydrated(page);
  await expect(page.locator('.gallery-item')).toHaveCount(1);
  await page.locator('.gallery-item').getByRole('button', { name: 'Delete' }).click();
  await expect(page.locator('.gallery-item')).toHaveCount(0);
  await expect(page.getByText('Nothing saved yet')).toBeVisible();
  expect((await page.request.get(href!)).status()).toBe(404);
});

test('dropping files uploads them, and a refused file says why', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const png = readFileSync(fixture('coffee.png'));
  const drop = await page.evaluateHandle((bytes: number[]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], 'coffee.png', { type: 'image/png' }));
    transfer.items.add(new File(['<html>not a photo</html>'], 'fake.jpg', { type: 'image/jpeg' }));
    return transfer;
  }, [...png]);
  await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: drop });
  await expect(page.locator('.upload[data-state="done"]')).toHaveCount(1);
  const refused = page.locator('.upload[data-state="failed"]');
  await expect(refused).toContainText('fake.jpg');
  await expect(refused).toContainText('Only JPEG, PNG, WebP, HEIC and AVIF photos are accepted');
  await expect(page.locator('.photos .card')).toHaveCount(1);
});

test("another visitor cannot open someone else's photo", async ({ page, browser }) => {
  await page.goto('/');
  await hydrated(page);
  await page.locator('input[name=photos]').setInputFiles(fixture('astronaut.png'));
  await page.locator('.photos .card a', { hasText: 'astronaut.png' }).click();
  await expect(page).toHaveURL(/\/photos\//);
  const url = page.url();

  const stranger = await browser.newContext();
  const strangerPage = await stranger.newPage();
  const response = await strangerPage.goto(url);
  expect(response?.status()).toBe(404);
  await expect(strangerPage.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await stranger.close();
});
