// Batch files of charges and of payouts at the processor simulator, over real HTTP and PostgreSQL: per-line
// decisions by test card, per-line idempotency keys across files, the file's own Idempotency-Key, the line
// limit and body limit, faults on the two operations, and full files.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_BATCH_FILE_LINES,
  type BatchFileResult, type ChargeLine, type ChargeLineResult, type PayoutLine, type PayoutLineResult,
} from '../../processors/client';
import type { HttpProcessorClient, SimulatorAdmin } from '../../processors/http-client';
import { MAX_BATCH_FILE_BODY_BYTES, type RunningSimulator } from '../../processors/simulator/server';
import { uid } from '../support/env';
import { effectsOf as effectsAt, key, openSimulator, postRaw, rejected, testCard, unavailable } from '../support/processor-calls';

let sim: RunningSimulator;
let client: HttpProcessorClient;
let admin: SimulatorAdmin;

beforeAll(async () => {
  ({ sim, client, admin } = await openSimulator(10_000));
});
afterEach(async () => {
  await admin.clearFaults();
});
afterAll(async () => {
  await sim?.stop();
});

const VISA = '4242424242424242';
const MASTERCARD = '5555555555554444';
const DECLINED = '4000000000000002';
const INSUFFICIENT = '4000000000009995';
const EXPIRED_AT_AUTH = '4000000000000069';

async function tokenOf(cardNumber: string): Promise<string> {
  return (await client.tokenize(testCard(cardNumber), key())).token;
}

const charge = (token: string, amountMinor = 1_000, reference = uid('ref-')): ChargeLine =>
  ({ idempotencyKey: uid('line-'), token, amountMinor, currency: 'USD', reference });
const payoutLine = (destination: string, amountMinor = 500, reference = uid('ref-')): PayoutLine =>
  ({ idempotencyKey: uid('line-'), destination, amountMinor, currency: 'EUR', reference });

const effectsOf = (fn: () => Promise<unknown>) => effectsAt(admin, fn);
const raw = (path: string, body: string, idem = key()) => postRaw(sim.url, path, { body, idem });

const NO_EFFECT = { chargeFiles: 0, chargeLines: 0, succeededChargeLines: 0, payoutFiles: 0, payoutLines: 0, paidPayoutLines: 0 };

describe('charge files', () => {
  it('charges each line by its test card, in line order: approving cards succeed, declining cards, an expired card and an unknown token fail with their codes', async () => {
    const lines = [
      charge(await tokenOf(VISA), 1_100),
      charge(await tokenOf(DECLINED), 1_200),
      charge(await tokenOf(MASTERCARD), 1_300),
      charge(await tokenOf(INSUFFICIENT), 1_400),
      charge(await tokenOf(EXPIRED_AT_AUTH), 1_500),
      charge('tok_doesnotexist', 1_600),
    ];
    let file!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => { file = await client.submitChargeBatch(lines, key()); });
    expect(file.id).toMatch(/^chf_/);
    expect(file.results.map((r) => [r.idempotencyKey, r.reference, r.amountMinor, r.currency]))
      .toEqual(lines.map((l) => [l.idempotencyKey, l.reference, l.amountMinor, 'USD']));
    expect(file.results.map((r) => [r.status, r.declineCode])).toEqual([
      ['succeeded', undefined], ['failed', 'card_declined'], ['succeeded', undefined], ['failed', 'insufficient_funds'],
      ['failed', 'expired_card'], ['failed', 'invalid_token'],
    ]);
    for (const r of file.results) {
      if (r.status === 'succeeded') expect(r.chargeId).toMatch(/^ch_/);
      else expect(r).not.toHaveProperty('chargeId');
    }
    expect(d).toMatchObject({ chargeFiles: 1, chargeLines: 6, succeededChargeLines: 2, authorizations: 0, captures: 0 });

    expect(await client.getTransaction(file.results[0].chargeId!)).toMatchObject({
      object: 'charge', status: 'succeeded', amountMinor: 1_100, currency: 'USD', reference: lines[0].reference, fileId: file.id,
    });
    expect(await client.getTransaction(file.id)).toMatchObject({ object: 'charge_batch', lineCount: 6 });
    expect(await admin.chargesByReference(lines[1].reference)).toMatchObject([{ status: 'failed', declineCode: 'card_declined' }]);
  });

  it('answers a repeated file (same Idempotency-Key) with the first response and no second effect; other lines under that key: 422', async () => {
    const token = await tokenOf(VISA);
    const lines = [charge(token, 700), charge(token, 800)];
    const k = key();
    const first = await client.submitChargeBatch(lines, k);
    let second!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => { second = await client.submitChargeBatch(lines, k); });
    expect(second).toEqual(first);
    expect(d).toMatchObject(NO_EFFECT);
    await rejected(client.submitChargeBatch([lines[0]], k), 'idempotency_key_reused', 422);
    for (const l of lines) expect(await admin.chargesByReference(l.reference)).toHaveLength(1);
  });

  it('returns a line already applied in an earlier file with its first result (same charge), and charges it once', async () => {
    const token = await tokenOf(VISA);
    const repeated = charge(token, 2_500);
    const declined = charge(await tokenOf(DECLINED), 300);
    const first = await client.submitChargeBatch([repeated, declined], key());
    const fresh = charge(token, 900);
    let later!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => { later = await client.submitChargeBatch([fresh, repeated, declined], key()); });
    expect(later.id).not.toBe(first.id);
    expect(later.results[1]).toEqual(first.results[0]);
    expect(later.results[2]).toEqual(first.results[1]);
    expect(later.results[0]).toMatchObject({ status: 'succeeded', amountMinor: 900 });
    expect(d).toMatchObject({ chargeFiles: 1, chargeLines: 1, succeededChargeLines: 1 });
    const atProcessor = await admin.chargesByReference(repeated.reference);
    expect(atProcessor).toHaveLength(1);
    expect(atProcessor[0]).toMatchObject({ id: first.results[0].chargeId, fileId: first.id, amountMinor: 2_500 });
  });

  it('fails a line whose key was used with another amount, token or currency as idempotency_key_reused, without effect', async () => {
    const token = await tokenOf(VISA);
    const original = charge(token, 1_000);
    const [applied] = (await client.submitChargeBatch([original], key())).results;
    const variants: ChargeLine[] = [
      { ...original, amountMinor: 1_001 },
      { ...original, token: await tokenOf(MASTERCARD) },
      { ...original, currency: 'EUR' },
    ];
    let later!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => { later = await client.submitChargeBatch([...variants, original], key()); });
    expect(later.results.slice(0, 3)).toEqual(variants.map((v) => ({
      idempotencyKey: original.idempotencyKey, reference: original.reference, status: 'failed', declineCode: 'idempotency_key_reused',
      amountMinor: v.amountMinor, currency: v.currency,
    })));
    expect(later.results[3]).toEqual(applied);
    expect(d).toMatchObject({ chargeFiles: 1, chargeLines: 0, succeededChargeLines: 0 });
    expect(await admin.chargesByReference(original.reference)).toMatchObject([{ amountMinor: 1_000, currency: 'USD', token }]);
  });

  it('treats a key repeated inside one file like a repeat: the same line gets the first result, another line idempotency_key_reused', async () => {
    const token = await tokenOf(VISA);
    const line = charge(token, 400);
    let file!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => {
      file = await client.submitChargeBatch([line, { ...line }, { ...line, amountMinor: 401 }], key());
    });
    expect(file.results[0]).toMatchObject({ status: 'succeeded', amountMinor: 400 });
    expect(file.results[1]).toEqual(file.results[0]);
    expect(file.results[2]).toMatchObject({ status: 'failed', declineCode: 'idempotency_key_reused', amountMinor: 401 });
    expect(d).toMatchObject({ chargeLines: 1, succeededChargeLines: 1 });
    expect(await admin.chargesByReference(line.reference)).toHaveLength(1);
  });

  it('applies each shared line once when two files sharing keys run at once (in opposite orders), with no deadlock', async () => {
    const token = await tokenOf(VISA);
    const reference = uid('shared-');
    const shared = Array.from({ length: 500 }, () => charge(token, 100, reference));
    const onlyA = Array.from({ length: 250 }, () => charge(token, 100, reference));
    const onlyB = Array.from({ length: 250 }, () => charge(token, 100, reference));
    let a!: BatchFileResult<ChargeLineResult>;
    let b!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => {
      [a, b] = await Promise.all([
        client.submitChargeBatch([...shared, ...onlyA], key()),
        client.submitChargeBatch([...onlyB, ...[...shared].reverse()], key()),
      ]);
    });
    expect(d).toMatchObject({ chargeFiles: 2, chargeLines: 1_000, succeededChargeLines: 1_000 });
    expect(b.results.slice(250).reverse()).toEqual(a.results.slice(0, 500));
    expect(await admin.chargesByReference(reference)).toHaveLength(1_000);
  });
});

describe('payout files', () => {
  it('pays each line to a non-empty destination and fails a destination starting fail_ with destination_rejected', async () => {
    const lines = [payoutLine('acct_seller_1', 1_000), payoutLine('fail_closed_account', 2_000), payoutLine('acct_seller_2', 3_000)];
    let file!: BatchFileResult<PayoutLineResult>;
    const d = await effectsOf(async () => { file = await client.submitPayoutBatch(lines, key()); });
    expect(file.id).toMatch(/^pof_/);
    expect(file.results.map((r) => [r.idempotencyKey, r.reference, r.status, r.failureCode, r.amountMinor, r.currency])).toEqual([
      [lines[0].idempotencyKey, lines[0].reference, 'paid', undefined, 1_000, 'EUR'],
      [lines[1].idempotencyKey, lines[1].reference, 'failed', 'destination_rejected', 2_000, 'EUR'],
      [lines[2].idempotencyKey, lines[2].reference, 'paid', undefined, 3_000, 'EUR'],
    ]);
    expect(file.results[0].payoutId).toMatch(/^bpo_/);
    expect(file.results[1]).not.toHaveProperty('payoutId');
    expect(d).toMatchObject({ payoutFiles: 1, payoutLines: 3, paidPayoutLines: 2, payouts: 0 });
    expect(await client.getTransaction(file.results[2].payoutId!)).toMatchObject({
      object: 'batch_payout', status: 'paid', destination: 'acct_seller_2', amountMinor: 3_000,
    });
    expect(await admin.batchPayoutsByReference(lines[1].reference)).toMatchObject([{ status: 'failed', failureCode: 'destination_rejected' }]);
  });

  it('pays a line repeated in a later file once (first result), and fails its key with another destination as idempotency_key_reused', async () => {
    const line = payoutLine('acct_seller_3', 750);
    const first = await client.submitPayoutBatch([line], key());
    let later!: BatchFileResult<PayoutLineResult>;
    const d = await effectsOf(async () => {
      later = await client.submitPayoutBatch([line, { ...line, destination: 'acct_other' }, { ...line, amountMinor: 751 }], key());
    });
    expect(later.results[0]).toEqual(first.results[0]);
    expect(later.results.slice(1).map((r) => [r.status, r.failureCode])).toEqual([
      ['failed', 'idempotency_key_reused'], ['failed', 'idempotency_key_reused'],
    ]);
    expect(d).toMatchObject({ payoutFiles: 1, payoutLines: 0, paidPayoutLines: 0 });
    expect(await admin.batchPayoutsByReference(line.reference)).toMatchObject([{ destination: 'acct_seller_3', amountMinor: 750 }]);
  });
});

describe('limits and validation', () => {
  it(`takes a file of exactly ${MAX_BATCH_FILE_LINES} lines and refuses ${MAX_BATCH_FILE_LINES + 1} or none (400), with no effect`, async () => {
    const token = await tokenOf(VISA);
    const reference = uid('full-');
    const full = Array.from({ length: MAX_BATCH_FILE_LINES }, (_, i) => charge(token, 100 + i, reference));
    let file!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => {
      file = await client.submitChargeBatch(full, key());
      await rejected(client.submitChargeBatch([...full, charge(token)], key()), 'parameter_invalid', 400);
      await rejected(client.submitChargeBatch([], key()), 'parameter_invalid', 400);
      await rejected(client.submitPayoutBatch(Array.from({ length: MAX_BATCH_FILE_LINES + 1 }, () => payoutLine('acct')), key()),
        'parameter_invalid', 400);
      await rejected(client.submitPayoutBatch([], key()), 'parameter_invalid', 400);
    });
    expect(file.results).toHaveLength(MAX_BATCH_FILE_LINES);
    expect(file.results.every((r, i) => r.status === 'succeeded' && r.amountMinor === 100 + i
      && r.idempotencyKey === full[i].idempotencyKey)).toBe(true);
    expect(new Set(file.results.map((r) => r.chargeId)).size).toBe(MAX_BATCH_FILE_LINES);
    expect(d).toMatchObject({ chargeFiles: 1, chargeLines: MAX_BATCH_FILE_LINES, succeededChargeLines: MAX_BATCH_FILE_LINES,
      payoutFiles: 0, payoutLines: 0 });
    expect(await admin.chargesByReference(reference)).toHaveLength(MAX_BATCH_FILE_LINES);
  });

  it('refuses a bad line naming it (400), a missing key, and a body past the batch limit (413); other routes keep their smaller limit', async () => {
    const token = await tokenOf(VISA);
    const ok = charge(token);
    const cases: Array<[string, string, number, string, RegExp?]> = [
      ['/v1/charge-batches', JSON.stringify({ lines: [ok, { ...ok, idempotencyKey: uid(), amountMinor: 0 }] }), 400, 'parameter_invalid', /lines\.1\.amountMinor/],
      ['/v1/charge-batches', JSON.stringify({ lines: [{ ...ok, extra: 1 }] }), 400, 'unknown_parameter', /lines\.0\.extra/],
      ['/v1/charge-batches', JSON.stringify({ lines: [{ ...ok, idempotencyKey: 'has space' }] }), 400, 'parameter_invalid', /idempotencyKey/],
      ['/v1/charge-batches', JSON.stringify({ lines: [{ ...ok, currency: 'usd' }] }), 400, 'parameter_invalid'],
      ['/v1/charge-batches', JSON.stringify({}), 400, 'parameter_missing'],
      ['/v1/payout-batches', JSON.stringify({ lines: [{ ...payoutLine('d'), destination: '' }] }), 400, 'parameter_invalid'],
      ['/v1/payout-batches', JSON.stringify({ lines: [{ ...payoutLine('d'), reference: undefined }] }), 400, 'parameter_missing'],
      ['/v1/charge-batches', JSON.stringify({ lines: [{ ...ok, reference: 'x'.repeat(MAX_BATCH_FILE_BODY_BYTES) }] }), 413, 'body_too_large'],
    ];
    const d = await effectsOf(async () => {
      for (const [path, body, status, code, message] of cases) {
        const r = await raw(path, body);
        expect([r.status, r.body.error?.code], body.slice(0, 80)).toEqual([status, code]);
        if (message) expect(r.body.error?.message).toMatch(message);
      }
      const noKey = await fetch(`${sim.url}/v1/charge-batches`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lines: [ok] }),
      });
      expect(noKey.status).toBe(400);
    });
    expect(d).toMatchObject({ chargeFiles: 0, chargeLines: 0, payoutFiles: 0 });
    // a body a batch file may send (300 KiB) is still too large for a single payout
    const single = await raw('/v1/payouts', JSON.stringify({ destination: 'x'.repeat(300 * 1024), amountMinor: 1, currency: 'USD' }));
    expect([single.status, single.body.error?.code]).toEqual([413, 'body_too_large']);
  });
});

describe('faults', () => {
  it('lost_response applies the whole charge file once and drops the answer; a retry with the key returns the result', async () => {
    const token = await tokenOf(VISA);
    const reference = uid('lost-');
    const lines = [charge(token, 1_000, reference), charge(await tokenOf(DECLINED), 2_000, reference), charge(token, 3_000, reference)];
    const k = key();
    await admin.setFaults({ mode: 'lost_response', operations: ['charge_batch'], count: 1 });
    let retried!: BatchFileResult<ChargeLineResult>;
    const d = await effectsOf(async () => {
      await unavailable(client.submitChargeBatch(lines, k));
      retried = await client.submitChargeBatch(lines, k);
    });
    expect(d).toMatchObject({ chargeFiles: 1, chargeLines: 3, succeededChargeLines: 2 });
    expect(retried.results.map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    const atProcessor = await admin.chargesByReference(reference);
    expect(atProcessor.filter((c) => c.status === 'succeeded').map((c) => c.id).sort())
      .toEqual([retried.results[0].chargeId, retried.results[2].chargeId].sort());
    expect(atProcessor.every((c) => c.fileId === retried.id)).toBe(true);
    expect((await admin.stats()).requests.charge_batch).toBeGreaterThanOrEqual(2);
  });

  it('lost_response on payout_batch: paid once, and the same lines in a new file (another key) get the first results', async () => {
    const lines = [payoutLine('acct_a', 100), payoutLine('acct_b', 200)];
    await admin.setFaults({ mode: 'lost_response', operations: ['payout_batch'], count: 1 });
    let again!: BatchFileResult<PayoutLineResult>;
    const d = await effectsOf(async () => {
      await unavailable(client.submitPayoutBatch(lines, key()));
      again = await client.submitPayoutBatch(lines, key());
    });
    expect(d).toMatchObject({ payoutFiles: 2, payoutLines: 2, paidPayoutLines: 2 });
    for (const [i, l] of lines.entries()) {
      const [kept] = await admin.batchPayoutsByReference(l.reference);
      expect(again.results[i]).toMatchObject({ status: 'paid', payoutId: kept.id });
      expect(kept.fileId).not.toBe(again.id);
    }
  });

  it('down (503) on charge_batch refuses the file with no effect and leaves the other operations alone; flaky at 1.0 on payout_batch likewise', async () => {
    const token = await tokenOf(VISA);
    const line = charge(token);
    await admin.setFaults({ mode: 'down', downStyle: '503', operations: ['charge_batch'] });
    const d = await effectsOf(async () => {
      await unavailable(client.submitChargeBatch([line], key()));
      expect((await client.submitPayoutBatch([payoutLine('acct_c')], key())).results[0].status).toBe('paid');
    });
    expect(d).toMatchObject({ chargeFiles: 0, chargeLines: 0, payoutFiles: 1 });
    expect(await admin.chargesByReference(line.reference)).toEqual([]);

    await admin.setFaults({ mode: 'flaky', failureRate: 1, operations: ['payout_batch'] });
    const p = payoutLine('acct_d');
    await unavailable(client.submitPayoutBatch([p], key()));
    expect(await admin.batchPayoutsByReference(p.reference)).toEqual([]);
    expect((await client.submitChargeBatch([line], key())).results[0].status).toBe('succeeded');
  });
});

describe('full files', () => {
  // (speed is measured by bench:settlement, which charges 10,000 buyers; here only the outcome is checked)
  it(`charges 10,000 lines in two files of ${MAX_BATCH_FILE_LINES}, each line once, by its card`, async () => {
    const tokens = await Promise.all([VISA, MASTERCARD, DECLINED].map(tokenOf));
    const reference = uid('bulk-');
    const files = [0, 1].map((f) => Array.from({ length: MAX_BATCH_FILE_LINES }, (_, i) =>
      charge(tokens[(f * MAX_BATCH_FILE_LINES + i) % 3], 100 + i, reference)));
    const results: ChargeLineResult[] = [];
    const d = await effectsOf(async () => {
      for (const lines of files) results.push(...(await client.submitChargeBatch(lines, key())).results);
    });
    expect(results).toHaveLength(10_000);
    const succeeded = results.filter((r) => r.status === 'succeeded').length;
    expect(succeeded).toBe(6_667);
    expect(d).toMatchObject({ chargeFiles: 2, chargeLines: 10_000, succeededChargeLines: succeeded });
  });
});
