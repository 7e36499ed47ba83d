/**
 * Every replay publishes the payload's bytes as the writer gave them (issue 15, part 2): `replay --aggregate`, a relay
 * dead letter's and a consumer dead letter's replay write the stored JSON text again, not a re-serialization of its
 * parsed value (which would reorder keys, drop whitespace and round big numbers).
 */
import { randomUUID } from 'node:crypto';
import { outboxTables } from '@outbox-relay/outbox';
import { createCtlDb, ctl, enqueueEvents, inboxEvent, makeConsumerDeadLetter, makeRelayDeadLetter, publishPending, type CtlDb } from './support';

let db: CtlDb;
beforeEach(async () => {
  db = await createCtlDb('ctl_rbytes');
});
afterEach(async () => {
  await db.drop();
});

const SIGNED = '{ "z": 1, "a": 12345678901234567890.5,\n  "s": "\\u00e9" }';

/** The stored payload text of every outbox row of the aggregate, in seq order. */
async function payloadTexts(aggregateId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ text: string }>(
    `SELECT payload::text AS text FROM ${outboxTables(db.schema).outbox} WHERE aggregate_id = $1 ORDER BY seq`,
    [aggregateId],
  );
  return rows.map((r) => r.text);
}

it('replay --aggregate writes the published events\' bytes again', async () => {
  await enqueueEvents(db, [{ aggregateType: 'Doc', aggregateId: 'd-1', eventType: 'Signed', payloadJson: SIGNED }]);
  await publishPending(db);
  const { code, stderr } = await ctl(['replay', '--aggregate', 'd-1'], db.env);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(await payloadTexts('d-1')).toEqual([SIGNED, SIGNED]);
});

it('dlq replay of a relay dead letter writes its bytes again', async () => {
  const [row] = await enqueueEvents(db, [{ aggregateType: 'Doc', aggregateId: 'd-2', eventType: 'Signed', payloadJson: SIGNED }]);
  const id = await makeRelayDeadLetter(db, row!.id);
  expect(await payloadTexts('d-2')).toEqual([]);
  const { code, stderr } = await ctl(['dlq', 'replay', id], db.env);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(await payloadTexts('d-2')).toEqual([SIGNED]);
});

it('dlq replay of a consumer dead letter writes the bytes the consumer received', async () => {
  const eventId = randomUUID();
  const event = inboxEvent({ eventId, aggregateType: 'Doc', aggregateId: 'd-3', payload: JSON.parse(SIGNED), payloadText: SIGNED });
  const id = await makeConsumerDeadLetter(db, 'audit', event);
  const { code, stderr } = await ctl(['dlq', 'replay', id], db.env);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(await payloadTexts('d-3')).toEqual([SIGNED]);
});
