// A loopback stand-in for the Stable Diffusion WebUI API (AUTOMATIC1111, Forge, SD.Next), which the
// tests cannot reach for real: POST /sdapi/v1/txt2img and /sdapi/v1/img2img check HTTP Basic auth
// (the WebUI's --api-auth) and the request's fields, and answer real PNGs of the asked size (a
// gradient coloured by the seed) with the seed in `info`, as the WebUI does.
import http from 'node:http';
import zlib from 'node:zlib';

const port = Number(process.env.SD_PORT ?? 3104);
const auth = 'Basic ' + Buffer.from('e2e:e2e-sd-key').toString('base64');

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

function png(width, height, seed) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = (seed * 37) % 256;
      rows[row + 2 + x * 3] = Math.floor((x / width) * 255);
      rows[row + 3 + x * 3] = Math.floor((y / height) * 255);
    }
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/sdapi/v1/sd-models') return json(res, 200, [{ title: 'v1-5-pruned-emaonly' }]);
  if (req.method !== 'POST' || !['/sdapi/v1/txt2img', '/sdapi/v1/img2img'].includes(req.url)) return json(res, 404, { detail: 'Not Found' });
  if (req.headers.authorization !== auth) return json(res, 401, { detail: 'Not authenticated' });
  const parts = [];
  req.on('data', (part) => parts.push(part));
  req.on('end', () => {
    let body;
    try { body = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch { return json(res, 422, { detail: 'invalid JSON' }); }
    const { prompt, width, height } = body;
    if (typeof prompt !== 'string' || !prompt || !(width > 0 && width <= 2048) || !(height > 0 && height <= 2048)) {
      return json(res, 422, { detail: [{ msg: 'prompt, width and height are required' }] });
    }
    if (req.url === '/sdapi/v1/img2img' && !(Array.isArray(body.init_images) && body.init_images.length === 1)) {
      return json(res, 422, { detail: [{ msg: 'init_images is required' }] });
    }
    const seed = Number.isInteger(body.seed) && body.seed >= 0 ? body.seed : 1234;
    // A moment of "work", so a page can show a run in progress.
    setTimeout(() => json(res, 200, {
      images: [png(width, height, seed).toString('base64')],
      parameters: {},
      info: JSON.stringify({ seed, all_seeds: [seed], prompt }),
    }), 300);
  });
}).listen(port, '127.0.0.1');
