-- Up Migration
-- Runs with search_path set to PAYMENTS_SCHEMA, so every name below lands in it.

-- The worker's record of each order's payment, written in the same transaction as the order's state change, its
-- inbox row and its PaymentSucceeded / PaymentFailed event. A dead letter replayed after the gateway recovered
-- turns a FAILED row into SUCCEEDED.
CREATE TABLE payments (
  order_id        uuid PRIMARY KEY,
  status          text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
  amount          numeric(14, 2) NOT NULL,
  currency        char(3) NOT NULL,
  gateway         text NOT NULL,
  charge_id       text,
  failure_reason  text,
  -- The OrderCreated event (Outbox-Event-Id) this outcome was decided for.
  source_event_id text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'SUCCEEDED') = (charge_id IS NOT NULL))
);

-- Down Migration
DROP TABLE payments;
