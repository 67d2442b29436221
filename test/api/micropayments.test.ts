// Micro-payments over HTTP with the real ledger: parties, terms, rule sets, recording (single and batch),
// idempotency, precise refusals that write nothing, caps under concurrency, grants and refunds.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantSigner } from '../../services/grants';
import { MAX_BATCH_PAYMENTS } from '../../domain/micropayments';
import { StaleGeneration } from '../../ledger/micropayments';
import { paymentViews } from '../../api/routes/micropayments';
import { uid } from '../support/env';
import { microHarness, type MicroHarness } from '../support/micro';

let h: MicroHarness;
let seller: { id: string; key: string };
let buyer: { id: string; key: string; token: string };

const pay = (b: { token: string; key?: string }, over: Record<string, unknown> = {}, key?: string) => h.api('/micropayments', {
  key: key ?? h.operator,
  body: { clientId: uid('c-'), buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD', ...over },
});
const paymentCount = async (buyerId: string) =>
  Number((await h.db('micro_payments').where({ buyer_id: buyerId }).count({ n: '*' }).first())!.n);

beforeAll(async () => {
  h = await microHarness({ worker: false });
  seller = await h.seller({ feeBps: 1000, items: [{ id: 'article', priceMinor: 5 }, { id: 'video', priceMinor: 120, category: 'video', grantSeconds: 3600 }] });
  buyer = await h.buyer();
});
afterAll(async () => { await h.close(); });

describe('recording one micro-payment', () => {
  it('records a balanced compact entry and answers with an access grant; a repeat returns the same payment and grant', async () => {
    const body = { clientId: uid('c-'), buyerToken: buyer.token, sellerId: seller.id, itemId: 'video', currency: 'USD', amountMinor: 120 };
    const first = await h.api('/micropayments', { key: buyer.key, body });
    expect(first.status).toBe(201);
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(first.body).toMatchObject({ object: 'micropayment', buyerId: buyer.id, sellerId: seller.id, amountMinor: 120, feeMinor: 12, periodId: 'sp_1' });
    expect(first.body.grant.token).toMatch(/^grt_/);
    const again = await h.api('/micropayments', { key: buyer.key, body });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.grant).toEqual(first.body.grant);
    expect(again.body.createdAt).toBe(first.body.createdAt);
    // the implied postings, once: receivable +120, seller payable -108, fees -12
    expect((await h.ledger.balance(`buyer-receivable:${buyer.id}:USD`)).amountMinor).toBe(120n);
    expect((await h.ledger.balance(`seller-payable:${seller.id}:USD`)).amountMinor).toBe(-108n);
    expect((await h.ledger.balance('broker-fees:USD')).amountMinor).toBe(-12n);
  });

  it('refuses a clientId reused for a different purchase, and writes nothing', async () => {
    const clientId = uid('c-');
    expect((await pay(buyer, { clientId })).status).toBe(201);
    const before = await paymentCount(buyer.id);
    const r = await pay(buyer, { clientId, itemId: 'video' });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'client_id_reused', param: 'clientId' });
    expect(await paymentCount(buyer.id)).toBe(before);
  });

  it.each([
    ['unknown seller', { sellerId: 'mer_nobody' }, 422, 'unknown_seller', 'sellerId'],
    ['unknown item', { itemId: 'nothing' }, 422, 'unknown_item', 'itemId'],
    ['wrong currency', { currency: 'EUR' }, 422, 'currency_mismatch', 'currency'],
    ['a price other than the terms', { amountMinor: 4 }, 422, 'price_mismatch', 'amountMinor'],
    ['a forged buyer token', { buyerToken: `rst_${'x'.repeat(43)}` }, 422, 'invalid_buyer_token', 'buyerToken'],
    ['an unknown field', { tip: 1 }, 400, 'unknown_parameter', 'tip'],
    ['a malformed clientId', { clientId: 'has space' }, 400, 'parameter_invalid', 'clientId'],
    ['a missing item', { itemId: undefined }, 400, 'parameter_missing', 'itemId'],
  ])('refuses %s precisely and writes nothing', async (_what, over, status, code, param) => {
    const before = await paymentCount(buyer.id);
    const r = await pay(buyer, over);
    expect(r.status).toBe(status);
    expect(r.body.error).toMatchObject({ code, param });
    expect(await paymentCount(buyer.id)).toBe(before);
  });

  it('lets a buyer use only its own token, and a seller record only its own sales', async () => {
    const other = await h.buyer();
    expect((await pay(buyer, {}, other.key)).body.error.code).toBe('invalid_buyer_token');
    const otherSeller = await h.seller();
    const r = await pay(buyer, {}, otherSeller.key);
    expect(r.status).toBe(403);
    expect((await pay(buyer, {}, seller.key)).status).toBe(201);
  });
});

describe('rule sets', () => {
  it('authorizes only what both the buyer\'s and the seller\'s rule sets allow', async () => {
    const strict = await h.seller({ rules: { minPriceMinor: 10, acceptedBuyerClasses: ['verified'] },
      items: [{ id: 'cheap', priceMinor: 5 }, { id: 'dear', priceMinor: 50 }] });
    const verified = await h.buyer({ buyerClass: 'verified', rules: { maxPerPaymentMinor: 40 } });
    const plain = await h.buyer();
    const go = (b: { token: string }, itemId: string, sellerToken?: string) =>
      pay(b, { sellerId: strict.id, itemId, ...(sellerToken ? { sellerToken } : {}) });
    expect((await go(verified, 'dear')).body.error.code).toBe('seller_token_required');
    expect((await go(verified, 'cheap', strict.token)).body.error.code).toBe('price_below_minimum');
    expect((await go(verified, 'dear', strict.token)).body.error).toMatchObject({ code: 'amount_over_payment_limit', param: 'buyerToken' });
    expect((await go(plain, 'dear', strict.token)).body.error).toMatchObject({ code: 'buyer_class_not_accepted', param: 'sellerToken' });
    const stranger = await h.seller({ rules: {} });
    expect((await go(verified, 'dear', stranger.token)).body.error.code).toBe('invalid_seller_token');
    const generous = await h.buyer({ buyerClass: 'verified' });
    expect((await go(generous, 'dear', strict.token)).status).toBe(201);
  });

  it('enforces allowed sellers and categories, and the validity window', async () => {
    const picky = await h.buyer({ rules: { allowedSellers: [seller.id], allowedCategories: ['news'] } });
    expect((await pay(picky)).status).toBe(201);
    expect((await pay(picky, { itemId: 'video' })).body.error.code).toBe('category_not_allowed');
    const elsewhere = await h.seller();
    expect((await pay(picky, { sellerId: elsewhere.id })).body.error.code).toBe('seller_not_allowed');
    const later = await h.buyer({ rules: { validFrom: new Date(Date.now() + 3600_000).toISOString() } });
    expect((await pay(later)).body.error.code).toBe('rule_set_not_yet_valid');
    const past = await h.buyer({ rules: { validUntil: new Date(Date.now() - 1000).toISOString() } });
    expect((await pay(past)).body.error.code).toBe('rule_set_expired');
  });

  it('rejects malformed rules, and a revoked token authorizes nothing', async () => {
    const b = await h.buyer();
    const bad = await h.api('/rule-sets', { key: b.key, idem: uid('i-'), body: { rules: { maxPerDayMinor: -1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('rules.maxPerDayMinor');
    const window = await h.api('/rule-sets', { key: b.key, idem: uid('i-'), body: { rules: { validFrom: '2030-01-01T00:00:00Z', validUntil: '2029-01-01T00:00:00Z' } } });
    expect(window.status).toBe(422);
    expect(window.body.error).toMatchObject({ code: 'validity_window_empty', param: 'rules.validUntil' });
    const sellerRulesForBuyer = await h.api('/rule-sets', { key: b.key, idem: uid('i-'), body: { rules: { minPriceMinor: 3 } } });
    expect(sellerRulesForBuyer.status).toBe(422); // the document admits a seller's rules, a buyer's key does not
    expect(sellerRulesForBuyer.body.error).toMatchObject({ code: 'parameter_not_allowed', param: 'rules.minPriceMinor' });
    const rs = await h.db('rule_sets').where({ owner_id: b.id }).first('id');
    expect((await h.api(`/rule-sets/${rs.id}`, { key: b.key, method: 'DELETE' })).body.revoked).toBe(true);
    expect((await pay(b)).body.error.code).toBe('invalid_buyer_token');
    expect((await h.api(`/rule-sets/${rs.id}`, { key: buyer.key })).status).toBe(404);
  });

  it('refuses at once a token revoked, or a buyer suspended, right after a payment that used them', async () => {
    const b = await h.buyer();
    expect((await pay(b)).status).toBe(201); // the API now holds b's rule set in its short-lived cache
    const rs = await h.db('rule_sets').where({ owner_id: b.id }).first('id');
    await h.db('rule_sets').where({ id: rs.id }).update({ revoked_at: h.db.fn.now() }); // as another API process would
    const before = await paymentCount(b.id);
    expect((await pay(b)).body.error).toMatchObject({ code: 'invalid_buyer_token', param: 'buyerToken' });
    const c = await h.buyer();
    expect((await pay(c)).status).toBe(201);
    await h.db('buyers').where({ id: c.id }).update({ suspended_at: h.db.fn.now(), suspended_reason: 'test' });
    expect((await pay(c)).body.error.code).toBe('buyer_suspended');
    expect(await paymentCount(b.id)).toBe(before);
    expect(await paymentCount(c.id)).toBe(1);
  });

  it('charges the price as it is now, even right after a payment at the old price', async () => {
    const s = await h.seller({ items: [{ id: 'daily', priceMinor: 7 }] });
    const b = await h.buyer();
    const first = await pay(b, { sellerId: s.id, itemId: 'daily' });
    expect(first.body.amountMinor).toBe(7);
    await h.db('items').where({ seller_id: s.id, id: 'daily' }).update({ price_minor: 9 }); // as another API process would
    const second = await pay(b, { sellerId: s.id, itemId: 'daily' });
    expect(second.status).toBe(201);
    expect(second.body.amountMinor).toBe(9);
    expect((await pay(b, { sellerId: s.id, itemId: 'daily', amountMinor: 7 })).body.error.code).toBe('price_mismatch');
  });

  it('sees at once a seller\'s new rule set, a buyer\'s new class and an item\'s new category, right after a payment used the old', async () => {
    const s = await h.seller({ items: [{ id: 'daily', priceMinor: 20 }] });
    const b = await h.buyer({ buyerClass: 'verified', rules: { allowedCategories: ['news'] } });
    const buy = (sellerToken?: string) => pay(b, { sellerId: s.id, itemId: 'daily', ...(sellerToken ? { sellerToken } : {}) });
    expect((await buy()).status).toBe(201); // the API now holds the seller, the item and b's rule set
    const rs = await h.api('/rule-sets', { key: s.key, idem: uid('i-'), body: { rules: { acceptedBuyerClasses: ['verified'] } } });
    expect(rs.status).toBe(201);
    expect((await buy()).body.error.code).toBe('seller_token_required');
    expect((await buy(rs.body.token)).status).toBe(201);
    await h.db('buyers').where({ id: b.id }).update({ buyer_class: 'standard' }); // as another API process would
    expect((await buy(rs.body.token)).body.error.code).toBe('buyer_class_not_accepted');
    await h.db('buyers').where({ id: b.id }).update({ buyer_class: 'verified' });
    await h.db('items').where({ seller_id: s.id, id: 'daily' }).update({ category: 'video' });
    expect((await buy(rs.body.token)).body.error.code).toBe('category_not_allowed');
    expect(await paymentCount(b.id)).toBe(2);
  });

  it('refuses a batch at once when a token in it was revoked after the API read it, and records the rest', async () => {
    const [b1, b2] = [await h.buyer(), await h.buyer()];
    const batch = () => h.api('/micropayments/batch', { key: h.operator, body: { payments: [b1, b2].map((b) => ({
      clientId: uid('c-'), buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' })) } });
    expect((await batch()).body).toMatchObject({ recorded: 2, refused: 0 });
    const rs = await h.db('rule_sets').where({ owner_id: b1.id }).first('id');
    await h.db('rule_sets').where({ id: rs.id }).update({ revoked_at: h.db.fn.now() });
    const r = await batch();
    expect(r.body).toMatchObject({ recorded: 1, refused: 1 });
    expect(r.body.results[0].error.code).toBe('invalid_buyer_token');
    expect([await paymentCount(b1.id), await paymentCount(b2.id)]).toEqual([1, 2]);
  });

  it('records parallel payments each once; parallel repeats of one clientId answer one 201 and the rest 200', async () => {
    const b = await h.buyer();
    const clientId = uid('c-');
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => pay(b, { clientId })),
      ...Array.from({ length: 24 }, () => pay(b, {}, b.key)),
    ]);
    const repeats = results.slice(0, 8);
    expect(repeats.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(repeats.map((r) => r.body.id)).size).toBe(1);
    expect(results.slice(8).every((r) => r.status === 201)).toBe(true);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(25);
    expect(await paymentCount(b.id)).toBe(25);
  });

  it('holds a daily cap under concurrency: 30 parallel payments of 5 against a cap of 50 record exactly 10', async () => {
    const capped = await h.buyer({ rules: { maxPerDayMinor: 50 } });
    const results = await Promise.all(Array.from({ length: 30 }, () => pay(capped)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(results.filter((r) => r.status === 422).every((r) => r.body.error.code === 'daily_cap_exceeded')).toBe(true);
    expect(await paymentCount(capped.id)).toBe(10);
    const { sum } = (await h.db('micro_payments').where({ buyer_id: capped.id }).sum({ sum: 'amount_minor' }).first())!;
    expect(Number(sum)).toBe(50);
  });

  it('answers a retry racing its first request at the cap with the payment, not a refusal', async () => {
    const capped = await h.buyer({ rules: { maxPerDayMinor: 10 } });
    expect((await pay(capped)).status).toBe(201); // 5 of 10 spent
    const clientId = uid('c-');
    const both = await Promise.all([pay(capped, { clientId }), pay(capped, { clientId })]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(both[0].body.id).toBe(both[1].body.id);
    expect(await paymentCount(capped.id)).toBe(2);
  });

  it('holds a period cap across parallel batches', async () => {
    const capped = await h.buyer({ rules: { maxPerPeriodMinor: 100 } });
    const batch = () => h.api('/micropayments/batch', { key: h.operator, body: { payments: Array.from({ length: 15 }, () => ({
      clientId: uid('c-'), buyerToken: capped.token, sellerId: seller.id, itemId: 'article', currency: 'USD' })) } });
    const results = await Promise.all([batch(), batch(), batch()]);
    expect(results.reduce((a, r) => a + r.body.recorded, 0)).toBe(20);
    expect(results.flatMap((r) => r.body.results).filter((x: { status: string }) => x.status === 'refused')
      .every((x: { error: { code: string } }) => x.error.code === 'period_cap_exceeded')).toBe(true);
    expect(await paymentCount(capped.id)).toBe(20);
  });
});

describe('recording generation', () => {
  it('moves on with a change to what recording reads, not with new parties; an INSERT under an older one writes nothing', async () => {
    const before = await h.stores.micropayments.generation();
    const [b, capped] = [await h.buyer(), await h.buyer({ rules: { maxPerDayMinor: 100 } })];
    await h.api(`/sellers/${seller.id}/items/extra`, { method: 'PUT', key: seller.key, body: {
      title: 'Extra', category: 'news', priceMinor: 5, currency: 'USD', grantSeconds: 60 } });
    expect(await h.stores.micropayments.generation()).toBe(before);
    await h.db('items').where({ seller_id: seller.id, id: 'extra' }).update({ title: 'Extra, renamed' });
    expect(await h.stores.micropayments.generation()).toBe(before + 1);

    const payment = async (x: { id: string }, caps: { perDayMinor: number | null }) => ({
      buyerId: x.id, sellerId: seller.id, itemId: 'extra', clientId: uid('c-'),
      ruleSetId: (await h.db('rule_sets').where({ owner_id: x.id }).first('id')).id, currency: 'USD', amountMinor: 5, feeMinor: 1,
      grantSeconds: 60, caps: { perDayMinor: caps.perDayMinor, perPeriodMinor: null } });
    const uncappedPayment = await payment(b, { perDayMinor: null });
    const cappedPayment = await payment(capped, { perDayMinor: 100 });
    for (const p of [uncappedPayment, cappedPayment]) {
      await expect(h.stores.micropayments.record([p], Date.now(), before)).rejects.toBeInstanceOf(StaleGeneration);
      expect(await paymentCount(p.buyerId)).toBe(0);
      expect((await h.stores.micropayments.record([p], Date.now(), before + 1))[0].status).toBe('recorded');
      expect(await paymentCount(p.buyerId)).toBe(1);
    }
  });
});

describe('batch recording', () => {
  it('answers each payment on its own: recorded, replayed, refused', async () => {
    const known = uid('c-');
    await pay(buyer, { clientId: known });
    const payments = [
      { clientId: uid('c-'), buyerToken: buyer.token, sellerId: seller.id, itemId: 'article', currency: 'USD' },
      { clientId: known, buyerToken: buyer.token, sellerId: seller.id, itemId: 'article', currency: 'USD' },
      { clientId: uid('c-'), buyerToken: buyer.token, sellerId: seller.id, itemId: 'ghost', currency: 'USD' },
    ];
    const r = await h.api('/micropayments/batch', { key: h.operator, body: { payments } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.body).toMatchObject({ recorded: 1, replayed: 1, refused: 1 });
    expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(['recorded', 'replayed', 'refused']);
    expect(r.body.results[2].error).toMatchObject({ code: 'unknown_item', param: 'itemId' });
    expect(r.body.results[0].payment.grant.token).toMatch(/^grt_/);
  });

  it(`takes ${MAX_BATCH_PAYMENTS} payments and refuses one more, writing nothing`, async () => {
    const b = await h.buyer();
    const make = (n: number) => Array.from({ length: n }, (_, i) => ({
      clientId: `b-${i}`, buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' }));
    const over = await h.api('/micropayments/batch', { key: h.operator, body: { payments: make(MAX_BATCH_PAYMENTS + 1) } });
    expect(over.status).toBe(400);
    expect(over.body.error.param).toBe('payments');
    expect(await paymentCount(b.id)).toBe(0);
    const at = await h.api('/micropayments/batch', { key: h.operator, body: { payments: make(MAX_BATCH_PAYMENTS) } });
    expect(at.body.recorded).toBe(MAX_BATCH_PAYMENTS);
    expect(await paymentCount(b.id)).toBe(MAX_BATCH_PAYMENTS);
    const again = await h.api('/micropayments/batch', { key: h.operator, body: { payments: make(MAX_BATCH_PAYMENTS) } });
    expect(again.body.replayed).toBe(MAX_BATCH_PAYMENTS);
    expect(await paymentCount(b.id)).toBe(MAX_BATCH_PAYMENTS);
  });

  it('refuses a malformed entry anywhere in the batch and writes nothing', async () => {
    const b = await h.buyer();
    const r = await h.api('/micropayments/batch', { key: h.operator, body: { payments: [
      { clientId: uid('c-'), buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'USD' },
      { clientId: uid('c-'), buyerToken: b.token, sellerId: seller.id, itemId: 'article', currency: 'usd' },
    ] } });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('payments.1.currency');
    expect(await paymentCount(b.id)).toBe(0);
  });
});

describe('access grants', () => {
  const verify = (grant: string, key = seller.key) => h.api('/grants/verify', { key, body: { grant } });

  it('verifies once; a replay, a forgery and another seller are refused', async () => {
    const p = await pay(buyer, { itemId: 'video' });
    const grant: string = p.body.grant.token;
    const other = await h.seller();
    expect((await verify(grant, other.key)).body.error.code).toBe('grant_invalid');
    const ok = await verify(grant);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ valid: true, paymentId: p.body.id, itemId: 'video', buyerId: buyer.id });
    expect(Date.parse(ok.body.accessUntil) - Date.parse(p.body.createdAt)).toBeGreaterThan(3599_000);
    const again = await verify(grant);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('grant_already_used');
    const [head, sig] = grant.split('.');
    const tampered = `${head.slice(0, -2)}${head.endsWith('A') ? 'B' : 'A'}${head.slice(-1)}.${sig}`;
    expect((await verify(tampered)).body.error.code).toBe('grant_invalid');
    expect((await verify(`${head}.${'A'.repeat(sig.length)}`)).body.error.code).toBe('grant_invalid');
    expect((await verify('grt_nonsense')).body.error.code).toBe('grant_invalid');
  });

  it('writes a payment\'s JSON as JSON.stringify would write its view, odd strings included', async () => {
    const { view, json } = paymentViews(await GrantSigner.load(h.stores.grants));
    const p = { id: '123', periodSeq: 4, buyerId: 'buy_x', sellerId: 'mer_y', itemId: 'a.b-c', clientId: 'c:1', currency: 'USD',
      amountMinor: 120, feeMinor: 12, grantSeconds: 3600, createdAt: new Date('2026-11-22T10:00:00.123Z') };
    for (const q of [p, { ...p, clientId: 'say "hi"\\\n', itemId: 'é€', buyerId: '' }]) {
      const text = json(q);
      expect(text).toBe(JSON.stringify(view(q, true)));
      expect(JSON.parse(text).clientId).toBe(q.clientId);
    }
  });

  it('signs grants with HMAC-SHA256 of their body under the stored secret', async () => {
    const { secret } = await h.db('signing_keys').where({ id: 'grant-v1' }).first('secret');
    for (const itemId of ['article', 'video']) {
      const [body, sig] = ((await pay(buyer, { itemId })).body.grant.token as string).slice('grt_'.length).split('.');
      expect(sig).toBe(createHmac('sha256', secret).update(body).digest('base64url'));
    }
  });

  it('refuses an expired grant and the grant of a refunded payment', async () => {
    const p = await pay(buyer);
    const signer = await GrantSigner.load(h.stores.grants);
    const row = await h.db('micro_payments').where({ id: p.body.id.slice(3) }).first();
    const old = signer.issue({ id: String(row.id), sellerId: row.seller_id, itemId: row.item_id, createdAt: new Date(Date.now() - 3600_000), grantSeconds: 86_400 });
    const expired = await verify(old.token);
    expect(expired.status).toBe(422);
    expect(expired.body.error.code).toBe('grant_expired');

    const refund = await h.api(`/micropayments/${p.body.id}/refund`, { key: seller.key, body: { reason: 'customer complaint' } });
    expect(refund.status).toBe(201);
    expect((await h.api(`/micropayments/${p.body.id}/refund`, { key: seller.key, body: {} })).status).toBe(200);
    expect((await verify(p.body.grant.token)).body.error.code).toBe('grant_revoked');
    expect((await h.api(`/micropayments/${p.body.id}`, { key: buyer.key })).body.refunded).toBe(true);
  });

  it('shows a payment only to its buyer, its seller and operators', async () => {
    const p = await pay(buyer);
    const stranger = await h.buyer();
    expect((await h.api(`/micropayments/${p.body.id}`, { key: stranger.key })).status).toBe(404);
    expect((await h.api(`/micropayments/${p.body.id}`, { key: seller.key })).status).toBe(200);
    expect((await h.api(`/micropayments/${p.body.id}/refund`, { key: (await h.seller()).key, body: {} })).status).toBe(404);
  });
});
