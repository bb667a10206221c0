// The editor's Web Worker: receives preview pixels and a recipe, runs the recipe in WASM (the
// `editor-worker` crate, the same code the server replays) and posts the pixels back. Living in a
// worker keeps the page responsive on large photos; being a separate bundle keeps the pixel code
// out of every page that is not the editor.
import init, { apply_recipe, filter_thumbnails } from '/pkg/atelier_editor.js';

const ready = init({ module_or_path: '/pkg/atelier_editor_bg.wasm' });

const plain = (frame) => {
  const out = { name: frame.name, width: frame.width, height: frame.height, pixels: new Uint8ClampedArray(frame.pixels.buffer) };
  frame.free();
  return out;
};

self.onmessage = async ({ data }) => {
  const { id, width, height, pixels, recipe, thumbnailSide } = data;
  try {
    await ready;
    const image = plain(apply_recipe(width, height, pixels, recipe));
    const thumbnails = thumbnailSide
      ? filter_thumbnails(image.width, image.height, image.pixels, thumbnailSide).map(plain)
      : [];
    const buffers = [image.pixels.buffer, ...thumbnails.map((t) => t.pixels.buffer)];
    self.postMessage({ id, image, thumbnails }, buffers);
  } catch (error) {
    self.postMessage({ id, error: String(error) });
  }
};
