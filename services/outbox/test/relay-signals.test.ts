/** The relays' NOTIFY vocabulary: every signal survives the trip through its payload; anything else wakes. */
import { parseRelaySignal, relaySignalPayload, type RelaySignal } from '../src/relay-signals';

it.each<RelaySignal>([
  { kind: 'wake' },
  { kind: 'released', partition: 0 },
  { kind: 'released', partition: 17 },
  { kind: 'joined', instanceId: 'host-1234-a1b2c3' },
  { kind: 'joined', instanceId: 'name:with:colons' },
  { kind: 'step-down', partition: 3 },
  { kind: 'partitions', count: 12 },
])('%j survives its payload', (signal) => {
  expect(parseRelaySignal(relaySignalPayload(signal))).toEqual(signal);
});

it.each([null, '', 'wake', 'released:', 'released:x', 'step-down:-1', 'partitions:0', 'joined:', 'something-new:1'])(
  'an unknown or malformed payload (%j) is a wake-up, never an error',
  (payload) => {
    expect(parseRelaySignal(payload)).toEqual({ kind: 'wake' });
  },
);
