// A loopback stand-in for Stripe, which the tests cannot reach for real. The API half checks the
// secret key (a bearer token) and reads form-encoded fields as Stripe does: POST
// /v1/checkout/sessions, GET /v1/checkout/sessions/:id (with the card expanded), POST
// /v1/billing_portal/sessions, DELETE /v1/customers/:id. The hosted half plays Checkout:
// GET /checkout/:id shows the item with a Pay button; paying sends the signed
// `checkout.session.completed` webhook to Atelier (HMAC-SHA256 over "<t>.<body>" with the
// endpoint secret, as Stripe signs) and, once Atelier answered 200, redirects to the session's
// success_url as Stripe does.
import crypto from 'node:crypto';
import http from 'node:http';

const port = Number(process.env.STRIPE_PORT ?? 3105);
const appUrl = process.env.APP_URL ?? 'http://127.0.0.1:3100';
const secretKey = process.env.STRIPE_SECRET_KEY ?? 'sk_test_e2e_standin';
const webhookSecret = process.env.STRIPE_WEBHOOK_SECRET ?? 'whsec_e2e_standin';
const base = `http://127.0.0.1:${port}`;

const sessions = new Map();
let counter = 0;

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const html = (res, body) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stripe stand-in</title></head><body>${body}</body></html>`);
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function authorized(req, res) {
  if (req.headers.authorization === `Bearer ${secretKey}`) return true;
  json(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
  return false;
}

function signature(body) {
  const t = Math.floor(Date.now() / 1000);
  const v1 = crypto.createHmac('sha256', webhookSecret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

async function pay(session) {
  const event = {
    id: `evt_e2e_${crypto.randomUUID().replace(/-/g, '')}`,
    object: 'event',
    api_version: '2025-03-31.basil',
    created: Math.floor(Date.now() / 1000),
    type: 'checkout.session.completed',
    data: {
      object: {
        id: session.id,
        object: 'checkout.session',
        mode: session.mode,
        status: 'complete',
        payment_status: 'paid',
        client_reference_id: session.client_reference_id,
        metadata: session.metadata,
        customer: session.customer,
        payment_intent: session.mode === 'payment' ? `pi_${session.id}` : null,
        subscription: session.mode === 'subscription' ? `sub_${session.id}` : null,
        amount_total: 500,
        currency: 'eur',
      },
    },
  };
  const body = JSON.stringify(event);
  const answer = await fetch(`${appUrl}/billing/stripe/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature(body) },
    body,
  });
  if (!answer.ok) throw new Error(`Atelier answered the webhook with ${answer.status}: ${await answer.text()}`);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const parts = url.pathname.split('/').filter(Boolean);
  try {
    if (req.method === 'GET' && url.pathname === '/health') return json(res, 200, { ok: true });
    if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
      if (!authorized(req, res)) return;
      const form = await readForm(req);
      const mode = form.get('mode');
      const price = form.get('line_items[0][price]');
      if (!['payment', 'subscription'].includes(mode) || !price || !form.get('success_url')) {
        return json(res, 400, { error: { type: 'invalid_request_error', message: 'Missing required param' } });
      }
      const id = `cs_test_e2e_${++counter}`;
      const metadata = {};
      for (const [key, value] of form) {
        const match = key.match(/^metadata\[(.+)\]$/);
        if (match) metadata[match[1]] = value;
      }
      sessions.set(id, {
        id, mode, price, metadata,
        client_reference_id: form.get('client_reference_id'),
        customer: form.get('customer') ?? `cus_e2e_${counter}`,
        success_url: form.get('success_url'),
        cancel_url: form.get('cancel_url'),
      });
      return json(res, 200, { id, object: 'checkout.session', status: 'open', url: `${base}/checkout/${id}` });
    }
    if (req.method === 'GET' && parts[0] === 'v1' && parts[1] === 'checkout' && parts[2] === 'sessions' && parts[3]) {
      if (!authorized(req, res)) return;
      const session = sessions.get(parts[3]);
      if (!session) return json(res, 404, { error: { type: 'invalid_request_error', message: 'No such checkout.session' } });
      const method = { id: 'pm_e2e', object: 'payment_method', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 } };
      return json(res, 200, {
        id: session.id, object: 'checkout.session',
        payment_intent: session.mode === 'payment' ? { id: `pi_${session.id}`, payment_method: method } : null,
        subscription: session.mode === 'subscription' ? { id: `sub_${session.id}`, default_payment_method: method } : null,
      });
    }
    if (req.method === 'POST' && url.pathname === '/v1/billing_portal/sessions') {
      if (!authorized(req, res)) return;
      const form = await readForm(req);
      if (!form.get('customer')) return json(res, 400, { error: { type: 'invalid_request_error', message: 'Missing customer' } });
      const back = encodeURIComponent(form.get('return_url') ?? appUrl);
      return json(res, 200, { id: 'bps_e2e', object: 'billing_portal.session', url: `${base}/portal?return=${back}` });
    }
    if (req.method === 'DELETE' && parts[0] === 'v1' && parts[1] === 'customers' && parts[2]) {
      if (!authorized(req, res)) return;
      return json(res, 200, { id: parts[2], object: 'customer', deleted: true });
    }
    if (req.method === 'GET' && parts[0] === 'checkout' && parts[1]) {
      const session = sessions.get(parts[1]);
      if (!session) return html(res, '<h1>This checkout has expired</h1>');
      return html(res, `<h1>Stripe stand-in checkout</h1><p>Item: ${escape(session.metadata.item ?? session.price)}</p>
        <form method="post" action="/checkout/${escape(session.id)}/pay"><button type="submit">Pay</button></form>
        <p><a href="${escape(session.cancel_url)}">Cancel</a></p>`);
    }
    if (req.method === 'POST' && parts[0] === 'checkout' && parts[2] === 'pay') {
      const session = sessions.get(parts[1]);
      if (!session) return html(res, '<h1>This checkout has expired</h1>');
      await pay(session);
      res.writeHead(303, { location: session.success_url.replace('{CHECKOUT_SESSION_ID}', session.id) });
      return res.end();
    }
    if (req.method === 'GET' && url.pathname === '/portal') {
      return html(res, `<h1>Stripe stand-in customer portal</h1><p><a href="${escape(url.searchParams.get('return') ?? appUrl)}">Return</a></p>`);
    }
    json(res, 404, { error: { type: 'invalid_request_error', message: 'Unrecognized request URL' } });
  } catch (error) {
    console.error(error);
    json(res, 500, { error: { type: 'api_error', message: String(error) } });
  }
}).listen(port, '127.0.0.1');
